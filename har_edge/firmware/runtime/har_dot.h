/* The int8 multiply-accumulate core shared by FULLY_CONNECTED and CONV_2D: four weight rows against
 * one input vector, acc[r] += sum_i (x[i] + x_offset) * w[r * stride + i] for i < k.
 * The DSP loop unpacks 4 inputs with SXTAB16 (adding the offset for free) and each row's 4 weights
 * with SXTB16, then two SMLADs; exact int32 sums, so both loops give the same bits. */
#ifndef HAR_DOT_H
#define HAR_DOT_H

#include "har_dsp.h"

static inline void har_dot_rows(const int8_t *x, const int8_t *w, int32_t stride, int32_t k, int32_t x_offset,
                                int32_t rows, int32_t *acc)
{
    int32_t i = 0;
#if HAR_USE_DSP
    const uint32_t offsets = ((uint32_t)x_offset & 0xFFFFu) | ((uint32_t)x_offset << 16);
    if (rows == 4) {
        int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
        for (; i + 4 <= k; i += 4) {
            const uint32_t xs = har_load4(x + i);
            const uint32_t x02 = har_sxtab16(offsets, xs), x13 = har_sxtab16(offsets, har_ror(xs, 8));
            uint32_t ws = har_load4(w + i);
            a0 = har_smlad(x02, har_sxtb16(ws), a0);
            a0 = har_smlad(x13, har_sxtb16(har_ror(ws, 8)), a0);
            ws = har_load4(w + stride + i);
            a1 = har_smlad(x02, har_sxtb16(ws), a1);
            a1 = har_smlad(x13, har_sxtb16(har_ror(ws, 8)), a1);
            ws = har_load4(w + 2 * stride + i);
            a2 = har_smlad(x02, har_sxtb16(ws), a2);
            a2 = har_smlad(x13, har_sxtb16(har_ror(ws, 8)), a2);
            ws = har_load4(w + 3 * stride + i);
            a3 = har_smlad(x02, har_sxtb16(ws), a3);
            a3 = har_smlad(x13, har_sxtb16(har_ror(ws, 8)), a3);
        }
        acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
    } else {
        for (; i + 4 <= k; i += 4) {
            const uint32_t xs = har_load4(x + i);
            const uint32_t x02 = har_sxtab16(offsets, xs), x13 = har_sxtab16(offsets, har_ror(xs, 8));
            for (int32_t r = 0; r < rows; ++r) {
                const uint32_t ws = har_load4(w + r * stride + i);
                acc[r] = har_smlad(x13, har_sxtb16(har_ror(ws, 8)), har_smlad(x02, har_sxtb16(ws), acc[r]));
            }
        }
    }
#endif
    for (; i < k; ++i) {
        const int32_t xv = x[i] + x_offset;
        for (int32_t r = 0; r < rows; ++r) {
            acc[r] += xv * w[r * stride + i];
        }
    }
}

#endif
