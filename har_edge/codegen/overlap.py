"""Which kernels may write their output over their input while they run, and how far ahead of the
input the output must start (the *margin*, in bytes), so the memory plan (``plan.py``) can overlap
the two buffers when the input dies at that op.

The rule is per C kernel, named explicitly: a kernel not listed here never overlaps (a new or
rewritten kernel does not inherit a rule it may break). Every listed kernel has this property (see
the C in ``firmware/runtime/``):

*Window kernels* (``har_conv_s8``, ``har_depthwise_s8``, ``har_max_pool_s8``, ``har_avg_pool_s8``;
NHWC, batch 1): output rows are written in order, one after the other, and
every byte of output row ``oy`` is written after the last read of the input rows above
``r(oy) = clamp(oy * stride_h - pad_top, 0, in_h)``: computing rows >= oy reads input rows >= r(oy)
only (the window of row ``oy`` starts at ``oy * stride_h - pad_top``, clipped to the input). Within
a row, pixels and channels may go in any order. With the output starting ``margin`` bytes before the
input, output row ``oy`` ends at ``(oy + 1) * out_row - margin`` from the input's start, which must
not pass ``r(oy) * in_row``, the first input byte still to be read:

    margin = max over oy of (oy + 1) * out_row - r(oy) * in_row

A larger margin is as safe (the writes only move further below the reads). In-place layers
(``lower.Layer.in_place``: element-wise ops, a narrower per-time-step FULLY_CONNECTED) lie exactly over
their input instead; ``plan.py`` handles them without this module.

``HAR_EDGE_ARENA_OVERLAP=0`` in the environment (or ``generate(..., overlap=False)``) turns the
window rule off, should a kernel's loop order ever change before its rule here does.
"""

from __future__ import annotations

import os
import re

from har_edge.codegen.graph import Graph
from har_edge.codegen.lower import Layer

ENVIRONMENT = "HAR_EDGE_ARENA_OVERLAP"

# Not har_conv_sparse_s8: it runs channel groups outer (conv_sparse.c), so every input row is read again
# for each group after earlier groups wrote their outputs.
WINDOW_KERNELS = frozenset({"har_conv_s8", "har_depthwise_s8", "har_max_pool_s8", "har_avg_pool_s8"})


def enabled(overlap: bool | None = None) -> bool:
    """``overlap`` when given, else on unless the environment sets ``HAR_EDGE_ARENA_OVERLAP=0``."""
    if overlap is not None:
        return overlap
    return os.environ.get(ENVIRONMENT, "1").strip() not in ("0", "false", "no", "off")


def window_margin(in_h: int, in_row: int, out_h: int, out_row: int, stride_h: int, pad_top: int) -> int:
    """The smallest margin (bytes the output starts before the input) for a window kernel; rows of
    ``in_row`` / ``out_row`` bytes."""
    return max(
        (oy + 1) * out_row - min(max(oy * stride_h - pad_top, 0), in_h) * in_row for oy in range(out_h)
    )


def kernel_name(layer: Layer) -> str | None:
    """The C function a layer calls (``har_conv_s8(&l3_p, ...)`` -> ``har_conv_s8``)."""
    match = re.match(r"\s*(\w+)\(", layer.call)
    return match.group(1) if match else None


def output_margin(graph: Graph, layer: Layer) -> int | None:
    """The margin by which ``layer``'s output may overlap its input 0, or None (no overlap)."""
    if kernel_name(layer) not in WINDOW_KERNELS:
        return None
    from har_edge.codegen.ops_conv import padding

    op = next(op for op in graph.ops if op.index == layer.index)
    x, out = graph.tensor(layer.reads[0]), graph.tensor(layer.writes[0])
    if len(x.shape) != 4 or len(out.shape) != 4 or x.nbytes != x.size or out.nbytes != out.size:
        return None  # the window kernels are int8 NHWC; anything else is not theirs
    if op.name in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        k_h = op.options.filterHeight
    else:
        k_h = graph.tensor(op.inputs[1]).shape[
            1
        ]  # CONV_2D (out_c, k_h, k_w, in_c), depthwise (1, k_h, k_w, c)
    _, in_h, in_w, in_c = x.shape
    _, out_h, out_w, out_c = out.shape
    pad_top = padding(op, in_h, k_h, op.options.strideH, out_h)
    return window_margin(in_h, in_w * in_c, out_h, out_w * out_c, op.options.strideH, pad_top)
