"""Constant channels folded away: a FULLY_CONNECTED output row whose int8 weights are all zero is a
constant (its bias requantized, offset and clamped), at every time step; its consumers need not read it.

A consumer FULLY_CONNECTED's accumulator is ``bias[i] + sum_j w[i, j] * (x_j + input_offset)`` in exact
int32 arithmetic, so a constant input column ``j`` (value ``v_j``) adds ``w[i, j] * (v_j + input_offset)``
to the bias and the column disappears; the producer then stops computing that row. Between the two,
ops that keep the flat order (RESHAPE, SQUEEZE, EXPAND_DIMS) carry the constant channels along: channel
``c`` of a 200x8 tensor is columns ``t * 8 + c`` of the 1600 a flattening RESHAPE feeds to the classifier.
The folded graph computes the same bytes as the original one (bit-exact by construction); its layers
are smaller, so block or unit pruning that empties whole rows becomes a physically smaller model.

``fold_constant_channels`` walks the ops in order, so a row whose only non-zero weights read constant
columns becomes constant in turn (chains). A producer's rows are removed only when every reader of its
output (through those order-keeping ops) is a FULLY_CONNECTED that can fold them, the folded biases
fit in int32, and no such tensor is the model's output: the model output is always written in full.
CONV_2D consumers are never folded (its zero padding makes a constant channel's contribution depend
on the position). At least one row of a layer is kept, so no tensor becomes empty.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from har_edge.codegen import quant
from har_edge.codegen.checks import check_graph
from har_edge.codegen.graph import Graph, Op, Tensor
from har_edge.codegen.lower import ACTIVATIONS, refuse_flex_and_hybrid
from har_edge.codegen.ops_conv import fc_expected_instructions

ORDER_KEEPING = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
INT32 = np.iinfo(np.int32)


@dataclass(frozen=True, eq=False)
class FoldedGraph:
    """The folded graph; per tensor whose size changed, the flat positions of the original tensor it
    holds (to compare its bytes with the reference's); per FULLY_CONNECTED op changed, what was folded:
    ``folded_rows`` (constant outputs no longer computed), ``folded_columns`` (inputs taken into the
    biases), ``macs_unfolded`` and ``expected_instruction_ratio`` (expected instructions of the folded
    layer over the unfolded one, both in the form the generator chooses: an estimate)."""

    graph: Graph
    kept: dict[int, np.ndarray]
    report: dict[int, dict]


@dataclass(frozen=True)
class _Fc:
    x: Tensor
    weights: Tensor
    bias: Tensor | None
    out: Tensor


def _fc(tensors: list[Tensor], op: Op) -> _Fc | None:
    """The operands of a FULLY_CONNECTED in the form the pass folds (per-tensor int8 activations whose
    last axis is the depth / the units, constant 2-D symmetric int8 weights, constant int32 biases),
    or None: anything else is left for the lowering to judge."""
    if op.name != "FULLY_CONNECTED" or len(op.inputs) < 2 or len(op.outputs) != 1 or min(op.inputs[:2]) < 0:
        return None
    x, weights, out = tensors[op.inputs[0]], tensors[op.inputs[1]], tensors[op.outputs[0]]
    bias = tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    if (
        getattr(op.options, "weightsFormat", 0) != 0
        or getattr(op.options, "fusedActivationFunction", 0) not in ACTIVATIONS
    ):
        return None
    if any(t.dtype != "int8" or t.scale.size != 1 for t in (x, out)) or x.is_constant:
        return None
    if (
        weights.dtype != "int8"
        or not weights.is_constant
        or len(weights.shape) != 2
        or np.any(weights.zero_point)
    ):
        return None
    units, depth = weights.shape
    if (
        min(units, depth, x.size) < 1
        or weights.scale.size not in (1, units)
        or not x.shape
        or x.shape[-1] != depth
        or out.shape[-1:] != (units,)
    ):
        return None
    if x.size // depth * units != out.size:
        return None
    if bias is not None and (bias.dtype != "int32" or not bias.is_constant or bias.size != units):
        return None
    return _Fc(x, weights, bias, out)


def constant_rows(tensors, op: Op) -> tuple[np.ndarray, np.ndarray]:
    """(mask, values): the rows of FULLY_CONNECTED ``op`` (in the form the pass folds) whose weights are
    all zero, and the int8 value each outputs (its bias requantized as the reference kernel does, plus
    the output zero point, clamped)."""
    fc = _fc(tensors, op)
    units = fc.weights.shape[0]
    multiplier, shift = quant.conv_multipliers(
        fc.x.single_scale(), fc.weights.scale, fc.out.single_scale(), units
    )
    bias = None if fc.bias is None else fc.bias.data
    mask, values = quant.constant_outputs(
        fc.weights.data, bias, multiplier, shift, fc.out.single_zero_point(), quant.SINGLE
    )
    activation = ACTIVATIONS[getattr(op.options, "fusedActivationFunction", 0)]
    lo, hi = quant.activation_range(activation, fc.out.single_scale(), fc.out.single_zero_point())
    return mask, np.clip(values, lo, hi)


def _readers(ops: list[Op], tensor: int) -> list[tuple[int, int]]:
    return [(i, position) for i, op in enumerate(ops) for position, t in enumerate(op.inputs) if t == tensor]


def _same_quantization(a: Tensor, b: Tensor) -> bool:
    return (
        a.dtype == b.dtype and np.array_equal(a.scale, b.scale) and np.array_equal(a.zero_point, b.zero_point)
    )


def _tree(tensors, ops, outputs, start: int) -> tuple[list[int], list[int]] | None:
    """(tensors reached from ``start`` through order-keeping ops, FULLY_CONNECTED readers of them), or
    None when some reader cannot fold or one of the tensors is the model output."""
    reached, consumers, todo = [], [], [start]
    while todo:
        t = todo.pop()
        if t in outputs:
            return None
        reached.append(t)
        for i, position in _readers(ops, t):
            op = ops[i]
            if position != 0:
                return None
            if op.name in ORDER_KEEPING and len(op.outputs) == 1:
                after = tensors[op.outputs[0]]
                if not _same_quantization(tensors[t], after) or after.size != tensors[t].size:
                    return None
                todo.append(op.outputs[0])
            elif _fc(tensors, op) is not None:
                consumers.append(i)
            else:
                return None
    return reached, consumers


def _new_tensor(tensors: list[Tensor], like: Tensor, data: np.ndarray, **changes) -> int:
    """Appends a constant tensor like ``like`` holding ``data``; its index."""
    index = len(tensors)
    tensors.append(dataclasses.replace(like, index=index, shape=data.shape, data=data, **changes))
    return index


def _fold_into(tensors, ops, report, i: int, columns: np.ndarray, values: np.ndarray) -> None:
    """Consumer ``ops[i]`` without the input ``columns``, whose constant ``values`` its biases absorb."""
    op = ops[i]
    fc = _fc(tensors, op)
    w = fc.weights.data
    bias = np.zeros(w.shape[0], np.int64) if fc.bias is None else fc.bias.data.astype(np.int64).ravel()
    bias = bias + w[:, columns].astype(np.int64) @ (values.astype(np.int64) - fc.x.single_zero_point())
    like_bias = fc.bias or dataclasses.replace(
        fc.weights,
        name=f"{fc.weights.name}/folded_bias",
        dtype="int32",
        scale=np.zeros(0, np.float32),
        zero_point=np.zeros(0, np.int64),
    )
    new_weights = _new_tensor(tensors, fc.weights, np.ascontiguousarray(w[:, ~columns]))
    new_bias = _new_tensor(tensors, like_bias, bias.astype(np.int32))
    ops[i] = dataclasses.replace(op, inputs=(op.inputs[0], new_weights, new_bias, *op.inputs[3:]))
    report[op.index]["folded_columns"] += int(columns.sum())


def _kept_rows(tensors: list[Tensor], tensor: Tensor, keep: np.ndarray) -> int:
    """Appends ``tensor`` (weights or biases, rows first) with only the rows ``keep``, per-channel
    quantization included; its index."""
    data = tensor.data.reshape(len(keep), -1)[keep].reshape(-1, *tensor.shape[1:])

    def per_channel(values: np.ndarray) -> np.ndarray:
        return values[keep] if values.size == len(keep) > 1 else values

    return _new_tensor(
        tensors,
        tensor,
        np.ascontiguousarray(data),
        scale=per_channel(tensor.scale),
        zero_point=per_channel(tensor.zero_point),
    )


def _remove_rows(tensors, ops, i: int, keep: np.ndarray) -> None:
    op = ops[i]
    fc = _fc(tensors, op)
    inputs = [op.inputs[0], _kept_rows(tensors, fc.weights, keep), *op.inputs[2:]]
    if fc.bias is not None:
        inputs[2] = _kept_rows(tensors, fc.bias, keep)
    ops[i] = dataclasses.replace(op, inputs=tuple(inputs))


def _unread(tensors, ops, consumers: list[int], units: int, steps: int) -> np.ndarray:
    """The producer's rows that no consumer reads: their columns are all zero in every consumer."""
    unread = np.ones(units, bool)
    for c in consumers:
        w = _fc(tensors, ops[c]).weights.data
        zero = ~w.any(axis=0)
        unread &= np.tile(zero, steps * units // w.shape[1]).reshape(steps, units).all(axis=0)
    return unread


def _consumer_folds(tensors, ops, consumers, flat_mask, flat_values):
    """Per consumer (its index, the input columns to fold, their values), or None when some consumer
    cannot fold them (constant positions that differ between its rows, biases that leave int32)."""
    folds = []
    for c in consumers:
        consumer = _fc(tensors, ops[c])
        depth = consumer.weights.shape[1]
        m, v = flat_mask.reshape(-1, depth), np.where(flat_mask, flat_values, 0).reshape(-1, depth)
        if not (np.all(m == m[0]) and np.all(v == v[0])):
            return None
        columns, column_values = m[0], v[0][m[0]]
        w = consumer.weights.data[:, columns].astype(np.int64)
        bias = consumer.bias
        base = np.zeros(len(w), np.int64) if bias is None else bias.data.astype(np.int64).ravel()
        folded = base + w @ (column_values.astype(np.int64) - consumer.x.single_zero_point())
        if folded.min(initial=0) < INT32.min or folded.max(initial=0) > INT32.max:
            return None
        folds.append((c, columns, column_values))
    return folds


def _try_fold(tensors, ops, outputs, i: int, kept, report) -> bool:
    """Removes the constant and the unread rows of FULLY_CONNECTED ``ops[i]``, folding the constant ones
    into its readers, when all of them can take them; whether it did."""
    fc = _fc(tensors, ops[i])
    tree = None if fc is None else _tree(tensors, ops, outputs, fc.out.index)
    if tree is None:
        return False
    reached, consumers = tree
    constant, values = constant_rows(tensors, ops[i])
    units = len(constant)
    steps = fc.out.size // units
    remove = constant | _unread(tensors, ops, consumers, units, steps)
    if remove.all():
        remove[0] = False  # one row stays: no tensor becomes empty
    if not remove.any():
        return False
    flat_mask, flat_values = np.tile(remove, steps), np.tile(np.where(constant, values, 0), steps)
    folds = _consumer_folds(tensors, ops, consumers, flat_mask, flat_values)
    if folds is None:
        return False
    for c, columns, column_values in folds:
        _fold_into(tensors, ops, report, c, columns, column_values)
    _remove_rows(tensors, ops, i, ~remove)
    report[ops[i].index]["folded_rows"] += int((remove & constant).sum())
    report[ops[i].index]["unread_rows"] += int((remove & ~constant).sum())
    positions = np.flatnonzero(~flat_mask)
    for t in reached:
        tensor = tensors[t]
        last = tensor.shape[-1] if tensor.shape else 1
        rows = flat_mask.reshape(-1, last) if flat_mask.size % last == 0 else None
        if rows is not None and np.all(rows == rows[0]):
            shape = (*tensor.shape[:-1], int((~rows[0]).sum()))
        else:
            shape = (positions.size,)
        tensors[t] = dataclasses.replace(tensor, shape=shape)
        kept[t] = kept[t][positions] if t in kept else positions
    return True


def fold_constant_channels(graph: Graph) -> FoldedGraph:
    """``graph`` with the constant rows of its FULLY_CONNECTED ops folded into their readers and the rows
    no reader uses removed, repeated until nothing changes (see the module docstring); ``graph``
    itself when nothing folds."""
    refuse_flex_and_hybrid(graph)  # what lower_graph refuses first, before anything is folded
    check_graph(graph)
    tensors, ops = list(graph.tensors), list(graph.ops)
    kept: dict[int, np.ndarray] = {}
    report: dict[int, dict] = defaultdict(lambda: {"folded_rows": 0, "unread_rows": 0, "folded_columns": 0})
    before = {op.index: _fc(tensors, op) for op in ops}
    changed = True
    while changed:  # each pass that changes something shrinks a tensor
        changed = False
        for i in range(len(ops)):
            changed |= _try_fold(tensors, ops, graph.outputs, i, kept, report)
    if not report:
        return FoldedGraph(graph, {}, {})
    for index, entry in report.items():
        op = next(op for op in ops if op.index == index)
        entry["macs_unfolded"] = _macs(before[index])
        ratio = _expected(op, _fc(tensors, op)) / _expected(op, before[index])
        entry["expected_instruction_ratio"] = round(ratio, 3)
    folded = dataclasses.replace(graph, tensors=tuple(tensors), ops=tuple(ops))
    return FoldedGraph(folded, kept, dict(report))


def _macs(fc: _Fc) -> int:
    return fc.x.size * fc.weights.shape[0]


def _expected(op: Op, fc: _Fc) -> float:
    return fc_expected_instructions(op, fc.out, fc.weights.data, fc.x.size // fc.weights.shape[1])
