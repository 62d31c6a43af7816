/* The one fixed-point rescale every int8 kernel applies: TFLite's MultiplyByQuantizedMultiplier with
 * single rounding (as LiteRT builds it): (x * multiplier + 2^(30 - shift)) >> (31 - shift), the
 * multiplier in [2^30, 2^31) and the shift in [-31, 30] coming from the generator.
 *
 * For shift <= -2 (every usual convolution) the rounding term has a zero low word, so the result is
 * the high word of the 64-bit product plus 2^(-shift - 2), shifted right by -shift - 1: the same
 * bits with a 32-bit shift (on the M4: SMULL, ADD, ASR). Right shifts of negative values are
 * arithmetic (true of every compiler this code targets). */
#ifndef HAR_REQUANT_H
#define HAR_REQUANT_H

#include <stdint.h>

static inline int32_t har_requant(int32_t x, int32_t multiplier, int32_t shift)
{
    const int64_t product = (int64_t)x * multiplier;
    if (shift <= -2) {
        const int32_t high = (int32_t)(product >> 32);
        return (high + ((int32_t)1 << (-shift - 2))) >> (-shift - 1);
    }
    const int32_t total = 31 - shift;
    return (int32_t)((product + ((int64_t)1 << (total - 1))) >> total);
}

static inline int8_t har_clamp_s8(int32_t x, int32_t lo, int32_t hi)
{
    return (int8_t)(x < lo ? lo : (x > hi ? hi : x));
}

#endif
