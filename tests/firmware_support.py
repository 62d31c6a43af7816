"""Firmware test helpers: tiny int8 models built with tf_keras and the TFLite converter (seeded
calibration data, batch 1, int8 in and out unless asked); the benchmark's int8 MCU variants of dense,
cnn and cnn+spectrogram (``benchmark_variant``, ``VARIANTS``, ``parity_inputs``: 1,000 real + random
inputs); and host builds made once per session, cached by model hash (and build flags)."""

from __future__ import annotations

import functools
import hashlib
import tempfile
from pathlib import Path

import numpy as np

from har_edge import models
from har_edge.codegen.verify import random_inputs  # noqa: F401  (the tests' seeded inputs)

BUILD_ROOT = Path(tempfile.mkdtemp(prefix="har-fw-tests-"))

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
def benchmark_variant(architecture: str, kind: str) -> bytes:
    from har_edge.optimize.prune import PruningSchedule, prune
    from har_edge.optimize.quantize import qat

    options = dict(CNN_TINY, spectrogram=architecture == "cnn+spectrogram") if architecture != "dense" else {}
    model = models.build(architecture.split("+")[0], window=WINDOW, channels=3, classes=12, seed=0, **options)
    splits = _splits()
    if kind == "pruned50+int8":
        model = prune(
            model,
            splits.train,
            splits.val,
            PruningSchedule(kind="constant", target_sparsity=0.5, frequency=1),
            epochs=1,
            seed=0,
        ).model
    elif kind == "qat+int8":
        model = qat(model, splits.train, splits.val, epochs=1, seed=0)
    return _mcu_file(model)


def parity_inputs(model_bytes: bytes) -> np.ndarray:
    splits = _splits()
    from har_edge.codegen.verify import quantize_windows

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


def keras():
    from har_edge.tfcompat import keras as k

    return k()


def int8_model(
    build,
    input_shape: tuple[int, ...],
    *,
    seed: int = 0,
    int8_io: bool = True,
    per_channel: bool = True,
    samples: int = 64,
    batch: int | None = 1,
) -> bytes:
    """Full-integer .tflite (batch 1, or a dynamic batch with ``batch=None``) of
    ``build(keras, inputs) -> outputs``, calibrated on seeded normal samples."""
    from har_edge.tfcompat import seed_everything, tensorflow

    tf, k = tensorflow(), keras()
    seed_everything(seed)
    inputs = k.Input(shape=input_shape, batch_size=batch)
    model = k.Model(inputs, build(k, inputs))
    data = np.random.default_rng(seed).normal(size=(samples, *input_shape)).astype(np.float32)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[None]] for x in data)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if int8_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    if not per_channel:
        converter._experimental_disable_per_channel = True
    return bytes(converter.convert())


@functools.cache
def _host_project(model_bytes: bytes, defines: tuple[str, ...]):
    from har_edge.codegen.project import write_project
    from har_edge.firmware.build import build

    key = hashlib.sha256(model_bytes + repr(defines).encode()).hexdigest()[:16]
    info = write_project(model_bytes, BUILD_ROOT / key, "host", "model")
    binary = build(info.path, "host", defines=defines)
    return info, binary


def host_outputs(model_bytes: bytes, inputs: np.ndarray, *, dsp: bool = False, dump: bool = False):
    """(ProjectInfo, HarnessResult) of the host build (``dsp``: the DSP loops with emulated
    intrinsics; ``dump``: with HAR_DUMP_LAYERS)."""
    from har_edge.firmware.build import run

    defines = tuple(d for d, on in (("HAR_EMULATE_DSP", dsp), ("HAR_DUMP_LAYERS", dump)) if on)
    info, binary = _host_project(model_bytes, defines)
    return info, run(binary, "host", inputs, info.output_bytes)


def host_cross_check(model_bytes: bytes, inputs: np.ndarray, *, dsp: bool = False, label: str = "model"):
    from har_edge.codegen.verify import cross_check

    info, result = host_outputs(model_bytes, inputs, dsp=dsp, dump=True)
    return cross_check(
        model_bytes,
        inputs,
        result.outputs,
        label=label,
        layers=info.model.layers,
        layer_dump=result.layer_dump,
        layer_inputs=4,
    )
