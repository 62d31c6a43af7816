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

/* for a kernel body instantiated per constant flag: without it GCC may keep one copy testing the flag */
#if defined(__GNUC__)
#define HAR_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define HAR_ALWAYS_INLINE inline
#endif

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

/* HAR_ROUND_DOUBLE for right = -shift >= 1 when |x| < 2^30 (the caller's precondition: the generator
 * bounds the accumulators, see har_edge/codegen/quant.py): the doubling high multiply is then one
 * SMMULR of 2x, and |high| < 2^30 so the rounding divide cannot overflow. The same bits as har_requant. */
static inline int32_t har_requant_double_small(int32_t x, int32_t multiplier, int32_t right)
{
    const int32_t high = har_smmulr(x * 2, multiplier);
    return (high + (high >> 31) + ((int32_t)1 << (right - 1))) >> right;
}

/* har_requant_double_small for any right >= 0, with the per-layer constants of har_small_rounding:
 * round = 2^(right-1) and negative = -1 when right > 0, both 0 when right == 0. ``doubled`` is 2x. */
typedef struct {
    int32_t multiplier, round, negative, right;
} har_small_rounding;

static inline har_small_rounding har_small_constants(int32_t multiplier, int32_t shift)
{
    const int32_t right = -shift;
    return (har_small_rounding){multiplier, right > 0 ? (int32_t)1 << (right - 1) : 0, right > 0 ? -1 : 0, right};
}

static inline int32_t har_requant_small_doubled(int32_t doubled, har_small_rounding r)
{
    const int32_t high = har_smmulr(doubled, r.multiplier);
    return (high + r.round + ((high >> 31) & r.negative)) >> r.right;
}

/* Whether a layer may use har_requant_double_small: ``small`` (every |x| < 2^30) and every shift <= -1 */
static inline int har_short_requant(int32_t small, const int32_t *shift, int32_t channels)
{
    if (!small) return 0;
    for (int32_t c = 0; c < channels; ++c) {
        if (shift[c] >= 0) return 0;
    }
    return 1;
}

static inline int8_t har_clamp_s8(int32_t x, int32_t lo, int32_t hi)
{
    x = x < lo ? lo : x; /* two independent selects: GCC makes them branch-free */
    x = x > hi ? hi : x;
    return (int8_t)x;
}

#endif
