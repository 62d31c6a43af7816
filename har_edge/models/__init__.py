"""HAR architectures built by name with tf_keras, their split points, size figures, and the model folder.

A model folder holds ``model.keras`` and ``card.json`` (a ``ModelCard``: architecture, class labels,
window geometry, channels, normalization statistics, split points, size figures) — everything later
stages (optimize, export) need, so they never reach back into the training code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from har_edge.errors import InputError
from har_edge.fsutil import atomic_directory
from har_edge.runtime.strict_json import parse_strict_json

CARD_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Architecture:
    """``input_layout`` is ``"flat"`` (window*channels) or ``"sequence"`` (window, channels)."""

    name: str
    build: Callable[..., Any]
    split_points: Callable[[dict[str, Any]], tuple[str, ...]]
    input_layout: str


def _architectures() -> dict[str, Architecture]:
    from har_edge.models import cnn, dense, lstm

    return {
        "dense": Architecture("dense", dense.build, lambda _: dense.SPLIT_POINTS, "flat"),
        "cnn": Architecture(
            "cnn",
            cnn.build,
            lambda o: cnn.split_points(len(o.get("blocks", cnn.DEFAULT_BLOCKS)), o.get("spectrogram", False)),
            "sequence",
        ),
        "lstm": Architecture("lstm", lstm.build, lambda _: lstm.SPLIT_POINTS, "sequence"),
    }


ARCHITECTURE_NAMES = ("dense", "cnn", "lstm")


def architecture(name: str) -> Architecture:
    if name not in ARCHITECTURE_NAMES:
        raise InputError(f"unknown model {name!r}; choose one of {', '.join(ARCHITECTURE_NAMES)}")
    return _architectures()[name]


def build(name: str, *, window: int, channels: int, classes: int, seed: int = 0, **options: Any):
    """A fresh, compiled-free tf_keras model; weights initialized from ``seed``."""
    from har_edge.tfcompat import keras

    arch = architecture(name)
    keras().utils.set_random_seed(seed)
    try:
        return arch.build(window=window, channels=channels, classes=classes, **options)
    except TypeError as exc:
        raise InputError(f"model {name!r}: bad option ({exc})") from exc


def to_model_input(model, x: np.ndarray) -> np.ndarray:
    """Reshape windows (n, window, channels) to the model's input layout (flat or sequence)."""
    return x.reshape((len(x), *model.input_shape[1:]))


@dataclass(frozen=True)
class ModelSummary:
    """Parameter count, multiply-accumulates per window (Dense, Conv, DepthwiseConv and LSTM layers
    only; elementwise ops, pooling and activations are not counted) and float32 weight bytes."""

    params: int
    trainable_params: int
    macs: int
    float32_bytes: int


def summarize(model) -> ModelSummary:
    params = int(model.count_params())
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    return ModelSummary(params, trainable, sum(_layer_macs(layer) for layer in model.layers), 4 * params)


def _layer_macs(layer) -> int:
    kind = type(layer).__name__
    out_shape = layer.output_shape
    if kind == "Dense":
        in_features = layer.input_shape[-1]
        return int(np.prod(out_shape[1:-1], dtype=np.int64) * in_features * layer.units)
    if kind == "Conv2D":
        kh, kw = layer.kernel_size
        return int(np.prod(out_shape[1:], dtype=np.int64) * kh * kw * layer.input_shape[-1])
    if kind == "DepthwiseConv2D":
        kh, kw = layer.kernel_size
        return int(np.prod(out_shape[1:], dtype=np.int64) * kh * kw)
    if kind == "LSTM":
        steps, in_features = layer.input_shape[1], layer.input_shape[2]
        return int(steps * 4 * layer.units * (in_features + layer.units))
    return 0


@dataclass(frozen=True)
class ModelCard:
    """What travels with a trained model. ``normalization`` is ``Normalizer.to_dict()``."""

    architecture: str
    options: dict[str, Any]
    class_names: tuple[str, ...]
    channels: tuple[str, ...]
    rate_hz: float
    window: int
    hop: int
    normalization: dict[str, list[float]]
    split_points: tuple[str, ...]
    summary: dict[str, int]
    schema_version: int = CARD_SCHEMA_VERSION
    notes: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str, source: str) -> ModelCard:
        data = parse_strict_json(text.encode(), source)
        if not isinstance(data, dict):
            raise InputError(f"{source}: not a valid model card (a JSON object expected)")
        try:
            if data.get("schema_version") != CARD_SCHEMA_VERSION:
                raise InputError(
                    f"{source}: card schema_version {data.get('schema_version')!r}, "
                    f"expected {CARD_SCHEMA_VERSION}"
                )
            for key in ("class_names", "channels", "split_points"):
                data[key] = tuple(data[key])
            return cls(**data)
        except (KeyError, TypeError) as exc:
            raise InputError(f"{source}: not a valid model card ({exc})") from exc


MODEL_FILE = "model.keras"
CARD_FILE = "card.json"


def save(model, card: ModelCard, folder: str | Path, *, overwrite: bool = False, extra=None) -> Path:
    """Write ``model.keras`` + ``card.json`` (and ``extra(staging)`` files) atomically into ``folder``."""
    with atomic_directory(folder, overwrite=overwrite) as staging:
        model.save(staging / MODEL_FILE)
        (staging / CARD_FILE).write_text(card.to_json())
        if extra is not None:
            extra(staging)
    return Path(folder)


def load(folder: str | Path):
    """(tf_keras model, ModelCard) from a model folder written by ``save``."""
    from har_edge.tfcompat import keras

    folder = Path(folder)
    for name in (MODEL_FILE, CARD_FILE):
        if not (folder / name).is_file():
            raise InputError(f"{folder}: not a model folder ({name} missing)")
    card = ModelCard.from_json((folder / CARD_FILE).read_text(), str(folder / CARD_FILE))
    return keras().models.load_model(folder / MODEL_FILE), card
