/* FULLY_CONNECTED, float32: out[r][u] = act(sum + bias[u]) with sum = ((0 + x0 w0) + x1 w1) + ... in
 * input order, as TFLite's reference kernel. Four units share each input load (weights interleaved by
 * the generator as [depth][4] per group, the last group padded with zero rows whose sums are dropped);
 * each unit keeps its own sum in the reference order. A 3-D input is applied per time step (rows).
 * With a row scratch the output may lie over the input (units <= depth): a few rows at a time are
 * computed into the scratch, then copied over input rows already consumed. */
#include <string.h>

#include "har_nn_f32.h"

static void fc_rows(const har_fc_f32_params *p, const float *input, int32_t rows, float *output)
{
    const int32_t depth = p->depth, units = p->units;
    const float lo = p->act_min, hi = p->act_max;
    for (int32_t r = 0; r < rows; ++r) {
        const float *x = input + r * depth;
        float *out = output + r * units;
        for (int32_t u = 0; u < units; u += 4) {
            float sums[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            har_sums4_f32(x, p->weights + u * depth, depth, sums);
            har_finish4_f32(sums, units - u < 4 ? units - u : 4, p->bias ? p->bias + u : 0, lo, hi, out + u);
        }
    }
}

void har_fc_f32(const har_fc_f32_params *p, const float *input, float *output)
{
    const int32_t rows = p->rows, depth = p->depth, units = p->units;
    if (!p->row_scratch) {
        fc_rows(p, input, rows, output);
        return;
    }
    for (int32_t r = 0; r < rows; r += p->scratch_rows) {
        const int32_t n = rows - r < p->scratch_rows ? rows - r : p->scratch_rows;
        fc_rows(p, input + r * depth, n, p->row_scratch);
        memcpy(output + r * units, p->row_scratch, (size_t)(n * units) * sizeof(float));
    }
}
