/* Test harness: runs the generated model over every input in har_in.bin (n x INPUT_SIZE bytes),
 * writes the outputs to har_out.bin and prints one machine-readable fact per line:
 *   HAR inference <i> instructions <count>
 *   HAR layer <i> instructions <count>      (first inference, with HAR_PROFILE_LAYERS)
 *   HAR inference_stack_bytes <bytes>     (stack of the first inference alone)
 *   HAR stack_bytes <bytes>               (whole program, stdio included)
 *   HAR done n=<inferences>
 * With HAR_DUMP_LAYERS every layer's output of every inference goes to har_layers.bin. */
#include <stdio.h>

#include "har_board.h"
#include "har_harness_model.h"

static unsigned char input[HAR_MODEL_INPUT_SIZE];
static unsigned char output[HAR_MODEL_OUTPUT_SIZE];
static int first_inference = 1;

static void print_count(const char *what, unsigned long index, uint64_t count)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(count % 10u));
        count /= 10u;
    } while (count);
    printf("HAR %s %lu instructions ", what, index);
    while (n) putchar(digits[--n]);
    putchar('\n');
}

#ifdef HAR_PROFILE_LAYERS
static uint64_t layer_start;

void har_board_layer_begin(int layer)
{
    (void)layer;
    layer_start = har_board_instructions();
}

void har_board_layer_end(int layer)
{
    const uint64_t end = har_board_instructions();
    if (first_inference) print_count("layer", (unsigned long)layer, end - layer_start);
}
#endif

#ifdef HAR_DUMP_LAYERS
static FILE *layers_file;

void har_dump_layer(int layer, const void *data, uint32_t bytes)
{
    (void)layer;
    fwrite(data, 1, bytes, layers_file);
}
#endif

int main(void)
{
    har_board_init();
    FILE *in = fopen("har_in.bin", "rb");
    FILE *out = fopen("har_out.bin", "wb");
    if (!in || !out) {
        printf("HAR error cannot open har_in.bin / har_out.bin\n");
        har_board_exit(2);
        return 2;
    }
#ifdef HAR_DUMP_LAYERS
    layers_file = fopen("har_layers.bin", "wb");
    if (!layers_file) {
        printf("HAR error cannot open har_layers.bin\n");
        har_board_exit(2);
        return 2;
    }
#endif
    unsigned long n = 0;
    uint32_t inference_stack = 0;
    while (fread(input, 1, sizeof input, in) == sizeof input) {
        if (first_inference) har_board_stack_mark();
        const uint64_t start = har_board_instructions();
        const int status = har_model_invoke((const void *)input, (void *)output);
        const uint64_t end = har_board_instructions();
        if (first_inference) inference_stack = har_board_stack_since_mark();
        if (status != 0) {
            printf("HAR error invoke returned %d\n", status);
            har_board_exit(1);
            return 1;
        }
        print_count("inference", n, end - start);
        fwrite(output, 1, sizeof output, out);
        first_inference = 0;
        ++n;
    }
    fclose(in);
    fclose(out);
#ifdef HAR_DUMP_LAYERS
    fclose(layers_file);
#endif
    printf("HAR inference_stack_bytes %lu\n", (unsigned long)inference_stack);
    printf("HAR stack_bytes %lu\n", (unsigned long)har_board_stack_high_water());
    printf("HAR done n=%lu\n", n);
    har_board_exit(0);
    return 0;
}
