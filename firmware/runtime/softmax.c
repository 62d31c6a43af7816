/* SOFTMAX, int8 -> int8, as TFLite computes it: a float table of exp(-input_scale * beta * d) for
 * d = max - x (filled by the generator), a float sum, one reciprocal, and each probability rounded
 * half away from zero. Plain IEEE single-precision adds, multiplies and one division: the same bits
 * on any FPU, provided the compiler does not fuse multiply-adds (build with -ffp-contract=off). */
#include "har_nn.h"

static int32_t round_non_negative(float value)
{
    int32_t whole = (int32_t)value;
    if (value - (float)whole >= 0.5f) ++whole;
    return whole;
}

void har_softmax_s8(const har_softmax_params *p, const int8_t *input, int8_t *output)
{
    for (int32_t o = 0; o < p->outer; ++o) {
        const int8_t *x = input + o * p->depth;
        int8_t *out = output + o * p->depth;
        int32_t max = -128;
        for (int32_t j = 0; j < p->depth; ++j) max = x[j] > max ? x[j] : max;
        float sum = 0.0f;
        for (int32_t j = 0; j < p->depth; ++j) sum += p->table[max - x[j]];
        const float inverse = 1.0f / (sum * p->output_scale);
        for (int32_t j = 0; j < p->depth; ++j) {
            const int32_t q = round_non_negative(p->table[max - x[j]] * inverse) + p->output_zero;
            out[j] = (int8_t)(q > 127 ? 127 : (q < -128 ? -128 : q));
        }
    }
}
