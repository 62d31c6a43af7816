/* The block-sparse multiply-accumulate core of FULLY_CONNECTED, and the group lookups CONV_2D's
 * block-sparse kernel (conv_sparse.c) shares (har_edge/codegen/sparse.py):
 * the generator keeps only the 16-byte blocks of har_dot.h's interleaved weights (4 rows x 4 inputs)
 * that hold a non-zero weight, with per block the offset of its 4 inputs. Each kept block is the same
 * step as har_dot4's (one input word, 8 SMLADs on the DSP path), so the exact int32 sums are the dense
 * ones minus zero terms: the same bits, with the work and the flash of the zero blocks skipped. */
#ifndef HAR_SPARSE_H
#define HAR_SPARSE_H

#include <string.h>

#include "har_dot.h"
#include "har_nn.h"
#include "requant.h"

/* acc_r += sum over the ``n`` blocks of w's 16 bytes x the 4 inputs at x + offsets[b], every input
 * readable (the padding weights past k are zero) */
static HAR_ALWAYS_INLINE har_acc4 har_sparse_blocks(const int8_t *x, const int8_t *w, const int16_t *offsets,
                                                    int32_t n, har_acc4 acc)
{
    for (const int16_t *o = offsets, *end = offsets + n; o < end; ++o, w += 16) { /* no counter: no spill */
#if HAR_USE_DSP
        acc = har_block4(har_load4(x + *o), w, acc);
#else
        for (int32_t i = 0; i < 4; ++i) {
            const int32_t xv = x[*o + i];
            acc.a0 += xv * w[i], acc.a1 += xv * w[4 + i], acc.a2 += xv * w[8 + i], acc.a3 += xv * w[12 + i];
        }
#endif
    }
    return acc;
}

/* har_sparse_blocks of ``k`` valid inputs when ``readable`` bytes may be read from x. Offsets are
 * ascending, so only the last block can reach past k; the DSP path reads its word whole when it may. */
static HAR_ALWAYS_INLINE har_acc4 har_sparse_dot4(const int8_t *x, const int8_t *w, const int16_t *offsets, int32_t n,
                                                  int32_t k, int32_t readable, har_acc4 acc)
{
    const int32_t whole = n > 0 && offsets[n - 1] + 4 > (HAR_USE_DSP ? readable : k) ? n - 1 : n;
    acc = har_sparse_blocks(x, w, offsets, whole, acc);
    for (int32_t b = whole; b < n; ++b) { /* the last block, its inputs up to k */
        const int32_t at = offsets[b], end = k - at < 4 ? k - at : 4;
        for (int32_t i = 0; i < end; ++i) {
            const int32_t xv = x[at + i];
            acc.a0 += xv * w[16 * b + i], acc.a1 += xv * w[16 * b + 4 + i];
            acc.a2 += xv * w[16 * b + 8 + i], acc.a3 += xv * w[16 * b + 12 + i];
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

static inline har_sparse_group har_sparse_group_of(const int8_t *weights, const int16_t *starts,
                                                   const int16_t *offsets, int32_t g)
{
    return (har_sparse_group){weights + 16 * starts[g], offsets + starts[g], starts[g + 1] - starts[g]};
}

/* 4 outputs through the generator's triplets (requant.h): FULLY_CONNECTED's single rounding */
static HAR_ALWAYS_INLINE void har_sparse_finish4(har_acc4 acc, const int32_t *t, int32_t lo, int32_t hi, int8_t *out)
{
    const int32_t full = lo == -128 && hi == 127;
    const int32_t v0 = har_requant_single_hoisted(acc.a0, t[0], t[1], t[2]);
    const int32_t v1 = har_requant_single_hoisted(acc.a1, t[3], t[4], t[5]);
    const int32_t v2 = har_requant_single_hoisted(acc.a2, t[6], t[7], t[8]);
    const int32_t v3 = har_requant_single_hoisted(acc.a3, t[9], t[10], t[11]);
    if (full) { /* SSAT */
        out[0] = har_sat_s8(v0), out[1] = har_sat_s8(v1), out[2] = har_sat_s8(v2), out[3] = har_sat_s8(v3);
    } else {
        out[0] = har_clamp_s8(v0, lo, hi), out[1] = har_clamp_s8(v1, lo, hi);
        out[2] = har_clamp_s8(v2, lo, hi), out[3] = har_clamp_s8(v3, lo, hi);
    }
}

/* ``count`` outputs of one group of 4 channels whose inputs lie ``step`` bytes apart from x on, every
 * kept block readable whole: the blocks and the requantization through triplets ``t``, nothing else */
static HAR_ALWAYS_INLINE void har_sparse_run(const int8_t *x, int32_t step, int8_t *out, int32_t out_step,
                                             int32_t count, har_sparse_group s, const int32_t *bias,
                                             const int32_t *t, int32_t lo, int32_t hi)
{
    for (; count > 0; --count, x += step, out += out_step) {
        const har_acc4 acc = har_sparse_blocks(x, s.w, s.offsets, s.n, (har_acc4){bias[0], bias[1], bias[2], bias[3]});
        har_sparse_finish4(acc, t, lo, hi, out);
    }
}

/* the accumulators' start: the ``n`` (<= 4) biases from channel c, or zeros */
static inline har_acc4 har_sparse_start(const int32_t *bias, int32_t c, int32_t n)
{
    if (!bias) return (har_acc4){0, 0, 0, 0};
    return (har_acc4){bias[c], n > 1 ? bias[c + 1] : 0, n > 2 ? bias[c + 2] : 0, n > 3 ? bias[c + 3] : 0};
}

/* ``first``'s ``n`` bytes copied to the ``count`` - 1 places ``stride`` bytes apart after it */
static inline void har_sparse_repeat(int8_t *first, int32_t n, int32_t count, int32_t stride)
{
    if (n == 4) { /* one word load, then word stores */
        uint32_t word;
        memcpy(&word, first, 4);
        for (int8_t *out = first + stride, *end = first + count * stride; out < end; out += stride) {
            memcpy(out, &word, 4);
        }
        return;
    }
    for (int32_t i = 1; i < count; ++i) memcpy(first + i * stride, first, (size_t)n);
}

typedef int8_t har_fc_finish_fn(const har_fc_params *p, int32_t acc, int32_t unit);

/* FULLY_CONNECTED's ``rows`` rows (``readable`` bytes may be read from input) on block-sparse weights,
 * groups of 4 units outer: the rows whose kept blocks are all readable whole run har_sparse_run, the
 * others (the last rows, when a block reaches past them) the general way, and a group without kept
 * blocks (units pruned whole) has the same outputs on every row: requantized once, then copied.
 * ``finish`` is fully_connected.c's one unit's requantization. */
static HAR_ALWAYS_INLINE void har_sparse_fc_rows(const har_fc_params *p, const int8_t *input, int32_t rows,
                                                 int32_t readable, int8_t *output, har_fc_finish_fn *finish)
{
    const int32_t depth = p->depth, units = p->units, lo = p->act_min, hi = p->act_max;
    const int32_t *bias = p->bias;
    for (int32_t u = 0; u < units; u += 4) {
        const int32_t n = units - u < 4 ? units - u : 4;
        const har_sparse_group s = har_sparse_group_of(p->weights, p->block_starts, p->block_offsets, u / 4);
        const int32_t *triplets = n == 4 && p->requant ? p->requant + 3 * u : 0;
        int32_t r = 0;
        if (triplets && bias && s.n > 0) {
            const int32_t spare = readable - (s.offsets[s.n - 1] + 4), whole = spare < 0 ? 0 : spare / depth + 1;
            r = whole < rows ? whole : rows;
            har_sparse_run(input, depth, output + u, units, r, s, bias + u, triplets, lo, hi);
        }
        const har_acc4 start = har_sparse_start(bias, u, n);
        for (; r < rows; ++r) {
            int8_t *out = output + r * units + u;
            if (s.n == 0 && r > 0) { /* the group's constant outputs, as on row 0 */
                har_sparse_repeat(output + u, n, rows, units);
                break;
            }
            const int8_t *x = input + r * depth;
            const har_acc4 acc = har_sparse_dot4(x, s.w, s.offsets, s.n, depth, readable - r * depth, start);
            const int32_t values[4] = {acc.a0, acc.a1, acc.a2, acc.a3};
            for (int32_t j = 0; j < n; ++j) out[j] = finish(p, values[j], u + j);
        }
    }
}

#endif
