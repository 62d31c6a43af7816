/* Element-wise float32 ops, as TFLite's reference kernels: ADD and MUL with 4-D broadcasting (strides
 * from the generator, 0 on a broadcast axis) and the fused activation; standalone RELU, RELU6 and
 * RELU_N1_TO_1 as a clamp; LOGISTIC (1 / (1 + expf(-x)), expf(x) below -9, 1 above 16.619047) and TANH
 * (tanhf), whose last bit is the C library's. */
#include <math.h>

#include "har_nn_f32.h"

static inline void binary(const har_binary_f32_params *p, const float *a, const float *b, float *out, int add)
{
    const har_binary_f32_params q = *p; /* a local copy: stores through out cannot change it */
    for (int32_t i0 = 0; i0 < q.dims[0]; ++i0)
        for (int32_t i1 = 0; i1 < q.dims[1]; ++i1)
            for (int32_t i2 = 0; i2 < q.dims[2]; ++i2) {
                const float *x = a + i0 * q.strides1[0] + i1 * q.strides1[1] + i2 * q.strides1[2];
                const float *y = b + i0 * q.strides2[0] + i1 * q.strides2[1] + i2 * q.strides2[2];
                for (int32_t i3 = 0; i3 < q.dims[3]; ++i3) {
                    const float u = x[i3 * q.strides1[3]], v = y[i3 * q.strides2[3]];
                    *out++ = har_act_f32(add ? u + v : u * v, q.act_min, q.act_max);
                }
            }
}

void har_add_f32(const har_binary_f32_params *p, const float *a, const float *b, float *output)
{
    binary(p, a, b, output, 1);
}

void har_mul_f32(const har_binary_f32_params *p, const float *a, const float *b, float *output)
{
    binary(p, a, b, output, 0);
}

void har_clamp_f32(float lo, float hi, int32_t size, const float *input, float *output)
{
    for (int32_t i = 0; i < size; ++i) output[i] = har_act_f32(input[i], lo, hi);
}

void har_logistic_f32(int32_t size, const float *input, float *output)
{
    for (int32_t i = 0; i < size; ++i) {
        const float v = input[i];
        if (v > 16.619047164916992188f) {
            output[i] = 1.0f;
        } else if (v < -9.0f) {
            output[i] = expf(v);
        } else {
            output[i] = 1.0f / (1.0f + expf(-v));
        }
    }
}

void har_tanh_f32(int32_t size, const float *input, float *output)
{
    for (int32_t i = 0; i < size; ++i) output[i] = tanhf(input[i]);
}
