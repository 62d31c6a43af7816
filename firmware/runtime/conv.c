/* CONV_2D on dense weights (har_conv_s8), int8, NHWC, batch 1. Taps outside the input count as the input
 * zero point; the generator folded input_offset * sum(w) into the bias, which takes back what they add.
 *
 * Output positions two at a time. Each position's receptive field
 * (k = k_h * k_w * in_c inputs, rounded up to 4 with zeros) is widened once to int16 into the column
 * scratch, the two positions interleaved per block of 4 inputs (har_dot.h, har_dot2x2); then two
 * output channels at a time run over the column (their weights interleaved by pairs), so each weight
 * word is sign-extended once for two positions and each input word serves two channels. Rows of the field that lie in the input and hold
 * a multiple of 4 bytes are widened straight from it; other fields are first gathered as int8 into
 * the stage (after the column) with their padding. An odd last position is computed twice.
 * Block-sparse weights: conv_sparse.c. */
#include <string.h>

#include "har_conv_window.h"
#include "har_dot.h"
#include "har_nn.h"
#include "requant.h"

/* ---- dense: two positions x two channels over an int16 column ---- */

/* the column's blocks of one position hold the int16 inputs of har_dot2x2 (har_dot.h) */
static HAR_ALWAYS_INLINE void widen_inline(int16_t *col, const int8_t *src, int32_t blocks)
{
    for (; blocks >= 2; blocks -= 2, col += 16, src += 8) har_widen4(col, src), har_widen4(col + 8, src + 4);
    if (blocks) har_widen4(col, src);
}

/* out of line where fields go row by row (flash); inline for pointwise pixels */
static void widen(int16_t *col, const int8_t *src, int32_t blocks) { widen_inline(col, src, blocks); }

static HAR_ALWAYS_INLINE void fill(int16_t *col, int8_t value, int32_t blocks)
{
    const int16_t v = value;
    for (int32_t b = 0; b < blocks; ++b, col += 8) col[0] = col[1] = col[4] = col[5] = v;
}

/* whether column() gathers some field through the stage: blocks straddle rows, or taps while some
 * field is clipped at the left or right edge. The generator sizes the scratch by the same test
 * (kernel_costs.conv_scratch_bytes). */
static int staged(const har_conv_params *p)
{
    const int clipping = p->pad_left > 0 || (p->out_w - 1) * p->stride_w - p->pad_left + p->k_w > p->in_w;
    return ((p->k_w * p->in_c) & 3) || (clipping && (p->in_c & 3));
}

/* the receptive field at (y0, x0) widened into one position's blocks of the column, the ways that
 * field() does not take */
static void column(const har_conv_params *p, const int8_t *input, int32_t y0, int32_t x0, int16_t *col, int8_t *stage)
{
    const int32_t in_c = p->in_c, k_w = p->k_w, row = k_w * in_c, row_blocks = row >> 2;
    const int32_t kx_lo = x0 < 0 ? -x0 : 0, kx_hi = p->in_w - x0 < k_w ? p->in_w - x0 : k_w;
    const int clipped = kx_lo > 0 || kx_hi < k_w;
    if ((row & 3) || (clipped && (in_c & 3))) { /* blocks straddle taps or rows: gather first */
        har_conv_gather(p, input, y0, x0, stage);
        widen(col, stage, (p->k_h * row + 3) >> 2);
        return;
    }
    const int8_t pad = (int8_t)(-p->input_offset);
    const int32_t left = kx_lo * in_c >> 2, inside = (kx_hi - kx_lo) * in_c >> 2;
    for (int32_t ky = 0; ky < p->k_h; ++ky, col += 8 * row_blocks) {
        const int32_t y = y0 + ky;
        if (y < 0 || y >= p->in_h) {
            fill(col, pad, row_blocks);
            continue;
        }
        fill(col, pad, left);
        widen(col + 8 * left, input + (y * p->in_w + x0 + kx_lo) * in_c, inside);
        fill(col + 8 * (left + inside), pad, row_blocks - left - inside);
    }
}

/* the receptive field at (y0, x0) into one position's blocks of the column: straight from the input
 * when it lies inside and its rows are a multiple of 4 bytes (in one span with one kernel row or rows
 * as wide as the input: every pointwise layer's), else through column() */
static void field(const har_conv_params *p, const int8_t *input, int32_t y0, int32_t x0, int16_t *col, int8_t *stage)
{
    const int32_t k_h = p->k_h, k_w = p->k_w, in_w = p->in_w, in_c = p->in_c, row = k_w * in_c;
    if (x0 < 0 || x0 + k_w > in_w || y0 < 0 || y0 + k_h > p->in_h || row == 1) {
        column(p, input, y0, x0, col, stage); /* (rows of one byte: whole words would leave both buffers) */
        return;
    }
    const int8_t *src = input + (y0 * in_w + x0) * in_c;
    if (row & 3) { /* into the stage row by row in whole words, the last row exactly: with rows of 2
                    * bytes or more, the words past a row land where the next rows go and read no
                    * further than the next row's span */
        int8_t *dst = stage;
        for (int32_t ky = 1; ky < k_h; ++ky, src += in_w * in_c, dst += row) {
            for (int32_t i = 0; i < row; i += 4) copy_bytes(dst + i, src + i, 4);
        }
        copy_bytes(dst, src, row);
        widen(col, stage, (k_h * row + 3) >> 2);
        return;
    }
    if (k_h == 1 || k_w == in_w) {
        widen(col, src, k_h * row >> 2);
        return;
    }
    for (int32_t ky = 0; ky < k_h; ++ky, col += 2 * row, src += in_w * in_c) widen(col, src, row >> 2);
}

/* output position (oy, ox)'s field into one position's blocks of the column; ``pixels``: pointwise
 * on 4-byte pixels, where every field is one pixel, widened here rather than through field() */
static HAR_ALWAYS_INLINE void place(const har_conv_params *p, const int8_t *input, int32_t oy, int32_t ox, int pixels,
                                    int32_t blocks, int16_t *col, int8_t *stage)
{
    const int32_t y0 = oy * p->stride_h - p->pad_top, x0 = ox * p->stride_w - p->pad_left;
    if (pixels) {
        widen_inline(col, input + (y0 * p->in_w + x0) * p->in_c, blocks);
    } else {
        field(p, input, y0, x0, col, stage);
    }
}

/* channel c (and c + 1 when ``two``) of both positions from the 2x2 accumulators; ``fast``: through
 * the generator's triplets ``t`` (channel c's) to the whole int8 range */
static HAR_ALWAYS_INLINE void finish2x2(const har_conv_params *p, har_acc4 acc, const int32_t *t, int32_t c, int two,
                                        int fast, int8_t *out_a, int8_t *out_b)
{
    if (fast) { /* every value before the first store: an int8 store may alias the triplets */
        const int32_t t0[3] = {t[0], t[1], t[2]};
        const int8_t v0 = har_sat_s8(har_short_double_mla(acc.a0, t0)), v2 = har_sat_s8(har_short_double_mla(acc.a2, t0));
        if (two) {
            const int32_t t1[3] = {t[3], t[4], t[5]};
            const int8_t v1 = har_sat_s8(har_short_double_mla(acc.a1, t1));
            const int8_t v3 = har_sat_s8(har_short_double_mla(acc.a3, t1));
            out_a[c + 1] = v1, out_b[c + 1] = v3;
        }
        out_a[c] = v0, out_b[c] = v2;
        return;
    }
    out_a[c] = har_conv_finish_one(acc.a0, p, c), out_b[c] = har_conv_finish_one(acc.a2, p, c);
    if (two) out_a[c + 1] = har_conv_finish_one(acc.a1, p, c + 1), out_b[c + 1] = har_conv_finish_one(acc.a3, p, c + 1);
}

/* every output channel of two positions from their column; ``fast``: a bias, the generator's triplets
 * and the whole int8 range (every layer of the MLPerf Tiny models), with no test in the loop */
static HAR_ALWAYS_INLINE void channels(const har_conv_params *p, const int16_t *col, int32_t blocks, int fast,
                                       int8_t *out_a, int8_t *out_b)
{
    const int32_t out_c = p->out_c, pairs = out_c & ~1, pair_bytes = 8 * blocks;
    const int32_t *bias = p->bias, *t = p->requant;
    const int8_t *w = p->weights; /* per pair of channels, interleaved (har_dot2x2) */
    int32_t c = 0;
    for (; c < pairs; c += 2, t += 6, w += pair_bytes) {
        const int32_t b0 = fast || bias ? bias[c] : 0, b1 = fast || bias ? bias[c + 1] : 0;
        finish2x2(p, har_dot2x2(col, w, blocks, (har_acc4){b0, b1, b0, b1}), t, c, 1, fast, out_a, out_b);
    }
    if (c < out_c) { /* the last channel: its pair's second row is zero padding */
        const int32_t b0 = fast || bias ? bias[c] : 0;
        finish2x2(p, har_dot2x2(col, w, blocks, (har_acc4){b0, 0, b0, 0}), t, c, 0, fast, out_a, out_b);
    }
}

/* the two instances, out of line: the position loop is compiled once (flash) */
typedef void channels_fn(const har_conv_params *p, const int16_t *col, int32_t blocks, int8_t *out_a, int8_t *out_b);

static void channels_fast(const har_conv_params *p, const int16_t *col, int32_t blocks, int8_t *out_a, int8_t *out_b)
{
    channels(p, col, blocks, 1, out_a, out_b);
}

static void channels_general(const har_conv_params *p, const int16_t *col, int32_t blocks, int8_t *out_a,
                             int8_t *out_b)
{
    channels(p, col, blocks, 0, out_a, out_b);
}

void har_conv_s8(const har_conv_params *params, const int8_t *input, int8_t *output)
{
    const har_conv_params copy = *params, *p = &copy; /* a local copy: stores through output cannot change it */
    channels_fn *run = p->bias && p->requant && p->act_min == -128 && p->act_max == 127 ? channels_fast
                                                                                          : channels_general;
    const int32_t k = p->k_h * p->k_w * p->in_c, blocks = (k + 3) >> 2, out_c = p->out_c, out_w = p->out_w;
    const int32_t positions = p->out_h * out_w;
    /* the scratch is 4-byte aligned (an arena offset); the column 8-byte aligned, for LDRD */
    int16_t *col = (int16_t *)(void *)(p->scratch + ((uintptr_t)p->scratch & 4));
    int8_t *stage = (int8_t *)col + 16 * blocks;
    if (staged(p)) memset(stage + k, 0, (size_t)(4 * blocks - k)); /* widened with the last block */
    const int pixels = p->k_h == 1 && p->k_w == 1 && !(p->in_c & 3) && !p->pad_top && !p->pad_left;
    int32_t oy = 0, ox = 0;
    for (int32_t pos = 0; pos < positions; pos += 2) {
        const int32_t next = pos + 1 < positions ? pos + 1 : pos; /* the same one when the last is odd */
        place(p, input, oy, ox, pixels, blocks, col, stage);
        if (next != pos && ++ox == out_w) ox = 0, ++oy;
        place(p, input, oy, ox, pixels, blocks, col + 2, stage);
        if (++ox == out_w) ox = 0, ++oy;
        run(p, col, blocks, output + pos * out_c, output + next * out_c);
    }
}
