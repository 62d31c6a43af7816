/* FULLY_CONNECTED, int8: out[r][u] = clamp(requant(bias[u] + sum_i (x[r][i] + input_offset) * w[u][i])
 * + output_zero), the bias given with input_offset * sum(w) folded in by the generator (so the
 * kernel reads input_offset nowhere). A 3-D input is applied per time step (rows). Four units share
 * each input load (har_dot4, weights interleaved by the generator). With a row scratch the output may lie over the
 * input (units <= depth): a few rows at a time are computed into the scratch, then copied over input
 * rows already consumed. har_fc_sparse_s8 runs block-sparse weights (har_sparse.h's har_sparse_fc_rows). */
#include <string.h>

#include "har_dot.h"
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

/* ``rows`` rows from ``input`` (``readable`` bytes may be read from it) to ``output`` */
static void dense_rows(const har_fc_params *p, const int8_t *input, int32_t rows, int32_t readable, int8_t *output)
{
    const int32_t depth = p->depth, units = p->units, group = har_group_bytes(p->depth);
    const int32_t lo = p->act_min, hi = p->act_max, full = lo == -128 && hi == 127;
    const int8_t *weights = p->weights;
    const int32_t *bias = p->bias;
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
