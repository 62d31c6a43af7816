/* PAD/PADV2, float32: fill with the pad value, then copy the input's innermost rows (CONCATENATION of
 * float tensors is har_concat_s8's byte copy, its sizes in bytes). */
#include <string.h>

#include "har_nn_f32.h"

void har_pad_f32(const har_pad_f32_params *p, const float *input, float *output)
{
    const int32_t *d = p->in_dims, *b = p->before, *od = p->out_dims;
    const int32_t total = od[0] * od[1] * od[2] * od[3];
    for (int32_t i = 0; i < total; ++i) output[i] = p->value;
    for (int32_t i0 = 0; i0 < d[0]; ++i0)
        for (int32_t i1 = 0; i1 < d[1]; ++i1)
            for (int32_t i2 = 0; i2 < d[2]; ++i2) {
                const int32_t row = ((i0 + b[0]) * od[1] + i1 + b[1]) * od[2] + i2 + b[2];
                memcpy(output + row * od[3] + b[3], input + ((i0 * d[1] + i1) * d[2] + i2) * d[3],
                       (size_t)d[3] * sizeof(float));
            }
}
