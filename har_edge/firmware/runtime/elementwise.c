/* Element-wise int8 ops: ADD and MUL with 4-D broadcasting (strides from the generator, 0 on a
 * broadcast axis), and a 256-entry table lookup for every int8 -> int8 function of one value (RELU,
 * RELU6, LOGISTIC, TANH, QUANTIZE between int8 scales), whose table the generator computes. */
#include "har_nn.h"
#include "requant.h"

void har_lookup_s8(const int8_t *table, int32_t size, const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < size; ++i) output[i] = table[input[i] + 128];
}

/* One output of ADD (add != 0) or MUL; ``add`` is a constant at both call sites, so each loop
 * compiles to one of the two formulas. */
static inline int32_t combine(const har_binary_params *p, int32_t a, int32_t b, int add)
{
    if (add) {
        const int32_t x = har_requant((a + p->offset1) * (1 << p->left_shift), p->multiplier1, p->shift1, HAR_ROUND_DOUBLE);
        const int32_t y = har_requant((b + p->offset2) * (1 << p->left_shift), p->multiplier2, p->shift2, HAR_ROUND_DOUBLE);
        return har_requant(x + y, p->multiplier, p->shift, HAR_ROUND_DOUBLE) + p->output_zero;
    }
    return har_requant((a + p->offset1) * (b + p->offset2), p->multiplier, p->shift, HAR_ROUND_DOUBLE) + p->output_zero;
}

static inline void broadcast(const har_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out, int add)
{
    const har_binary_params q = *p; /* a local copy: stores through out cannot change it */
    for (int32_t i0 = 0; i0 < q.dims[0]; ++i0)
        for (int32_t i1 = 0; i1 < q.dims[1]; ++i1)
            for (int32_t i2 = 0; i2 < q.dims[2]; ++i2) {
                const int8_t *x = a + i0 * q.strides1[0] + i1 * q.strides1[1] + i2 * q.strides1[2];
                const int8_t *y = b + i0 * q.strides2[0] + i1 * q.strides2[1] + i2 * q.strides2[2];
                for (int32_t i3 = 0; i3 < q.dims[3]; ++i3) {
                    const int32_t v = combine(&q, x[i3 * q.strides1[3]], y[i3 * q.strides2[3]], add);
                    *out++ = har_clamp_s8(v, q.act_min, q.act_max);
                }
            }
}

void har_add_s8(const har_binary_params *p, const int8_t *a, const int8_t *b, int8_t *output)
{
    broadcast(p, a, b, output, 1);
}

void har_mul_s8(const har_binary_params *p, const int8_t *a, const int8_t *b, int8_t *output)
{
    broadcast(p, a, b, output, 0);
}
