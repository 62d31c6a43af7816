"""The generator's own model checks, run once before any op is lowered (``lower.lower_graph``): a model
that passes ``tflite_verify`` can still declare shapes its kernels would read or write past, so every
op is checked against what its kernel does with its operands, and the graph against what the memory
plan assumes. Each problem is an ``UnsupportedModelError`` naming the op (and its index) or tensor.

- limits: at most ``MAX_OPS`` ops, ``MAX_TENSOR_BYTES`` per activation and ``MAX_CONSTANT_BYTES`` of
  constants (the C compiler's time and the board's memory), every dimension >= 1;
- quantization: every scale finite and > 0 (the multipliers divide by them);
- data flow: one writer per tensor, every activation written before it is read, constants and the
  model input never written, the model output written by an op;
- per op: operand counts, the options table of the op's own type, strides and filter sizes >= 1,
  a finite softmax beta, and output shapes equal to what the kernel writes (same shape for
  element-wise ops, the broadcast shape for ADD/MUL, the reduced shape for MEAN, the concatenated,
  padded or convolved shape), with weights, biases and paddings as large as the kernel reads.
"""

from __future__ import annotations

import math

import numpy as np

from har_edge.codegen.graph import Graph, Op, Tensor, UnsupportedModelError, read_graph
from har_edge.errors import InputError

MAX_OPS = 1024
MAX_TENSOR_BYTES = 32 << 20
MAX_CONSTANT_BYTES = 32 << 20
MAX_WINDOW = 1 << 16  # strides and filter sizes
KNOWN_DTYPES = {"int8", "uint8", "int16", "int32", "int64", "float32", "float16", "bool"}

ELEMENTWISE = ("SOFTMAX", "RELU", "RELU6", "RELU_N1_TO_1", "LOGISTIC", "TANH", "QUANTIZE", "DEQUANTIZE")
# op -> (fewest inputs, most inputs, positions that may be omitted (-1))
ARITY = {
    **{name: (1, 1, ()) for name in ELEMENTWISE},
    "RESHAPE": (1, 2, (1,)),
    "SQUEEZE": (1, 1, ()),
    "EXPAND_DIMS": (2, 2, ()),
    "ADD": (2, 2, ()),
    "MUL": (2, 2, ()),
    "MEAN": (2, 2, ()),
    "MAX_POOL_2D": (1, 1, ()),
    "AVERAGE_POOL_2D": (1, 1, ()),
    "CONCATENATION": (1, 64, ()),
    "PAD": (2, 2, ()),
    "PADV2": (2, 3, (2,)),
    "FULLY_CONNECTED": (2, 3, (2,)),
    "CONV_2D": (2, 3, (2,)),
    "DEPTHWISE_CONV_2D": (2, 3, (2,)),
}
# op -> the schema's options class it needs (None: may also be absent)
OPTIONS = {
    "SOFTMAX": ("SoftmaxOptionsT", False),
    "MAX_POOL_2D": ("Pool2DOptionsT", False),
    "AVERAGE_POOL_2D": ("Pool2DOptionsT", False),
    "CONV_2D": ("Conv2DOptionsT", False),
    "DEPTHWISE_CONV_2D": ("DepthwiseConv2DOptionsT", False),
    "CONCATENATION": ("ConcatenationOptionsT", False),
    "FULLY_CONNECTED": ("FullyConnectedOptionsT", True),
    "ADD": ("AddOptionsT", True),
    "MUL": ("MulOptionsT", True),
}


def check_model(data: bytes, source: str) -> None:
    """The checks another runtime (TFLM on a board) needs before it trusts a .tflite: ``tflite_verify``,
    the op limit, finite scales and, for the ops known here, operands and shapes (``check_graph`` with
    ``generator=False``); problems are ``InputError``s naming ``source``. A model with dynamic shapes
    is verified only (its op shapes are not final)."""
    try:
        graph = read_graph(data, source)
    except UnsupportedModelError:
        return
    try:
        check_graph(graph, generator=False)
    except UnsupportedModelError as exc:
        raise InputError(f"{source}: {exc}") from exc


def check_graph(graph: Graph, *, generator: bool = True) -> None:
    """Raise ``UnsupportedModelError`` for the first problem; see the module docstring. ``generator``:
    also what the generated C assumes (one input and output, known dtypes, dimensions >= 1, sizes)."""
    one_to_one = len(graph.inputs) == 1 and len(graph.outputs) == 1
    if generator and not one_to_one:
        raise UnsupportedModelError(
            f"the model has {len(graph.inputs)} inputs and {len(graph.outputs)} outputs",
            supported="exactly one input and one output tensor",
        )
    if len(graph.ops) > MAX_OPS:
        raise UnsupportedModelError(f"the model has {len(graph.ops)} ops", supported=f"at most {MAX_OPS} ops")
    _check_tensors(graph, generator)
    if one_to_one:
        _check_data_flow(graph)
    for op in graph.ops:
        if op.name in ARITY:  # other ops: lower.py refuses them (no kernel), another runtime judges them
            _check_operands(op)
            _check_options(op)
            if op.name in SHAPE_CHECKS:  # RESHAPE and its kin: lower.py compares their sizes
                SHAPE_CHECKS[op.name](graph, op)


def _problem(op: Op, problem: str, supported: str) -> UnsupportedModelError:
    return UnsupportedModelError(problem, op=op.name, index=op.index, supported=supported)


# Inputs an op keeps its state in: variable tensors that no op writes (LSTM hidden and cell state).
STATE_INPUTS = {"UNIDIRECTIONAL_SEQUENCE_LSTM": (18, 19)}


def _check_tensors(graph: Graph, generator: bool) -> None:
    constant_bytes = 0
    # Tensors no op reads or writes (an LSTM's unused intermediates, shape [0]) are never allocated.
    used = {t for op in graph.ops for t in (*op.inputs, *op.outputs) if t >= 0} | set(graph.inputs)
    for t in graph.tensors:
        if t.scale.size and not np.all(np.isfinite(t.scale) & (t.scale > 0)):
            raise UnsupportedModelError(
                f"tensor {t.name!r} has quantization scales {t.scale[:4].tolist()}",
                supported="finite scales > 0",
            )
        if not generator:
            continue
        if t.dtype not in KNOWN_DTYPES:
            raise UnsupportedModelError(
                f"tensor {t.name!r} has type {t.dtype}", supported=", ".join(sorted(KNOWN_DTYPES))
            )
        if t.index in used and any(d < 1 for d in t.shape):
            raise UnsupportedModelError(
                f"tensor {t.name!r} has shape {list(t.shape)}", supported="dimensions >= 1"
            )
        if t.is_constant:
            constant_bytes += t.nbytes
        elif t.nbytes > MAX_TENSOR_BYTES:
            raise UnsupportedModelError(
                f"tensor {t.name!r} of {t.nbytes:,} bytes",
                supported=f"activations of at most {MAX_TENSOR_BYTES:,} bytes",
            )
    if constant_bytes > MAX_CONSTANT_BYTES:
        raise UnsupportedModelError(
            f"{constant_bytes:,} bytes of constants", supported=f"at most {MAX_CONSTANT_BYTES:,} bytes"
        )


def _check_data_flow(graph: Graph) -> None:
    model_input, model_output = graph.inputs[0], graph.outputs[0]
    for index, role in ((model_input, "input"), (model_output, "output")):
        if graph.tensor(index).is_constant:
            raise UnsupportedModelError(
                f"the model {role} {graph.tensor(index).name!r} is a constant", supported="activations"
            )
    written = {model_input}
    for op in graph.ops:
        state = STATE_INPUTS.get(op.name, ())
        for position, t in enumerate(op.inputs):
            if position in state:
                continue
            if t >= 0 and not graph.tensor(t).is_constant and t not in written:
                raise _problem(
                    op, f"reads {graph.tensor(t).name!r} before any op writes it", "ops in execution order"
                )
        for t in op.outputs:
            if t in written or graph.tensor(t).is_constant:
                raise _problem(
                    op, f"writes {graph.tensor(t).name!r} again (or a constant)", "one writer per tensor"
                )
            written.add(t)
    if model_output not in written - {model_input}:
        raise UnsupportedModelError(
            f"no op writes the model output {graph.tensor(model_output).name!r}",
            supported="a computed output",
        )


def _check_operands(op: Op) -> None:
    fewest, most, optional = ARITY[op.name]
    if not fewest <= len(op.inputs) <= most or len(op.outputs) != 1:
        raise _problem(
            op, f"{len(op.inputs)} inputs and {len(op.outputs)} outputs", f"{fewest}..{most} inputs, 1 output"
        )
    for position, t in enumerate(op.inputs):
        if t < 0 and position not in optional:
            raise _problem(op, f"input {position} is omitted", "every required input present")


def _check_options(op: Op) -> None:
    if op.name not in OPTIONS:
        return
    expected, may_be_absent = OPTIONS[op.name]
    if (op.options is None and not may_be_absent) or (
        op.options is not None and type(op.options).__name__ != expected
    ):
        raise _problem(op, f"options {type(op.options).__name__}", f"{expected} options")
    for field in ("strideH", "strideW", "filterHeight", "filterWidth", "dilationHFactor", "dilationWFactor"):
        value = getattr(op.options, field, 1)
        if not 1 <= value <= MAX_WINDOW:
            raise _problem(op, f"{field} {value}", f"1..{MAX_WINDOW}")
    if op.name == "SOFTMAX" and not (math.isfinite(op.options.beta) and op.options.beta > 0):
        raise _problem(op, f"softmax beta {op.options.beta}", "a finite beta > 0")


def _shapes_must_match(op: Op, what: str, actual, expected) -> None:
    if tuple(actual) != tuple(expected):
        raise _problem(
            op, f"{what} {list(actual)}, the kernel needs {list(expected)}", "shapes consistent with the op"
        )


def _elementwise(graph: Graph, op: Op) -> None:
    x, out = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if op.name == "SOFTMAX" and not x.shape:
        raise _problem(op, "a scalar input", "inputs of rank >= 1")
    _shapes_must_match(op, "output shape", out.shape, x.shape)


def _broadcast(graph: Graph, op: Op) -> None:
    a, b = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1])
    out = graph.tensor(op.outputs[0])
    if max(len(a.shape), len(b.shape), len(out.shape)) > 4:
        raise _problem(op, "an operand of rank > 4", "rank <= 4")
    try:
        expected = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise _problem(
            op, f"shapes {list(a.shape)} and {list(b.shape)} do not broadcast", "broadcast"
        ) from None
    _shapes_must_match(op, "output shape", out.shape, expected)


def _mean(graph: Graph, op: Op) -> None:
    x, axes, out = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    rank = len(x.shape)
    if not axes.is_constant or axes.dtype not in ("int32", "int64") or rank == 0:
        raise _problem(op, "non-constant or non-integer axes", "constant int32 axes of a tensor of rank >= 1")
    values = [int(v) for v in np.ravel(axes.data)]
    if any(not -rank <= v < rank for v in values):
        raise _problem(op, f"axes {values} for rank {rank}", f"axes in [-{rank}, {rank})")
    reduced = {v % rank for v in values}
    kept = math.prod(d for a, d in enumerate(x.shape) if a not in reduced)
    if out.size != kept:
        raise _problem(op, f"output of {out.size} values, the mean gives {kept}", "a consistent output shape")


def _window_output(graph: Graph, op: Op, channels: int) -> None:
    x, out = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if len(x.shape) != 4 or x.shape[0] != 1:
        raise _problem(op, f"input shape {list(x.shape)}", "4-D NHWC input with batch 1")
    if len(out.shape) != 4 or out.shape[0] != 1 or out.shape[3] != channels:
        raise _problem(
            op, f"output shape {list(out.shape)} for {channels} channels", f"(1, h, w, {channels}) outputs"
        )


def _pool(graph: Graph, op: Op) -> None:
    x = graph.tensor(op.inputs[0])
    _window_output(graph, op, x.shape[-1] if x.shape else 0)


def _bias(graph: Graph, op: Op, channels: int) -> None:
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        bias = graph.tensor(op.inputs[2])
        if bias.size != channels:
            raise _problem(op, f"{bias.size} biases for {channels} output channels", "one bias per channel")


def _weights(graph: Graph, op: Op, rank: int) -> Tensor:
    weights = graph.tensor(op.inputs[1])
    if len(weights.shape) != rank:
        raise _problem(op, f"weights of shape {list(weights.shape)}", f"{rank}-D weights")
    return weights


def _fully_connected(graph: Graph, op: Op) -> None:
    weights = _weights(graph, op, 2)
    _bias(graph, op, weights.shape[0])


def _conv(graph: Graph, op: Op) -> None:
    weights = _weights(graph, op, 4)
    _window_output(graph, op, weights.shape[0])
    _bias(graph, op, weights.shape[0])


def _depthwise(graph: Graph, op: Op) -> None:
    weights = _weights(graph, op, 4)
    _window_output(graph, op, weights.shape[3])
    _bias(graph, op, weights.shape[3])


def _concatenation(graph: Graph, op: Op) -> None:
    out = graph.tensor(op.outputs[0])
    parts = [graph.tensor(t) for t in op.inputs]
    rank, axis = len(out.shape), op.options.axis
    if rank == 0 or not -rank <= axis < rank or any(len(p.shape) != rank for p in parts):
        raise _problem(
            op, f"axis {axis} of rank-{rank} tensors", "inputs of the output's rank, axis in range"
        )
    axis %= rank
    expected = list(out.shape)
    expected[axis] = sum(p.shape[axis] for p in parts)
    for p in parts:
        if any(d != o for a, (d, o) in enumerate(zip(p.shape, out.shape, strict=True)) if a != axis):
            raise _problem(op, f"input {list(p.shape)} for output {list(out.shape)}", "equal non-axis dims")
    _shapes_must_match(op, "output shape", out.shape, expected)


def _pad(graph: Graph, op: Op) -> None:
    x, paddings, out = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    rank = len(x.shape)
    if not paddings.is_constant or paddings.dtype not in ("int32", "int64") or paddings.shape != (rank, 2):
        raise _problem(
            op,
            f"paddings {paddings.dtype} {list(paddings.shape)}",
            f"constant int32 paddings of shape [{rank}, 2]",
        )
    widths = np.asarray(paddings.data, np.int64)
    if np.any(widths < 0) or np.any(widths > MAX_WINDOW):
        raise _problem(op, f"paddings {widths.tolist()}", f"paddings in 0..{MAX_WINDOW}")
    expected = [d + int(w.sum()) for d, w in zip(x.shape, widths, strict=True)]
    _shapes_must_match(op, "output shape", out.shape, expected)
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        value = graph.tensor(op.inputs[2])
        if not value.is_constant or value.dtype != "int8" or value.size != 1:
            raise _problem(op, f"pad value {value.dtype} {list(value.shape)}", "one constant int8 pad value")


SHAPE_CHECKS = {
    **{name: _elementwise for name in ELEMENTWISE},
    "ADD": _broadcast,
    "MUL": _broadcast,
    "MEAN": _mean,
    "MAX_POOL_2D": _pool,
    "AVERAGE_POOL_2D": _pool,
    "CONCATENATION": _concatenation,
    "PAD": _pad,
    "PADV2": _pad,
    "FULLY_CONNECTED": _fully_connected,
    "CONV_2D": _conv,
    "DEPTHWISE_CONV_2D": _depthwise,
}
