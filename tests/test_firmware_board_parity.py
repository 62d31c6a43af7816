"""Bit-exactness on the emulated Cortex-M4F (mps2-an386, the DSP loops): every output byte of the
generated firmware equals LiteRT's reference kernels (BUILTIN_REF) on 1,000 inputs per model, for the
int8 variants the benchmark builds of dense and cnn: plain, pruned (50 %, tfmot), QAT (tfmot), and the
cnn with its spectrogram branch (which QAT refuses: its DFT filters are frozen).

Models are the project's architectures on 64-sample windows (the benchmark's 200 would take four times
the emulation time per input), fine-tuned for one epoch on seeded synthetic data where an optimization
needs training; inputs are 900 seeded random int8 vectors (the whole range) and 100 real windows
quantized as a device would. Each model is converted and built once."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from tests.arm_tools import require_arm_tools

WINDOW, HOP, CLASSES = 64, 32, 6
RANDOM_INPUTS, WINDOW_INPUTS = 900, 100
VARIANTS = {
    "dense": ("dense", {}, None),
    "dense-pruned50": ("dense", {}, "prune"),
    "dense-qat": ("dense", {}, "qat"),
    "cnn": ("cnn", {}, None),
    "cnn-spectrogram": ("cnn", {"spectrogram": True}, None),
    "cnn-pruned50": ("cnn", {}, "prune"),
    "cnn-qat": ("cnn", {}, "qat"),
}


@functools.cache
def window_splits():
    """Normalized subject-disjoint splits of 64-sample accelerometer windows, 4 synthetic subjects."""
    from har_edge.data.synthetic import SyntheticConfig, generate
    from har_edge.data.windows import WindowConfig, make_windows, normalize_splits, split_by_subject
    from har_edge.types import ACC_CHANNELS

    dataset = generate(SyntheticConfig(subjects=4, seconds_per_activity=8, gyroscope=False, seed=3))
    windows, _ = make_windows(dataset, WindowConfig(window=WINDOW, hop=HOP, channels=ACC_CHANNELS))
    return normalize_splits(split_by_subject(windows, seed=0))[0]


@functools.cache
def variant_model(variant: str) -> bytes:
    """The int8 batch-1 .tflite (int8 in and out) of ``variant``."""
    from har_edge import models
    from har_edge.optimize.prune import PruningSchedule, prune
    from har_edge.optimize.quantize import Precision, convert, qat, representative_windows

    architecture, options, optimization = VARIANTS[variant]
    splits = window_splits()
    classes = len(splits.train.class_names)
    model = models.build(architecture, window=WINDOW, channels=3, classes=classes, seed=0, **options)
    if optimization == "prune":
        schedule = PruningSchedule(kind="constant", target_sparsity=0.5)
        model = prune(model, splits.train, splits.val, schedule, epochs=1).model
    elif optimization == "qat":
        model = qat(model, splits.train, splits.val, epochs=1)
    calibration = representative_windows(models.to_model_input(model, splits.train.x), seed=0)
    return convert(model, Precision.INT8, representative=calibration, int8_io=True, fixed_batch=True)


def parity_inputs(model_bytes: bytes) -> np.ndarray:
    from har_edge.codegen.verify import quantize_windows

    splits = window_splits()
    real = np.concatenate([splits.test.x, splits.val.x])[:WINDOW_INPUTS]
    quantized = quantize_windows(model_bytes, real.reshape(len(real), -1))
    size = quantized.shape[1]
    noise = np.random.default_rng(7).integers(-128, 128, size=(RANDOM_INPUTS, size), dtype=np.int16)
    return np.concatenate([noise.astype(np.int8), quantized.astype(np.int8)])


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_emulated_firmware_is_bit_exact_with_the_reference_kernels_on_1000_inputs(variant, tmp_path_factory):
    require_arm_tools()
    from har_edge.codegen.project import write_project
    from har_edge.codegen.verify import cross_check
    from har_edge.firmware.build import build, run

    model_bytes = variant_model(variant)
    inputs = parity_inputs(model_bytes)
    assert len(inputs) == RANDOM_INPUTS + WINDOW_INPUTS
    info = write_project(model_bytes, tmp_path_factory.mktemp(variant) / "fw", "mps2-an386", "net")
    result = run(build(info.path, "mps2-an386"), "mps2-an386", inputs, info.output_bytes)
    check = cross_check(model_bytes, inputs, result.outputs, label=f"{variant} on mps2-an386")
    assert check, str(check)
    assert len(set(result.instructions)) >= 1 and min(result.instructions) > 0
