/* Reductions, int8: MAX_POOL_2D and AVERAGE_POOL_2D (windows clipped to the input, average rounded
 * half away from zero over the taps inside, as TFLite), and MEAN, whose int8 result is a monotone
 * function of the int32 sum: the generator tabulates the 255 sums where it steps up. */
#include "har_nn.h"
#include "requant.h"

static void pool(const har_pool_params *p, const int8_t *input, int8_t *output, int average)
{
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_top;
        const int32_t y_lo = y0 < 0 ? 0 : y0, y_hi = y0 + p->k_h < p->in_h ? y0 + p->k_h : p->in_h;
        for (int32_t ox = 0; ox < p->out_w; ++ox) {
            const int32_t x0 = ox * p->stride_w - p->pad_left;
            const int32_t x_lo = x0 < 0 ? 0 : x0, x_hi = x0 + p->k_w < p->in_w ? x0 + p->k_w : p->in_w;
            const int32_t count = (y_hi - y_lo) * (x_hi - x_lo);
            for (int32_t c = 0; c < p->channels; ++c) {
                int32_t acc = average ? 0 : -128;
                for (int32_t y = y_lo; y < y_hi; ++y) {
                    for (int32_t x = x_lo; x < x_hi; ++x) {
                        const int32_t v = input[(y * p->in_w + x) * p->channels + c];
                        acc = average ? acc + v : (v > acc ? v : acc);
                    }
                }
                if (average && count > 0) {
                    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                }
                output[(oy * p->out_w + ox) * p->channels + c] = har_clamp_s8(acc, p->act_min, p->act_max);
            }
        }
    }
}

void har_max_pool_s8(const har_pool_params *p, const int8_t *input, int8_t *output) { pool(p, input, output, 0); }

void har_avg_pool_s8(const har_pool_params *p, const int8_t *input, int8_t *output) { pool(p, input, output, 1); }

static int8_t step_of(const int32_t *thresholds, int32_t sum)
{
    int32_t lo = 0, hi = 255;
    while (lo < hi) {
        const int32_t mid = (lo + hi) / 2;
        if (thresholds[mid] <= sum) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return (int8_t)(lo - 128);
}

void har_mean_s8(const har_mean_params *p, const int8_t *input, int8_t *output)
{
    const har_mean_params q = *p; /* a local copy: stores through output cannot change it */
    const int32_t *s = q.in_strides, *o = q.out_dims;
    /* the reduced axes longer than 1, kept in order and moved innermost (the HAR case: one axis) */
    int32_t count[4] = {1, 1, 1, 1}, step[4] = {0, 0, 0, 0}, axes = 0;
    for (int d = 0; d < 4; ++d) axes += q.red_dims[d] > 1;
    for (int d = 0, at = 4 - axes; d < 4; ++d) {
        if (q.red_dims[d] > 1) count[at] = q.red_dims[d], step[at++] = s[d];
    }
    for (int32_t o0 = 0; o0 < o[0]; ++o0)
        for (int32_t o1 = 0; o1 < o[1]; ++o1)
            for (int32_t o2 = 0; o2 < o[2]; ++o2)
                for (int32_t o3 = 0; o3 < o[3]; ++o3) {
                    const int8_t *base = input + o0 * s[0] + o1 * s[1] + o2 * s[2] + o3 * s[3];
                    int32_t sum = 0;
                    for (int32_t r0 = 0; r0 < count[0]; ++r0)
                        for (int32_t r1 = 0; r1 < count[1]; ++r1)
                            for (int32_t r2 = 0; r2 < count[2]; ++r2) {
                                const int8_t *x = base + r0 * step[0] + r1 * step[1] + r2 * step[2];
                                for (int32_t r3 = 0; r3 < count[3]; ++r3, x += step[3]) sum += *x;
                            }
                    *output++ = step_of(q.thresholds, sum);
                }
}
