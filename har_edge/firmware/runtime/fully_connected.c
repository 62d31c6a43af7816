/* FULLY_CONNECTED, int8: out[r][u] = clamp(requant(bias[u] + sum_i (x[r][i] + input_offset) * w[u][i])
 * + output_zero). A 3-D input is applied per time step (rows). Four units share each input load
 * (har_dot4, weights interleaved by the generator). With a row scratch the output may lie over the
 * input (units <= depth): a few rows at a time are computed into the scratch, then copied over input
 * rows already consumed. */
#include <string.h>

#include "har_dot.h"
#include "har_nn.h"
#include "requant.h"

static inline int8_t finish(int32_t acc, int32_t multiplier, int32_t shift, int32_t zero, int32_t lo, int32_t hi)
{
    return har_clamp_s8(har_requant(acc, multiplier, shift, HAR_ROUND_SINGLE) + zero, lo, hi);
}

/* har_dot4, or one block without a loop when the depth fits a word that may be read whole */
static inline har_acc4 dot(const int8_t *x, const int8_t *w, int32_t depth, int32_t readable, int32_t offset, har_acc4 acc)
{
#if HAR_USE_DSP
    if (depth <= 4 && readable >= 4) return har_block4(har_load4(x), w, har_offsets(offset), acc);
#endif
    return har_dot4(x, w, depth, readable, offset, acc);
}

/* ``rows`` rows from ``input`` (``readable`` bytes may be read from it) to ``output`` */
static void fc_rows(const har_fc_params *p, const int8_t *input, int32_t rows, int32_t readable, int8_t *output)
{
    const int32_t depth = p->depth, units = p->units, group = har_group_bytes(p->depth);
    const int32_t offset = p->input_offset, zero = p->output_zero, lo = p->act_min, hi = p->act_max;
    const int8_t *weights = p->weights;
    const int32_t *bias = p->bias, *multiplier = p->multiplier, *shift = p->shift;
    for (int32_t u = 0; u < units; u += 4) { /* groups outer: the group's weights stay hot per row */
        const int32_t n = units - u < 4 ? units - u : 4;
        const int8_t *w = weights + (u / 4) * group;
        har_acc4 start = {0, 0, 0, 0};
        if (bias) start = (har_acc4){bias[u], n > 1 ? bias[u + 1] : 0, n > 2 ? bias[u + 2] : 0, n > 3 ? bias[u + 3] : 0};
        const int8_t *x = input;
        int8_t *out = output + u;
        if (n == 4 && shift[u] <= -2 && shift[u + 1] <= -2 && shift[u + 2] <= -2 && shift[u + 3] <= -2) {
            /* the common case: the four channels' rounding constants stay out of the row loop */
            const int32_t m[4] = {multiplier[u], multiplier[u + 1], multiplier[u + 2], multiplier[u + 3]};
            const int32_t round[4] = {1 << (-shift[u] - 2), 1 << (-shift[u + 1] - 2), 1 << (-shift[u + 2] - 2),
                                      1 << (-shift[u + 3] - 2)};
            const int32_t right[4] = {-shift[u] - 1, -shift[u + 1] - 1, -shift[u + 2] - 1, -shift[u + 3] - 1};
            for (int32_t r = 0; r < rows; ++r, x += depth, out += units) {
                const har_acc4 acc = dot(x, w, depth, readable - r * depth, offset, start);
                out[0] = har_clamp_s8(har_requant_single_hoisted(acc.a0, m[0], round[0], right[0]) + zero, lo, hi);
                out[1] = har_clamp_s8(har_requant_single_hoisted(acc.a1, m[1], round[1], right[1]) + zero, lo, hi);
                out[2] = har_clamp_s8(har_requant_single_hoisted(acc.a2, m[2], round[2], right[2]) + zero, lo, hi);
                out[3] = har_clamp_s8(har_requant_single_hoisted(acc.a3, m[3], round[3], right[3]) + zero, lo, hi);
            }
            continue;
        }
        for (int32_t r = 0; r < rows; ++r, x += depth, out += units) {
            const har_acc4 acc = dot(x, w, depth, readable - r * depth, offset, start);
            const int32_t values[4] = {acc.a0, acc.a1, acc.a2, acc.a3};
            for (int32_t j = 0; j < n; ++j) out[j] = finish(values[j], multiplier[u + j], shift[u + j], zero, lo, hi);
        }
    }
}

void har_fc_s8(const har_fc_params *p, const int8_t *input, int8_t *output)
{
    const int32_t rows = p->rows, depth = p->depth, units = p->units;
    if (!p->row_scratch) {
        fc_rows(p, input, rows, rows * depth, output);
        return;
    }
    for (int32_t r = 0; r < rows; r += p->scratch_rows) {
        const int32_t n = rows - r < p->scratch_rows ? rows - r : p->scratch_rows;
        fc_rows(p, input + r * depth, n, (rows - r) * depth, p->row_scratch);
        memcpy(output + r * units, p->row_scratch, (size_t)(n * units));
    }
}
