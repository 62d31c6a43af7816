/* FULLY_CONNECTED, float32: out[r][u] = act(sum + bias[u]) with sum = ((0 + x0 w0) + x1 w1) + ... in
 * input order, as TFLite's reference kernel. Four units share each input load (weights interleaved by
 * the generator as [depth][4] per group, the last group padded with zero rows whose sums are dropped);
 * each unit keeps its own sum in the reference order. A 3-D input is applied per time step (rows). */
#include "har_nn_f32.h"

void har_fc_f32(const har_fc_f32_params *p, const float *input, float *output)
{
    const int32_t depth = p->depth, units = p->units;
    const float lo = p->act_min, hi = p->act_max;
    for (int32_t r = 0; r < p->rows; ++r) {
        const float *x = input + r * depth;
        float *out = output + r * units;
        for (int32_t u = 0; u < units; u += 4) {
            const float *w = p->weights + u * depth;
            float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
            for (int32_t i = 0; i < depth; ++i, w += 4) {
                const float v = x[i];
                a0 += v * w[0];
                a1 += v * w[1];
                a2 += v * w[2];
                a3 += v * w[3];
            }
            const float sums[4] = {a0, a1, a2, a3};
            const int32_t n = units - u < 4 ? units - u : 4;
            for (int32_t j = 0; j < n; ++j) {
                out[u + j] = har_act_f32(sums[j] + (p->bias ? p->bias[u + j] : 0.0f), lo, hi);
            }
        }
    }
}
