/* The block-sparse multiply-accumulate core of FULLY_CONNECTED and CONV_2D (har_edge/codegen/sparse.py):
 * the generator keeps only the 16-byte blocks of har_dot.h's interleaved weights (4 rows x 4 inputs)
 * that hold a non-zero weight, with per block the offset of its 4 inputs. Each kept block is the same
 * step as har_dot4's (one input word, 8 SMLADs on the DSP path), so the exact int32 sums are the dense
 * ones minus zero terms: the same bits, with the work and the flash of the zero blocks skipped. */
#ifndef HAR_SPARSE_H
#define HAR_SPARSE_H

#include "har_dot.h"

/* acc_r += sum over the ``n`` blocks of w's 16 bytes x the inputs at x + offsets[b] (of ``k`` valid
 * inputs; ``readable`` bytes may be read from x). Offsets are ascending, so only the last block can
 * reach past k; the DSP path reads its word whole when it may (its padding weights are zero). */
static HAR_ALWAYS_INLINE har_acc4 har_sparse_dot4(const int8_t *x, const int8_t *w, const int16_t *offsets, int32_t n,
                                                  int32_t k, int32_t readable, har_acc4 acc)
{
    int32_t b = 0;
#if HAR_USE_DSP
    const int32_t whole = n > 0 && offsets[n - 1] + 4 > readable ? n - 1 : n;
    for (; b < whole; ++b, w += 16) acc = har_block4(har_load4(x + offsets[b]), w, acc);
#else
    (void)readable;
#endif
    for (; b < n; ++b, w += 16) {
        const int32_t at = offsets[b], end = k - at < 4 ? k - at : 4;
        for (int32_t i = 0; i < end; ++i) {
            const int32_t xv = x[at + i];
            acc.a0 += xv * w[i];
            acc.a1 += xv * w[4 + i];
            acc.a2 += xv * w[8 + i];
            acc.a3 += xv * w[12 + i];
        }
    }
    return acc;
}

/* group g's blocks (weights, offsets, count) of a block-sparse layer */
typedef struct {
    const int8_t *w;
    const int16_t *offsets;
    int32_t n;
} har_sparse_group;

static inline har_sparse_group har_sparse_group_of(const int8_t *weights, const int32_t *starts,
                                                   const int16_t *offsets, int32_t g)
{
    return (har_sparse_group){weights + 16 * starts[g], offsets + starts[g], starts[g + 1] - starts[g]};
}

#endif
