/* The int8 multiply-accumulate core shared by FULLY_CONNECTED and CONV_2D: four weight rows against
 * one input vector, acc_r += sum_i x[i] * w_r[i] for i < k, exact int32 sums (so the DSP and portable
 * loops give the same bits). The inputs' offset is not added: the generator folds offset * sum(w)
 * into the biases (ops_conv.folded_bias).
 *
 * Weights come interleaved by the generator (see har_edge/codegen/ops_conv.py): per group of 4 rows
 * and per 4 inputs, 16 bytes = rows 0..3 x inputs i..i+3; k is padded to a multiple of 4 and the rows
 * to a multiple of 4 with zeros. The DSP loop reads 4 inputs (two SXTB16s) and
 * the 16 weights with two 8-byte loads (a group starts on a 16-byte boundary: the arrays are
 * alignas(16) and a group is a multiple of 16 bytes), then 8 SMLADs. */
#ifndef HAR_DOT_H
#define HAR_DOT_H

#include "har_dsp.h"

typedef struct {
    int32_t a0, a1, a2, a3;
} har_acc4;

#if HAR_USE_DSP
/* One block of 4 inputs against the 4 rows' 16 interleaved weights (the DSP step of har_dot4). */
static HAR_ALWAYS_INLINE har_acc4 har_block4(uint32_t xs, const int8_t *w, har_acc4 acc)
{
    const uint32_t x02 = har_sxtb16(xs), x13 = har_sxtb16_ror8(xs);
    uint64_t w01, w23; /* two LDRDs: the generator's weight groups start 16-byte aligned */
#if defined(__GNUC__)
    const int8_t *aligned = (const int8_t *)__builtin_assume_aligned(w, 8);
#else
    const int8_t *aligned = w;
#endif
    memcpy(&w01, aligned, 8);
    memcpy(&w23, aligned + 8, 8);
    const uint32_t w0 = (uint32_t)w01, w1 = (uint32_t)(w01 >> 32), w2 = (uint32_t)w23, w3 = (uint32_t)(w23 >> 32);
    acc.a0 = har_smlad(x13, har_sxtb16_ror8(w0), har_smlad(x02, har_sxtb16(w0), acc.a0));
    acc.a1 = har_smlad(x13, har_sxtb16_ror8(w1), har_smlad(x02, har_sxtb16(w1), acc.a1));
    acc.a2 = har_smlad(x13, har_sxtb16_ror8(w2), har_smlad(x02, har_sxtb16(w2), acc.a2));
    acc.a3 = har_smlad(x13, har_sxtb16_ror8(w3), har_smlad(x02, har_sxtb16(w3), acc.a3));
    return acc;
}
#endif

/* ``w`` is one group's interleaved block (k rounded up to 4 times 4 rows). ``readable`` bytes may be
 * read from ``x`` (>= k): the DSP loop reads the last partial block whole when it can, since the
 * padding weights are zero and add nothing whatever the bytes past k hold. */
static HAR_ALWAYS_INLINE har_acc4 har_dot4(const int8_t *x, const int8_t *w, int32_t k, int32_t readable, har_acc4 acc)
{
    int32_t i = 0;
#if HAR_USE_DSP
    const int32_t blocks_end = readable >= ((k + 3) & ~3) ? k : (k & ~3);
    for (; i < blocks_end; i += 4, w += 16) acc = har_block4(har_load4(x + i), w, acc);
    w -= i * 4; /* back to the group's start: the tail below indexes from there */
#else
    (void)readable;
#endif
    for (; i < k; ++i) {
        const int32_t xv = x[i];
        const int8_t *wi = w + (i >> 2) * 16 + (i & 3);
        acc.a0 += xv * wi[0];
        acc.a1 += xv * wi[4];
        acc.a2 += xv * wi[8];
        acc.a3 += xv * wi[12];
    }
    return acc;
}

/* bytes of one group's interleaved weights */
static inline int32_t har_group_bytes(int32_t k) { return ((k + 3) & ~3) * 4; }

/* Two positions x two rows (CONV_2D's dense kernel, conv.c). The inputs come widened to int16 in a
 * column: per block of 4 inputs, 8 int16 = the low pairs of positions a and b, then their high pairs
 * (so one 8-byte load serves both positions). har_widen4 writes one position's 4 (DSP: the SXTB16
 * halves (x0, x2) low, (x1, x3) high, as the weights split; portable: (x0, x1), (x2, x3)) at ``col``
 * = the block + 2 for position b. The weights of the two rows come interleaved by the generator
 * (ops_conv.interleave_pairs): per block of 4 inputs, 8 bytes = row r's 4, then row r + 1's (8-byte
 * aligned). Returns {a.r, a.r+1, b.r, b.r+1} added to ``acc``, exact int32 sums: one weight sign
 * extension serves both positions, one input word both rows. ``col`` is 8-byte aligned. */
static HAR_ALWAYS_INLINE void har_widen4(int16_t *col, const int8_t *src)
{
#if HAR_USE_DSP
    const uint32_t x = har_load4(src), lo = har_sxtb16(x), hi = har_sxtb16_ror8(x);
    memcpy(col, &lo, 4);
    memcpy(col + 4, &hi, 4);
#else
    col[0] = src[0], col[1] = src[1], col[4] = src[2], col[5] = src[3];
#endif
}

/* one block of har_dot2x2's assembly loop: rows r, r + 1 (8 bytes) against the two positions' low then
 * high pairs, post-indexed */
#define HAR_DOT2X2_BLOCK \
    "ldrd %[r0], %[r1], [%[w]], #8\n\t" \
    "ldrd %[x0], %[x1], [%[col]], #8\n\t" \
    "sxtb16 %[e], %[r0]\n\t" \
    "smlad %[a0], %[x0], %[e], %[a0]\n\t" \
    "smlad %[a2], %[x1], %[e], %[a2]\n\t" \
    "sxtb16 %[e], %[r1]\n\t" \
    "smlad %[a1], %[x0], %[e], %[a1]\n\t" \
    "smlad %[a3], %[x1], %[e], %[a3]\n\t" \
    "ldrd %[x0], %[x1], [%[col]], #8\n\t" \
    "sxtb16 %[e], %[r0], ror #8\n\t" \
    "smlad %[a0], %[x0], %[e], %[a0]\n\t" \
    "smlad %[a2], %[x1], %[e], %[a2]\n\t" \
    "sxtb16 %[e], %[r1], ror #8\n\t" \
    "smlad %[a1], %[x0], %[e], %[a1]\n\t" \
    "smlad %[a3], %[x1], %[e], %[a3]\n\t"

static HAR_ALWAYS_INLINE har_acc4 har_dot2x2(const int16_t *col, const int8_t *w, int32_t blocks, har_acc4 acc)
{
    const int16_t *end = col + 8 * blocks;
#if HAR_USE_DSP && defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
    /* the loop below as GCC does not schedule it: post-indexed LDRDs, two blocks a pass (an odd count
     * enters at the second), 16 instructions a block, and one register for the sign-extended weights
     * (12 in all) so that the caller keeps more of its own */
    uint32_t r0, r1, e, x0, x1;
    __asm__("sub %[e], %[end], %[col]\n\t"
            "tst %[e], #16\n\t" /* an odd number of 16-byte blocks */
            "bne 2f\n\t"
            "1:\n\t" HAR_DOT2X2_BLOCK "2:\n\t" HAR_DOT2X2_BLOCK
            "cmp %[col], %[end]\n\t"
            "bne 1b"
            : [a0] "+r"(acc.a0), [a1] "+r"(acc.a1), [a2] "+r"(acc.a2), [a3] "+r"(acc.a3), [col] "+r"(col),
              [w] "+r"(w), [r0] "=&r"(r0), [r1] "=&r"(r1), [e] "=&r"(e), [x0] "=&r"(x0), [x1] "=&r"(x1)
            : [end] "r"(end)
            : "cc", "memory");
#elif HAR_USE_DSP
#if defined(__GNUC__)
    col = (const int16_t *)__builtin_assume_aligned(col, 8);
#endif
    for (; col != end; col += 8, w += 8) {
        uint64_t rows, lo, hi;
#if defined(__GNUC__)
        memcpy(&rows, __builtin_assume_aligned(w, 8), 8);
#else
        memcpy(&rows, w, 8);
#endif
        memcpy(&lo, col, 8);
        const uint32_t r0 = (uint32_t)rows, r1 = (uint32_t)(rows >> 32), r0e = har_sxtb16(r0), r1e = har_sxtb16(r1);
        const uint32_t a02 = (uint32_t)lo, b02 = (uint32_t)(lo >> 32);
        acc.a0 = har_smlad(a02, r0e, acc.a0), acc.a1 = har_smlad(a02, r1e, acc.a1);
        acc.a2 = har_smlad(b02, r0e, acc.a2), acc.a3 = har_smlad(b02, r1e, acc.a3);
        memcpy(&hi, col + 4, 8);
        const uint32_t r0o = har_sxtb16_ror8(r0), r1o = har_sxtb16_ror8(r1);
        const uint32_t a13 = (uint32_t)hi, b13 = (uint32_t)(hi >> 32);
        acc.a0 = har_smlad(a13, r0o, acc.a0), acc.a1 = har_smlad(a13, r1o, acc.a1);
        acc.a2 = har_smlad(b13, r0o, acc.a2), acc.a3 = har_smlad(b13, r1o, acc.a3);
    }
#else
    static const uint8_t at[4] = {0, 1, 4, 5}; /* position a's x0..x3; position b's are 2 further */
    for (; col != end; col += 8, w += 8) {
        for (int32_t i = 0; i < 4; ++i) {
            const int32_t xa = col[at[i]], xb = col[at[i] + 2], w0 = w[i], w1 = w[4 + i];
            acc.a0 += xa * w0, acc.a1 += xa * w1, acc.a2 += xb * w0, acc.a3 += xb * w1;
        }
    }
#endif
    return acc;
}

#endif
