"""The bundle writer: the base as TFLite (float32, float16, dynamic or int8 with int8 I/O, plus
an optional batch-1 int8 variant for microcontrollers), the trainable float32 head with its
signatures, and ``manifest.json`` (see ``har_edge.runtime.bundle``). Atomic: the bundle is built in
a temporary folder and renamed into place, and it is read back and verified before ``export_bundle``
returns. Needs TensorFlow.
"""

from __future__ import annotations

import platform
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from har_edge.errors import InputError
from har_edge.export.head import head_tflite
from har_edge.export.same_graph import same_graph_base
from har_edge.fsutil import atomic_directory, atomic_write_bytes
from har_edge.models import ModelCard, architecture
from har_edge.optimize.quantize import Precision, convert, requires_fixed_batch
from har_edge.runtime.bundle import (
    BASE_FILE,
    HEAD_FILE,
    MANIFEST_FILE,
    MCU_BASE_FILE,
    Manifest,
    Quantization,
    file_entry,
    open_bundle,
)
from har_edge.runtime.head import HeadWeights
from har_edge.runtime.interpreter import load_interpreter

TOOL_PACKAGES = ("har-edge", "tensorflow", "tf-keras", "tensorflow-model-optimization", "numpy")


@dataclass(frozen=True)
class ExportRequest:
    """What goes into a bundle. ``representative`` (normalized windows) is required for int8."""

    base_model: Any
    head: HeadWeights
    card: ModelCard
    split_layer: str
    feature_shape: tuple[int, ...]
    class_labels: tuple[str, ...]
    precision: Precision = Precision.INT8
    representative: np.ndarray | None = None
    mcu_variant: bool = False
    optimization: dict[str, Any] = field(default_factory=dict)


def export_bundle(
    request: ExportRequest, folder: str | Path, *, overwrite: bool = False, zip_too: bool = False
):
    """Convert, write and verify a bundle; returns the opened ``Bundle``."""
    _check_request(request)
    int8 = request.precision == Precision.INT8
    recurrent = requires_fixed_batch(request.base_model)  # LSTM kernels need a static batch
    files = {
        BASE_FILE: convert(
            request.base_model,
            request.precision,
            representative=request.representative,
            int8_io=int8,
            fixed_batch=recurrent,
        ),
        HEAD_FILE: head_tflite(request.head),
    }
    if request.mcu_variant:
        files[MCU_BASE_FILE] = convert(
            request.base_model,
            Precision.INT8,
            representative=request.representative,
            int8_io=True,
            fixed_batch=True,
        )
        same = same_graph_base(files[MCU_BASE_FILE]) if int8 and not recurrent else None
        if same is not None:  # the host runs the MCU's integer graph (har_edge.export.same_graph)
            files[BASE_FILE] = same
    manifest = _manifest(request, files)
    folder = Path(folder)
    with atomic_directory(folder, overwrite=overwrite) as staging:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        (staging / MANIFEST_FILE).write_text(manifest.to_json())
    if zip_too:
        atomic_write_bytes(folder.with_suffix(".zip"), _zip_bytes(folder))
    return open_bundle(folder)


def _check_request(request: ExportRequest) -> None:
    n_features = int(np.prod(request.feature_shape))
    if request.head.n_features != n_features:
        raise InputError(
            f"head expects {request.head.n_features} features but the base at {request.split_layer!r} "
            f"gives {n_features} {request.feature_shape}"
        )
    if request.head.n_classes != len(request.class_labels):
        raise InputError(
            f"head has {request.head.n_classes} outputs but {len(request.class_labels)} labels given"
        )
    if len(set(request.class_labels)) != len(request.class_labels):
        raise InputError(f"class labels must be distinct: {list(request.class_labels)}")


def _manifest(request: ExportRequest, files: dict[str, bytes]) -> Manifest:
    card = request.card
    base_in, base_out = _io_quantization(files[BASE_FILE])
    return Manifest(
        class_labels=tuple(request.class_labels),
        window=card.window,
        hop=card.hop,
        rate_hz=card.rate_hz,
        channels=card.channels,
        normalization=card.normalization,
        input_layout=architecture(card.architecture).input_layout,
        architecture=card.architecture,
        split_layer=request.split_layer,
        base_precision=request.precision.value,
        feature_shape=tuple(int(d) for d in request.feature_shape),
        base_input_quantization=base_in,
        base_output_quantization=base_out,
        head_hidden=request.head.hidden,
        files={name: file_entry(data) for name, data in files.items()},
        tools=_tool_versions(),
        created_utc=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        optimization=request.optimization,
    )


def _io_quantization(tflite: bytes) -> tuple[Quantization | None, Quantization | None]:
    interpreter = load_interpreter(tflite)
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    return _quantization(inp), _quantization(out)


def _quantization(detail: dict) -> Quantization | None:
    if not np.issubdtype(detail["dtype"], np.integer):
        return None
    scale, zero_point = detail["quantization"]
    return Quantization(float(scale), int(zero_point))


def _tool_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in TOOL_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _zip_bytes(folder: Path) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, arcname=f"{folder.name}/{path.name}")
    return buffer.getvalue()
