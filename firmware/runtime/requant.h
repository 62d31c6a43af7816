/* The one fixed-point rescale every int8 kernel applies: TFLite's MultiplyByQuantizedMultiplier,
 * x * multiplier * 2^(shift - 31) rounded to an integer, with the multiplier in [2^30, 2^31) and the
 * shift in [-31, 30] from the generator. LiteRT's reference kernels round it two ways (checked
 * against BUILTIN_REF), so the kernel says which:
 *   HAR_ROUND_SINGLE (FULLY_CONNECTED): (x * m + 2^(30 - shift)) >> (31 - shift), one rounding;
 *   HAR_ROUND_DOUBLE (the others): gemmlowp's SaturatingRoundingDoublingHighMul (ties up) of
 *   x * 2^max(shift, 0), then RoundingDivideByPOT by max(-shift, 0) (ties away from zero).
 * The mode is a constant at every call site, so each kernel compiles to one of the two paths.
 * Right shifts of negative values are arithmetic (true of every compiler this code targets). */
#ifndef HAR_REQUANT_H
#define HAR_REQUANT_H

#include <stdint.h>

#include "har_inline.h"

enum { HAR_ROUND_SINGLE = 1, HAR_ROUND_DOUBLE = 2 };

static inline int32_t har_requant(int32_t x, int32_t multiplier, int32_t shift, int mode)
{
    if (mode == HAR_ROUND_SINGLE) {
        const int64_t product = (int64_t)x * multiplier;
        if (shift <= -2) { /* the rounding term has a zero low word: a 32-bit shift of the high word */
            const int32_t high = (int32_t)(product >> 32);
            return (high + ((int32_t)1 << (-shift - 2))) >> (-shift - 1);
        }
        const int32_t total = 31 - shift;
        return (int32_t)((product + ((int64_t)1 << (total - 1))) >> total);
    }
    /* SaturatingRoundingDoublingHighMul: gemmlowp nudges by +-2^30 and truncates; for both signs
     * that equals floor((a * m + 2^30) / 2^31). (a = m = INT32_MIN cannot occur: m >= 0.) */
    const int32_t left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
    const int32_t a = (int32_t)((uint32_t)x << left);
    const int32_t high = (int32_t)(((int64_t)a * multiplier + ((int64_t)1 << 30)) >> 31);
    if (right == 0) return high;
    /* RoundingDivideByPOT (half away from zero) = floor((high + 2^(right-1) - [high < 0]) / 2^right) */
    const int32_t round = ((int32_t)1 << (right - 1)) - (high < 0 ? 1 : 0);
    if (high > INT32_MAX - round) return (int32_t)(((int64_t)high + round) >> right);
    return (high + round) >> right;
}

/* HAR_ROUND_SINGLE with the per-channel constants hoisted (shift <= -2): round = 2^(-shift - 2),
 * right = -shift - 1; the same bits as har_requant. */
static inline int32_t har_requant_single_hoisted(int32_t x, int32_t multiplier, int32_t round, int32_t right)
{
    return ((int32_t)(((int64_t)x * multiplier) >> 32) + round) >> right;
}

/* SMMULR: (a * b + 2^31) >> 32, one instruction on a core with the DSP extension */
static inline int32_t har_smmulr(int32_t a, int32_t b)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((int64_t)a * b + ((int64_t)1 << 31)) >> 32);
#endif
}

/* The short forms, with per-channel triplets from the generator (quant.short_requant): multiplier,
 * round = 2^(right-1) + (output_zero << right), right in [1, 21]; they return the requantized value
 * plus the output zero point, as (a + (z << r)) >> r == (a >> r) + z exactly, and the sums stay int32.
 * har_short_double is HAR_ROUND_DOUBLE (right = -shift) for |x| < 2^30, which the generator proves
 * from the weights and biases: the doubling high multiply is then one SMMULR of 2x, and
 * RoundingDivideByPOT is floor((high + round - [high < 0]) / 2^right). HAR_ROUND_SINGLE's short form
 * (right = -shift - 1, any x) is har_requant_single_hoisted with the triplet's round. */
static inline int32_t har_short_double(int32_t x, const int32_t *triplet)
{
    const int32_t high = har_smmulr(x * 2, triplet[0]);
    return (high + (high >> 31) + triplet[1]) >> triplet[2];
}

static inline int8_t har_clamp_s8(int32_t x, int32_t lo, int32_t hi)
{
    x = x < lo ? lo : x; /* two independent selects: GCC makes them branch-free */
    x = x > hi ? hi : x;
    return (int8_t)x;
}

/* har_clamp_s8 to the whole int8 range: one SSAT on a core with the DSP extension */
static inline int8_t har_sat_s8(int32_t x)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    int32_t r;
    __asm__("ssat %0, #8, %1" : "=r"(r) : "r"(x) : "cc");
    return (int8_t)r;
#else
    return har_clamp_s8(x, -128, 127);
#endif
}

/* har_requant_single_hoisted in two instructions on a core with the DSP extension: SMMLA gives the high
 * word of x * multiplier + (round << 32), i.e. round + ((x * multiplier) >> 32) (the low word cannot
 * carry into it), then one arithmetic shift; the same bits as har_requant_single_hoisted. */
static inline int32_t har_requant_smmla(int32_t x, int32_t multiplier, int32_t round, int32_t right)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    int32_t high;
    __asm__("smmla %0, %1, %2, %3" : "=r"(high) : "r"(x), "r"(multiplier), "r"(round));
    return high >> right;
#else
    return har_requant_single_hoisted(x, multiplier, round, right);
#endif
}

/* SMMLAR: acc + (a * b + 2^31) >> 32 (exact: acc * 2^32 + a * b + 2^31, shifted) */
static inline int32_t har_smmlar(int32_t a, int32_t b, int32_t acc)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
#else
    return (int32_t)(((int64_t)acc * ((int64_t)1 << 32) + (int64_t)a * b + ((int64_t)1 << 31)) >> 32);
#endif
}

/* har_short_double in one instruction less: the triplet's round goes in with SMMLAR, and the nudge
 * takes the accumulator's sign rather than the high word's. They differ only when the high word is 0
 * and x < 0, where round - 1 and round give the same quotient: round = 2^(right-1) + (zero << right)
 * is 2^(right-1) modulo 2^right, so subtracting 1 crosses no multiple of 2^right. */
static inline int32_t har_short_double_mla(int32_t x, const int32_t *triplet)
{
    return (har_smmlar(x * 2, triplet[0], triplet[1]) + (x >> 31)) >> triplet[2];
}

#endif
