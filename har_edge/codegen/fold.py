"""Batch 1 for a dynamic batch, and the shape arithmetic it brings folded into constants.

A converter given a dynamic batch writes ``-1`` in dimension 0 of ``shape_signature`` and, around a
Dense on a 3-D input or a reshape that keeps the batch, integer ops that compute shapes at run time
(``SHAPE`` -> ``GATHER``/``STRIDED_SLICE`` -> ``REDUCE_PROD``/``PACK``/``CONCATENATION`` -> ``RESHAPE``).
TFLM runs such a file at batch 1; so does the generator: ``resolve_batch`` walks the ops in order, takes
``-1`` in dimension 0 as 1, evaluates every integer op whose inputs are then all constant (in numpy,
with TFLite's integer semantics: int32 wraps, indices are checked), drops it and makes its outputs
constants, and gives a ``RESHAPE`` fed a constant shape its resolved output shape. A ``-1`` left in
any other dimension is refused with the tensor, the dimension and the reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from har_edge.codegen.graph import Graph, Op, Tensor, UnsupportedModelError

FOLDABLE_DTYPES = ("int32", "int64", "bool")
Folder = Callable[[Op, list[np.ndarray]], list[np.ndarray]]
FOLDERS: dict[str, Folder] = {}


def folder(*names: str):
    def register(function: Folder) -> Folder:
        for name in names:
            FOLDERS[name] = function
        return function

    return register


def resolve_batch(graph: Graph) -> Graph:
    """``graph`` at batch 1 with its constant shape arithmetic folded (see the module docstring)."""
    tensors = list(graph.tensors)
    for i in graph.inputs:
        tensors[i] = _batch_one(tensors[i])
    kept = []
    for op in graph.ops:
        ins = [tensors[i] if i >= 0 else None for i in op.inputs]
        outs = [tensors[i] for i in op.outputs]
        folded = _fold(op, ins, outs)
        if folded is not None:
            for t, value in zip(outs, folded, strict=True):
                tensors[t.index] = dataclasses.replace(t, shape=tuple(value.shape), data=value)
            continue
        for t in outs:
            tensors[t.index] = _output_shape(op, ins, t)
        for t in [*ins, *(tensors[i] for i in op.outputs)]:
            if t is not None:
                _refuse_dynamic(op, t)
        kept.append(op)
    return dataclasses.replace(graph, tensors=tuple(tensors), ops=tuple(kept))


def _batch_one(t: Tensor) -> Tensor:
    if t.shape and t.shape[0] == -1 and not t.is_constant:
        return dataclasses.replace(t, shape=(1, *t.shape[1:]))
    return t


def _refuse_dynamic(op: Op, t: Tensor) -> None:
    if any(size < -1 for size in t.shape):
        raise UnsupportedModelError(
            f"tensor {t.name!r} has a negative dimension in its shape {list(t.shape)}",
            op=op.name,
            index=op.index,
            supported="dimensions >= 0 (-1 only in a shape signature, for a dynamic size)",
        )
    dynamic = [d for d, size in enumerate(t.shape) if size < 0]
    if dynamic:
        raise UnsupportedModelError(
            f"tensor {t.name!r} has a dynamic dimension {dynamic[0]} in its shape {list(t.shape)} that "
            "does not follow from the batch",
            op=op.name,
            index=op.index,
            supported="a dynamic batch (dimension 0, run at batch 1 as TFLM does) and otherwise fixed "
            "shapes (convert with a fixed input shape)",
        )


SAME_SHAPE = frozenset(
    [
        "QUANTIZE",
        "DEQUANTIZE",
        "SOFTMAX",
        "LOGISTIC",
        "TANH",
        "RELU",
        "RELU6",
        "RELU_N1_TO_1",
        "LEAKY_RELU",
        "HARD_SWISH",
        "ABS",
        "NEG",
        "LOG_SOFTMAX",
        "ELU",
        "GELU",
        "PRELU",
        "CAST",
    ]
)
BROADCASTING = frozenset(["ADD", "SUB", "MUL", "DIV", "SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM"])


def _output_shape(op: Op, ins: list[Tensor | None], out: Tensor) -> Tensor:
    """The output shape of an op the converter left dynamic, as TFLite's Prepare computes it: a
    RESHAPE from its (now constant) new shape, FULLY_CONNECTED from its input size and weights,
    element-wise ops from their inputs, and otherwise a dynamic dimension 0 from the first input's."""
    if not any(d < 0 for d in out.shape):
        return out
    x = ins[0] if ins else None
    if x is None or any(d < 0 for d in x.shape):
        return out
    shape = list(out.shape)
    if op.name == "RESHAPE" and len(ins) > 1 and ins[1] is not None and ins[1].is_constant:
        shape = _reshape_dims(x, [int(d) for d in np.ravel(ins[1].data)]) or shape
    elif op.name == "FULLY_CONNECTED" and len(ins) > 1 and ins[1] is not None and len(ins[1].shape) == 2:
        units, depth = ins[1].shape
        if getattr(op.options, "keepNumDims", False):
            shape = [*x.shape[:-1], units]
        elif depth and x.size % depth == 0:
            shape = [x.size // depth, units]
    elif op.name in SAME_SHAPE:
        shape = list(x.shape)
    elif op.name in BROADCASTING and all(t is not None and min(t.shape, default=0) >= 0 for t in ins[:2]):
        try:
            shape = list(np.broadcast_shapes(ins[0].shape, ins[1].shape))
        except ValueError:
            return out  # left dynamic: refused by the caller
    elif shape and shape[0] < 0 and x.shape:
        shape[0] = x.shape[0]
    return dataclasses.replace(out, shape=tuple(shape))


def _reshape_dims(x: Tensor, dims: list[int]) -> list[int] | None:
    known = int(np.prod([d for d in dims if d >= 0], dtype=np.int64))
    if dims.count(-1) > 1 or any(d < -1 for d in dims) or (dims.count(-1) and known == 0):
        return None
    if -1 in dims:
        dims[dims.index(-1)] = x.size // known
    return dims


def _fold(op: Op, ins: list[Tensor | None], outs: list[Tensor]) -> list[np.ndarray] | None:
    function = FOLDERS.get(op.name)
    if function is None or any(t.dtype not in FOLDABLE_DTYPES for t in outs):
        return None
    if op.name == "SHAPE":
        x = ins[0]
        if x is None or any(d < 0 for d in x.shape):
            return None
        values = [np.asarray(x.shape, np.int64)]
    else:
        present = [t for t in ins if t is not None]
        if not all(t.is_constant and t.dtype in FOLDABLE_DTYPES for t in present):
            return None
        values = [t.data for t in present]
    try:
        results = function(op, values)
    except (ValueError, IndexError, TypeError) as exc:
        raise UnsupportedModelError(
            f"its constant shape arithmetic fails at batch 1 ({exc})", op=op.name, index=op.index
        ) from exc
    return [np.asarray(r).astype(_numpy(t.dtype)) for r, t in zip(results, outs, strict=True)]


def _numpy(dtype: str):
    return {"int32": np.int32, "int64": np.int64, "bool": np.bool_}[dtype]


# ---------------------------------------------------------------------------------- the folders


@folder("SHAPE")
def _shape(op: Op, values):
    return values


@folder("GATHER")
def _gather(op: Op, values):
    params, indices = values
    axis = int(getattr(op.options, "axis", 0)) % max(params.ndim, 1)
    if int(getattr(op.options, "batchDims", 0)):
        raise ValueError("batch_dims != 0")
    if np.any((indices < 0) | (indices >= params.shape[axis])):
        raise IndexError(f"indices {indices.tolist()} out of [0, {params.shape[axis]})")
    return [np.take(params, indices, axis=axis)]


def _reduce(function):
    def fold(op: Op, values):
        x, axes = values
        axes = tuple(sorted({int(a) % max(x.ndim, 1) for a in np.ravel(axes)}))
        keep = bool(getattr(op.options, "keepDims", False))
        return [function(x, axis=axes, keepdims=keep, dtype=x.dtype)]

    return fold


folder("REDUCE_PROD")(_reduce(np.prod))
folder("SUM")(_reduce(np.sum))


@folder("REDUCE_MAX", "REDUCE_MIN")
def _extremum(op: Op, values):
    x, axes = values
    axes = tuple(sorted({int(a) % max(x.ndim, 1) for a in np.ravel(axes)}))
    function = np.max if op.name == "REDUCE_MAX" else np.min
    return [function(x, axis=axes, keepdims=bool(getattr(op.options, "keepDims", False)))]


@folder("CONCATENATION")
def _concatenation(op: Op, values):
    if getattr(op.options, "fusedActivationFunction", 0):
        raise ValueError("a fused activation on integer shapes")
    rank = max(values[0].ndim, 1)
    return [np.concatenate([np.atleast_1d(v) for v in values], axis=op.options.axis % rank)]


@folder("PACK")
def _pack(op: Op, values):
    return [np.stack(values, axis=op.options.axis % (values[0].ndim + 1))]


@folder("UNPACK")
def _unpack(op: Op, values):
    (x,) = values
    return list(np.moveaxis(x, op.options.axis % x.ndim, 0))


@folder("STRIDED_SLICE")
def _strided_slice(op: Op, values):
    x, begin, end, strides = (np.ravel(v) if i else v for i, v in enumerate(values))
    o = op.options
    if o.ellipsisMask or o.newAxisMask:
        raise ValueError("ellipsis_mask / new_axis_mask on shape arithmetic")
    index = []
    for d in range(len(begin)):
        b, e, s = int(begin[d]), int(end[d]), int(strides[d])
        if getattr(o, "offset", False):
            e = b + e
        if o.shrinkAxisMask >> d & 1:
            if not -x.shape[d] <= b < x.shape[d]:
                raise IndexError(f"index {b} out of dimension {d} of size {x.shape[d]}")
            index.append(b)
        else:
            start = None if o.beginMask >> d & 1 else b
            stop = None if o.endMask >> d & 1 else e
            index.append(slice(start, stop, s))
    return [x[tuple(index)]]


@folder("SLICE")
def _slice(op: Op, values):
    x, begin, size = values
    index = tuple(
        slice(int(b), x.shape[d] if int(n) == -1 else int(b) + int(n))
        for d, (b, n) in enumerate(zip(np.ravel(begin), np.ravel(size), strict=True))
    )
    return [x[index]]


@folder("CAST")
def _cast(op: Op, values):
    return [values[0]]  # the caller casts to the output's type


@folder("RESHAPE")
def _reshape(op: Op, values):
    shape = values[1] if len(values) > 1 else getattr(op.options, "newShape", None)
    if shape is None:
        raise ValueError("no new shape")
    return [np.reshape(values[0], [int(d) for d in np.ravel(shape)])]


@folder("SQUEEZE")
def _squeeze(op: Op, values):
    axes = tuple(int(a) for a in (getattr(op.options, "squeezeDims", None) or ()))
    return [np.squeeze(values[0], axis=axes or None)]


@folder("EXPAND_DIMS")
def _expand_dims(op: Op, values):
    return [np.expand_dims(values[0], int(np.ravel(values[1])[0]))]


_ARITHMETIC = {"ADD": np.add, "SUB": np.subtract, "MUL": np.multiply, "FLOOR_DIV": np.floor_divide}


@folder(*_ARITHMETIC)
def _arithmetic(op: Op, values):
    a, b = values
    if getattr(op.options, "fusedActivationFunction", 0):
        raise ValueError("a fused activation on integer shapes")
    if op.name == "FLOOR_DIV" and np.any(b == 0):
        raise ValueError("division by zero")
    return [_ARITHMETIC[op.name](a, b, dtype=np.result_type(a, b))]
