/* int8 STRIDED_SLICE: a gather whose input offset is affine in the output coordinates (start and
 * per-dimension steps decided by the generator, har_edge/codegen/ops_slice.py). */
#include <stdint.h>

#include "har_nn.h"

void har_slice_s8(const har_slice_params *p, const int8_t *input, int8_t *output)
{
    for (int32_t a = 0; a < p->out_dims[0]; a++)
        for (int32_t b = 0; b < p->out_dims[1]; b++)
            for (int32_t c = 0; c < p->out_dims[2]; c++) {
                const int8_t *row = input + p->start + a * p->in_steps[0] + b * p->in_steps[1] + c * p->in_steps[2];
                for (int32_t d = 0; d < p->out_dims[3]; d++) *output++ = row[d * p->in_steps[3]];
            }
}
