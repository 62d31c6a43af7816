/* DEPTHWISE_CONV_2D, int8, NHWC, batch 1: output channel c = input channel c / multiplier; taps
 * outside the input are skipped (TFLite pads with the zero point, which adds nothing). */
#include "har_nn.h"
#include "requant.h"

void har_depthwise_s8(const har_conv_params *p, const int8_t *input, int8_t *output)
{
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_top;
        const int32_t ky_lo = y0 < 0 ? -y0 : 0, ky_hi = p->in_h - y0 < p->k_h ? p->in_h - y0 : p->k_h;
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            const int32_t x0 = ox * p->stride_w - p->pad_left;
            const int32_t kx_lo = x0 < 0 ? -x0 : 0, kx_hi = p->in_w - x0 < p->k_w ? p->in_w - x0 : p->k_w;
            int8_t *out = output + (oy * p->out_w + ox) * p->out_c;
            for (int32_t c = 0; c < p->out_c; ++c) {
                const int32_t ic = c / p->depth_multiplier;
                int32_t acc = p->bias ? p->bias[c] : 0;
                for (int32_t ky = ky_lo; ky < ky_hi; ++ky) {
                    const int8_t *row = input + ((y0 + ky) * p->in_w + x0) * p->in_c + ic;
                    const int8_t *w = p->weights + ky * p->k_w * p->out_c + c;
                    for (int32_t kx = kx_lo; kx < kx_hi; ++kx) {
                        acc += (row[kx * p->in_c] + p->input_offset) * w[kx * p->out_c];
                    }
                }
                const int32_t v = har_requant(acc, p->multiplier[c], p->shift[c], HAR_ROUND_DOUBLE) + p->output_zero;
                out[c] = har_clamp_s8(v, p->act_min, p->act_max);
            }
        }
    }
}
