/* SOFTMAX, int8 -> int8 (output scale 1/256, zero point -128), as TFLite's reference kernel computes
 * it (LiteRT's BUILTIN_REF; TFLM and CMSIS-NN agree): gemmlowp fixed point, no float. A difference
 * d = x - max >= diff_min is scaled to Q5.26 by the generator's multiplier; exp(d) is evaluated in
 * Q0.31 (a Taylor polynomial around -1/8 on [-1/4, 0), times the constants exp(-2^k) for the higher
 * bits of -d); the exponentials are summed in Q12.19, 1/sum comes from Newton-Raphson, and each output
 * is round(exp * 256 / sum) - 128. Differences below diff_min give -128 and add nothing to the sum.
 * Integer arithmetic only, so every target gives the same bytes. Sums wrap like TFLite's int32 adds;
 * the generator refuses rows long enough to wrap (more than 4,095 values). */
#include "har_nn.h"

#include <limits.h>

static int32_t wrapping_add(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

/* gemmlowp SaturatingRoundingDoublingHighMul: round(a * b / 2^31), ties up; for both signs that is
 * floor((a * b + 2^30) / 2^31). The one overflowing case, INT32_MIN squared, saturates. */
static int32_t doubling_high_mul(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
    return (int32_t)(((int64_t)a * b + ((int64_t)1 << 30)) >> 31);
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent rounded half away from zero; exponent in [0, 31] */
static int32_t rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((uint64_t)1 << exponent) - 1u);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* gemmlowp SaturatingRoundingMultiplyByPOT for a positive exponent: x * 2^exponent, saturated */
static int32_t saturating_shift_left(int32_t x, int32_t exponent)
{
    const int32_t limit = (int32_t)(((uint32_t)1 << (31 - exponent)) - 1u);
    if (x > limit) return INT32_MAX;
    if (x < -limit) return INT32_MIN;
    return (int32_t)((uint32_t)x << exponent);
}

/* exp(a) for a Q0.31 value a in [-1/4, 0): a 4th-order Taylor polynomial around -1/8 */
static int32_t exp_on_quarter_interval(int32_t a)
{
    const int32_t exp_minus_one_eighth = 1895147668, one_third = 715827883;
    const int32_t x = wrapping_add(a, (int32_t)1 << 28);
    const int32_t x2 = doubling_high_mul(x, x), x3 = doubling_high_mul(x2, x), x4 = doubling_high_mul(x2, x2);
    const int32_t x4_over_4 = rounding_divide_by_pot(x4, 2);
    const int32_t cubic = doubling_high_mul(wrapping_add(x4_over_4, x3), one_third);
    const int32_t series = rounding_divide_by_pot(wrapping_add(cubic, x2), 1);
    return wrapping_add(exp_minus_one_eighth, doubling_high_mul(exp_minus_one_eighth, wrapping_add(x, series)));
}

/* exp(a) in Q0.31 for a Q5.26 value a <= 0 */
static int32_t exp_on_negative_values(int32_t a)
{
    static const int32_t exp_of_minus_power_of_two[7] = {/* exp(-2^k), k = -2..4, in Q0.31 */
        1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    if (a == 0) return INT32_MAX;
    const int32_t quarter = (int32_t)1 << 24;
    const int32_t a_mod_quarter_minus_quarter = wrapping_add(a & (quarter - 1), -quarter);
    int32_t result = exp_on_quarter_interval(saturating_shift_left(a_mod_quarter_minus_quarter, 5));
    const int32_t remainder = wrapping_add(a_mod_quarter_minus_quarter, (int32_t)(0u - (uint32_t)a));
    for (int32_t k = 0; k < 7; ++k)
        if (remainder & ((int32_t)1 << (24 + k))) result = doubling_high_mul(result, exp_of_minus_power_of_two[k]);
    return result;
}

/* 1 / (1 + x) for a Q0.31 value x in [0, 1): three Newton-Raphson steps, in Q2.29 */
static int32_t one_over_one_plus_x(int32_t x)
{
    const int64_t sum = (int64_t)x + INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int32_t estimate = wrapping_add(1515870810, doubling_high_mul(half_denominator, -1010580540));
    for (int32_t step = 0; step < 3; ++step) {
        const int32_t one_minus_product = wrapping_add((int32_t)1 << 29, -doubling_high_mul(half_denominator, estimate));
        estimate = wrapping_add(estimate, saturating_shift_left(doubling_high_mul(estimate, one_minus_product), 2));
    }
    return saturating_shift_left(estimate, 1);
}

static int32_t leading_zeros(uint32_t x)
{
    int32_t count = 0;
    while (count < 32 && !(x & 0x80000000u)) {
        x <<= 1;
        ++count;
    }
    return count;
}

static int32_t scaled_exp(const har_softmax_params *p, int32_t difference)
{
    return exp_on_negative_values(doubling_high_mul(difference * ((int32_t)1 << p->left_shift), p->multiplier));
}

void har_softmax_s8(const har_softmax_params *p, const int8_t *input, int8_t *output)
{
    for (int32_t o = 0; o < p->outer; ++o) {
        const int8_t *x = input + o * p->depth;
        int8_t *out = output + o * p->depth;
        int32_t max = -128;
        for (int32_t j = 0; j < p->depth; ++j) max = x[j] > max ? x[j] : max;
        int32_t sum = 0; /* Q12.19 */
        for (int32_t j = 0; j < p->depth; ++j)
            if (x[j] - max >= p->diff_min) sum = wrapping_add(sum, rounding_divide_by_pot(scaled_exp(p, x[j] - max), 12));
        const int32_t headroom = leading_zeros((uint32_t)sum);
        const int32_t bits_over_unit = 12 - headroom;
        const int32_t reciprocal =
            one_over_one_plus_x((int32_t)(((uint32_t)sum << headroom) - 0x80000000u));
        for (int32_t j = 0; j < p->depth; ++j) {
            if (x[j] - max < p->diff_min) {
                out[j] = -128;
                continue;
            }
            const int32_t probability = doubling_high_mul(reciprocal, scaled_exp(p, x[j] - max));
            const int32_t q = rounding_divide_by_pot(probability, bits_over_unit + 23) - 128;
            out[j] = (int8_t)(q > 127 ? 127 : (q < -128 ? -128 : q));
        }
    }
}
