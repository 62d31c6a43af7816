/* Test driver of a generated library (name "lib"): classify every window of a file.
 *   classify_main float IN OUT        IN: n windows of float32 (raw, interleaved)
 *   classify_main counts IN OUT SCALE IN: n windows of int16 counts
 *   classify_main float IN OUT 1 HEAD    with the head parameters of file HEAD (lib_use_head)
 * OUT: per window, int32 status (lib_classify's return) then LIB_CLASSES float32 probabilities. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"

#define VALUES (LIB_WINDOW * LIB_CHANNELS)

int main(int argc, char **argv)
{
    if (argc < 4) return 2;
    const int counts = strcmp(argv[1], "counts") == 0;
    const float scale = argc > 4 ? strtof(argv[4], NULL) : 1.0f;
    FILE *in = fopen(argv[2], "rb"), *out = fopen(argv[3], "wb");
    if (in == NULL || out == NULL) return 2;
    static float head[LIB_HEAD_PARAMS];
    if (argc > 5) {
        FILE *params = fopen(argv[5], "rb");
        if (params == NULL || fread(head, sizeof(float), LIB_HEAD_PARAMS, params) != LIB_HEAD_PARAMS) return 2;
        fclose(params);
        lib_use_head(head);
    }
    static float raw[VALUES];
    static int16_t raw_counts[VALUES];
    float probabilities[LIB_CLASSES];
    for (;;) {
        const size_t got = counts ? fread(raw_counts, sizeof(int16_t), VALUES, in) : fread(raw, sizeof(float), VALUES, in);
        if (got != VALUES) break;
        memset(probabilities, 0, sizeof(probabilities));
        const int32_t status = counts ? lib_classify_counts(raw_counts, scale, probabilities) : lib_classify(raw, probabilities);
        fwrite(&status, sizeof(status), 1, out);
        fwrite(probabilities, sizeof(float), LIB_CLASSES, out);
    }
    fclose(in);
    fclose(out);
    return 0;
}
