/* Element-wise int8 ops: ADD and MUL with 4-D broadcasting (strides from the generator, 0 on a
 * broadcast axis), and a 256-entry table lookup for every int8 -> int8 function of one value (RELU,
 * RELU6, LOGISTIC, TANH, QUANTIZE between int8 scales), whose table the generator computes. */
#include "har_nn.h"
#include "requant.h"

void har_lookup_s8(const int8_t *table, int32_t size, const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < size; ++i) output[i] = table[input[i] + 128];
}

static int32_t add_one(const har_binary_params *p, int32_t a, int32_t b)
{
    const int32_t x = har_requant((a + p->offset1) * (1 << p->left_shift), p->multiplier1, p->shift1, HAR_ROUND_DOUBLE);
    const int32_t y = har_requant((b + p->offset2) * (1 << p->left_shift), p->multiplier2, p->shift2, HAR_ROUND_DOUBLE);
    return har_requant(x + y, p->multiplier, p->shift, HAR_ROUND_DOUBLE) + p->output_zero;
}

static int32_t mul_one(const har_binary_params *p, int32_t a, int32_t b)
{
    return har_requant((a + p->offset1) * (b + p->offset2), p->multiplier, p->shift, HAR_ROUND_DOUBLE) + p->output_zero;
}

static void broadcast(const har_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out,
                      int32_t (*op)(const har_binary_params *, int32_t, int32_t))
{
    for (int32_t i0 = 0; i0 < p->dims[0]; ++i0)
        for (int32_t i1 = 0; i1 < p->dims[1]; ++i1)
            for (int32_t i2 = 0; i2 < p->dims[2]; ++i2) {
                const int8_t *x = a + i0 * p->strides1[0] + i1 * p->strides1[1] + i2 * p->strides1[2];
                const int8_t *y = b + i0 * p->strides2[0] + i1 * p->strides2[1] + i2 * p->strides2[2];
                for (int32_t i3 = 0; i3 < p->dims[3]; ++i3) {
                    const int32_t v = op(p, x[i3 * p->strides1[3]], y[i3 * p->strides2[3]]);
                    *out++ = har_clamp_s8(v, p->act_min, p->act_max);
                }
            }
}

void har_add_s8(const har_binary_params *p, const int8_t *a, const int8_t *b, int8_t *output)
{
    broadcast(p, a, b, output, add_one);
}

void har_mul_s8(const har_binary_params *p, const int8_t *a, const int8_t *b, int8_t *output)
{
    broadcast(p, a, b, output, mul_one);
}
