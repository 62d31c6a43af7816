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

#endif
