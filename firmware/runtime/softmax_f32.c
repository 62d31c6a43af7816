/* SOFTMAX, float32, as TFLite's reference kernel: per row the maximum, e_c = expf((x_c - max) * beta)
 * summed in order, then each e_c / sum. The division and sum are IEEE single precision; expf's last
 * bit is the C library's. In place when input and output are one buffer. */
#include <float.h>
#include <math.h>

#include "har_nn_f32.h"

void har_softmax_f32(const har_softmax_f32_params *p, const float *input, float *output)
{
    for (int32_t o = 0; o < p->outer; ++o) {
        const float *x = input + o * p->depth;
        float *out = output + o * p->depth;
        float max = -FLT_MAX;
        for (int32_t j = 0; j < p->depth; ++j) max = max < x[j] ? x[j] : max;
        float sum = 0.0f;
        for (int32_t j = 0; j < p->depth; ++j) {
            const float e = expf((x[j] - max) * p->beta);
            out[j] = e;
            sum += e;
        }
        for (int32_t j = 0; j < p->depth; ++j) out[j] = out[j] / sum;
    }
}
