"""Inspect a .tflite file without TensorFlow: ops, tensors, signatures, parameters, sizes, and whether
every op is a TFLite builtin (so it runs in LiteRT / tflite-runtime without the Flex delegate) and is
in TensorFlow Lite for Microcontrollers' op set.

Parses the flatbuffer with the schema module that ships in ``ai-edge-litert``. The TFLM op set below
is the list of builtin kernels TFLM registers (its op resolver); it is advisory — the ``mcu`` target
runs the real TFLM interpreter, which also rejects unsupported dtypes and shapes of a supported op.
"""

from __future__ import annotations

import gzip
import struct
from collections import Counter
from dataclasses import dataclass

import numpy as np

from har_edge.errors import InputError
from har_edge.tflite_verify import verify_tflite

TFLM_BUILTIN_OPS = frozenset(
    """ABS ADD ADD_N ARG_MAX ARG_MIN ASSIGN_VARIABLE AVERAGE_POOL_2D BATCH_MATMUL BATCH_TO_SPACE_ND
    BROADCAST_ARGS BROADCAST_TO CALL_ONCE CAST CEIL CONCATENATION CONV_2D COS CUMSUM DEPTH_TO_SPACE
    DEPTHWISE_CONV_2D DEQUANTIZE DIV ELU EMBEDDING_LOOKUP EQUAL EXP EXPAND_DIMS FILL FLOOR FLOOR_DIV
    FLOOR_MOD FULLY_CONNECTED GATHER GATHER_ND GREATER GREATER_EQUAL HARD_SWISH IF L2_NORMALIZATION
    L2_POOL_2D LEAKY_RELU LESS LESS_EQUAL LOG LOGICAL_AND LOGICAL_NOT LOGICAL_OR LOGISTIC LOG_SOFTMAX
    MAXIMUM MAX_POOL_2D MEAN MINIMUM MIRROR_PAD MUL NEG NOT_EQUAL PACK PAD PADV2 PRELU QUANTIZE
    READ_VARIABLE REDUCE_MAX RELU RELU6 RESHAPE RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR ROUND RSQRT
    SELECT_V2 SHAPE SIN SLICE SOFTMAX SPACE_TO_BATCH_ND SPACE_TO_DEPTH SPLIT SPLIT_V SQRT SQUARE
    SQUARED_DIFFERENCE SQUEEZE STRIDED_SLICE SUB SUM SVDF TANH TRANSPOSE TRANSPOSE_CONV
    UNIDIRECTIONAL_SEQUENCE_LSTM UNPACK VAR_HANDLE WHILE ZEROS_LIKE""".split()  # noqa: SIM905 (a compact table)
)


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class TfliteInfo:
    """``op_counts`` maps op name to occurrences over all subgraphs; custom ops appear by their custom
    code (Flex ops as ``Flex…``). ``parameters`` counts elements of constant tensors (weights, plus
    a few shape constants)."""

    size_bytes: int
    gzip_bytes: int
    op_counts: dict[str, int]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    signatures: dict[str, dict[str, tuple[TensorInfo, ...]]]
    parameters: int
    custom_ops: tuple[str, ...]
    tflm_unsupported_ops: tuple[str, ...]

    @property
    def builtin_only(self) -> bool:
        return not self.custom_ops

    @property
    def tflm_compatible(self) -> bool:
        return self.builtin_only and not self.tflm_unsupported_ops


def gzip_size(data: bytes) -> int:
    """Bytes after gzip -9 (mtime fixed, so the figure is reproducible)."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


_SCHEMA_READER_ERRORS = (IndexError, KeyError, ValueError, TypeError, AttributeError, struct.error)


def inspect_tflite(data: bytes, source: str = "<bytes>") -> TfliteInfo:
    """What the file holds, read with the schema module after ``verify_tflite`` (no interpreter runs)."""
    schema = _schema()
    verify_tflite(data, source)
    try:
        model = schema.Model.GetRootAs(data, 0)
        op_names = [_op_name(schema, model.OperatorCodes(i)) for i in range(model.OperatorCodesLength())]
        subgraphs = [model.Subgraphs(i) for i in range(model.SubgraphsLength())]
        counts = Counter(
            op_names[g.Operators(j).OpcodeIndex()] for g in subgraphs for j in range(g.OperatorsLength())
        )
        main = subgraphs[0]
        builtin = set(_enum_names(schema.BuiltinOperator).values())
        custom = tuple(sorted(name for name in counts if name not in builtin))
        return TfliteInfo(
            size_bytes=len(data),
            gzip_bytes=gzip_size(data),
            op_counts=dict(sorted(counts.items())),
            inputs=tuple(_tensor(schema, main, main.Inputs(i)) for i in range(main.InputsLength())),
            outputs=tuple(_tensor(schema, main, main.Outputs(i)) for i in range(main.OutputsLength())),
            signatures=_signatures(schema, model, subgraphs),
            parameters=_parameter_count(model, subgraphs),
            custom_ops=custom,
            tflm_unsupported_ops=tuple(
                sorted(n for n in counts if n in builtin and n not in TFLM_BUILTIN_OPS)
            ),
        )
    except _SCHEMA_READER_ERRORS as exc:  # UnicodeDecodeError is a ValueError
        raise InputError(f"{source}: corrupt or truncated TFLite file ({exc!r})") from exc


_MAC_OPS = frozenset(
    {"FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "BATCH_MATMUL", "UNIDIRECTIONAL_SEQUENCE_LSTM"}
)
_LSTM_WEIGHT_INPUTS = range(1, 9)  # input-to-gate (1-4) and recurrent (5-8) weights; -1 when absent


def count_macs(data: bytes, source: str = "<bytes>") -> int:
    """Multiply-accumulates of one window (batch 1) through the main subgraph's FULLY_CONNECTED,
    CONV_2D, DEPTHWISE_CONV_2D, BATCH_MATMUL and UNIDIRECTIONAL_SEQUENCE_LSTM ops (an LSTM: every time
    step through its eight gate weight matrices, as ``models.summarize`` counts it); element-wise ops
    are not counted.

    Shapes come from a LiteRT interpreter run once at batch 1 on zeros (a dynamic batch leaves
    placeholder shapes in the file, resolved only when the model runs), in a child process
    (``probe_model``), so a file that crashes the interpreter is an ``InputError`` naming ``source``.
    Counts the subgraph of a model's single input; a multi-signature model (a trainable head) counts
    its first subgraph.
    """
    from har_edge.runtime.probe import probe_model

    shapes = probe_model(data, source)
    try:
        return _macs(_schema(), data, shapes)
    except _SCHEMA_READER_ERRORS as exc:
        raise InputError(f"{source}: operator shapes do not fit the operators ({exc!r})") from exc


def _macs(schema, data: bytes, shapes: dict[int, tuple[int, ...]]) -> int:
    model = schema.Model.GetRootAs(data, 0)
    op_names = [_op_name(schema, model.OperatorCodes(i)) for i in range(model.OperatorCodesLength())]
    graph = model.Subgraphs(0)
    total = 0
    for j in range(graph.OperatorsLength()):
        op = graph.Operators(j)
        name = op_names[op.OpcodeIndex()]
        if name not in _MAC_OPS:
            continue
        weights, outputs = shapes[op.Inputs(1)], int(np.prod(shapes[op.Outputs(0)]))
        if name == "FULLY_CONNECTED":  # weights (out, in)
            total += outputs * weights[-1]
        elif name == "CONV_2D":  # weights (out_c, kh, kw, in_c)
            total += outputs * int(np.prod(weights[1:]))
        elif name == "DEPTHWISE_CONV_2D":  # weights (1, kh, kw, out_c)
            total += outputs * weights[1] * weights[2]
        elif name == "UNIDIRECTIONAL_SEQUENCE_LSTM":  # input (batch, time, in), batch-major
            steps = shapes[op.Inputs(0)][1]
            gates = [op.Inputs(i) for i in _LSTM_WEIGHT_INPUTS if op.Inputs(i) >= 0]
            total += steps * sum(int(np.prod(shapes[i])) for i in gates)
        else:  # BATCH_MATMUL (..., m, k) x (..., k, n)
            total += outputs * shapes[op.Inputs(0)][-1]
    return total


def render(info: TfliteInfo, title: str) -> str:
    """A human-readable report."""
    lines = [
        f"{title}",
        f"  size: {info.size_bytes:,} bytes ({info.gzip_bytes:,} gzipped); parameters: {info.parameters:,}",
        f"  inputs:  {_tensors_text(info.inputs)}",
        f"  outputs: {_tensors_text(info.outputs)}",
        "  ops: " + ", ".join(f"{name}×{n}" for name, n in info.op_counts.items()),
        f"  builtin ops only: {'yes' if info.builtin_only else 'NO: ' + ', '.join(info.custom_ops)}",
        "  TFLM op set: "
        + (
            "all supported"
            if info.tflm_compatible
            else "missing " + ", ".join(info.tflm_unsupported_ops + info.custom_ops)
        ),
    ]
    for key, io in info.signatures.items():
        lines.append(
            f"  signature {key}: ({_tensors_text(io['inputs'])}) -> ({_tensors_text(io['outputs'])})"
        )
    return "\n".join(lines)


def _schema():
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError as exc:
        raise InputError("inspecting .tflite files needs ai-edge-litert: pip install ai-edge-litert") from exc
    return schema_py_generated


def _enum_names(enum_class) -> dict[int, str]:
    return {value: name for name, value in vars(enum_class).items() if not name.startswith("_")}


def _op_name(schema, code) -> str:
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if builtin == schema.BuiltinOperator.CUSTOM:
        return (code.CustomCode() or b"CUSTOM").decode()
    return _enum_names(schema.BuiltinOperator)[builtin]


def _tensor(schema, subgraph, index: int) -> TensorInfo:
    tensor = subgraph.Tensors(index)
    signature = tensor.ShapeSignatureAsNumpy() if tensor.ShapeSignatureLength() else tensor.ShapeAsNumpy()
    shape = tuple(int(d) for d in signature) if tensor.ShapeLength() or tensor.ShapeSignatureLength() else ()
    return TensorInfo(tensor.Name().decode(), shape, _enum_names(schema.TensorType)[tensor.Type()].lower())


def _signatures(schema, model, subgraphs) -> dict[str, dict[str, tuple[TensorInfo, ...]]]:
    result = {}
    for i in range(model.SignatureDefsLength()):
        sig = model.SignatureDefs(i)
        graph = subgraphs[sig.SubgraphIndex()]

        def named(tensor_map, graph=graph):
            info = _tensor(schema, graph, tensor_map.TensorIndex())
            return TensorInfo(tensor_map.Name().decode(), info.shape, info.dtype)

        result[sig.SignatureKey().decode()] = {
            "inputs": tuple(named(sig.Inputs(j)) for j in range(sig.InputsLength())),
            "outputs": tuple(named(sig.Outputs(j)) for j in range(sig.OutputsLength())),
        }
    return result


def _parameter_count(model, subgraphs) -> int:
    """Elements of every tensor backed by constant data (shared buffers count once per tensor)."""
    total = 0
    for graph in subgraphs:
        for t in range(graph.TensorsLength()):
            tensor = graph.Tensors(t)
            buffer = model.Buffers(tensor.Buffer()) if tensor.Buffer() else None
            if buffer is not None and (buffer.DataLength() or buffer.Size()):
                total += int(np.prod(tensor.ShapeAsNumpy())) if tensor.ShapeLength() else 1
    return total


def _tensors_text(tensors: tuple[TensorInfo, ...]) -> str:
    return ", ".join(f"{t.name} {list(t.shape)} {t.dtype}" for t in tensors) or "none"
