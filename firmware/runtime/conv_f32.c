/* CONV_2D and DEPTHWISE_CONV_2D, float32, NHWC, batch 1, as TFLite's reference kernels: per output,
 * sum = 0, then input * weight added tap by tap (rows, then columns, then input channels), taps outside
 * the input skipped (not added as zeros: the sum's bits would differ for -0.0), then the bias (0.0f
 * without one) and the fused activation. Both compute four output channels per pass over the taps,
 * each channel keeping its own sum in that order: CONV_2D's weights are interleaved by the generator
 * as [k_h][k_w][in_c][4] per group of four, DEPTHWISE_CONV_2D's are [k_h][k_w][out_c rounded up to 4];
 * the zero padding's sums are dropped. */
#include "har_nn_f32.h"

/* the window of output (oy, ox) clipped to the input: [y_lo, y_hi) x [x_lo, x_hi) in filter taps */
typedef struct {
    int32_t y0, x0, y_lo, y_hi, x_lo, x_hi;
} window;

static window clip(const har_conv_f32_params *p, int32_t oy, int32_t ox)
{
    window w;
    w.y0 = oy * p->stride_h - p->pad_top;
    w.x0 = ox * p->stride_w - p->pad_left;
    w.y_lo = w.y0 < 0 ? -w.y0 : 0;
    w.y_hi = p->in_h - w.y0 < p->k_h ? p->in_h - w.y0 : p->k_h;
    w.x_lo = w.x0 < 0 ? -w.x0 : 0;
    w.x_hi = p->in_w - w.x0 < p->k_w ? p->in_w - w.x0 : p->k_w;
    return w;
}

void har_conv_f32(const har_conv_f32_params *p, const float *input, float *output)
{
    const int32_t in_c = p->in_c, out_c = p->out_c, group = p->k_h * p->k_w * in_c * 4;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        for (int32_t ox = 0; ox < p->out_w; ++ox, output += out_c) {
            const window win = clip(p, oy, ox);
            for (int32_t c = 0; c < out_c; c += 4) {
                const float *weights = p->weights + (c / 4) * group;
                float sums[4] = {0.0f, 0.0f, 0.0f, 0.0f};
                for (int32_t ky = win.y_lo; ky < win.y_hi; ++ky) {
                    for (int32_t kx = win.x_lo; kx < win.x_hi; ++kx) {
                        const float *x = input + ((win.y0 + ky) * p->in_w + win.x0 + kx) * in_c;
                        har_sums4_f32(x, weights + (ky * p->k_w + kx) * in_c * 4, in_c, sums);
                    }
                }
                const float *bias = p->bias ? p->bias + c : 0;
                har_finish4_f32(sums, out_c - c < 4 ? out_c - c : 4, bias, p->act_min, p->act_max, output + c);
            }
        }
    }
}

/* input channel of output channel c (channels past out_c, the weights' zero padding, read the last) */
static inline int32_t source(int32_t c, int32_t multiplier, int32_t in_c)
{
    return c / multiplier < in_c ? c / multiplier : in_c - 1;
}

void har_depthwise_f32(const har_conv_f32_params *p, const float *input, float *output)
{
    const int32_t in_c = p->in_c, out_c = p->out_c, row = (out_c + 3) / 4 * 4, m = p->depth_multiplier;
    for (int32_t c = 0; c < out_c; c += 4) { /* groups outer: their input channels computed once */
        const int32_t i0 = source(c, m, in_c), i1 = source(c + 1, m, in_c);
        const int32_t i2 = source(c + 2, m, in_c), i3 = source(c + 3, m, in_c);
        const int32_t n = out_c - c < 4 ? out_c - c : 4;
        const float *bias = p->bias ? p->bias + c : 0;
        float *out = output + c;
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            for (int32_t ox = 0; ox < p->out_w; ++ox, out += out_c) {
                const window win = clip(p, oy, ox);
                float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
                for (int32_t ky = win.y_lo; ky < win.y_hi; ++ky) {
                    const float *x = input + ((win.y0 + ky) * p->in_w + win.x0 + win.x_lo) * in_c;
                    const float *w = p->weights + (ky * p->k_w + win.x_lo) * row + c;
                    for (int32_t kx = win.x_lo; kx < win.x_hi; ++kx, x += in_c, w += row) {
                        a0 += x[i0] * w[0];
                        a1 += x[i1] * w[1];
                        a2 += x[i2] * w[2];
                        a3 += x[i3] * w[3];
                    }
                }
                const float sums[4] = {a0, a1, a2, a3};
                har_finish4_f32(sums, n, bias, p->act_min, p->act_max, out);
            }
        }
    }
}
