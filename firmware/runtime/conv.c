/* CONV_2D, int8, NHWC, batch 1. For each output position the receptive field is either read in
 * place (it is contiguous when the kernel spans the whole input width and lies inside the input) or
 * gathered into scratch (k rounded up to 4 bytes) with padding set to the input zero point; then four
 * output channels at a time share each input load (har_dot.h). The generator folded input_offset *
 * sum(w) into the bias, which takes back what the zero-point padding adds. har_conv_sparse_s8 runs
 * block-sparse weights (har_sparse.h's har_sparse_conv, with this file's border windows). */
#include <string.h>

#include "har_dot.h"
#include "har_nn.h"
#include "har_sparse.h"
#include "requant.h"

static const int8_t *window(const har_conv_params *p, const int8_t *input, int32_t y0, int32_t x0)
{
    const int32_t row = p->k_w * p->in_c;
    if (y0 >= 0 && y0 + p->k_h <= p->in_h && x0 == 0 && p->k_w == p->in_w) {
        return input + y0 * row;
    }
    const int8_t pad = (int8_t)(-p->input_offset);
    int8_t *column = p->scratch;
    for (int32_t ky = 0; ky < p->k_h; ++ky) {
        const int32_t y = y0 + ky;
        for (int32_t kx = 0; kx < p->k_w; ++kx) {
            const int32_t x = x0 + kx;
            int8_t *dst = column + (ky * p->k_w + kx) * p->in_c;
            if (y < 0 || y >= p->in_h || x < 0 || x >= p->in_w) {
                memset(dst, pad, (size_t)p->in_c);
            } else {
                memcpy(dst, input + (y * p->in_w + x) * p->in_c, (size_t)p->in_c);
            }
        }
    }
    return column;
}

/* one output the general way, out of line (tails of fewer than 4 channels, layers without triplets) */
static int8_t finish_one(int32_t acc, const har_conv_params *p, int32_t c)
{
    if (p->requant) return har_clamp_s8(har_short_double(acc, p->requant + 3 * c), p->act_min, p->act_max);
    const int32_t v = har_requant(acc, p->multiplier[c], p->shift[c], HAR_ROUND_DOUBLE);
    return har_clamp_s8(v + p->output_zero, p->act_min, p->act_max);
}

void har_conv_s8(const har_conv_params *p, const int8_t *input, int8_t *output)
{
    const int32_t k = p->k_h * p->k_w * p->in_c, out_c = p->out_c;
    const int32_t group = har_group_bytes(k);
    const int8_t *input_end = input + p->in_h * p->in_w * p->in_c;
    const int32_t lo = p->act_min, hi = p->act_max, full = lo == -128 && hi == 127;
    const int32_t *bias = p->bias, *triplets = p->requant;
    /* window()'s in-place case, tested here: the kernel spans the whole input width */
    const int32_t in_place = p->k_w == p->in_w, last_y0 = p->in_h - p->k_h, row = p->k_w * p->in_c;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            const int32_t y0 = oy * p->stride_h - p->pad_top, x0 = ox * p->stride_w - p->pad_left;
            const int in_input = in_place && x0 == 0 && y0 >= 0 && y0 <= last_y0;
            const int8_t *x = in_input ? input + y0 * row : window(p, input, y0, x0);
            const int32_t readable = x == p->scratch ? group / 4 : (int32_t)(input_end - x);
            int8_t *out = output + (oy * p->out_w + ox) * out_c;
            const int8_t *w = p->weights;
            for (int32_t c = 0; c < out_c; c += 4, w += group) {
                const int32_t n = out_c - c < 4 ? out_c - c : 4;
                har_acc4 acc = {0, 0, 0, 0};
                if (bias && n == 4) acc = (har_acc4){bias[c], bias[c + 1], bias[c + 2], bias[c + 3]};
                if (bias && n < 4) acc = (har_acc4){bias[c], n > 1 ? bias[c + 1] : 0, n > 2 ? bias[c + 2] : 0, 0};
                acc = har_dot4(x, w, k, readable, acc);
                if (n == 4 && triplets) {
                    har_short_double4(acc.a0, acc.a1, acc.a2, acc.a3, triplets + 3 * c, full, lo, hi, out + c);
                    continue;
                }
                const int32_t values[4] = {acc.a0, acc.a1, acc.a2, acc.a3};
                for (int32_t j = 0; j < n; ++j) out[c + j] = finish_one(values[j], p, c + j);
            }
        }
    }
}

void har_conv_sparse_s8(const har_conv_params *p, const int8_t *input, int8_t *output)
{
    har_sparse_conv(p, input, output, window, finish_one);
}
