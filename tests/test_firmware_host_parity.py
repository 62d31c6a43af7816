"""Bit-exact parity of the generated firmware (host build) with LiteRT's reference kernels on 1,000
inputs (seeded random int8 and real test windows) for the int8 variants the benchmark builds for
``dense`` and ``cnn`` (with and without the spectrogram branch): int8, pruned + int8, QAT + int8,
each as the MCU batch-1 file (int8 in/out). Models are tiny configs, briefly fine-tuned where the
variant needs it (pruning, QAT): bit-exactness does not depend on accuracy."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from har_edge import models
from har_edge.codegen.verify import quantize_windows
from tests.firmware_support import host_cross_check, random_inputs

WINDOW = 200
INPUTS = 1000
CNN_TINY = {"blocks": (8, 12), "stem_multiplier": 2}


@functools.cache
def _splits():
    from tests.support import small_splits

    return small_splits()


def _mcu_file(model) -> bytes:
    """The benchmark's MCU variant: full-integer, int8 in/out, batch 1 (``bench.variants``)."""
    from har_edge.optimize.quantize import Precision, convert, representative_windows

    splits = _splits()
    calibration = representative_windows(models.to_model_input(model, splits.train.x), n=64, seed=0)
    return convert(model, Precision.INT8, representative=calibration, int8_io=True, fixed_batch=True)


@functools.cache
def variant(architecture: str, kind: str) -> bytes:
    from har_edge.optimize.prune import PruningSchedule, prune
    from har_edge.optimize.quantize import qat

    options = dict(CNN_TINY, spectrogram=architecture == "cnn+spectrogram") if architecture != "dense" else {}
    model = models.build(architecture.split("+")[0], window=WINDOW, channels=3, classes=12, seed=0, **options)
    splits = _splits()
    if kind == "pruned50+int8":
        model = prune(model, splits.train, splits.val, PruningSchedule(kind="constant", target_sparsity=0.5, frequency=1),
                      epochs=1, seed=0).model
    elif kind == "qat+int8":
        model = qat(model, splits.train, splits.val, epochs=1, seed=0)
    return _mcu_file(model)


def parity_inputs(model_bytes: bytes) -> np.ndarray:
    splits = _splits()
    real = quantize_windows(model_bytes, np.concatenate([splits.test.x, splits.val.x])[: INPUTS // 2])
    return np.concatenate([real, random_inputs(model_bytes, INPUTS - len(real), seed=7)])


VARIANTS = [
    ("dense", "int8"),
    ("dense", "pruned50+int8"),
    ("dense", "qat+int8"),
    ("cnn", "int8"),
    ("cnn", "pruned50+int8"),
    ("cnn", "qat+int8"),
    ("cnn+spectrogram", "int8"),
    ("cnn+spectrogram", "pruned50+int8"),
]


@pytest.mark.parametrize(("architecture", "kind"), VARIANTS)
def test_benchmark_int8_variant_is_bit_exact_on_host(architecture, kind):
    model = variant(architecture, kind)
    inputs = parity_inputs(model)
    assert len(inputs) >= INPUTS
    check = host_cross_check(model, inputs, label=f"{architecture} {kind}")
    assert check, str(check)
    assert check.inputs == len(inputs) and all(layer.mismatches == 0 for layer in check.layers)


def test_pruned_variant_really_has_zero_weights():
    from har_edge.optimize.quantize import size_figures

    figures = size_figures(variant("dense", "pruned50+int8"))
    assert figures["zero_weights"] >= 0.4 * figures["weights"]


@pytest.mark.parametrize("architecture", ["dense", "cnn+spectrogram"])
def test_dsp_loops_are_bit_exact_on_the_benchmark_model(architecture):
    model = variant(architecture, "int8")
    check = host_cross_check(model, parity_inputs(model)[:200], dsp=True, label=f"{architecture} DSP")
    assert check, str(check)
