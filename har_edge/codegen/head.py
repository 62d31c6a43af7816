"""The trainable float32 head as C: its weights, shapes and identity for ``firmware/head/``.

``head_spec`` reads a bundle's head through the TF-free runtime (the ``get_weights`` signature in
LiteRT) together with the identity a device checkpoint carries (SHA-256 of base.tflite and head.tflite,
CRC-32 of the labels); ``head_sources`` turns it into ``head_config.h`` (shapes, ``HEAD_MAX_BATCH``,
``HEAD_SLOT_BYTES``, identity) and ``head_params.c`` (the initial parameters as an ``alignas(16)
const`` array in flash, which ``head_init`` copies to RAM); ``write_head`` puts them and the hand-
written head runtime (head.c, checkpoint.c, optionally one harness) into a project folder.
Floats are written in the shortest decimal form that reads back to the same float32.
"""

from __future__ import annotations

import shutil
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from har_edge.errors import InputError
from har_edge.firmware.sources import firmware_root
from har_edge.runtime.bundle import BASE_FILE, HEAD_FILE, Bundle
from har_edge.runtime.head import HeadWeights

HEADER_BYTES = 96
TRAILER_BYTES = 4
SLOT_ALIGN = 1024  # slots start on 1 KiB boundaries (a common flash page); any multiple of 4 works
DEFAULT_MAX_BATCH = 32
RUNTIME_FILES = ("head.h", "head.c", "checkpoint.h", "checkpoint.c")
HARNESSES = ("head_harness.c", "personalize_harness.c")  # each has its own main(): at most one per project
HARNESS_IO_FILES = ("head_io.h", "head_io.c")
SHA256_HEX = 64


def labels_crc32(labels: Sequence[str]) -> int:
    """CRC-32 of the class labels (UTF-8, joined by newlines): the label identity in a checkpoint."""
    return zlib.crc32("\n".join(labels).encode("utf-8"))


def parameter_count(weights: HeadWeights) -> int:
    return sum(array.size for layer in weights.layers for array in layer)


def slot_bytes(n_parameters: int, align: int = SLOT_ALIGN) -> int:
    """Bytes per checkpoint slot: header + float32 payload + CRC trailer, rounded up to ``align``."""
    used = HEADER_BYTES + 4 * n_parameters + TRAILER_BYTES
    return -(-used // align) * align


@dataclass(frozen=True, eq=False)
class HeadSpec:
    """What the C head is generated from: the starting weights, batch capacity and identity."""

    weights: HeadWeights
    labels: tuple[str, ...]
    base_sha256: str
    head_sha256: str
    max_batch: int = DEFAULT_MAX_BATCH

    def __post_init__(self) -> None:
        if not (isinstance(self.max_batch, int) and self.max_batch >= 1):
            raise InputError(f"max_batch must be a positive integer, got {self.max_batch!r}")
        for name in ("base_sha256", "head_sha256"):
            value = getattr(self, name)
            if len(value) != SHA256_HEX or any(c not in "0123456789abcdef" for c in value):
                raise InputError(f"{name} must be 64 lowercase hex digits, got {value!r}")
        if len(self.labels) != self.weights.n_classes:
            raise InputError(f"{len(self.labels)} labels for a head with {self.weights.n_classes} classes")

    @property
    def n_parameters(self) -> int:
        return parameter_count(self.weights)

    @property
    def slot_bytes(self) -> int:
        return slot_bytes(self.n_parameters)

    @property
    def ram_bytes(self) -> int:
        """Head RAM as head.h's HEAD_RAM_BYTES: parameters + step scratch for ``max_batch``."""
        hidden = self.weights.hidden or 0
        scratch = self.max_batch * self.weights.n_classes + 2 * self.max_batch * hidden
        return 4 * (self.n_parameters + scratch)

    @property
    def batch_cache_bytes(self) -> int:
        """The caller's mini-batch buffers: features and one-hot labels for ``max_batch`` samples."""
        return 4 * self.max_batch * (self.weights.n_features + self.weights.n_classes)


def head_spec(
    bundle: Bundle,
    *,
    max_batch: int = DEFAULT_MAX_BATCH,
    weights: HeadWeights | None = None,
    labels: Sequence[str] | None = None,
) -> HeadSpec:
    """The spec of ``bundle``'s head, read with LiteRT: its exported weights and the manifest's labels
    unless ``weights`` (of the exported shapes) or ``labels`` (as many as the head has classes) are given."""
    from har_edge.runtime.classifier import HeadSession, check_head_shapes

    session = HeadSession(bundle.head, num_threads=1)
    if weights is None:
        weights = session.weights()
    check_head_shapes(session.weight_shapes, weights.named())
    files = bundle.manifest.files
    return HeadSpec(
        weights=weights,
        labels=tuple(bundle.manifest.class_labels if labels is None else labels),
        base_sha256=files[BASE_FILE].sha256,
        head_sha256=files[HEAD_FILE].sha256,
        max_batch=max_batch,
    )


def _c_floats(values: np.ndarray, per_line: int = 8) -> str:
    texts = [np.format_float_scientific(v, unique=True) + "f" for v in values.astype(np.float32).ravel()]
    lines = (", ".join(texts[i : i + per_line]) for i in range(0, len(texts), per_line))
    return ",\n".join("    " + line for line in lines)


def _c_bytes(hex_digest: str) -> str:
    return ", ".join(f"0x{hex_digest[i : i + 2]}" for i in range(0, len(hex_digest), 2))


def head_sources(spec: HeadSpec) -> dict[str, str]:
    """``{"head_config.h": ..., "head_params.c": ...}`` for ``spec``."""
    w = spec.weights
    config = f"""/* Generated by har_edge.codegen.head from the bundle's head.tflite; do not edit. */
#ifndef HAR_HEAD_CONFIG_H
#define HAR_HEAD_CONFIG_H

#include <stdint.h>

#define HEAD_FEATURES {w.n_features}
#define HEAD_HIDDEN {w.hidden or 0}
#define HEAD_CLASSES {w.n_classes}
#define HEAD_MAX_BATCH {spec.max_batch}
#define HEAD_SLOT_BYTES {spec.slot_bytes}u
#define HEAD_LABELS_CRC32 0x{labels_crc32(spec.labels):08x}u /* labels: {", ".join(spec.labels)} */

extern const float head_initial_params[{spec.n_parameters}];
extern const uint8_t head_base_sha256[32];
extern const uint8_t head_head_sha256[32];

#endif
"""
    arrays = [array for layer in w.layers for array in layer]
    params = f"""/* Generated by har_edge.codegen.head; the bundle's head parameters, w0, b0[, w1, b1]. */
#include "head.h"

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#include <stdalign.h>
#define HEAD_ALIGNED alignas(16)
#else
#define HEAD_ALIGNED /* C99 has no alignment specifier; the floats are 4-byte aligned */
#endif

HEAD_ALIGNED const float head_initial_params[HEAD_PARAM_COUNT] = {{
{_c_floats(np.concatenate([a.ravel() for a in arrays]))}
}};

/* SHA-256 of base.tflite */
const uint8_t head_base_sha256[32] = {{{_c_bytes(spec.base_sha256)}}};
/* SHA-256 of head.tflite */
const uint8_t head_head_sha256[32] = {{{_c_bytes(spec.head_sha256)}}};
"""
    return {"head_config.h": config, "head_params.c": params}


def write_head(spec: HeadSpec, out_dir: str | Path, *, harness: str | None = None) -> list[Path]:
    """Write the generated files and the head runtime into ``out_dir``, plus one of ``HARNESSES``."""
    if harness is not None and harness not in HARNESSES:
        raise InputError(f"harness {harness!r}, expected one of {HARNESSES}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in head_sources(spec).items():
        (out_dir / name).write_text(text)
        written.append(out_dir / name)
    for name in (*RUNTIME_FILES, *((harness, *HARNESS_IO_FILES) if harness else ())):
        shutil.copyfile(firmware_root() / "head" / name, out_dir / name)
        written.append(out_dir / name)
    return written
