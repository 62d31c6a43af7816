"""Lowering of an int8 STRIDED_SLICE with constant begin/end/strides (e.g. the last time step of an
LSTM's sequence output): the generator slices an index array with numpy's (= TFLite's) rules and
passes the resulting affine map (start, a step per output dimension) to ``har_slice_s8``."""

from __future__ import annotations

import numpy as np

from har_edge.codegen.graph import Graph, Op
from har_edge.codegen.lower import Layer, c_ints, lowering, refuse, require_int8, shape4

SUPPORTED = "constant begin/end/strides of rank <= 4, no ellipsis or new axis, same quantization"


def slice_indices(shape: tuple[int, ...], begin, end, strides, begin_mask: int, end_mask: int, shrink: int):
    """The flat input indices of the sliced elements, in output order (TFLite's clamping = numpy's)."""
    keys: list[slice | int] = []
    for d, size in enumerate(shape):
        if shrink >> d & 1:
            index = int(begin[d]) + (size if begin[d] < 0 else 0)
            if not 0 <= index < size:
                raise ValueError(f"index {int(begin[d])} out of range for dimension {d} of size {size}")
            keys.append(index)
            continue
        if strides[d] == 0:
            raise ValueError(f"stride 0 in dimension {d}")
        start = None if begin_mask >> d & 1 else int(begin[d])
        stop = None if end_mask >> d & 1 else int(end[d])
        keys.append(slice(start, stop, int(strides[d])))
    return np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)[tuple(keys)]


def affine_steps(indices: np.ndarray) -> tuple[int, list[int]]:
    """(start, per-dimension steps) of an index array of rank <= 4 padded to 4-D, verified affine."""
    grid = indices.reshape(shape4(indices.shape))
    start = int(grid.flat[0]) if grid.size else 0
    steps = [int(np.take(grid, 1, axis=d).flat[0]) - start if grid.shape[d] > 1 else 0 for d in range(4)]
    coords = np.indices(grid.shape).reshape(4, -1)
    if grid.size and not np.array_equal(grid.ravel(), start + np.asarray(steps) @ coords):
        raise ValueError("not an affine slice")
    return start, steps


@lowering("STRIDED_SLICE")
def strided_slice(graph: Graph, op: Op) -> Layer:
    if len(op.inputs) != 4 or min(op.inputs) < 0:
        raise refuse(op, f"inputs {list(op.inputs)}", "input, begin, end and strides")
    x, begin, end, strides = (graph.tensor(i) for i in op.inputs)
    (out,) = graph.op_outputs(op)
    require_int8(op, x, out)
    options = op.options
    bounds = (begin, end, strides)
    if len(x.shape) > 4 or options is None:
        raise refuse(op, f"rank {len(x.shape)} or no slice options", SUPPORTED)
    if not all(
        b.is_constant and b.dtype in ("int32", "int64") and b.shape == (len(x.shape),) for b in bounds
    ):
        raise refuse(
            op, "begin/end/strides that are not constant integer vectors of the input's rank", SUPPORTED
        )
    if options.ellipsisMask or options.newAxisMask or getattr(options, "offset", False):
        raise refuse(op, "ellipsis, new-axis or offset slicing", SUPPORTED)
    if x.single_scale() != out.single_scale() or x.single_zero_point() != out.single_zero_point():
        raise refuse(op, "a slice that changes quantization", SUPPORTED)
    try:
        indices = slice_indices(
            x.shape,
            begin.data,
            end.data,
            strides.data,
            options.beginMask,
            options.endMask,
            options.shrinkAxisMask,
        )
        start, steps = affine_steps(indices)
    except ValueError as exc:
        raise refuse(op, str(exc), SUPPORTED) from exc
    if indices.size != out.size:
        raise refuse(op, f"{indices.size} sliced elements for an output of {out.size}", SUPPORTED)
    fields = f".out_dims = {c_ints(shape4(indices.shape))}, .in_steps = {c_ints(steps)}, .start = {start}"
    return Layer(
        op.index,
        op.name,
        (x.index,),
        (out.index,),
        call="har_slice_s8(&{p}, {in0}, {out});",
        params=("har_slice_params", fields),
    )
