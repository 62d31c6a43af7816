/* The float edges of an int8 graph: QUANTIZE float32 -> int8 (x / scale in float, rounded half away
 * from zero, plus the zero point, saturated; NaN gives -128 as on x86) and DEQUANTIZE int8 -> float32
 * through a table the generator fills with float(double(scale) * (x - zero point)). */
#include "har_nn.h"

void har_quantize_f32(float scale, int32_t zero_point, int32_t size, const float *input, int8_t *output)
{
    for (int32_t i = 0; i < size; ++i) {
        float q = input[i] / scale;
        if (!(q > -1.0e6f)) q = -1.0e6f;
        if (q > 1.0e6f) q = 1.0e6f;
        int32_t whole = (int32_t)q;
        const float rest = q - (float)whole;
        if (rest >= 0.5f) ++whole;
        if (rest <= -0.5f) --whole;
        const int32_t v = whole + zero_point;
        output[i] = (int8_t)(v > 127 ? 127 : (v < -128 ? -128 : v));
    }
}

void har_dequantize_s8(const float *table, int32_t size, const int8_t *input, float *output)
{
    for (int32_t i = 0; i < size; ++i) output[i] = table[input[i] + 128];
}
