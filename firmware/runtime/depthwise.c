/* DEPTHWISE_CONV_2D, int8, NHWC, batch 1: output channel c = ic * multiplier + m reads input channel
 * ic. Four output channels at a time (a group) share each pass over the taps. The generator
 * (har_edge/codegen/depthwise.py) packs the weights as int16: per group, tap by tap, channels c, c+2,
 * c+1, c+3, so a DSP core reads a tap's four weights as two words [w_c | w_c+2] and [w_c+1 | w_c+3],
 * ready for the 16-bit multiplies SMLABB / SMLATT. With triplets (requant.h), weights and biases come
 * doubled, which saves the doubling of the high multiply. How a group reads its inputs (``mode``):
 *   WORD   (multiplier 1): its four input channels are consecutive: one word, which SXTAB16 splits
 *          into [x_c | x_c+2] and [x_c+1 | x_c+3] while adding the input offset to both halves;
 *   FOLDED (multiplier 1, whole 3x3 windows): WORD with the input offset folded into biases that
 *          the generator puts before each group's taps (8 int16: 4 int32, low half first), so SXTB16
 *          splits the word and one asm block loads the biases and runs the nine taps;
 *   BYTE   (multiplier a multiple of 4): all four read one input byte;
 *   BYTES  (other multipliers, the last channels when out_c is not a multiple of 4, layers without
 *          triplets): a byte per channel, out of line (spread).
 * Taps outside the input are skipped (TFLite pads with the zero point, which adds nothing): each
 * output position runs over the taps inside the input. Each window shape (whole 3x3, k_w = 1, any)
 * and mode has its own out-of-line copy of the group loop. The portable loops (no DSP extension, or
 * HAR_EMULATE_DSP's C intrinsics) compute the same int32 sums, so every path gives the same bytes. */
#include <string.h>

#include "har_dot.h"
#include "har_nn.h"
#include "requant.h"

enum { WORD, FOLDED, BYTE, BYTES }; /* FOLDED: WORD with the input offset in the biases */

#if HAR_USE_DSP
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define har_smlabb __smlabb
#define har_smlabt __smlabt
#define har_smlatt __smlatt
#else /* HAR_EMULATE_DSP: the same 16 x 16 + 32 multiplies in C */
static inline int32_t har_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
    return acc + (int16_t)(a & 0xFFFF) * (int16_t)(b & 0xFFFF);
}
static inline int32_t har_smlabt(uint32_t a, uint32_t b, int32_t acc)
{
    return acc + (int16_t)(a & 0xFFFF) * (int16_t)(b >> 16);
}
static inline int32_t har_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
    return acc + (int16_t)(a >> 16) * (int16_t)(b >> 16);
}
#endif
#endif

/* what every group of a layer shares, read once per call */
typedef struct {
    const har_conv_params *p;
    const int32_t *bias, *triplets;
    int32_t offset;   /* the input offset (-input zero point) */
    uint32_t offsets; /* the offset in both halves of a word (SXTAB16) */
    int32_t x_row, x_col, w_group;          /* strides: input rows / pixels, weight groups (int16) */
    int32_t multiplier, in_c, out_c, whole; /* whole: channels in groups of 4 read as ``mode`` says */
    int32_t full, act_min, act_max;         /* full: the activation range is all of int8 */
} layer;

/* one output position's taps inside the input: rows x cols of them from x / w (per group: + its
 * channels); x_skip / w_skip: from the end of a row of taps to the start of the next */
typedef struct {
    const int8_t *x;
    const int16_t *w;
    int32_t rows, cols, x_skip, w_skip;
} window;

/* one tap of a group: input x (its first channel), weights w (4 int16); ``d``: BYTES' input channels of
 * channels 1..3 relative to channel 0 */
static HAR_ALWAYS_INLINE har_acc4 tap(const layer *l, const int8_t *x, const int16_t *w, int mode, const int32_t *d,
                                      har_acc4 a)
{
#if HAR_USE_DSP
    if (mode != BYTES) {
        uint64_t pair; /* one LDRD: a group's taps are 8 bytes each and the arrays alignas(16) */
#if defined(__GNUC__)
        memcpy(&pair, __builtin_assume_aligned(w, 8), 8);
#else
        memcpy(&pair, w, 8);
#endif
        const uint32_t w02 = (uint32_t)pair, w13 = (uint32_t)(pair >> 32);
        if (mode == WORD || mode == FOLDED) {
            const uint32_t xs = har_load4(x);
            const uint32_t x02 = mode == FOLDED ? har_sxtb16(xs) : har_sxtab16(l->offsets, xs);
            const uint32_t x13 = mode == FOLDED ? har_sxtb16_ror8(xs) : har_sxtab16_ror8(l->offsets, xs);
            a.a0 = har_smlabb(x02, w02, a.a0), a.a2 = har_smlatt(x02, w02, a.a2);
            a.a1 = har_smlabb(x13, w13, a.a1), a.a3 = har_smlatt(x13, w13, a.a3);
        } else {
            const uint32_t xv = (uint32_t)(x[0] + l->offset);
            a.a0 = har_smlabb(xv, w02, a.a0), a.a2 = har_smlabt(xv, w02, a.a2);
            a.a1 = har_smlabb(xv, w13, a.a1), a.a3 = har_smlabt(xv, w13, a.a3);
        }
        return a;
    }
#endif
    const int32_t offset = mode == FOLDED ? 0 : l->offset, word = mode == WORD || mode == FOLDED;
    const int32_t x0 = x[0] + offset;
    const int32_t x1 = (word ? x[1] : mode == BYTE ? x[0] : x[d[0]]) + offset;
    const int32_t x2 = (word ? x[2] : mode == BYTE ? x[0] : x[d[1]]) + offset;
    const int32_t x3 = (word ? x[3] : mode == BYTE ? x[0] : x[d[2]]) + offset;
    a.a0 += x0 * w[0], a.a1 += x1 * w[2], a.a2 += x2 * w[1], a.a3 += x3 * w[3];
    return a;
}

/* the nine taps of a whole 3x3 window, multiplier 1, from the group's folded biases (before w): with
 * the DSP extension one asm block (GCC schedules the C version's loads early and spills accumulators):
 * a tap is a word of inputs split by SXTB16, two weight words and 4 16-bit multiplies, in 11 registers
 * (so it builds with a frame pointer too; not at -O0, which keeps too few free) */
static HAR_ALWAYS_INLINE har_acc4 square3(const layer *l, const int8_t *x, const int16_t *w)
{
    har_acc4 a;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__OPTIMIZE__)
    uint32_t xs, x02, w02;
#define HAR_DW_TAP(address, weights)                \
    "ldr %[xs], " address "\n\t"                    \
    "ldr %[w02], [%[w], #" weights "]\n\t" \
    "sxtb16 %[x02], %[xs]\n\t"                      \
    "sxtb16 %[xs], %[xs], ror #8\n\t"               \
    "smlabb %[a0], %[x02], %[w02], %[a0]\n\t"       \
    "smlatt %[a2], %[x02], %[w02], %[a2]\n\t"       \
    "ldr %[w02], [%[w], #4+" weights "]\n\t" \
    "smlabb %[a1], %[xs], %[w02], %[a1]\n\t"        \
    "smlatt %[a3], %[xs], %[w02], %[a3]\n\t"
#define HAR_DW_ROW(w0, w1, w2) \
    HAR_DW_TAP("[%[x]]", w0) HAR_DW_TAP("[%[x], %[col]]", w1) HAR_DW_TAP("[%[x], %[col], lsl #1]", w2)
    __asm__("ldrd %[a0], %[a1], [%[w], #-16]\n\t"
            "ldrd %[a2], %[a3], [%[w], #-8]\n\t" HAR_DW_ROW("0", "8", "16") "add %[x], %[x], %[x_row]\n\t"
                HAR_DW_ROW("24", "32", "40") "add %[x], %[x], %[x_row]\n\t" HAR_DW_ROW("48", "56", "64")
            : [a0] "=&r"(a.a0), [a1] "=&r"(a.a1), [a2] "=&r"(a.a2), [a3] "=&r"(a.a3), [x] "+r"(x), [xs] "=&r"(xs),
              [x02] "=&r"(x02), [w02] "=&r"(w02)
            : [w] "r"(w), [col] "r"(l->x_col), [x_row] "r"(l->x_row)
            : "memory");
#undef HAR_DW_ROW
#undef HAR_DW_TAP
#else
    int32_t bias[4]; /* the group's folded biases: 4 int32 as 8 int16, low half first */
    for (int32_t k = 0; k < 4; ++k) bias[k] = (int32_t)((uint32_t)(uint16_t)w[2 * k - 8] | (uint32_t)w[2 * k - 7] << 16);
    a = (har_acc4){bias[0], bias[1], bias[2], bias[3]};
    for (int32_t ky = 0; ky < 3; ++ky, x += l->x_row, w += 12) {
        a = tap(l, x, w, FOLDED, 0, a);
        a = tap(l, x + l->x_col, w + 4, FOLDED, 0, a);
        a = tap(l, x + 2 * l->x_col, w + 8, FOLDED, 0, a);
    }
#endif
    return a;
}

enum { ANY, SQUARE3, COLUMN }; /* the window of a copy of the group loop: any, 3x3 whole, k_w 1 */

/* a window's taps for one group, the copy's ``shape`` unrolling the 3x3 columns or dropping the column
 * loop */
static HAR_ALWAYS_INLINE har_acc4 taps(const layer *l, const window *win, const int8_t *x, const int16_t *w,
                                       int shape, int mode, const int32_t *d, har_acc4 a)
{
    if (shape == SQUARE3) {
        a = square3(l, x, w);
    } else if (shape == COLUMN) {
        for (int32_t ky = win->rows; ky > 0; --ky, x += l->x_row, w += 4) a = tap(l, x, w, mode, d, a);
    } else if (win->cols == 2) { /* 2 or 3 columns (3x3 kernels' clipped windows): unrolled */
        for (int32_t ky = win->rows; ky > 0; --ky, x += l->x_row, w += win->w_skip + 8) {
            a = tap(l, x, w, mode, d, a);
            a = tap(l, x + l->x_col, w + 4, mode, d, a);
        }
    } else if (win->cols == 3) {
        for (int32_t ky = win->rows; ky > 0; --ky, x += l->x_row, w += win->w_skip + 12) {
            a = tap(l, x, w, mode, d, a);
            a = tap(l, x + l->x_col, w + 4, mode, d, a);
            a = tap(l, x + 2 * l->x_col, w + 8, mode, d, a);
        }
    } else {
        for (int32_t ky = win->rows; ky > 0; --ky, x += win->x_skip, w += win->w_skip) {
            for (int32_t kx = win->cols; kx > 0; --kx, x += l->x_col, w += 4) a = tap(l, x, w, mode, d, a);
        }
    }
    return a;
}

/* HAR_ROUND_DOUBLE through a channel's triplet (requant.h's har_short_double) of an accumulator that
 * is already doubled: the generator doubles the weights and biases of layers with triplets */
static HAR_ALWAYS_INLINE int32_t short_doubled(int32_t doubled, const int32_t *triplet)
{
    const int32_t high = har_smmulr(doubled, triplet[0]);
    return (high + (high >> 31) + triplet[1]) >> triplet[2];
}

/* the general requantization, out of line: layers without the generator's triplets are rare */
static int8_t finish_general(int32_t acc, const har_conv_params *p, int32_t c)
{
    const int32_t v = har_requant(acc, p->multiplier[c], p->shift[c], HAR_ROUND_DOUBLE);
    return har_clamp_s8(v + p->output_zero, p->act_min, p->act_max);
}

static int8_t finish_one(int32_t acc, const har_conv_params *p, int32_t c)
{
    if (p->requant) return har_clamp_s8(short_doubled(acc, p->requant + 3 * c), p->act_min, p->act_max);
    return finish_general(acc, p, c);
}

/* the groups of one output position that read their inputs as ``mode`` says (the layer has biases and
 * triplets: see har_depthwise_s8) */
static HAR_ALWAYS_INLINE void groups(const layer *l, const window *win, int shape, int mode, int8_t *out)
{
    const int32_t *bias = l->bias, *t = l->triplets;
    const int16_t *w = win->w;
    const int8_t *x = win->x;
    const int8_t *const end = out + l->whole;
    for (int32_t c = 0; out < end; c += 4, bias += 4, t += 12, w += l->w_group, out += 4) {
        har_acc4 a = {0, 0, 0, 0};
        if (shape != SQUARE3) a = (har_acc4){bias[0], bias[1], bias[2], bias[3]}; /* SQUARE3: its own */
        a = taps(l, win, mode == WORD || mode == FOLDED ? x + c : x + c / l->multiplier, w, shape, mode, 0, a);
        int32_t v0 = short_doubled(a.a0, t), v1 = short_doubled(a.a1, t + 3);
        int32_t v2 = short_doubled(a.a2, t + 6), v3 = short_doubled(a.a3, t + 9);
        if (!l->full) {
            const int32_t lo = l->act_min, hi = l->act_max;
            v0 = har_clamp_s8(v0, lo, hi), v1 = har_clamp_s8(v1, lo, hi);
            v2 = har_clamp_s8(v2, lo, hi), v3 = har_clamp_s8(v3, lo, hi);
        }
        out[0] = har_sat_s8(v0), out[1] = har_sat_s8(v1), out[2] = har_sat_s8(v2), out[3] = har_sat_s8(v3);
    }
}

/* the copies of the group loop, out of line so that each gets its own registers */
#if defined(__GNUC__)
#define HAR_NOINLINE __attribute__((noinline))
#else
#define HAR_NOINLINE
#endif
typedef void group_loop(const layer *l, const window *win, int8_t *out);
#define HAR_GROUP_LOOP(name, shape, mode)                                       \
    static HAR_NOINLINE void name(const layer *l, const window *win, int8_t *out) \
    {                                                                           \
        groups(l, win, shape, mode, out);                                       \
    }
HAR_GROUP_LOOP(word_square3, SQUARE3, FOLDED)
HAR_GROUP_LOOP(word_column, COLUMN, WORD)
HAR_GROUP_LOOP(word_any, ANY, WORD)
HAR_GROUP_LOOP(byte_column, COLUMN, BYTE)
HAR_GROUP_LOOP(byte_any, ANY, BYTE)
#undef HAR_GROUP_LOOP

/* the channels past l->whole, four at a time, a byte each (the input channel of the group's last
 * channels is clamped to the input: the padded weights past out_c are zero) */
static HAR_NOINLINE void spread(const layer *l, const window *win, int8_t *out)
{
    const har_conv_params *p = l->p;
    const int16_t *w = win->w + l->whole / 4 * l->w_group;
    for (int32_t c = l->whole; c < l->out_c; c += 4, w += l->w_group) {
        const int32_t ic = c / l->multiplier, count = l->out_c - c < 4 ? l->out_c - c : 4;
        int32_t d[3], acc[4] = {0, 0, 0, 0};
        for (int32_t k = 1; k < 4; ++k) {
            const int32_t ick = (c + k) / l->multiplier;
            d[k - 1] = (ick < l->in_c ? ick : l->in_c - 1) - ic;
        }
        for (int32_t k = 0; k < count && p->bias; ++k) acc[k] = p->bias[c + k];
        const har_acc4 a = taps(l, win, win->x + ic, w, ANY, BYTES, d,
                                (har_acc4){acc[0], acc[1], acc[2], acc[3]});
        acc[0] = a.a0, acc[1] = a.a1, acc[2] = a.a2, acc[3] = a.a3;
        for (int32_t k = 0; k < count; ++k) out[c + k] = finish_one(acc[k], p, c + k);
    }
}

void har_depthwise_s8(const har_conv_params *params, const int8_t *input, int8_t *output)
{
    const har_conv_params copy = *params, *p = &copy; /* a local copy: stores through output cannot change it */
    const int32_t in_c = p->in_c, out_c = p->out_c, k_h = p->k_h, k_w = p->k_w, mult = p->depth_multiplier;
    /* the group loops: multiplier 1 (WORD) or a multiple of 4 (BYTE), for whole windows / clipped ones.
     * Other multipliers, the last channels when out_c is not a multiple of 4, and layers without biases
     * or triplets (rare: the generator gives every layer it can both) go through spread() */
    group_loop *whole = 0, *clipped = 0;
    if (p->bias && p->requant && mult == 1) {
        clipped = k_w == 1 ? word_column : word_any;
        whole = k_h == 3 && k_w == 3 ? word_square3 : clipped;
    } else if (p->bias && p->requant && mult % 4 == 0) {
        whole = clipped = k_w == 1 ? byte_column : byte_any;
    }
    const int32_t grouped = whole == 0 ? 0 : mult == 1 ? out_c & ~3 : out_c;
    const layer l = {p,
                     p->bias,
                     p->requant,
                     p->input_offset,
                     ((uint32_t)p->input_offset & 0xFFFFu) | ((uint32_t)p->input_offset << 16),
                     p->in_w * in_c,
                     in_c,
                     k_h * k_w * 4 + (whole == word_square3 ? 8 : 0),
                     mult,
                     in_c,
                     out_c,
                     grouped,
                     p->act_min == -128 && p->act_max == 127,
                     p->act_min,
                     p->act_max};
    /* int16 arrays (see the top); whole 3x3 windows: each group's folded biases before its taps */
    const int16_t *weights = (const int16_t *)(const void *)p->weights + (whole == word_square3 ? 8 : 0);
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_top;
        const int32_t ky_lo = y0 < 0 ? -y0 : 0, ky_hi = p->in_h - y0 < k_h ? p->in_h - y0 : k_h;
        const int8_t *row = input + (y0 + ky_lo) * l.x_row;
        int8_t *out = output + oy * p->out_w * out_c;
        const int32_t rows = ky_hi - ky_lo;
        group_loop *inside = rows == k_h ? whole : clipped;
        window win = {0, weights + ky_lo * k_w * 4, rows, k_w, l.x_row - k_w * in_c, 0};
        for (int32_t ox = 0, x0 = -p->pad_left; ox < p->out_w; ++ox, x0 += p->stride_w, out += out_c) {
            if (x0 >= 0 && x0 + k_w <= p->in_w) { /* the window's columns lie inside the input */
                win.x = row + x0 * in_c;
                if (grouped) inside(&l, &win, out);
                if (grouped < out_c) spread(&l, &win, out);
                continue;
            }
            const int32_t kx_lo = x0 < 0 ? -x0 : 0, kx_hi = p->in_w - x0 < k_w ? p->in_w - x0 : k_w;
            const int32_t cols = kx_hi - kx_lo;
            const window edge = {row + (x0 + kx_lo) * in_c, win.w + kx_lo * 4, rows, cols,
                                 l.x_row - cols * in_c,     (k_w - cols) * 4};
            if (grouped) clipped(&l, &edge, out);
            if (grouped < out_c) spread(&l, &edge, out);
        }
    }
}
