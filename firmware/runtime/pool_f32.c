/* Reductions, float32, as TFLite's reference kernels: MAX_POOL_2D (from -FLT_MAX, std::max per tap),
 * AVERAGE_POOL_2D (the taps inside the input summed rows first, divided by their count) and MEAN (the
 * reduced values summed in the input's order, divided by their count); windows are clipped to the
 * input; the fused activation last. */
#include <float.h>

#include "har_nn_f32.h"

static void pool(const har_pool_f32_params *p, const float *input, float *output, int average)
{
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_top;
        const int32_t y_lo = y0 < 0 ? 0 : y0, y_hi = y0 + p->k_h < p->in_h ? y0 + p->k_h : p->in_h;
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            const int32_t x0 = ox * p->stride_w - p->pad_left;
            const int32_t x_lo = x0 < 0 ? 0 : x0, x_hi = x0 + p->k_w < p->in_w ? x0 + p->k_w : p->in_w;
            const float count = (float)((y_hi - y_lo) * (x_hi - x_lo));
            for (int32_t c = 0; c < p->channels; ++c) {
                float acc = average ? 0.0f : -FLT_MAX;
                for (int32_t y = y_lo; y < y_hi; ++y) {
                    for (int32_t x = x_lo; x < x_hi; ++x) {
                        const float v = input[(y * p->in_w + x) * p->channels + c];
                        acc = average ? acc + v : (acc < v ? v : acc);
                    }
                }
                if (average) acc = acc / count;
                output[(oy * p->out_w + ox) * p->channels + c] = har_act_f32(acc, p->act_min, p->act_max);
            }
        }
    }
}

void har_max_pool_f32(const har_pool_f32_params *p, const float *input, float *output) { pool(p, input, output, 0); }

void har_avg_pool_f32(const har_pool_f32_params *p, const float *input, float *output) { pool(p, input, output, 1); }

void har_mean_f32(const har_mean_f32_params *p, const float *input, float *output)
{
    const har_mean_f32_params q = *p; /* a local copy: stores through output cannot change it */
    const int32_t *s = q.in_strides, *o = q.out_dims, *r = q.red_dims;
    for (int32_t o0 = 0; o0 < o[0]; ++o0)
        for (int32_t o1 = 0; o1 < o[1]; ++o1)
            for (int32_t o2 = 0; o2 < o[2]; ++o2)
                for (int32_t o3 = 0; o3 < o[3]; ++o3) {
                    const float *base = input + o0 * s[0] + o1 * s[1] + o2 * s[2] + o3 * s[3];
                    float sum = 0.0f;
                    for (int32_t r0 = 0; r0 < r[0]; ++r0)
                        for (int32_t r1 = 0; r1 < r[1]; ++r1)
                            for (int32_t r2 = 0; r2 < r[2]; ++r2) {
                                const float *x = base + r0 * s[0] + r1 * s[1] + r2 * s[2];
                                for (int32_t r3 = 0; r3 < r[3]; ++r3, x += s[3]) sum += *x;
                            }
                    *output++ = sum / q.count;
                }
}
