/* CONV_2D, int8, NHWC, batch 1. For each output position the receptive field is either read in
 * place (it is contiguous when the kernel spans the whole input width and lies inside the input) or
 * gathered into scratch (k rounded up to 4 bytes) with padding set to the input zero point (so it
 * adds nothing); then four output channels at a time share each input load (har_dot.h). */
#include <string.h>

#include "har_dot.h"
#include "har_nn.h"
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

/* the general requantization, out of line: layers without the generator's triplets are rare */
static int8_t finish_general(int32_t acc, const har_conv_params *p, int32_t c)
{
    const int32_t v = har_requant(acc, p->multiplier[c], p->shift[c], HAR_ROUND_DOUBLE);
    return har_clamp_s8(v + p->output_zero, p->act_min, p->act_max);
}

/* The short requantization (requant.h) when the generator gave the triplets (``fast``, a constant at
 * both call sites); it adds the output zero point itself. */
static HAR_ALWAYS_INLINE int8_t finish(int32_t acc, const har_conv_params *p, const int32_t *triplets, int32_t c,
                                       int fast, int32_t lo, int32_t hi)
{
    if (fast) return har_clamp_s8(har_short_double(acc, triplets + 3 * c), lo, hi);
    return finish_general(acc, p, c);
}

static HAR_ALWAYS_INLINE void conv(const har_conv_params *p, const int8_t *input, int8_t *output, int fast)
{
    const int32_t k = p->k_h * p->k_w * p->in_c, out_c = p->out_c, offset = p->input_offset;
    const int32_t group = har_group_bytes(k);
    const int8_t *input_end = input + p->in_h * p->in_w * p->in_c;
    const int32_t lo = p->act_min, hi = p->act_max;
    const int8_t *weights = p->weights;
    const int32_t *bias = p->bias, *triplets = p->requant;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            const int8_t *x = window(p, input, oy * p->stride_h - p->pad_top, ox * p->stride_w - p->pad_left);
            const int32_t readable = x == p->scratch ? group / 4 : (int32_t)(input_end - x);
            int8_t *out = output + (oy * p->out_w + ox) * out_c;
            for (int32_t c = 0; c < out_c; c += 4) {
                const int32_t n = out_c - c < 4 ? out_c - c : 4;
                har_acc4 acc = {0, 0, 0, 0};
                if (bias) acc = (har_acc4){bias[c], n > 1 ? bias[c + 1] : 0, n > 2 ? bias[c + 2] : 0, n > 3 ? bias[c + 3] : 0};
                acc = har_dot4(x, weights + (c / 4) * group, k, readable, offset, acc);
                if (n == 4) { /* straight from the registers, no array */
                    out[c] = finish(acc.a0, p, triplets, c, fast, lo, hi);
                    out[c + 1] = finish(acc.a1, p, triplets, c + 1, fast, lo, hi);
                    out[c + 2] = finish(acc.a2, p, triplets, c + 2, fast, lo, hi);
                    out[c + 3] = finish(acc.a3, p, triplets, c + 3, fast, lo, hi);
                    continue;
                }
                const int32_t values[4] = {acc.a0, acc.a1, acc.a2, acc.a3};
                for (int32_t j = 0; j < n; ++j) out[c + j] = finish(values[j], p, triplets, c + j, fast, lo, hi);
            }
        }
    }
}

void har_conv_s8(const har_conv_params *p, const int8_t *input, int8_t *output)
{
    if (p->requant) {
        conv(p, input, output, 1);
    } else {
        conv(p, input, output, 0);
    }
}
