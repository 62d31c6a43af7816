/* DEPTHWISE_CONV_2D, int8, NHWC, batch 1: output channel c = ic * multiplier + m reads input channel
 * ic; taps outside the input are skipped (TFLite pads with the zero point, which adds nothing). */
#include "har_nn.h"
#include "requant.h"

void har_depthwise_s8(const har_conv_params *p, const int8_t *input, int8_t *output)
{
    const int32_t in_c = p->in_c, out_c = p->out_c, mult = p->depth_multiplier, offset = p->input_offset;
    const int32_t k_w = p->k_w, zero = p->output_zero, lo = p->act_min, hi = p->act_max;
    const int8_t *weights = p->weights;
    const int32_t *bias = p->bias, *multiplier = p->multiplier, *shift = p->shift;
    const int32_t row_step = p->in_w * in_c, w_step = k_w * out_c;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_top;
        const int32_t ky_lo = y0 < 0 ? -y0 : 0, ky_hi = p->in_h - y0 < p->k_h ? p->in_h - y0 : p->k_h;
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            const int32_t x0 = ox * p->stride_w - p->pad_left;
            const int32_t kx_lo = x0 < 0 ? -x0 : 0, kx_hi = p->in_w - x0 < k_w ? p->in_w - x0 : k_w;
            int8_t *out = output + (oy * p->out_w + ox) * out_c;
            for (int32_t ic = 0; ic < in_c; ++ic) {
                for (int32_t m = 0; m < mult; ++m) {
                    const int32_t c = ic * mult + m;
                    int32_t acc = bias ? bias[c] : 0;
                    const int8_t *row = input + ((y0 + ky_lo) * p->in_w + x0) * in_c + ic;
                    const int8_t *w = weights + ky_lo * k_w * out_c + c;
                    if (kx_hi - kx_lo == 1) { /* one tap per row (k_w 1, or clipped): a single stride */
                        row += kx_lo * in_c;
                        w += kx_lo * out_c;
                        for (int32_t ky = ky_lo; ky < ky_hi; ++ky, row += row_step, w += w_step) acc += (*row + offset) * *w;
                    } else {
                        for (int32_t ky = ky_lo; ky < ky_hi; ++ky, row += row_step, w += w_step) {
                            for (int32_t kx = kx_lo; kx < kx_hi; ++kx) acc += (row[kx * in_c] + offset) * w[kx * out_c];
                        }
                    }
                    out[c] = har_clamp_s8(har_requant(acc, multiplier[c], shift[c], HAR_ROUND_DOUBLE) + zero, lo, hi);
                }
            }
        }
    }
}
