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

static inline int8_t har_clamp_s8(int32_t x, int32_t lo, int32_t hi)
{
    return (int8_t)(x < lo ? lo : (x > hi ? hi : x));
}

#endif
