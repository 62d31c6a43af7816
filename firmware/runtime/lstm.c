/* int8 UNIDIRECTIONAL_SEQUENCE_LSTM with TFLite's 8x8_16 integer arithmetic (its reference kernel's
 * order of operations): per step and gate, the int16 Q3.12 pre-activation saturates after the input
 * product and again after adding the recurrent one; sigmoid (i, f, o) and tanh (g) are gemmlowp's
 * int16 fixed-point functions; the int16 cell is c = f*c >> 15 (+) i*g >> cell_shift, saturated and
 * clipped; the hidden state o * tanh(c) is requantized to int8. Every constant comes from the
 * generator (har_edge/codegen/quant_lstm.py). The state starts from reset on every call. */
#include <stdint.h>

#include "har_dot.h"
#include "har_nn.h"
#include "requant.h"

/* ---- gemmlowp's int16 fixed point: every result wraps to int16 as its FixedPoint raw value does */

/* SaturatingRoundingDoublingHighMul: gemmlowp adds +-2^14 and truncates the division by 2^15, which for
 * both signs is floor((a * b + 2^14) / 2^15); only INT16_MIN * INT16_MIN leaves int16 (it saturates). */
static HAR_ALWAYS_INLINE int16_t fx_mul(int16_t a, int16_t b)
{
    const int32_t r = ((int32_t)a * b + (1 << 14)) >> 15;
    return (int16_t)(r > INT16_MAX ? INT16_MAX : r);
}

static HAR_ALWAYS_INLINE int32_t divide_pot(int32_t x, int exponent) /* RoundingDivideByPOT, ties away from zero */
{
    const int32_t mask = (int32_t)((1u << exponent) - 1);
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + ((x & mask) > threshold ? 1 : 0);
}

static HAR_ALWAYS_INLINE int16_t fx_divide_pot(int16_t x, int exponent)
{
    return (int16_t)divide_pot(x, exponent);
}

static HAR_ALWAYS_INLINE int16_t fx_shift_left_saturating(int16_t x, int exponent)
{
    const int32_t threshold = (1 << (15 - exponent)) - 1;
    if (x > threshold) return INT16_MAX;
    if (x < -threshold) return INT16_MIN;
    return (int16_t)(x * (1 << exponent));
}

/* RescaleConstantInitializer of gemmlowp's 32-bit constants, computed once: round(c / 2^16) */
enum {
    EXP_MINUS_1_8 = 28918,  /* 1895147668: exp(-1/8), Q0.15 */
    ONE_THIRD = 10923,      /* 715827883 */
    C_48_17 = 23130,        /* 1515870810: 48/17, Q2.13 */
    C_NEG_32_17 = -15420,   /* -1010580540 */
};
static const int16_t EXP_BARREL[7] = {25520, 19875, 12055, 4435, 600, 11, 0}; /* exp(-2^e), e = -2..4 */

static HAR_ALWAYS_INLINE int16_t exp_quarter(int16_t a) /* exp(a) for a in [-1/4, 0), Q0.15 */
{
    const int16_t x = (int16_t)(a + (1 << 12));
    const int16_t x2 = fx_mul(x, x), x3 = fx_mul(x2, x), x4 = fx_mul(x2, x2);
    const int16_t x4_over_4 = fx_divide_pot(x4, 2);
    const int16_t poly = fx_divide_pot((int16_t)(fx_mul((int16_t)(x4_over_4 + x3), ONE_THIRD) + x2), 1);
    const int32_t sum = EXP_MINUS_1_8 + fx_mul(EXP_MINUS_1_8, (int16_t)(x + poly));
    return (int16_t)(sum > INT16_MAX ? INT16_MAX : sum);
}

static HAR_ALWAYS_INLINE int16_t exp_negative(int16_t a, int integer_bits) /* exp(a), a <= 0 with integer_bits, Q0.15 out */
{
    const int fractional = 15 - integer_bits;
    const int16_t quarter = (int16_t)(1 << (fractional - 2));
    const int16_t a_mod = (int16_t)((a & (quarter - 1)) - quarter);
    int16_t result = exp_quarter(fx_shift_left_saturating(a_mod, integer_bits));
    const int16_t remainder = (int16_t)(a_mod - a);
    for (int e = -2; e <= 4 && integer_bits > e; e++)
        if (remainder & (1 << (fractional + e))) result = fx_mul(result, EXP_BARREL[e + 2]);
    if (integer_bits > 5 && a < -(1 << (20 - integer_bits))) result = 0; /* below -32 */
    return a == 0 ? INT16_MAX : result;
}

static HAR_ALWAYS_INLINE int16_t two_over_one_plus(int16_t a) /* 2 / (1 + a) in Q2.13 for a in (0, 1): Newton-Raphson */
{
    const int32_t sum = (int32_t)a + INT16_MAX;
    const int16_t half_denominator = (int16_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int16_t x = (int16_t)(C_48_17 + fx_mul(half_denominator, C_NEG_32_17));
    for (int i = 0; i < 3; i++) {
        const int16_t one_minus = (int16_t)((1 << 13) - fx_mul(half_denominator, x));
        x = (int16_t)(x + fx_shift_left_saturating(fx_mul(x, one_minus), 2));
    }
    return x;
}

static int16_t har_sigmoid_q3_12(int16_t a) /* gemmlowp::logistic of Q3.12 to Q0.15 */
{
    if (a == 0) return 1 << 14;
    const int16_t magnitude = (int16_t)(a > 0 ? a : -a);
    const int16_t x = two_over_one_plus(exp_negative((int16_t)-magnitude, 3));
    const int16_t positive = fx_shift_left_saturating(x, 1); /* 1 / (1 + exp(-|a|)) */
    return a > 0 ? positive : (int16_t)(INT16_MAX - positive);
}

static HAR_ALWAYS_INLINE int16_t tanh_of_negative(int16_t n, int integer_bits) /* -tanh(n), n < 0 */
{
    const int16_t x = two_over_one_plus(exp_negative(n, integer_bits + 1));
    return fx_shift_left_saturating((int16_t)(x - (1 << 13)), 2); /* (1 - e) / (1 + e) */
}

static int16_t har_tanh_q(int16_t a, int integer_bits) /* gemmlowp::tanh of Q(bits) to Q0.15 */
{
    if (a == 0) return 0;
    const int16_t t = tanh_of_negative((int16_t)(a < 0 ? a : -a), integer_bits);
    return a < 0 ? (int16_t)-t : t;
}

static int16_t har_tanh_q3_12(int16_t a) /* the cell gate's: a copy with constant integer bits */
{
    if (a == 0) return 0;
    const int16_t negative_magnitude = (int16_t)(a < 0 ? a : -a);
    const int16_t t = tanh_of_negative(negative_magnitude, 3);
    return a < 0 ? (int16_t)-t : t;
}

/* ---- the LSTM */

static HAR_ALWAYS_INLINE int16_t saturate16(int32_t x)
{
    return (int16_t)(x > INT16_MAX ? INT16_MAX : x < INT16_MIN ? INT16_MIN : x);
}

void har_lstm_s8(const har_lstm_params *p, const int8_t *input, int8_t *output)
{
    const int32_t units = p->units, depth = p->inputs, groups = (units + 3) / 4;
    const int32_t input_group = har_group_bytes(depth), state_group = har_group_bytes(units);
    int16_t *gates = p->scratch, *cell = p->scratch + 4 * units;
    int8_t *initial_hidden = (int8_t *)(cell + units);
    for (int32_t u = 0; u < units; u++) {
        cell[u] = 0;
        initial_hidden[u] = (int8_t)p->state_zero;
    }
    const int8_t *hidden = initial_hidden;
    for (int32_t t = 0; t < p->steps; t++) {
        const int8_t *x = input + t * depth;
        for (int32_t g = 0; g < 4; g++) {
            const int8_t *wx = p->input_weights + g * groups * input_group;
            const int8_t *wh = p->recurrent_weights + g * groups * state_group;
            for (int32_t group = 0; group < groups; group++) {
                const har_acc4 zero = {0, 0, 0, 0};
                const har_acc4 ax = har_dot4(x, wx + group * input_group, depth, (p->steps - t) * depth, zero);
                const har_acc4 ah = har_dot4(hidden, wh + group * state_group, units, units, zero);
                const int32_t from_x[4] = {ax.a0, ax.a1, ax.a2, ax.a3}, from_h[4] = {ah.a0, ah.a1, ah.a2, ah.a3};
                for (int32_t r = 0; r < 4 && group * 4 + r < units; r++) {
                    const int32_t n = g * units + group * 4 + r;
                    const int32_t a = har_requant(p->input_bias[n] + from_x[r], p->input_multiplier[g],
                                                  p->input_shift[g], HAR_ROUND_DOUBLE);
                    const int32_t b = har_requant(p->recurrent_bias[n] + from_h[r], p->recurrent_multiplier[g],
                                                  p->recurrent_shift[g], HAR_ROUND_DOUBLE);
                    const int16_t pre = saturate16(saturate16(a) + b);
                    gates[n] = g == 2 ? har_tanh_q3_12(pre) : har_sigmoid_q3_12(pre);
                }
            }
        }
        int8_t *h = output + t * units;
        for (int32_t u = 0; u < units; u++) {
            const int16_t i = gates[u], f = gates[units + u], g = gates[2 * units + u], o = gates[3 * units + u];
            const int16_t kept = (int16_t)divide_pot((int32_t)f * cell[u], 15);
            const int16_t added = (int16_t)divide_pot((int32_t)i * g, p->cell_shift);
            int16_t c = saturate16((int32_t)kept + added);
            if (p->cell_clip > 0) c = (int16_t)(c > p->cell_clip ? p->cell_clip : c < -p->cell_clip ? -p->cell_clip : c);
            cell[u] = c;
            /* below 2^-15 LiteRT's ApplyTanh has no case for the cell and leaves its buffer, the input
             * gate's, as it was: o * i then stands for o * tanh(c) */
            const int16_t activated = p->tanh_integer_bits >= 0 ? har_tanh_q(c, p->tanh_integer_bits) : i;
            const int32_t product = (int32_t)o * activated;
            const int32_t scaled = har_requant(product, p->hidden_multiplier, p->hidden_shift, HAR_ROUND_DOUBLE) + p->hidden_zero;
            h[u] = har_clamp_s8(scaled, -128, 127);
        }
        hidden = h;
    }
}
