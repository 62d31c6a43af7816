"""Ahead-of-time C generation for int8 .tflite models (batch 1; a dynamic batch is run at batch 1,
``fold.py``), with int8 or float32 (QUANTIZE/DEQUANTIZE) interfaces: ``generate`` (sources in memory),
``write_project`` (a buildable folder for a board), ``layer_macs`` (per-layer multiply-accumulates,
for instructions per MAC), and the cross-check against LiteRT's reference kernels (``verify``)."""

from __future__ import annotations

from har_edge.codegen.emit import GeneratedModel, LayerInfo, generate
from har_edge.codegen.graph import UnsupportedModelError


def layer_macs(model_bytes: bytes) -> tuple[tuple[str, int], ...]:
    """(layer name, MACs) of every layer, in the order and with the indices of HAR_LAYER_BEGIN
    (shape-only layers count 0). Raises ``UnsupportedModelError`` for a model that cannot be generated."""
    return tuple((layer.name, layer.macs) for layer in generate(model_bytes).layers)


__all__ = ["GeneratedModel", "LayerInfo", "UnsupportedModelError", "generate", "layer_macs"]
