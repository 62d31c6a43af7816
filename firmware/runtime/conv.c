/* CONV_2D, int8, NHWC, batch 1. Taps outside the input count as the input zero point; the generator
 * folded input_offset * sum(w) into the bias, which takes back what they add.
 *
 * Dense weights (har_conv_s8): output positions two at a time. Each position's receptive field
 * (k = k_h * k_w * in_c inputs, rounded up to 4 with zeros) is widened once to int16 into the column
 * scratch, the two positions interleaved per block of 4 inputs (har_dot.h, har_dot2x2); then two
 * output channels at a time run over the column (their weights interleaved by pairs), so each weight
 * word is sign-extended once for two positions and each input word serves two channels. Rows of the field that lie in the input and hold
 * a multiple of 4 bytes are widened straight from it; other fields are first gathered as int8 into
 * the stage (after the column) with their padding. An odd last position is computed twice.
 *
 * Block-sparse weights (har_conv_sparse_s8): groups of four channels outer, each group's kept blocks
 * sign-extended once into records in the scratch, then run over every position's int8 receptive
 * field, read in place or gathered into the scratch. */
#include <stddef.h>
#include <string.h>

#include "har_dot.h"
#include "har_nn.h"
#include "har_sparse.h"
#include "requant.h"

/* one output the general way, out of line (layers without triplets, channel tails) */
static int8_t finish_one(int32_t acc, const har_conv_params *p, int32_t c)
{
    if (p->requant) return har_clamp_s8(har_short_double(acc, p->requant + 3 * c), p->act_min, p->act_max);
    const int32_t v = har_requant(acc, p->multiplier[c], p->shift[c], HAR_ROUND_DOUBLE);
    return har_clamp_s8(v + p->output_zero, p->act_min, p->act_max);
}

/* n bytes, a word at a time (unaligned words are single loads and stores on a Cortex-M4) */
static HAR_ALWAYS_INLINE void copy_bytes(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n >= 4; n -= 4, dst += 4, src += 4) {
        uint32_t word;
        memcpy(&word, src, 4);
        memcpy(dst, &word, 4);
    }
    for (; n > 0; --n) *dst++ = *src++;
}

static HAR_ALWAYS_INLINE void set_bytes(int8_t *dst, int8_t value, int32_t n)
{
    for (; n > 0; --n) *dst++ = value;
}

/* the receptive field at (y0, x0) as int8 with its padding, ``k_h * k_w * in_c`` bytes at ``field``:
 * per kernel row, the taps left of the input, the span inside it, the taps right of it */
static void gather(const har_conv_params *p, const int8_t *input, int32_t y0, int32_t x0, int8_t *field)
{
    const int8_t pad = (int8_t)(-p->input_offset);
    const int32_t in_c = p->in_c, k_w = p->k_w, row = k_w * in_c;
    const int32_t kx_lo = x0 < 0 ? -x0 : 0, kx_hi = p->in_w - x0 < k_w ? p->in_w - x0 : k_w;
    const int32_t left = kx_lo * in_c, inside = kx_hi > kx_lo ? (kx_hi - kx_lo) * in_c : 0;
    const int8_t *src = input + (y0 * p->in_w + x0 + kx_lo) * in_c;
    for (int32_t ky = 0; ky < p->k_h; ++ky, field += row, src += p->in_w * in_c) {
        const int32_t y = y0 + ky;
        if (y < 0 || y >= p->in_h) {
            set_bytes(field, pad, row);
            continue;
        }
        set_bytes(field, pad, left);
        copy_bytes(field + left, src, inside);
        set_bytes(field + left + inside, pad, row - left - inside);
    }
}

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
 * (ops_conv.conv_scratch_bytes). */
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
        gather(p, input, y0, x0, stage);
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
    out_a[c] = finish_one(acc.a0, p, c), out_b[c] = finish_one(acc.a2, p, c);
    if (two) out_a[c + 1] = finish_one(acc.a1, p, c + 1), out_b[c + 1] = finish_one(acc.a3, p, c + 1);
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

/* ---- block-sparse: groups of four channels outer, the group's weights sign-extended once ---- */

/* One kept 4x4 block as har_conv_sparse_s8 runs it: the byte offset of its 4 inputs, then per row r
 * of the block its 4 weights widened to int16 as two words, (w0, w2) then (w1, w3) (SXTB16's halves
 * of the row's word, the pairs SMLAD takes against the input word's SXTB16 halves) */
enum { RECORD_WORDS = 9 };

static HAR_ALWAYS_INLINE uint32_t pair16(int32_t lo, int32_t hi) { return ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16); }

/* the ``n`` kept blocks of one group (``w``, ``offsets``) as records, once per call; ``doubled``: each
 * weight times 2 (the halves shifted, bit 16 cleared of the low half's sign: 2w fits in int16) */
static void records(const int8_t *w, const int16_t *offsets, int32_t n, int doubled, int32_t *rec)
{
    const uint32_t shift = doubled ? 1 : 0, mask = doubled ? 0xFFFEFFFFu : 0xFFFFFFFFu;
    for (int32_t b = 0; b < n; ++b, w += 16, rec += RECORD_WORDS) {
        rec[0] = offsets[b];
        for (int32_t r = 0; r < 4; ++r) {
            const int8_t *row = w + 4 * r;
#if HAR_USE_DSP
            const uint32_t word = har_load4(row), lo = har_sxtb16(word), hi = har_sxtb16_ror8(word);
#else
            const uint32_t lo = pair16(row[0], row[2]), hi = pair16(row[1], row[3]);
#endif
            const uint32_t lo2 = lo << shift & mask, hi2 = hi << shift & mask;
            memcpy(&rec[1 + 2 * r], &lo2, 4);
            memcpy(&rec[2 + 2 * r], &hi2, 4);
        }
    }
}

/* one block of the assembly loops below: the input word at x + offset, its SXTB16 halves against the
 * rows' widened weights (two LDMs of 4 words), 14 instructions */
#define SPARSE_RECORD \
    "ldr %[t], [%[rec]], #4\n\t" \
    "ldr %[t], [%[x], %[t]]\n\t" \
    "ldm %[rec]!, {%[w0], %[w1], %[w2], %[w3]}\n\t" \
    "sxtb16 %[u], %[t]\n\t" \
    "sxtb16 %[t], %[t], ror #8\n\t" \
    "smlad %[a0], %[u], %[w0], %[a0]\n\t" \
    "smlad %[a0], %[t], %[w1], %[a0]\n\t" \
    "smlad %[a1], %[u], %[w2], %[a1]\n\t" \
    "smlad %[a1], %[t], %[w3], %[a1]\n\t" \
    "ldm %[rec]!, {%[w0], %[w1], %[w2], %[w3]}\n\t" \
    "smlad %[a2], %[u], %[w0], %[a2]\n\t" \
    "smlad %[a2], %[t], %[w1], %[a2]\n\t" \
    "smlad %[a3], %[u], %[w2], %[a3]\n\t" \
    "smlad %[a3], %[t], %[w3], %[a3]\n\t"

/* the records from rec to end, two blocks a pass (an odd count, t != 0, enters at the second) */
#define SPARSE_LOOP \
    "cmp %[t], #0\n\t" \
    "bne 2f\n\t" \
    "1:\n\t" SPARSE_RECORD "2:\n\t" SPARSE_RECORD \
    "cmp %[rec], %[end]\n\t" \
    "bne 1b\n\t"

/* LDM fills its registers in ascending order, hence fixed ones for the weights */
#define SPARSE_REGISTERS(blocks) \
    register uint32_t w0 __asm__("r8"), w1 __asm__("r9"), w2 __asm__("r10"), w3 __asm__("r11"); \
    uint32_t u, t = (uint32_t)(blocks) & 1u
#define SPARSE_OPERANDS(records) \
    [a0] "+r"(acc.a0), [a1] "+r"(acc.a1), [a2] "+r"(acc.a2), [a3] "+r"(acc.a3), [rec] "+r"(records), [t] "+r"(t), \
        [u] "=&r"(u), [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3)

#if HAR_USE_DSP && defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__OPTIMIZE__)
#define SPARSE_ASM 1
#else
#define SPARSE_ASM 0
#endif

/* acc_r += the ``n`` (> 0) records' rows against the inputs at x: exact int32 sums, whatever the path */
static HAR_ALWAYS_INLINE har_acc4 sparse_dot(const int8_t *x, const int32_t *rec, int32_t n, har_acc4 acc)
{
    const int32_t *end = rec + RECORD_WORDS * n;
#if SPARSE_ASM
    SPARSE_REGISTERS(n);
    __asm__(SPARSE_LOOP : SPARSE_OPERANDS(rec) : [x] "r"(x), [end] "r"(end) : "cc", "memory");
#elif HAR_USE_DSP
    for (; rec != end; rec += RECORD_WORDS) {
        const uint32_t xs = har_load4(x + rec[0]), x02 = har_sxtb16(xs), x13 = har_sxtb16_ror8(xs);
        uint32_t w[8];
        memcpy(w, rec + 1, sizeof w);
        acc.a0 = har_smlad(x13, w[1], har_smlad(x02, w[0], acc.a0));
        acc.a1 = har_smlad(x13, w[3], har_smlad(x02, w[2], acc.a1));
        acc.a2 = har_smlad(x13, w[5], har_smlad(x02, w[4], acc.a2));
        acc.a3 = har_smlad(x13, w[7], har_smlad(x02, w[6], acc.a3));
    }
#else
    for (; rec != end; rec += RECORD_WORDS) {
        const int8_t *xs = x + rec[0];
        int32_t sums[4];
        for (int32_t r = 0; r < 4; ++r) {
            const uint32_t lo = (uint32_t)rec[1 + 2 * r], hi = (uint32_t)rec[2 + 2 * r];
            sums[r] = xs[0] * (int16_t)(lo & 0xFFFFu) + xs[2] * (int16_t)(lo >> 16) + xs[1] * (int16_t)(hi & 0xFFFFu)
                      + xs[3] * (int16_t)(hi >> 16);
        }
        acc.a0 += sums[0], acc.a1 += sums[1], acc.a2 += sums[2], acc.a3 += sums[3];
    }
#endif
    return acc;
}

/* the ``n`` outputs of one group from its accumulators: ``mode`` FINISH_TRIPLETS, a whole group through
 * its triplets ``t`` to the whole int8 range (SSAT; every value before the first store: an int8 store
 * may alias the triplets), or FINISH_GENERAL, finish_one per channel */
enum { FINISH_GENERAL, FINISH_TRIPLETS };

static HAR_ALWAYS_INLINE void finish_group(const har_conv_params *p, har_acc4 acc, const int32_t *t, int32_t c,
                                           int32_t n, int mode, int8_t *out)
{
    if (mode == FINISH_GENERAL) {
        const int32_t values[4] = {acc.a0, acc.a1, acc.a2, acc.a3};
        for (int32_t j = 0; j < n; ++j) out[j] = finish_one(values[j], p, c + j);
        return;
    }
    const int8_t v0 = har_sat_s8(har_short_double_mla(acc.a0, t)), v1 = har_sat_s8(har_short_double_mla(acc.a1, t + 3));
    const int8_t v2 = har_sat_s8(har_short_double_mla(acc.a2, t + 6)), v3 = har_sat_s8(har_short_double_mla(acc.a3, t + 9));
    out[0] = v0, out[1] = v1, out[2] = v2, out[3] = v3;
}

/* one group (channels c.., ``n`` of them, its ``blocks`` records at ``rec``) at ``count`` output
 * positions whose windows lie ``step`` bytes apart from x on (``step`` 0: one window) */
static HAR_ALWAYS_INLINE void run(const har_conv_params *p, const int8_t *x, int32_t step, int8_t *out, int32_t count,
                                  int32_t *rec, int32_t blocks, int32_t c, int32_t n, int mode)
{
    const har_acc4 start = har_sparse_start(p->bias, c, n);
    const int32_t *t = mode == FINISH_TRIPLETS ? p->requant + 3 * c : 0, out_c = p->out_c;
    for (; count > 0; --count, x += step, out += out_c) {
        finish_group(p, sparse_dot(x, rec, blocks, start), t, c, n, mode, out);
    }
}

#if SPARSE_ASM
/* What run_positions reads, after one group's records in the scratch (sparse.py's TAIL_BYTES) */
typedef struct {
    int32_t bias[4];      /* the accumulators' start */
    const int32_t *first; /* the group's records */
    int32_t odd;          /* their count is odd */
    int8_t *out;          /* the next position's 4 outputs */
    int32_t out_step, x_step;
    int8_t *out_end;
    int32_t triplets[12];
} sparse_tail;
_Static_assert(sizeof(sparse_tail) == 88 && offsetof(sparse_tail, triplets) == 40, "the offsets the assembly uses");

/* one output: channel j's accumulator, doubled, through the triplet at rec (har_short_double_mla,
 * whose doubling the weights and biases took; SSAT), in place */
#define SPARSE_OUTPUT(acc) \
    "ldm %[rec]!, {%[w0], %[w1], %[w2]}\n\t" \
    "smmlar %[t], %[" acc "], %[w0], %[w1]\n\t" \
    "add %[t], %[t], %[" acc "], asr #31\n\t" \
    "asr %[t], %[t], %[w2]\n\t" \
    "ssat %[" acc "], #8, %[t]\n\t"
/* every position of run_positions: the biases, the records, the 4 outputs packed into one word and
 * stored, the next position */
#define SPARSE_POSITIONS \
    "0:\n\t" \
    "ldm %[end], {%[a0], %[a1], %[a2], %[a3]}\n\t" \
    "ldrd %[rec], %[t], [%[end], #16]\n\t" SPARSE_LOOP "add %[rec], %[end], #40\n\t" SPARSE_OUTPUT("a0") \
        SPARSE_OUTPUT("a1") SPARSE_OUTPUT("a2") SPARSE_OUTPUT("a3") "bfi %[a0], %[a1], #8, #8\n\t" \
        "bfi %[a0], %[a2], #16, #8\n\t" \
        "bfi %[a0], %[a3], #24, #8\n\t" \
        "ldrd %[u], %[t], [%[end], #24]\n\t" \
        "str %[a0], [%[u]]\n\t" \
        "add %[u], %[u], %[t]\n\t" \
        "str %[u], [%[end], #24]\n\t" \
        "ldrd %[t], %[w0], [%[end], #32]\n\t" \
        "add %[x], %[x], %[t]\n\t" \
        "cmp %[u], %[w0]\n\t" \
        "bne 0b\n\t"

/* the tail of one group's ``blocks`` records at rec (channels c..c+3, doubled), once per call: the
 * biases doubled too (the generator proved |2 acc| < 2^31: har_short_double's |acc| < 2^30) */
static void prepare_tail(const har_conv_params *p, int32_t *rec, int32_t blocks, int32_t c)
{
    sparse_tail *tail = (sparse_tail *)(void *)(rec + RECORD_WORDS * blocks);
    for (int32_t j = 0; j < 4; ++j) tail->bias[j] = p->bias[c + j] * 2;
    tail->first = rec, tail->odd = blocks & 1, tail->out_step = p->out_c;
    memcpy(tail->triplets, p->requant + 3 * c, sizeof tail->triplets);
}

/* run's FINISH_TRIPLETS on the DSP (``count`` > 0, the tail prepared), the position loop in assembly too */
static void run_positions(const har_conv_params *p, const int8_t *x, int32_t step, int8_t *out, int32_t count,
                          int32_t *rec, int32_t blocks)
{
    sparse_tail *tail = (sparse_tail *)(void *)(rec + RECORD_WORDS * blocks);
    tail->out = out, tail->x_step = step, tail->out_end = out + count * p->out_c;
    /* LDM fills its registers in ascending order, hence fixed ones; volatile: the compiler does not
     * see the output stores */
    register uint32_t a0 __asm__("r0"), a1 __asm__("r1"), a2 __asm__("r2"), a3 __asm__("r3");
    register uint32_t w0 __asm__("r8"), w1 __asm__("r9"), w2 __asm__("r10"), w3 __asm__("r11");
    uint32_t t, u;
    const int32_t *at;
    __asm__ volatile(SPARSE_POSITIONS
                     : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [rec] "=&r"(at), [t] "=&r"(t),
                       [u] "=&r"(u), [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3), [x] "+r"(x)
                     : [end] "r"(tail)
                     : "cc", "memory");
}
#endif

/* the instances, out of line: the DSP's assembly run_positions for groups of 4 channels with triplets,
 * biases and the whole int8 range, run's C loops otherwise */
static void run_triplets(const har_conv_params *p, const int8_t *x, int32_t step, int8_t *out, int32_t count,
                         int32_t *rec, int32_t blocks, int32_t c, int32_t n)
{
#if SPARSE_ASM
    (void)n;
    (void)c;
    if (count > 0) run_positions(p, x, step, out, count, rec, blocks);
#else
    run(p, x, step, out, count, rec, blocks, c, n, FINISH_TRIPLETS);
#endif
}

static void run_general(const har_conv_params *p, const int8_t *x, int32_t step, int8_t *out, int32_t count,
                        int32_t *rec, int32_t blocks, int32_t c, int32_t n)
{
    run(p, x, step, out, count, rec, blocks, c, n, FINISH_GENERAL);
}

/* CONV_2D on block-sparse weights (har_edge/codegen/sparse.py): per group of 4 output channels, its
 * kept blocks become records in the scratch, then run over every output position's int8 receptive
 * field. 1-D convolutions along time (a kernel as wide as the input, ``columns``) read the windows of
 * the output rows [first, last] in place (inside the input, their k inputs rounded up to 4 readable),
 * and those of the other rows (the padded borders) gathered once for all groups at the scratch's start
 * (ops_conv.conv_scratch_bytes sizes it by the same rule); other convolutions gather each window. A
 * group without kept blocks (channels pruned whole) has the same outputs at every position:
 * requantized once, then copied. The bytes are har_conv_s8's on the dense weights. */
void har_conv_sparse_s8(const har_conv_params *params, const int8_t *input, int8_t *output)
{
    const har_conv_params copy = *params, *p = &copy; /* stores through output cannot change it */
    const int32_t k = p->k_h * p->k_w * p->in_c, k4 = (k + 3) & ~3, out_c = p->out_c, out_w = p->out_w;
    const int32_t positions = p->out_h * out_w, row = p->k_w * p->in_c, total = p->in_h * p->in_w * p->in_c;
    const int columns = p->k_w == p->in_w && p->pad_left == 0 && out_w == 1;
    int32_t first = 0, last = -1; /* the output rows read in place */
    if (columns && total >= k4) {
        first = (p->pad_top + p->stride_h - 1) / p->stride_h;
        last = ((total - k4) / row + p->pad_top) / p->stride_h;
        last = last < p->out_h - 1 ? last : p->out_h - 1;
    }
    const int32_t inside = last >= first ? last - first + 1 : 0, fields = columns ? p->out_h - inside : 1;
    int8_t *field = p->scratch;
    int32_t *rec = (int32_t *)(void *)(p->scratch + fields * k4); /* 4-byte aligned: an arena offset */
    for (int32_t f = 0; f < fields; ++f) memset(field + f * k4 + k, 0, (size_t)(k4 - k)); /* against zero weights */
    if (columns) { /* the border rows' windows, once */
        for (int32_t oy = 0, f = 0; oy < p->out_h; ++oy) {
            if (oy < first || oy > last) gather(p, input, oy * p->stride_h - p->pad_top, 0, field + k4 * f++);
        }
    }
    const int fast = p->requant && p->bias && p->act_min == -128 && p->act_max == 127;
    for (int32_t c = 0; c < out_c; c += 4) {
        const int32_t n = out_c - c < 4 ? out_c - c : 4;
        const har_sparse_group s = har_sparse_group_of(p->weights, p->block_starts, p->block_offsets, c / 4);
        void (*group)(const har_conv_params *, const int8_t *, int32_t, int8_t *, int32_t, int32_t *, int32_t, int32_t,
                      int32_t) = fast && n == 4 ? run_triplets : run_general;
        if (s.n == 0) { /* the group's constant outputs */
            const har_acc4 start = har_sparse_start(p->bias, c, n);
            if (group == run_triplets) {
                finish_group(p, start, p->requant + 3 * c, c, n, FINISH_TRIPLETS, output + c);
            } else {
                finish_group(p, start, 0, c, n, FINISH_GENERAL, output + c);
            }
            har_sparse_repeat(output + c, n, positions, out_c);
            continue;
        }
#if SPARSE_ASM
        records(s.w, s.offsets, s.n, group == run_triplets, rec);
        if (group == run_triplets) prepare_tail(p, rec, s.n, c);
#else
        records(s.w, s.offsets, s.n, 0, rec);
#endif
        if (columns) { /* the top border rows, the rows in place, the bottom border rows */
            const int32_t top = inside ? first : p->out_h, bottom = p->out_h - top - inside;
            if (top) group(p, field, k4, output + c, top, rec, s.n, c, n);
            if (inside) {
                group(p, input + (first * p->stride_h - p->pad_top) * row, p->stride_h * row,
                      output + first * out_c + c, inside, rec, s.n, c, n);
            }
            if (bottom) group(p, field + top * k4, k4, output + (top + inside) * out_c + c, bottom, rec, s.n, c, n);
            continue;
        }
        for (int32_t at = 0; at < positions; ++at) {
            const int32_t oy = at / out_w, ox = at % out_w;
            gather(p, input, oy * p->stride_h - p->pad_top, ox * p->stride_w - p->pad_left, field);
            group(p, field, 0, output + at * out_c + c, 1, rec, s.n, c, n);
        }
    }
}
