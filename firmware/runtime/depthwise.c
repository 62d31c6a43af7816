/* DEPTHWISE_CONV_2D, int8, NHWC, batch 1: output channel c = ic * multiplier + m reads input channel
 * ic; taps outside the input are skipped (TFLite pads with the zero point, which adds nothing).
 * When the multiplier is a multiple of 4 (the HAR stem: 3 inputs x 4), four output channels share each
 * pass over the taps: one input byte and 4 consecutive weight bytes per tap. Other layers go one
 * channel at a time. */
#include "har_nn.h"
#include "requant.h"

typedef struct {
    const int8_t *x, *w;        /* the first tap inside the input, for channel 0 / input channel 0 */
    int32_t rows, cols;         /* taps inside the input */
    int32_t x_row, x_col, w_row; /* strides between taps: input rows / pixels, weight rows */
} taps;

/* the general requantization, out of line: layers without the generator's triplets are rare */
static int8_t finish_general(int32_t acc, const har_conv_params *p, int32_t c)
{
    const int32_t v = har_requant(acc, p->multiplier[c], p->shift[c], HAR_ROUND_DOUBLE);
    return har_clamp_s8(v + p->output_zero, p->act_min, p->act_max);
}

static HAR_ALWAYS_INLINE int8_t finish(int32_t acc, const har_conv_params *p, int32_t c, int fast)
{
    if (fast) return har_clamp_s8(har_short_double(acc, p->requant + 3 * c), p->act_min, p->act_max);
    return finish_general(acc, p, c);
}

/* channels c..c+3, which all read input channel ic (the multiplier is a multiple of 4) */
static HAR_ALWAYS_INLINE void four(const har_conv_params *p, const taps *t, int32_t c, int32_t ic, int fast,
                                   int8_t *out)
{
    const int32_t offset = p->input_offset, out_c = p->out_c;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    if (p->bias) a0 = p->bias[c], a1 = p->bias[c + 1], a2 = p->bias[c + 2], a3 = p->bias[c + 3];
    const int8_t *xr = t->x + ic, *wr = t->w + c;
#define HAR_DW_TAP(x, w)                  \
    do {                                  \
        const int32_t x0 = (x)[0] + offset; \
        a0 += x0 * (w)[0];                \
        a1 += x0 * (w)[1];                \
        a2 += x0 * (w)[2];                \
        a3 += x0 * (w)[3];                \
    } while (0)
    if (t->cols == 1) { /* one tap per row (k_w 1, or clipped): one stride */
        for (int32_t ky = 0; ky < t->rows; ++ky, xr += t->x_row, wr += t->w_row) HAR_DW_TAP(xr, wr);
    } else {
        for (int32_t ky = 0; ky < t->rows; ++ky, xr += t->x_row, wr += t->w_row) {
            const int8_t *x = xr, *w = wr;
            for (int32_t kx = 0; kx < t->cols; ++kx, x += t->x_col, w += out_c) HAR_DW_TAP(x, w);
        }
    }
#undef HAR_DW_TAP
    if (fast) {
        har_short_double4(a0, a1, a2, a3, p->requant + 3 * c, p->act_min == -128 && p->act_max == 127, p->act_min,
                          p->act_max, out + c);
        return;
    }
    out[c] = finish_general(a0, p, c);
    out[c + 1] = finish_general(a1, p, c + 1);
    out[c + 2] = finish_general(a2, p, c + 2);
    out[c + 3] = finish_general(a3, p, c + 3);
}

static HAR_ALWAYS_INLINE void one(const har_conv_params *p, const taps *t, int32_t c, int fast, int8_t *out)
{
    const int32_t offset = p->input_offset, ic = c / p->depth_multiplier;
    int32_t acc = p->bias ? p->bias[c] : 0;
    const int8_t *xr = t->x + ic, *wr = t->w + c;
    for (int32_t ky = 0; ky < t->rows; ++ky, xr += t->x_row, wr += t->w_row) {
        for (int32_t kx = 0; kx < t->cols; ++kx) acc += (xr[kx * t->x_col] + offset) * wr[kx * p->out_c];
    }
    out[c] = finish(acc, p, c, fast);
}

static HAR_ALWAYS_INLINE void depthwise(const har_conv_params *params, const int8_t *input, int8_t *output)
{
    const har_conv_params copy = *params, *p = &copy; /* a local copy: stores through output cannot change it */
    const int fast = p->requant != 0;
    const int32_t in_c = p->in_c, out_c = p->out_c, mult = p->depth_multiplier, k_w = p->k_w;
    const int32_t whole = mult % 4 == 0 ? out_c : 0; /* channels taken 4 at a time */
    taps t = {0, 0, 0, 0, p->in_w * in_c, in_c, k_w * out_c};
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_top;
        const int32_t ky_lo = y0 < 0 ? -y0 : 0, ky_hi = p->in_h - y0 < p->k_h ? p->in_h - y0 : p->k_h;
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            const int32_t x0 = ox * p->stride_w - p->pad_left;
            const int32_t kx_lo = x0 < 0 ? -x0 : 0, kx_hi = p->in_w - x0 < k_w ? p->in_w - x0 : k_w;
            int8_t *out = output + (oy * p->out_w + ox) * out_c;
            t.x = input + ((y0 + ky_lo) * p->in_w + x0 + kx_lo) * in_c;
            t.w = p->weights + (ky_lo * k_w + kx_lo) * out_c;
            t.rows = ky_hi - ky_lo;
            t.cols = kx_hi - kx_lo;
            for (int32_t c = 0; c < whole; c += 4) four(p, &t, c, c / mult, fast, out);
            for (int32_t c = whole; c < out_c; ++c) one(p, &t, c, fast, out);
        }
    }
}

void har_depthwise_s8(const har_conv_params *p, const int8_t *input, int8_t *output)
{
    depthwise(p, input, output);
}
