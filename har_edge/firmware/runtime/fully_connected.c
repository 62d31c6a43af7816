/* FULLY_CONNECTED, int8: out[r][u] = clamp(requant(bias[u] + sum_i (x[r][i] + input_offset) * w[u][i])
 * + output_zero). A 3-D input is applied per time step (rows). Four units share each input load. */
#include "har_nn.h"
#include "har_dot.h"
#include "requant.h"

void har_fc_s8(const har_fc_params *p, const int8_t *input, int8_t *output)
{
    for (int32_t r = 0; r < p->rows; ++r) {
        const int8_t *x = input + r * p->depth;
        int8_t *out = output + r * p->units;
        for (int32_t u = 0; u < p->units; u += 4) {
            const int32_t n = p->units - u < 4 ? p->units - u : 4;
            int32_t acc[4] = {0, 0, 0, 0};
            if (p->bias) {
                for (int32_t j = 0; j < n; ++j) acc[j] = p->bias[u + j];
            }
            har_dot_rows(x, p->weights + u * p->weight_stride, p->weight_stride, p->depth, p->input_offset, n, acc);
            for (int32_t j = 0; j < n; ++j) {
                const int32_t v = har_requant(acc[j], p->multiplier[u + j], p->shift[u + j], HAR_ROUND_SINGLE) + p->output_zero;
                out[u + j] = har_clamp_s8(v, p->act_min, p->act_max);
            }
        }
    }
}
