/* FULLY_CONNECTED's inner loops written out for the Cortex-M4 (fully_connected.c): GCC splits the
 * 8-byte weight loads of the C loops into single words and spills accumulators around them, so on a
 * core with the DSP extension (built with optimization, by GCC or Clang) these asm loops run
 * instead. They load 4 words at once into r8-r11 (LDM needs named registers; they are clobbered).
 * Each computes exactly what the C loop beside it in fully_connected.c does (the same int32 sums and
 * the same requantization), which the host tests run with emulated intrinsics; the tests on the
 * emulated mps2-an386 run these. HAR_FC_M4 says whether they are in use. */
#ifndef HAR_FC_M4_H
#define HAR_FC_M4_H

#include "har_dot.h"

#if HAR_USE_DSP && defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__GNUC__) && defined(__OPTIMIZE__)
#define HAR_FC_M4 1
#else
#define HAR_FC_M4 0
#endif

#if HAR_FC_M4
/* Wide weights (har_fc_wide_s8): the blocks of [x, end) (at least one), 8 sign-extended words each:
 * 14 instructions a block, the loop's compare and branch once per two blocks (an odd block first).
 * *w moves past them. */
#define HAR_M4_WIDE_BLOCK                                                                                           \
    "ldr %[xs], [%[x]], #4\n\t"                                                                                     \
    "sxtb16 %[x02], %[xs]\n\t"                                                                                      \
    "sxtb16 %[xs], %[xs], ror #8\n\t"                                                                               \
    "ldmia %[w]!, {r8, r9, r10, r11}\n\t"                                                                           \
    "smlad %[a0], %[x02], r8, %[a0]\n\t"                                                                            \
    "smlad %[a1], %[x02], r9, %[a1]\n\t"                                                                            \
    "smlad %[a2], %[x02], r10, %[a2]\n\t"                                                                           \
    "smlad %[a3], %[x02], r11, %[a3]\n\t"                                                                           \
    "ldmia %[w]!, {r8, r9, r10, r11}\n\t"                                                                           \
    "smlad %[a0], %[xs], r8, %[a0]\n\t"                                                                             \
    "smlad %[a1], %[xs], r9, %[a1]\n\t"                                                                             \
    "smlad %[a2], %[xs], r10, %[a2]\n\t"                                                                            \
    "smlad %[a3], %[xs], r11, %[a3]\n\t"

/* Dense int8 weights (har_dot.h's interleaving): one block is har_block4's steps with the block's 16
 * bytes in one LDM, 20 instructions */
#define HAR_M4_INT8_UNIT(a, r)                                                                                      \
    "sxtb16 %[t], " r "\n\t"                                                                                        \
    "smlad %[" a "], %[x02], %[t], %[" a "]\n\t"                                                                    \
    "sxtb16 %[t], " r ", ror #8\n\t"                                                                                \
    "smlad %[" a "], %[xs], %[t], %[" a "]\n\t"
#define HAR_M4_INT8_BLOCK                                                                                           \
    "ldr %[xs], [%[x]], #4\n\t"                                                                                     \
    "sxtb16 %[x02], %[xs]\n\t"                                                                                      \
    "sxtb16 %[xs], %[xs], ror #8\n\t"                                                                               \
    "ldmia %[w]!, {r8, r9, r10, r11}\n\t" HAR_M4_INT8_UNIT("a0", "r8") HAR_M4_INT8_UNIT("a1", "r9")             \
        HAR_M4_INT8_UNIT("a2", "r10") HAR_M4_INT8_UNIT("a3", "r11")

/* Dense int8 weights against an input row already extended (x02, x13 words per block), 18 instructions */
#define HAR_M4_INT8_EXT_BLOCK                                                                                       \
    "ldrd %[x02], %[xs], [%[x]], #8\n\t"                                                                            \
    "ldmia %[w]!, {r8, r9, r10, r11}\n\t" HAR_M4_INT8_UNIT("a0", "r8") HAR_M4_INT8_UNIT("a1", "r9")             \
        HAR_M4_INT8_UNIT("a2", "r10") HAR_M4_INT8_UNIT("a3", "r11")

/* the blocks of [x, end) (at least one; SIZE bytes of x each) with BLOCK's steps: an odd one first, then
 * two per loop pass (xs, the input word, tells the count's parity first) */
#define HAR_M4_BLOCKS(BLOCK, SIZE)                                                                                  \
    "sub %[xs], %[end], %[x]\n\t"                                                                                   \
    "tst %[xs], #" SIZE "\n\t"                                                                                      \
    "beq 2f\n\t" BLOCK "cmp %[x], %[end]\n\t"                                                                       \
    "bhs 3f\n\t"                                                                                                    \
    "2:\n\t" BLOCK BLOCK "cmp %[x], %[end]\n\t"                                                                     \
    "blo 2b\n\t"                                                                                                    \
    "3:\n\t"

static HAR_ALWAYS_INLINE har_acc4 har_m4_wide_blocks(const int8_t *x, const int8_t *end, const int16_t **w,
                                                     har_acc4 acc)
{
    const int16_t *wp = *w;
    uint32_t xs, x02;
    __asm__(HAR_M4_BLOCKS(HAR_M4_WIDE_BLOCK, "4")
            : [x] "+r"(x), [w] "+r"(wp), [a0] "+r"(acc.a0), [a1] "+r"(acc.a1), [a2] "+r"(acc.a2), [a3] "+r"(acc.a3),
              [xs] "=&r"(xs), [x02] "=&r"(x02)
            : [end] "r"(end)
            : "r8", "r9", "r10", "r11", "cc", "memory");
    *w = wp;
    return acc;
}

/* Wide weights: one block against input words already extended (x02 = SXTB16(x), x13 = SXTB16(x, ROR 8)),
 * 10 instructions; *w moves past it */
static HAR_ALWAYS_INLINE har_acc4 har_m4_wide_block_of(uint32_t x02, uint32_t x13, const int16_t **w, har_acc4 acc)
{
    const int16_t *wp = *w;
    __asm__("ldmia %[w]!, {r8, r9, r10, r11}\n\t"
            "smlad %[a0], %[x02], r8, %[a0]\n\t"
            "smlad %[a1], %[x02], r9, %[a1]\n\t"
            "smlad %[a2], %[x02], r10, %[a2]\n\t"
            "smlad %[a3], %[x02], r11, %[a3]\n\t"
            "ldmia %[w]!, {r8, r9, r10, r11}\n\t"
            "smlad %[a0], %[x13], r8, %[a0]\n\t"
            "smlad %[a1], %[x13], r9, %[a1]\n\t"
            "smlad %[a2], %[x13], r10, %[a2]\n\t"
            "smlad %[a3], %[x13], r11, %[a3]"
            : [w] "+r"(wp), [a0] "+r"(acc.a0), [a1] "+r"(acc.a1), [a2] "+r"(acc.a2), [a3] "+r"(acc.a3)
            : [x02] "r"(x02), [x13] "r"(x13)
            : "r8", "r9", "r10", "r11", "memory");
    *w = wp;
    return acc;
}

/* Four outputs through the triplets at *triplets ({multiplier, round, right}, requant.h's
 * har_requant_smmla), saturated to int8 and stored: LDM, SMMLA, ASR, SSAT, STRB each (volatile: its only
 * other effect is its stores); *triplets moves past them. */
static HAR_ALWAYS_INLINE void har_m4_store_full(har_acc4 acc, const int32_t **triplets, int8_t *out)
{
    const int32_t *t = *triplets;
#define HAR_M4_OUT(a, o)                                                                                            \
    "ldmia %[t]!, {r8, r9, r10}\n\t"                                                                                \
    "smmla %[" a "], %[" a "], r8, r9\n\t"                                                                          \
    "asr %[" a "], %[" a "], r10\n\t"                                                                               \
    "ssat %[" a "], #8, %[" a "]\n\t"                                                                               \
    "strb %[" a "], [%[out], #" o "]\n\t"
    __asm__ volatile(HAR_M4_OUT("a0", "0") HAR_M4_OUT("a1", "1") HAR_M4_OUT("a2", "2") HAR_M4_OUT("a3", "3")
                     : [a0] "+r"(acc.a0), [a1] "+r"(acc.a1), [a2] "+r"(acc.a2), [a3] "+r"(acc.a3), [t] "+r"(t)
                     : [out] "r"(out)
                     : "r8", "r9", "r10", "cc", "memory");
#undef HAR_M4_OUT
    *triplets = t;
}

/* har_dot.h's interleaved int8 weights: the blocks of [x, end) (at least one); *weights moves past them */
static HAR_ALWAYS_INLINE har_acc4 har_m4_int8_blocks(const int8_t *x, const int8_t *end, const int8_t **weights,
                                                     har_acc4 acc)
{
    const int8_t *w = *weights;
    uint32_t xs, x02, t;
    __asm__(HAR_M4_BLOCKS(HAR_M4_INT8_BLOCK, "4")
            : [x] "+r"(x), [w] "+r"(w), [a0] "+r"(acc.a0), [a1] "+r"(acc.a1), [a2] "+r"(acc.a2), [a3] "+r"(acc.a3),
              [xs] "=&r"(xs), [x02] "=&r"(x02), [t] "=&r"(t)
            : [end] "r"(end)
            : "r8", "r9", "r10", "r11", "cc", "memory");
    *weights = w;
    return acc;
}

/* the same against an input row extended by har_m4_extend: words [x, end), two per block */
static HAR_ALWAYS_INLINE har_acc4 har_m4_int8_ext_blocks(const uint32_t *x, const uint32_t *end, const int8_t **weights,
                                                         har_acc4 acc)
{
    const int8_t *w = *weights;
    uint32_t xs, x02, t;
    __asm__(HAR_M4_BLOCKS(HAR_M4_INT8_EXT_BLOCK, "8")
            : [x] "+r"(x), [w] "+r"(w), [a0] "+r"(acc.a0), [a1] "+r"(acc.a1), [a2] "+r"(acc.a2), [a3] "+r"(acc.a3),
              [xs] "=&r"(xs), [x02] "=&r"(x02), [t] "=&r"(t)
            : [end] "r"(end)
            : "r8", "r9", "r10", "r11", "cc", "memory");
    *weights = w;
    return acc;
}
#endif

#endif
