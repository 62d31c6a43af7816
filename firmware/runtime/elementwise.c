/* Element-wise int8 ops: ADD and MUL with 4-D broadcasting (strides from the generator, 0 on a
 * broadcast axis), and a 256-entry table lookup for every int8 -> int8 function of one value (RELU,
 * RELU6, LOGISTIC, TANH, QUANTIZE between int8 scales), whose table the generator computes. */
#include "har_nn.h"
#include "requant.h"

void har_lookup_s8(const int8_t *table, int32_t size, const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < size; ++i) output[i] = table[input[i] + 128];
}

/* whether both inputs have the output's dense strides (no broadcast) */
static int dense(const har_binary_params *p)
{
    int32_t stride = 1;
    for (int d = 3; d >= 0; --d) {
        if (p->dims[d] > 1 && (p->strides1[d] != stride || p->strides2[d] != stride)) return 0;
        stride *= p->dims[d];
    }
    return 1;
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

/* whether input 1's rescale is exactly one half (TFLite's choice for the input of the larger scale):
 * SRDHM(v << s, 2^30) of an even v << s is v << (s - 1), so x needs no multiply */
static int half_first(const har_binary_params *p)
{
    return p->multiplier1 == (1 << 30) && p->shift1 == 0 && p->shift2 < 0 && p->shift >= -21 && p->shift < 0 &&
           p->left_shift >= 1;
}

/* ADD, no broadcast, input 1 rescaled by exactly one half (half_first), left_shift <= 21: the other
 * rescale and the output's are requant.h's short double rounding (|value| < 2^30: an input scaled up
 * is below 2^29, the rescales only shrink it), with the per-layer constants hoisted; the same bits */
static HAR_ALWAYS_INLINE void add_half_first_body(const har_binary_params *p, const int8_t *a, const int8_t *b,
                                                  int8_t *out, int full)
{
    const int32_t size = p->dims[0] * p->dims[1] * p->dims[2] * p->dims[3];
    const int32_t off1 = p->offset1, off2 = p->offset2, down = 1 << (p->left_shift - 1), up = 1 << (p->left_shift + 1);
    const int32_t m2 = p->multiplier2, right2 = -p->shift2, round2 = 1 << (right2 - 1);
    const int32_t m = p->multiplier, right = -p->shift, round = (1 << (right - 1)) + p->output_zero * (1 << right);
    const int32_t lo = p->act_min, hi = p->act_max;
    for (int32_t i = 0; i < size; ++i) {
        const int32_t x = (a[i] + off1) * down;
        const int32_t hy = har_smmulr((b[i] + off2) * up, m2);
        const int32_t y = (hy + (hy >> 31) + round2) >> right2;
        const int32_t h = har_smmulr((x + y) * 2, m);
        const int32_t v = (h + (h >> 31) + round) >> right; /* the output zero point folded into round */
        out[i] = full ? har_sat_s8(v) : har_clamp_s8(v, lo, hi);
    }
}

static void add_half_first(const har_binary_params *p, const int8_t *a, const int8_t *b, int8_t *out)
{
    if (p->act_min == -128 && p->act_max == 127) {
        add_half_first_body(p, a, b, out, 1);
    } else {
        add_half_first_body(p, a, b, out, 0);
    }
}

void har_add_s8(const har_binary_params *p, const int8_t *a, const int8_t *b, int8_t *output)
{
    if (p->left_shift <= 21 && dense(p)) {
        const har_binary_params swapped = {
            .dims = {p->dims[0], p->dims[1], p->dims[2], p->dims[3]},
            .offset1 = p->offset2, .offset2 = p->offset1, .output_zero = p->output_zero,
            .act_min = p->act_min, .act_max = p->act_max, .multiplier1 = p->multiplier2, .shift1 = p->shift2,
            .multiplier2 = p->multiplier1, .shift2 = p->shift1, .multiplier = p->multiplier, .shift = p->shift,
            .left_shift = p->left_shift,
        };
        if (half_first(p)) {
            add_half_first(p, a, b, output);
            return;
        }
        if (half_first(&swapped)) { /* x + y is symmetric */
            add_half_first(&swapped, b, a, output);
            return;
        }
    }
    broadcast(p, a, b, output, 1);
}

void har_mul_s8(const har_binary_params *p, const int8_t *a, const int8_t *b, int8_t *output)
{
    broadcast(p, a, b, output, 0);
}
