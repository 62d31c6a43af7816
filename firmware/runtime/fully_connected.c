/* FULLY_CONNECTED, int8: out[r][u] = clamp(requant(bias[u] + sum_i (x[r][i] + input_offset) * w[u][i])
 * + output_zero), the bias given with input_offset * sum(w) folded in by the generator (so the
 * kernel reads input_offset nowhere). A 3-D input is applied per time step (rows). Four units share
 * each input load (har_dot4, weights interleaved by the generator). With a row scratch the output may lie over the
 * input (units <= depth): a few rows at a time are computed into the scratch, then copied over input
 * rows already consumed. har_fc_sparse_s8 runs block-sparse weights (har_sparse.h's har_sparse_fc_rows);
 * har_fc_wide_s8 small layers' weights stored sign-extended (codegen.fc_wide). On a Cortex-M4 the
 * common cases run har_fc_m4.h's written-out loops (HAR_FC_M4), the C loops the same sums elsewhere. */
#include <string.h>

#include "har_dot.h"
#include "har_fc_m4.h"
#include "har_nn.h"
#include "har_sparse.h"
#include "requant.h"

/* one unit's output, through the generator's triplets when it gave them (requant.h) */
static int8_t finish(const har_fc_params *p, int32_t acc, int32_t unit)
{
    if (p->requant) {
        const int32_t *t = p->requant + 3 * unit;
        return har_clamp_s8(har_requant_single_hoisted(acc, t[0], t[1], t[2]), p->act_min, p->act_max);
    }
    const int32_t v = har_requant(acc, p->multiplier[unit], p->shift[unit], HAR_ROUND_SINGLE) + p->output_zero;
    return har_clamp_s8(v, p->act_min, p->act_max);
}

/* har_dot4, or one block without a loop when the depth fits a word that may be read whole */
static HAR_ALWAYS_INLINE har_acc4 dot(const int8_t *x, const int8_t *w, int32_t depth, int32_t readable, har_acc4 acc)
{
#if HAR_USE_DSP
    if (depth <= 4 && readable >= 4) return har_block4(har_load4(x), w, acc);
#endif
    return har_dot4(x, w, depth, readable, acc);
}

/* the leading rows of a row-wise input (``readable`` bytes from its start) whose blocks of 4 inputs,
 * the last one included, may all be read as words: every row but perhaps the last */
static int32_t readable_rows(int32_t depth, int32_t rows, int32_t readable)
{
    const int32_t padded = (depth + 3) & ~3, fast = readable >= padded ? (readable - padded) / depth + 1 : 0;
    return fast < rows ? fast : rows;
}

#if HAR_FC_M4
/* Dense int8 weights with the generator's triplets, the whole int8 range and whole groups of 4 units, on
 * rows whose blocks may all be read as words: rows outer, each group's biases and triplets loaded where
 * they are used, har_fc_m4.h's loops */
static void int8_rows_m4(const har_fc_params *p, const int8_t *input, int32_t rows, int8_t *output)
{
    const int32_t depth = p->depth, units = p->units;
    const int8_t *const blocks_end_of_first = input + ((depth + 3) & ~3);
    for (int32_t r = 0; r < rows; ++r, input += depth, output += units) {
        const int8_t *w = p->weights, *const blocks_end = blocks_end_of_first + r * depth;
        const int32_t *b = p->bias, *t = p->requant;
        for (int8_t *out = output, *const end = output + units; out < end; out += 4, b += 4) {
            const har_acc4 acc = har_m4_int8_blocks(input, blocks_end, &w, (har_acc4){b[0], b[1], b[2], b[3]});
            har_m4_store_full(acc, &t, out);
        }
    }
}

/* int8_rows_m4 for rows of at most HAR_FC_EXT_INPUTS inputs: each row is sign-extended once into a stack
 * buffer (its two SXTB16 words per block), which every group then reads with one LDRD a block instead of
 * a load and two SXTB16s (2 of 20 instructions) */
#define HAR_FC_EXT_INPUTS 640 /* a 1,280-byte buffer */
static void int8_ext_rows_m4(const har_fc_params *p, const int8_t *input, int32_t rows, int8_t *output)
{
    uint32_t ext[HAR_FC_EXT_INPUTS / 2];
    const int32_t depth = p->depth, units = p->units, blocks = (depth + 3) >> 2;
    for (int32_t r = 0; r < rows; ++r, input += depth, output += units) {
        for (int32_t i = 0; i < blocks; ++i) {
            const uint32_t xs = har_load4(input + 4 * i);
            ext[2 * i] = har_sxtb16(xs), ext[2 * i + 1] = har_sxtb16_ror8(xs);
        }
        const int8_t *w = p->weights;
        const int32_t *b = p->bias, *t = p->requant;
        for (int8_t *out = output, *const end = output + units; out < end; out += 4, b += 4) {
            const har_acc4 acc = har_m4_int8_ext_blocks(ext, ext + 2 * blocks, &w, (har_acc4){b[0], b[1], b[2], b[3]});
            har_m4_store_full(acc, &t, out);
        }
    }
}
#endif

/* ``rows`` rows from ``input`` (``readable`` bytes may be read from it) to ``output`` */
static void dense_rows(const har_fc_params *p, const int8_t *input, int32_t rows, int32_t readable, int8_t *output)
{
    const int32_t depth = p->depth, units = p->units, group = har_group_bytes(p->depth);
    const int32_t lo = p->act_min, hi = p->act_max, full = lo == -128 && hi == 127;
    const int8_t *weights = p->weights;
    const int32_t *bias = p->bias;
#if HAR_FC_M4
    if (full && p->requant && bias && (units & 3) == 0) { /* the others (the last row) below */
        const int32_t fast = readable_rows(depth, rows, readable);
        if (depth <= HAR_FC_EXT_INPUTS) {
            int8_ext_rows_m4(p, input, fast, output);
        } else {
            int8_rows_m4(p, input, fast, output);
        }
        input += fast * depth, output += fast * units, rows -= fast, readable -= fast * depth;
        if (!rows) return;
    }
#endif
    for (int32_t u = 0; u < units; u += 4) { /* groups outer: the group's weights stay hot per row */
        const int32_t n = units - u < 4 ? units - u : 4;
        const int8_t *w = weights + (u / 4) * group;
        har_acc4 start = {0, 0, 0, 0};
        if (bias) start = (har_acc4){bias[u], n > 1 ? bias[u + 1] : 0, n > 2 ? bias[u + 2] : 0, n > 3 ? bias[u + 3] : 0};
        const int8_t *x = input;
        int8_t *out = output + u;
        if (n == 4 && p->requant) {
            /* the common case: the generator's triplets (requant.h; the zero point folded in) stay out
             * of the row loop */
            const int32_t *t = p->requant + 3 * u;
            const int32_t m0 = t[0], r0 = t[1], s0 = t[2], m1 = t[3], r1 = t[4], s1 = t[5];
            const int32_t m2 = t[6], r2 = t[7], s2 = t[8], m3 = t[9], r3 = t[10], s3 = t[11];
            for (int32_t r = 0; r < rows; ++r, x += depth, out += units) {
                const har_acc4 acc = dot(x, w, depth, readable - r * depth, start);
                const int32_t v0 = har_requant_single_hoisted(acc.a0, m0, r0, s0);
                const int32_t v1 = har_requant_single_hoisted(acc.a1, m1, r1, s1);
                const int32_t v2 = har_requant_single_hoisted(acc.a2, m2, r2, s2);
                const int32_t v3 = har_requant_single_hoisted(acc.a3, m3, r3, s3);
                if (full) { /* SSAT */
                    out[0] = har_sat_s8(v0), out[1] = har_sat_s8(v1), out[2] = har_sat_s8(v2), out[3] = har_sat_s8(v3);
                } else {
                    out[0] = har_clamp_s8(v0, lo, hi), out[1] = har_clamp_s8(v1, lo, hi);
                    out[2] = har_clamp_s8(v2, lo, hi), out[3] = har_clamp_s8(v3, lo, hi);
                }
            }
            continue;
        }
        for (int32_t r = 0; r < rows; ++r, x += depth, out += units) {
            const har_acc4 acc = dot(x, w, depth, readable - r * depth, start);
            const int32_t values[4] = {acc.a0, acc.a1, acc.a2, acc.a3};
            for (int32_t j = 0; j < n; ++j) out[j] = finish(p, values[j], u + j);
        }
    }
}

typedef void rows_fn(const har_fc_params *p, const int8_t *input, int32_t rows, int32_t readable, int8_t *output);

static void sparse_rows(const har_fc_params *p, const int8_t *input, int32_t rows, int32_t readable, int8_t *output)
{
    har_sparse_fc_rows(p, input, rows, readable, output, finish);
}

/* Wide weights (har_fc_wide_s8; the generator's codegen.fc_wide): per group of 4 units and per 4 inputs
 * i..i+3, the int16 words (w[i], w[i+2]) of units 0..3, then (w[i+1], w[i+3]) of units 0..3: the SMLAD
 * operands against SXTB16(x) and SXTB16(x, ROR 8), already sign-extended, so a block is one input word,
 * two SXTB16s, four 8-byte loads and 8 SMLADs. Per group, wide_constants holds the 4 biases, then the
 * 4 units' triplets {multiplier, round, right} (requant.h); units are padded to a multiple of 4. On the
 * core the block loop and the full-range requantization are written out (GCC splits the 8-byte loads
 * and spills the accumulators around them); HAR_EMULATE_DSP runs the same steps in C on a host. */
#if HAR_FC_M4
#define wide_blocks har_m4_wide_blocks
#define store_full har_m4_store_full
#define wide_block_of har_m4_wide_block_of
#elif HAR_USE_DSP
/* one block against the input word's two SXTB16s; *w moves past it */
static HAR_ALWAYS_INLINE har_acc4 wide_block_of(uint32_t x02, uint32_t x13, const int16_t **w, har_acc4 acc)
{
    uint32_t v[8];
    memcpy(v, *w, 32);
    *w += 16;
    acc.a0 = har_smlad(x13, v[4], har_smlad(x02, v[0], acc.a0));
    acc.a1 = har_smlad(x13, v[5], har_smlad(x02, v[1], acc.a1));
    acc.a2 = har_smlad(x13, v[6], har_smlad(x02, v[2], acc.a2));
    acc.a3 = har_smlad(x13, v[7], har_smlad(x02, v[3], acc.a3));
    return acc;
}

static HAR_ALWAYS_INLINE har_acc4 wide_blocks(const int8_t *x, const int8_t *end, const int16_t **w, har_acc4 acc)
{
    for (; x < end; x += 4) {
        const uint32_t xs = har_load4(x);
        acc = wide_block_of(har_sxtb16(xs), har_sxtb16_ror8(xs), w, acc);
    }
    return acc;
}
#endif

#if !HAR_FC_M4
/* four outputs through the triplets at *triplets, saturated to int8; *triplets moves past them */
static HAR_ALWAYS_INLINE void store_full(har_acc4 acc, const int32_t **triplets, int8_t *out)
{
    const int32_t *t = *triplets;
    out[0] = har_sat_s8(har_requant_smmla(acc.a0, t[0], t[1], t[2]));
    out[1] = har_sat_s8(har_requant_smmla(acc.a1, t[3], t[4], t[5]));
    out[2] = har_sat_s8(har_requant_smmla(acc.a2, t[6], t[7], t[8]));
    out[3] = har_sat_s8(har_requant_smmla(acc.a3, t[9], t[10], t[11]));
    *triplets = t + 12;
}
#endif

/* acc_j += x[i] * w_j[i] for the inputs [x, end) of one group, from a block's start; w at that block */
static HAR_ALWAYS_INLINE har_acc4 wide_scalar_dot(const int8_t *x, const int8_t *end, const int16_t *w, har_acc4 acc)
{
    for (int32_t q = 0; x < end; ++x, q = (q + 1) & 3) { /* input q of a block: parity q & 1, half q >> 1 */
        const int32_t xv = *x;
        const int16_t *wi = w + ((q & 1) << 3) + (q >> 1);
        acc.a0 += xv * wi[0];
        acc.a1 += xv * wi[2];
        acc.a2 += xv * wi[4];
        acc.a3 += xv * wi[6];
        if (q == 3) w += 16;
    }
    return acc;
}

/* one group's outputs for one row, inputs [x, end): as words (DSP; end is then the row's padded end) or
 * one at a time (``scalar``, a constant); ``n`` of the 4 outputs stored, SSAT'd when ``full`` (a constant) */
static HAR_ALWAYS_INLINE void wide_group(const int8_t *x, const int8_t *end, const int16_t **w, const int32_t *c,
                                         int8_t *out, int32_t n, int32_t lo, int32_t hi, const int full,
                                         const int scalar)
{
    har_acc4 acc = {c[0], c[1], c[2], c[3]};
#if HAR_USE_DSP
    if (!scalar) acc = wide_blocks(x, end, w, acc);
#endif
    if (scalar) {
        acc = wide_scalar_dot(x, end, *w, acc);
        *w += 4 * ((end - x + 3) & ~3); /* past the group's blocks */
    }
    const int32_t *t = c + 4;
    if (full && n == 4) {
        store_full(acc, &t, out);
        return;
    }
    const int32_t v[4] = {har_requant_smmla(acc.a0, t[0], t[1], t[2]), har_requant_smmla(acc.a1, t[3], t[4], t[5]),
                          har_requant_smmla(acc.a2, t[6], t[7], t[8]), har_requant_smmla(acc.a3, t[9], t[10], t[11])};
    for (int32_t j = 0; j < n; ++j) out[j] = har_clamp_s8(v[j], lo, hi);
}

/* ``rows`` rows, their inputs read as words (DSP) or one at a time (``scalar``, a constant) */
static HAR_ALWAYS_INLINE void wide_rows_of(const har_fc_params *p, const int8_t *input, int32_t rows, int8_t *output,
                                           const int full, const int scalar)
{
    const int32_t depth = p->depth, units = p->units, last = units & 3, span = scalar ? depth : (depth + 3) & ~3;
    const int32_t lo = p->act_min, hi = p->act_max;
    for (const int8_t *const input_end = input + rows * depth; input < input_end; input += depth, output += units) {
        const int8_t *end = input + span;
        const int16_t *w = p->wide_weights;
        const int32_t *c = p->wide_constants;
        int8_t *out = output, *const groups_end = output + (units & ~3);
        for (; out < groups_end; c += 16, out += 4) wide_group(input, end, &w, c, out, 4, lo, hi, full, scalar);
        if (last) wide_group(input, end, &w, c, out, last, lo, hi, 0, scalar);
    }
}

/* rows read one input at a time: the portable loops, and with the DSP loops the last row when its partial
 * block ends the readable bytes; the clamp is exact at the full range too, so one instance serves both */
static void wide_scalar_rows(const har_fc_params *p, const int8_t *input, int32_t rows, int8_t *output)
{
    wide_rows_of(p, input, rows, output, 0, 1);
}

#if HAR_USE_DSP
/* readable rows of at most 4 inputs (one block) at the whole int8 range: each row's input word is
 * extended once for all groups (a per-time-step layer's small depth, as dense's first) */
static void wide_one_block_rows(const har_fc_params *p, const int8_t *input, int32_t rows, int8_t *output)
{
    const int32_t depth = p->depth, units = p->units, last = units & 3;
    for (const int8_t *const input_end = input + rows * depth; input < input_end; input += depth, output += units) {
        const uint32_t xs = har_load4(input), x02 = har_sxtb16(xs), x13 = har_sxtb16_ror8(xs);
        const int16_t *w = p->wide_weights;
        const int32_t *c = p->wide_constants; /* per group: 4 biases, then its triplets up to the next group */
        int8_t *out = output, *const groups_end = output + (units & ~3);
        for (; out < groups_end; out += 4) {
            const har_acc4 acc = wide_block_of(x02, x13, &w, (har_acc4){c[0], c[1], c[2], c[3]});
            c += 4;
            store_full(acc, &c, out);
        }
        if (last) wide_group(input, input + 4, &w, c, out, last, -128, 127, 0, 0);
    }
}
#endif

#if HAR_USE_DSP
/* readable rows at the whole int8 range, whole groups of 4 units: nothing but the blocks and the
 * stores in the loops */
static void wide_full_rows(const har_fc_params *p, const int8_t *input, int32_t rows, int8_t *output)
{
    const int32_t depth = p->depth, span = (depth + 3) & ~3;
    const int16_t *const weights = p->wide_weights;
    const int32_t *const constants = p->wide_constants, *const constants_end = constants + 4 * p->units;
    for (const int8_t *const input_end = input + rows * depth; input < input_end; input += depth) {
        const int8_t *const end = input + span;
        const int16_t *w = weights;
        for (const int32_t *c = constants; c < constants_end; output += 4) {
            const har_acc4 acc = wide_blocks(input, end, &w, (har_acc4){c[0], c[1], c[2], c[3]});
            c += 4;
            store_full(acc, &c, output);
        }
    }
}
#endif

static HAR_ALWAYS_INLINE void wide_rows_in(const har_fc_params *p, const int8_t *input, int32_t rows, int32_t readable,
                                           int8_t *output, const int full)
{
    const int32_t depth = p->depth, fast = HAR_USE_DSP ? readable_rows(depth, rows, readable) : 0;
#if HAR_USE_DSP
    if (full && depth <= 4 && fast) {
        wide_one_block_rows(p, input, fast, output);
    } else if (full && fast && !(p->units & 3)) {
        wide_full_rows(p, input, fast, output);
    } else if (fast) {
        wide_rows_of(p, input, fast, output, full, 0);
    }
#else
    (void)full;
#endif
    if (fast < rows) wide_scalar_rows(p, input + fast * depth, rows - fast, output + fast * p->units);
}

static void wide_rows(const har_fc_params *p, const int8_t *input, int32_t rows, int32_t readable, int8_t *output)
{
    if (p->act_min == -128 && p->act_max == 127) {
        wide_rows_in(p, input, rows, readable, output, 1);
    } else {
        wide_rows_in(p, input, rows, readable, output, 0);
    }
}

static HAR_ALWAYS_INLINE void fc(const har_fc_params *p, const int8_t *input, int8_t *output, rows_fn *run_rows)
{
    const int32_t rows = p->rows, depth = p->depth, units = p->units;
    if (!p->row_scratch) {
        run_rows(p, input, rows, rows * depth, output);
        return;
    }
    for (int32_t r = 0; r < rows; r += p->scratch_rows) {
        const int32_t n = rows - r < p->scratch_rows ? rows - r : p->scratch_rows;
        run_rows(p, input + r * depth, n, (rows - r) * depth, p->row_scratch);
        memcpy(output + r * units, p->row_scratch, (size_t)(n * units));
    }
}

void har_fc_s8(const har_fc_params *p, const int8_t *input, int8_t *output) { fc(p, input, output, dense_rows); }

void har_fc_sparse_s8(const har_fc_params *p, const int8_t *input, int8_t *output) { fc(p, input, output, sparse_rows); }

void har_fc_wide_s8(const har_fc_params *p, const int8_t *input, int8_t *output) { fc(p, input, output, wide_rows); }
