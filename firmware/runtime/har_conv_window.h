/* What CONV_2D's dense (conv.c) and block-sparse (conv_sparse.c) kernels share: one output's general
 * requantization, and the gathering of a receptive field with its zero-point padding; static, out of
 * line in each (include it only where both are called). */
#ifndef HAR_CONV_WINDOW_H
#define HAR_CONV_WINDOW_H

#include <string.h>

#include "har_inline.h"
#include "har_nn.h"
#include "requant.h"

#if defined(__GNUC__)
#define HAR_CONV_NOINLINE __attribute__((noinline)) /* one copy, whatever the callers */
#else
#define HAR_CONV_NOINLINE
#endif

/* one output the general way (layers without triplets, channel tails) */
static int8_t har_conv_finish_one(int32_t acc, const har_conv_params *p, int32_t c)
{
    if (p->requant) return har_clamp_s8(har_short_double(acc, p->requant + 3 * c), p->act_min, p->act_max);
    const int32_t v = har_requant(acc, p->multiplier[c], p->shift[c], HAR_ROUND_DOUBLE);
    return har_clamp_s8(v + p->output_zero, p->act_min, p->act_max);
}

/* n bytes, a word at a time (unaligned words are single loads and stores on a Cortex-M4) */
static HAR_ALWAYS_INLINE void copy_bytes(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n >= 4; n -= 4, dst += 4, src += 4) {
        uint32_t word;
        memcpy(&word, src, 4);
        memcpy(dst, &word, 4);
    }
    for (; n > 0; --n) *dst++ = *src++;
}

static HAR_ALWAYS_INLINE void set_bytes(int8_t *dst, int8_t value, int32_t n)
{
    for (; n > 0; --n) *dst++ = value;
}

/* the receptive field at (y0, x0) as int8 with its padding, ``k_h * k_w * in_c`` bytes at ``field``:
 * per kernel row, the taps left of the input, the span inside it, the taps right of it */
static HAR_CONV_NOINLINE void har_conv_gather(const har_conv_params *p, const int8_t *input, int32_t y0, int32_t x0, int8_t *field)
{
    const int8_t pad = (int8_t)(-p->input_offset);
    const int32_t in_c = p->in_c, k_w = p->k_w, row = k_w * in_c;
    const int32_t kx_lo = x0 < 0 ? -x0 : 0, kx_hi = p->in_w - x0 < k_w ? p->in_w - x0 : k_w;
    const int32_t left = kx_lo * in_c, inside = kx_hi > kx_lo ? (kx_hi - kx_lo) * in_c : 0;
    const int8_t *src = input + (y0 * p->in_w + x0 + kx_lo) * in_c;
    for (int32_t ky = 0; ky < p->k_h; ++ky, field += row, src += p->in_w * in_c) {
        const int32_t y = y0 + ky;
        if (y < 0 || y >= p->in_h) {
            set_bytes(field, pad, row);
            continue;
        }
        set_bytes(field, pad, left);
        copy_bytes(field + left, src, inside);
        set_bytes(field + left + inside, pad, row - left - inside);
    }
}

#endif
