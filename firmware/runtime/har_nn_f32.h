/* float32 kernels, called by generated models of float32 graphs (one call per layer). Each output is
 * computed with the operations of TFLite's reference float kernels in their order: a sum starts at
 * 0.0f and adds one product (or value) at a time in the reference's loop order, taps outside the input
 * are skipped, the bias is added last (0.0f without one) and the fused activation is
 * min(max(x, act_min), act_max) (NONE: +-FLT_MAX). Compiled without multiply-add contraction
 * (-ffp-contract=off) those are the same IEEE single-precision operations on any FPU, so the bits
 * match; SOFTMAX, LOGISTIC and TANH call the C library's expf/tanhf, which differ between libraries
 * in the last bit. Tensors are NHWC with batch 1; no allocation. */
#ifndef HAR_NN_F32_H
#define HAR_NN_F32_H

#include <math.h> /* INFINITY: a standalone RELU's upper bound */
#include <stdint.h>

/* the generated code's views of arena bytes as floats (the plan aligns float tensors to 4 bytes) */
#define HAR_F32_IN(p) ((const float *)(const void *)(p))
#define HAR_F32_OUT(p) ((float *)(void *)(p))

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t rows, depth, units; /* rows: time steps of a 3-D input (1 for 2-D); depth: inputs per row */
    const float *weights;       /* per group of 4 units: [depth][4] (units padded with zero rows) */
    const float *bias;          /* [units] or NULL */
    float act_min, act_max;
    float *row_scratch;         /* [scratch_rows][units], or NULL: set when the output lies over the input */
    int32_t scratch_rows;
} har_fc_f32_params;

typedef struct {
    int32_t in_h, in_w, in_c, out_h, out_w, out_c;
    int32_t k_h, k_w, stride_h, stride_w, pad_top, pad_left;
    int32_t depth_multiplier; /* depthwise only */
    const float *weights;     /* conv: per group of 4 output channels [k_h][k_w][in_c][4]; depthwise: [k_h][k_w][out_c rounded up to 4] */
    const float *bias;        /* [out_c] or NULL */
    float act_min, act_max;
} har_conv_f32_params;

typedef struct {
    int32_t in_h, in_w, channels, out_h, out_w;
    int32_t k_h, k_w, stride_h, stride_w, pad_top, pad_left;
    float act_min, act_max;
} har_pool_f32_params;

typedef struct {
    int32_t out_dims[4], in_strides[4]; /* the reduced-to-1 output over the 4-D input's strides */
    int32_t red_dims[4];                /* reduced extents (1 for kept dims) */
    float count;                        /* values per output */
} har_mean_f32_params;

typedef struct {
    int32_t dims[4], strides1[4], strides2[4]; /* output dims; input strides (0 = broadcast) */
    float act_min, act_max;
} har_binary_f32_params;

typedef struct {
    int32_t outer, depth;
    float beta;
} har_softmax_f32_params;

typedef struct {
    int32_t in_dims[4], before[4], out_dims[4];
    float value;
} har_pad_f32_params;

/* TFLite's ActivationFunctionWithMinMax: std::min(std::max(x, lo), hi) (NaN passes through) */
static inline float har_act_f32(float x, float lo, float hi)
{
    x = x < lo ? lo : x;
    return hi < x ? hi : x;
}

/* four sums, each adding n products x[i] * w[4 i + j] (j = 0..3) in order: the inner loop of FC and
 * CONV_2D, whose weights the generator interleaves by four outputs */
static inline void har_sums4_f32(const float *x, const float *w, int32_t n, float sums[4])
{
    float a0 = sums[0], a1 = sums[1], a2 = sums[2], a3 = sums[3];
    for (int32_t i = 0; i < n; ++i, w += 4) {
        const float v = x[i];
        a0 += v * w[0];
        a1 += v * w[1];
        a2 += v * w[2];
        a3 += v * w[3];
    }
    sums[0] = a0, sums[1] = a1, sums[2] = a2, sums[3] = a3;
}

/* out[j] = act(sums[j] + bias[j]) (bias 0.0f without one) for the first n (<= 4) sums */
static inline void har_finish4_f32(const float sums[4], int32_t n, const float *bias, float lo, float hi, float *out)
{
    for (int32_t j = 0; j < n; ++j) out[j] = har_act_f32(sums[j] + (bias ? bias[j] : 0.0f), lo, hi);
}

void har_fc_f32(const har_fc_f32_params *p, const float *input, float *output);
void har_conv_f32(const har_conv_f32_params *p, const float *input, float *output);
void har_depthwise_f32(const har_conv_f32_params *p, const float *input, float *output);
void har_max_pool_f32(const har_pool_f32_params *p, const float *input, float *output);
void har_avg_pool_f32(const har_pool_f32_params *p, const float *input, float *output);
void har_mean_f32(const har_mean_f32_params *p, const float *input, float *output);
void har_add_f32(const har_binary_f32_params *p, const float *a, const float *b, float *output);
void har_mul_f32(const har_binary_f32_params *p, const float *a, const float *b, float *output);
void har_clamp_f32(float lo, float hi, int32_t size, const float *input, float *output);
void har_logistic_f32(int32_t size, const float *input, float *output);
void har_tanh_f32(int32_t size, const float *input, float *output);
void har_softmax_f32(const har_softmax_f32_params *p, const float *input, float *output);
void har_pad_f32(const har_pad_f32_params *p, const float *input, float *output);

#ifdef __cplusplus
}
#endif

#endif
