/* Selects the Cortex-M4 DSP loops: on a core with the DSP extension (__ARM_FEATURE_DSP) they use the
 * ACLE intrinsics of <arm_acle.h>; HAR_EMULATE_DSP gives plain-C versions of the same intrinsics so
 * the DSP loops can be checked byte for byte on a host. Otherwise the portable loops are used. */
#ifndef HAR_DSP_H
#define HAR_DSP_H

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define HAR_USE_DSP 1
#define har_sxtb16 __sxtb16
#define har_sxtab16 __sxtab16
#define har_smlad __smlad
/* SXTB16/SXTAB16 of bytes 1 and 3: one instruction with the ROR #8 operand (ACLE has no form of it) */
static inline uint32_t har_sxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
static inline uint32_t har_sxtab16_ror8(uint32_t a, uint32_t x)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
    return r;
}
#elif defined(HAR_EMULATE_DSP)
#define HAR_USE_DSP 1
static inline uint32_t har_ror(uint32_t x, uint32_t n) { return (x >> n) | (x << (32 - n)); }
static inline uint32_t har_halves(int32_t lo, int32_t hi) { return ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16); }
static inline uint32_t har_sxtb16(uint32_t x) { return har_halves((int8_t)(x & 0xFF), (int8_t)((x >> 16) & 0xFF)); }
static inline uint32_t har_sxtab16(uint32_t a, uint32_t x)
{
    return har_halves((int16_t)(a & 0xFFFF) + (int8_t)(x & 0xFF), (int16_t)(a >> 16) + (int8_t)((x >> 16) & 0xFF));
}
static inline int32_t har_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return acc + (int16_t)(a & 0xFFFF) * (int16_t)(b & 0xFFFF) + (int16_t)(a >> 16) * (int16_t)(b >> 16);
}
static inline uint32_t har_sxtb16_ror8(uint32_t x) { return har_sxtb16(har_ror(x, 8)); }
static inline uint32_t har_sxtab16_ror8(uint32_t a, uint32_t x) { return har_sxtab16(a, har_ror(x, 8)); }
#else
#define HAR_USE_DSP 0
#endif

#include "har_inline.h"

#if HAR_USE_DSP
static inline uint32_t har_load4(const int8_t *p)
{
    uint32_t word;
    memcpy(&word, p, 4);
    return word;
}
#endif

#endif
