"""Lowering of the int8 UNIDIRECTIONAL_SEQUENCE_LSTM (TFLite's 8x8_16 arithmetic: int8 input, weights
and hidden state, int16 gates and cell state; parameters from ``quant_lstm``) as Keras LSTM layers
convert: four gates with input and recurrent weights, gate biases, tanh, batch 1. Peephole (CIFG,
diagonal) connections, projection and layer normalization are refused. The kernel starts every
inference from the reset state (hidden = its zero point, cell = 0), as a Keras LSTM does per window
and as LiteRT after ``reset_all_variables``."""

from __future__ import annotations

import functools

import numpy as np

from har_edge.codegen import quant_lstm
from har_edge.codegen.graph import Graph, Op, Tensor
from har_edge.codegen.lower import CArray, Layer, c_ints, lowering, refuse, require_int8
from har_edge.codegen.ops_conv import interleave

INPUT_WEIGHTS, RECURRENT_WEIGHTS, BIASES = (1, 2, 3, 4), (5, 6, 7, 8), (12, 13, 14, 15)
PEEPHOLES, PROJECTION, LAYER_NORM = (9, 10, 11), (16, 17), (20, 21, 22, 23)
OUTPUT_STATE, CELL_STATE = 18, 19
TANH = 4
SUPPORTED = (
    "a Keras LSTM quantized to int8 with int16 cell state "
    "(four gates, tanh, no peephole, projection or layer norm)"
)


@functools.lru_cache(maxsize=4)
def _intermediates(model: bytes) -> dict[int, list[int]]:
    from ai_edge_litert import schema_py_generated as schema

    subgraph = schema.ModelT.InitFromPackedBuf(bytearray(model), 0).subgraphs[0]
    return {
        i: list(op.intermediates if op.intermediates is not None else [])
        for i, op in enumerate(subgraph.operators)
    }


def _hidden_quantization(graph: Graph, op: Op) -> tuple[float, int]:
    """Scale and zero point of intermediate 4 (the hidden state o * tanh(c) before the output)."""
    model = graph.description.get("bytes")
    indices = _intermediates(model).get(op.index, []) if model else []
    valid = len(indices) == 5 and 0 <= indices[4] < len(graph.tensors)
    hidden = graph.tensor(indices[4]) if valid else None
    if hidden is None or hidden.scale.size != 1:
        raise refuse(op, "no quantized hidden-state intermediate tensor", SUPPORTED)
    return hidden.single_scale(), hidden.single_zero_point()


def _gate_weights(op: Op, graph: Graph, positions, depth: int, units: int) -> list[tuple[np.ndarray, float]]:
    pairs = []
    for position in positions:
        w = graph.tensor(op.inputs[position])
        require_int8(op, w)
        if not w.is_constant or w.shape != (units, depth) or w.scale.size != 1 or np.any(w.zero_point != 0):
            raise refuse(
                op,
                f"weights {w.name!r} {list(w.shape)}: not constant per-tensor symmetric ({units}, {depth})",
                SUPPORTED,
            )
        pairs.append((w.data, w.single_scale()))
    return pairs


def _biases(op: Op, graph: Graph, units: int) -> list[np.ndarray]:
    biases = []
    for position in BIASES:
        b = graph.tensor(op.inputs[position])
        if b.dtype != "int32" or not b.is_constant or b.shape != (units,):
            raise refuse(op, f"gate bias {b.name!r} is not a constant int32 ({units},) vector", SUPPORTED)
        biases.append(b.data)
    return biases


def _check_variant(op: Op, graph: Graph) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    if len(op.inputs) != 24:
        raise refuse(op, f"{len(op.inputs)} inputs", f"the 24-input form: {SUPPORTED}")
    inputs = list(op.inputs)
    absent = [
        p for p in (0, *INPUT_WEIGHTS, *RECURRENT_WEIGHTS, *BIASES, OUTPUT_STATE, CELL_STATE) if inputs[p] < 0
    ]
    if absent:
        raise refuse(op, f"inputs {absent} are absent (CIFG: coupled input and forget gates)", SUPPORTED)
    for name, positions in (("peephole", PEEPHOLES), ("projection", PROJECTION), ("layer norm", LAYER_NORM)):
        if any(inputs[p] >= 0 for p in positions):
            raise refuse(op, f"an LSTM with {name} weights", SUPPORTED)
    options = op.options
    if getattr(options, "fusedActivationFunction", TANH) != TANH:
        raise refuse(op, f"cell activation code {options.fusedActivationFunction}", "TANH (Keras' default)")
    if getattr(options, "diagonalRecurrentTensors", False):
        raise refuse(op, "diagonal recurrent weights", SUPPORTED)
    x, state, cell = (graph.tensor(inputs[p]) for p in (0, OUTPUT_STATE, CELL_STATE))
    (out,) = graph.op_outputs(op)
    require_int8(op, x, state, out)
    if cell.dtype != "int16" or cell.scale.size != 1:
        raise refuse(op, f"cell state {cell.name!r} is {cell.dtype}", "an int16 cell state (8x8_16)")
    return x, state, cell, out


@lowering("UNIDIRECTIONAL_SEQUENCE_LSTM")
def lstm(graph: Graph, op: Op) -> Layer:
    x, state, cell, out = _check_variant(op, graph)
    units, depth = graph.tensor(op.inputs[INPUT_WEIGHTS[0]]).shape
    batch_and_steps = x.size // depth if depth else 0
    if len(x.shape) != 3 or x.size != batch_and_steps * depth or 1 not in x.shape[:2]:
        raise refuse(op, f"input shape {list(x.shape)}", "(1, steps, inputs) or (steps, 1, inputs): batch 1")
    steps = batch_and_steps
    if out.size != steps * units or state.size != units or cell.size != units:
        raise refuse(op, f"output {list(out.shape)} for {steps} steps of {units} units", SUPPORTED)
    hidden_scale, hidden_zero = _hidden_quantization(graph, op)
    try:
        q = quant_lstm.lstm_quant(
            _gate_weights(op, graph, INPUT_WEIGHTS, depth, units),
            _gate_weights(op, graph, RECURRENT_WEIGHTS, units, units),
            _biases(op, graph, units),
            x.single_scale(),
            x.single_zero_point(),
            state.single_scale(),
            state.single_zero_point(),
            hidden_scale,
            hidden_zero,
            cell.single_scale(),
            float(getattr(op.options, "cellClip", 0.0)),
        )
    except ValueError as exc:
        raise refuse(op, str(exc), SUPPORTED) from exc
    prefix = f"l{op.index}"
    stacked = [
        np.concatenate([_interleaved(graph.tensor(op.inputs[p]).data) for p in positions])
        for positions in (INPUT_WEIGHTS, RECURRENT_WEIGHTS)
    ]
    arrays = [
        CArray(f"{prefix}_input_weights", "int8_t", stacked[0]),
        CArray(f"{prefix}_recurrent_weights", "int8_t", stacked[1]),
        CArray(f"{prefix}_input_bias", "int32_t", _padded_rows(q.input_bias)),
        CArray(f"{prefix}_recurrent_bias", "int32_t", _padded_rows(q.recurrent_bias)),
    ]
    fields = (
        f".steps = {steps}, .inputs = {depth}, .units = {units}, "
        f".input_weights = {prefix}_input_weights, .recurrent_weights = {prefix}_recurrent_weights, "
        f".input_bias = {prefix}_input_bias, .recurrent_bias = {prefix}_recurrent_bias, "
        f".input_multiplier = {c_ints(m for m, _ in q.input_multipliers)}, "
        f".input_shift = {c_ints(s for _, s in q.input_multipliers)}, "
        f".recurrent_multiplier = {c_ints(m for m, _ in q.recurrent_multipliers)}, "
        f".recurrent_shift = {c_ints(s for _, s in q.recurrent_multipliers)}, "
        f".hidden_multiplier = {q.hidden[0]}, .hidden_shift = {q.hidden[1]}, "
        f".hidden_zero = {q.hidden_zero}, .state_zero = {q.state_zero}, .cell_shift = {q.cell_shift}, "
        f".tanh_integer_bits = {q.tanh_integer_bits}, .cell_clip = {q.cell_clip}, "
        ".scratch = (int16_t *)(void *){scratch}"
    )
    return Layer(
        op.index,
        op.name,
        (x.index,),
        (out.index,),
        call="har_lstm_s8(&{p}, {in0}, {out});",
        params=("har_lstm_params", fields),
        arrays=arrays,
        macs=steps * 4 * units * (depth + units),
        scratch=har_lstm_scratch_bytes(depth, units),
    )


def _padded(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _interleaved(weights: np.ndarray) -> np.ndarray:
    """(units, k) gate weights in ``har_dot4``'s interleaved layout, k padded with zeros to a multiple of
    16 (the kernel's DSP loop takes four blocks of 4 inputs a turn)."""
    return interleave(np.pad(weights, ((0, 0), (0, _padded(weights.shape[1], 16) - weights.shape[1]))))


def _padded_rows(biases: np.ndarray) -> np.ndarray:
    """(4, units) gate biases with each gate's units padded to a multiple of 4 with zeros, raveled."""
    return np.pad(biases, ((0, 0), (0, -biases.shape[1] % 4))).ravel()


def har_lstm_scratch_bytes(depth: int, units: int) -> int:
    """The input and hidden vectors as int16 pairs (each padded to a multiple of 16 values), one gate's
    int32 sums per side and the four int16 gate vectors (units padded to 4), the int16 cell state and the int8
    initial hidden state."""
    padded = _padded(units, 4)
    return 2 * _padded(depth, 16) + 2 * _padded(units, 16) + 8 * padded + 8 * padded + 2 * units + units
