/* Data movement, int8: CONCATENATION (inputs quantized like the output: plain copies) and
 * PAD/PADV2 (fill with the pad value, then copy the input's innermost rows). */
#include <string.h>

#include "har_nn.h"

void har_concat_s8(const har_concat_params *p, const int8_t *const *inputs, int8_t *output)
{
    for (int32_t o = 0; o < p->outer; ++o) {
        for (int32_t i = 0; i < p->count; ++i) {
            memcpy(output, inputs[i] + o * p->sizes[i], (size_t)p->sizes[i]);
            output += p->sizes[i];
        }
    }
}

void har_pad_s8(const har_pad_params *p, const int8_t *input, int8_t *output)
{
    const int32_t *d = p->in_dims, *b = p->before, *od = p->out_dims;
    memset(output, p->value, (size_t)(od[0] * od[1] * od[2] * od[3]));
    for (int32_t i0 = 0; i0 < d[0]; ++i0)
        for (int32_t i1 = 0; i1 < d[1]; ++i1)
            for (int32_t i2 = 0; i2 < d[2]; ++i2) {
                const int32_t row = ((i0 + b[0]) * od[1] + i1 + b[1]) * od[2] + i2 + b[2];
                memcpy(output + row * od[3] + b[3], input + ((i0 * d[1] + i1) * d[2] + i2) * d[3], (size_t)d[3]);
            }
}
