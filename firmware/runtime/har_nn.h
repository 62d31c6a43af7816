/* int8 kernels with TFLite's integer arithmetic, called by generated models (one call per layer).
 * Every parameter is computed by the generator (har_edge/codegen); kernels only loop. Tensors are
 * NHWC int8 with batch 1; weights int8 (zero point 0), biases int32, multipliers/shifts per output
 * channel (see requant.h). No allocation; scratch, when a kernel needs it, is part of the arena. */
#ifndef HAR_NN_H
#define HAR_NN_H

#include <stdint.h>

#include "har_nn_f32.h" /* the float32 kernels of float32 graphs */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t rows, depth, units; /* rows: time steps of a 3-D input (1 for 2-D); depth: inputs per row */
    const int8_t *weights;      /* interleaved by 4 units x 4 inputs (har_dot.h) */
    const int32_t *bias;        /* [units], input_offset * sum(w) folded in (the kernel adds no offset), or NULL */
    const int32_t *multiplier, *shift;
    const int32_t *requant;     /* per unit {multiplier, rounding + zero << right, right}, or NULL (requant.h) */
    int32_t input_offset, output_zero, act_min, act_max;
    int8_t *row_scratch;        /* [scratch_rows][units], or NULL: set when the output lies over the input */
    int32_t scratch_rows;
    const int16_t *block_starts; /* har_fc_sparse_s8: per group of 4 units, its first kept block (+ the end) */
    const int16_t *block_offsets; /* per kept block, the offset of its 4 inputs (har_sparse.h) */
    const int16_t *wide_weights;  /* har_fc_wide_s8: the weights sign-extended (fully_connected.c), else NULL */
    const int32_t *wide_constants; /* har_fc_wide_s8: per group of 4 units, 4 biases then 4 triplets */
} har_fc_params;

typedef struct {
    int32_t in_h, in_w, in_c, out_h, out_w, out_c;
    int32_t k_h, k_w, stride_h, stride_w, pad_top, pad_left;
    int32_t depth_multiplier;   /* depthwise only */
    const int8_t *weights;      /* conv: [out_c][k_h][k_w][in_c] interleaved (har_dot.h); depthwise: [k_h][k_w][out_c] */
    const int32_t *bias;        /* conv: input_offset * sum(w) folded in (conv reads input_offset for padding only) */
    const int32_t *multiplier, *shift;
    int32_t input_offset, output_zero, act_min, act_max;
    const int32_t *requant;     /* per channel {multiplier, rounding + zero << right, right}, or NULL (requant.h) */
    int8_t *scratch;            /* conv: k_h * k_w * in_c bytes rounded up to 4, for border windows */
    const int16_t *block_starts; /* har_conv_sparse_s8: per group of 4 channels, its first kept block (+ the end) */
    const int16_t *block_offsets; /* per kept block, the offset of its 4 inputs (har_sparse.h) */
} har_conv_params;

typedef struct {
    int32_t in_h, in_w, channels, out_h, out_w;
    int32_t k_h, k_w, stride_h, stride_w, pad_top, pad_left;
    int32_t act_min, act_max;
} har_pool_params;

typedef struct {
    int32_t out_dims[4], in_strides[4]; /* strides of the reduced-to-1 output over the 4-D input */
    int32_t red_dims[4];                /* reduced extents (1 for kept dims) */
    const int32_t *thresholds;          /* 255 ascending sums: output = -128 + #(thresholds <= sum) */
} har_mean_params;

typedef struct {
    int32_t dims[4], strides1[4], strides2[4]; /* output dims; input strides (0 = broadcast) */
    int32_t offset1, offset2, output_zero, act_min, act_max;
    int32_t multiplier1, shift1, multiplier2, shift2, multiplier, shift; /* ADD: inputs and output */
    int32_t left_shift;                                                 /* ADD: 20 */
} har_binary_params;

typedef struct {
    int32_t outer, depth;
    int32_t multiplier, left_shift, diff_min; /* d = x - max >= diff_min scales to Q5.26 */
} har_softmax_params;

typedef struct {
    int32_t outer, count;  /* count inputs, each copying sizes[i] bytes per outer step */
    const int32_t *sizes;
} har_concat_params;

typedef struct {
    int32_t in_dims[4], before[4], out_dims[4];
    int8_t value;
} har_pad_params;

typedef struct {                       /* int8 LSTM, 8x8_16 (lstm.c); gates in the order i, f, g, o */
    int32_t steps, inputs, units;
    const int8_t *input_weights;       /* per gate [units][inputs] interleaved by 4 units (har_dot.h) */
    const int8_t *recurrent_weights;   /* per gate [units][units] interleaved alike */
    const int32_t *input_bias;         /* [4][units padded to 4]: gate bias - input_zero * rowsum */
    const int32_t *recurrent_bias;     /* [4][units padded to 4]: -state_zero * rowsum */
    int32_t input_multiplier[4], input_shift[4], recurrent_multiplier[4], recurrent_shift[4];
    int32_t hidden_multiplier, hidden_shift, hidden_zero, state_zero;
    int32_t cell_shift, tanh_integer_bits, cell_clip; /* 30 + k, 15 + k for a cell scale 2^k; clip 0: none */
    int16_t *scratch;                  /* 4-byte aligned, har_lstm_scratch_bytes (ops_lstm.py) */
} har_lstm_params;

typedef struct {
    int32_t out_dims[4], in_steps[4]; /* output extents; input elements per output step */
    int32_t start;                    /* input element of output element 0 */
} har_slice_params;

void har_fc_s8(const har_fc_params *p, const int8_t *input, int8_t *output);
void har_fc_sparse_s8(const har_fc_params *p, const int8_t *input, int8_t *output);
void har_conv_s8(const har_conv_params *p, const int8_t *input, int8_t *output);
void har_conv_sparse_s8(const har_conv_params *p, const int8_t *input, int8_t *output);
void har_depthwise_s8(const har_conv_params *p, const int8_t *input, int8_t *output);
void har_max_pool_s8(const har_pool_params *p, const int8_t *input, int8_t *output);
void har_avg_pool_s8(const har_pool_params *p, const int8_t *input, int8_t *output);
void har_mean_s8(const har_mean_params *p, const int8_t *input, int8_t *output);
void har_add_s8(const har_binary_params *p, const int8_t *a, const int8_t *b, int8_t *output);
void har_mul_s8(const har_binary_params *p, const int8_t *a, const int8_t *b, int8_t *output);
void har_lookup_s8(const int8_t *table, int32_t size, const int8_t *input, int8_t *output);
void har_softmax_s8(const har_softmax_params *p, const int8_t *input, int8_t *output);
void har_concat_s8(const har_concat_params *p, const int8_t *const *inputs, int8_t *output);
void har_pad_s8(const har_pad_params *p, const int8_t *input, int8_t *output);
void har_quantize_f32(float scale, int32_t zero_point, int32_t size, const float *input, int8_t *output);
void har_dequantize_s8(const float *table, int32_t size, const int8_t *input, float *output);
void har_lstm_s8(const har_lstm_params *p, const int8_t *input, int8_t *output);
void har_slice_s8(const har_slice_params *p, const int8_t *input, int8_t *output);
void har_fc_wide_s8(const har_fc_params *p, const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif
