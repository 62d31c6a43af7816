/* CONV_2D on block-sparse weights (har_conv_sparse_s8, har_edge/codegen/sparse.py), int8, NHWC, batch 1:
 * groups of four channels outer, each group's kept blocks sign-extended once into records in the
 * scratch, then run over every position's int8 receptive field, read in place or gathered into the
 * scratch. The bytes are har_conv_s8's (conv.c) on the dense weights. */
#include <stddef.h>
#include <string.h>

#include "har_conv_window.h"
#include "har_dot.h"
#include "har_nn.h"
#include "har_sparse.h"
#include "requant.h"

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
 * may alias the triplets), or FINISH_GENERAL, har_conv_finish_one per channel */
enum { FINISH_GENERAL, FINISH_TRIPLETS };

static HAR_ALWAYS_INLINE void finish_group(const har_conv_params *p, har_acc4 acc, const int32_t *t, int32_t c,
                                           int32_t n, int mode, int8_t *out)
{
    if (mode == FINISH_GENERAL) {
        const int32_t values[4] = {acc.a0, acc.a1, acc.a2, acc.a3};
        for (int32_t j = 0; j < n; ++j) out[j] = har_conv_finish_one(values[j], p, c + j);
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
 * (kernel_costs.sparse_scratch_bytes sizes it by the same rule); other convolutions gather each window. A
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
            if (oy < first || oy > last) har_conv_gather(p, input, oy * p->stride_h - p->pad_top, 0, field + k4 * f++);
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
            har_conv_gather(p, input, oy * p->stride_h - p->pad_top, ox * p->stride_w - p->pad_left, field);
            group(p, field, 0, output + at * out_c + c, 1, rec, s.n, c, n);
        }
    }
}
