/* FULLY_CONNECTED, int8: out[r][u] = clamp(requant(bias[u] + sum_i (x[r][i] + input_offset) * w[u][i])
 * + output_zero). A 3-D input is applied per time step (rows). Four units share each input load
 * (har_dot4, weights interleaved by the generator). */
#include "har_dot.h"
#include "har_nn.h"
#include "requant.h"

static inline int8_t finish(int32_t acc, int32_t multiplier, int32_t shift, int32_t zero, int32_t lo, int32_t hi)
{
    return har_clamp_s8(har_requant(acc, multiplier, shift, HAR_ROUND_SINGLE) + zero, lo, hi);
}

void har_fc_s8(const har_fc_params *p, const int8_t *input, int8_t *output)
{
    const int32_t rows = p->rows, depth = p->depth, units = p->units, group = har_group_bytes(p->depth);
    const int32_t offset = p->input_offset, zero = p->output_zero, lo = p->act_min, hi = p->act_max;
    const int8_t *weights = p->weights;
    const int32_t *bias = p->bias, *multiplier = p->multiplier, *shift = p->shift;
#if HAR_USE_DSP
    const uint32_t offsets = har_offsets(offset);
#endif
    for (int32_t u = 0; u < units; u += 4) { /* groups outer: the group's weights stay hot per row */
        const int32_t n = units - u < 4 ? units - u : 4;
        const int8_t *w = weights + (u / 4) * group;
        har_acc4 start = {0, 0, 0, 0};
        if (bias) start = (har_acc4){bias[u], n > 1 ? bias[u + 1] : 0, n > 2 ? bias[u + 2] : 0, n > 3 ? bias[u + 3] : 0};
        const int8_t *x = input;
        int8_t *out = output + u;
        for (int32_t r = 0; r < rows; ++r, x += depth, out += units) {
#if HAR_USE_DSP
            /* depth <= 4 with a readable word: one block, no loop */
            const har_acc4 acc = depth <= 4 && (rows - r) * depth >= 4 ? har_block4(har_load4(x), w, offsets, start)
                                                                        : har_dot4(x, w, depth, (rows - r) * depth, offset, start);
#else
            const har_acc4 acc = har_dot4(x, w, depth, (rows - r) * depth, offset, start);
#endif
            if (n == 4) {
                out[0] = finish(acc.a0, multiplier[u], shift[u], zero, lo, hi);
                out[1] = finish(acc.a1, multiplier[u + 1], shift[u + 1], zero, lo, hi);
                out[2] = finish(acc.a2, multiplier[u + 2], shift[u + 2], zero, lo, hi);
                out[3] = finish(acc.a3, multiplier[u + 3], shift[u + 3], zero, lo, hi);
            } else {
                const int32_t values[3] = {acc.a0, acc.a1, acc.a2};
                for (int32_t j = 0; j < n; ++j) out[j] = finish(values[j], multiplier[u + j], shift[u + j], zero, lo, hi);
            }
        }
    }
}
