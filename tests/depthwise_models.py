"""Single DEPTHWISE_CONV_2D int8 models built by hand (tests/crafted_models.build, no TensorFlow), with
seeded weights, biases and per-channel scales, so tests and benchmarks can reach each of
firmware/runtime/depthwise.c's loops: channels per input (``multiplier``), window, stride, padding,
fused activation, and right shifts (``output_scale_factor``)."""

from __future__ import annotations

import numpy as np

from tests.crafted_models import Op, T, build, options

ACTIVATIONS = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}
INPUT_SCALE = 0.05


def out_size(size: int, kernel: int, stride: int, padding: str) -> int:
    return -(-size // stride) if padding == "same" else (size - kernel) // stride + 1


def depthwise_model(
    in_shape: tuple[int, int, int],
    kernel: tuple[int, int],
    *,
    multiplier: int = 1,
    stride: tuple[int, int] = (1, 1),
    padding: str = "same",
    activation: str = "NONE",
    input_zero: int = -128,
    output_zero: int = 5,
    output_scale_factor: float = 1.0,
    tiny_channel: bool = False,
    seed: int = 0,
) -> bytes:
    """(1, h, w, c) -> (1, h', w', c * multiplier). The output scale puts typical sums over a good part
    of int8 (times ``output_scale_factor``); ``tiny_channel`` gives channel 0 a weight scale whose right
    shift no short requantization takes (the kernel's general path)."""
    rng = np.random.default_rng(seed)
    h, w, c = in_shape
    k_h, k_w = kernel
    out_c = c * multiplier
    weights = rng.integers(-127, 128, (1, k_h, k_w, out_c)).astype(np.int8)
    scales = rng.uniform(0.002, 0.01, out_c)
    if tiny_channel:
        scales[0] = 1e-9
    typical = INPUT_SCALE * float(np.median(scales)) * np.sqrt(k_h * k_w) * 128 * 73
    out_shape = (1, out_size(h, k_h, stride[0], padding), out_size(w, k_w, stride[1], padding), out_c)
    tensors = [
        T((1, h, w, c), zero_point=input_zero, scale=INPUT_SCALE),
        T(weights.shape, data=weights, scale=list(scales)),
        T(out_shape, zero_point=output_zero, scale=typical / 40 * output_scale_factor),
    ]
    values = rng.integers(-20000, 20000, out_c).astype(np.int32)
    tensors.insert(2, T((out_c,), "int32", list(INPUT_SCALE * scales), data=values))
    o = options(
        "DepthwiseConv2D",
        padding=0 if padding == "same" else 1,
        strideH=stride[0],
        strideW=stride[1],
        depthMultiplier=multiplier,
        dilationHFactor=1,
        dilationWFactor=1,
        fusedActivationFunction=ACTIVATIONS[activation],
    )
    return build(tensors, [Op("DEPTHWISE_CONV_2D", (0, 1, 2), (3,), o)])
