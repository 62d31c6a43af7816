"""Read an int8 .tflite into a plain op list: tensors with shapes, dtypes, quantization and constant
data, operators with their builtin options. No TensorFlow: the flatbuffer schema module that ships
in ``ai-edge-litert`` parses the file (as ``har_edge/tflite_info.py`` does).

Only the main subgraph is read. A dynamic batch (``-1`` in dimension 0 of a shape signature) is run
at batch 1 and the shape arithmetic it brings is folded (``fold.py``); another dynamic dimension, or a
file that does not parse, is refused here (``UnsupportedModelError`` / ``InputError``); op-level
refusals happen in ``lower.py``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from har_edge.errors import InputError

_DTYPES = {
    "INT8": np.int8,
    "UINT8": np.uint8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FLOAT32": np.float32,
    "FLOAT16": np.float16,
    "BOOL": np.bool_,
}


class UnsupportedModelError(InputError):
    """The model cannot be generated: names the op (with its index) or tensor and what is supported."""

    def __init__(
        self, problem: str, *, op: str | None = None, index: int | None = None, supported: str | None = None
    ) -> None:
        self.op, self.index, self.problem, self.supported = op, index, problem, supported
        where = f"op {index} ({op}): " if op is not None else ""
        text = f"{where}{problem}"
        if supported:
            text += f"; supported: {supported}"
        super().__init__(text)


@dataclass(frozen=True, eq=False)
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # "int8", "int32", "float32", ...
    scale: np.ndarray  # float32, empty when not quantized
    zero_point: np.ndarray  # int64
    quantized_dimension: int
    data: np.ndarray | None  # constant contents in ``shape``, None for activations

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(_DTYPES[self.dtype.upper()]).itemsize

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1

    def single_scale(self) -> float:
        """The (per-tensor) scale as float32, or an error when the tensor is not quantized."""
        if self.scale.size != 1:
            raise UnsupportedModelError(
                f"tensor {self.name!r} needs one quantization scale, has {self.scale.size}"
            )
        return np.float32(self.scale[0])

    def single_zero_point(self) -> int:
        return int(self.zero_point[0]) if self.zero_point.size else 0


@dataclass(frozen=True, eq=False)
class Op:
    index: int
    name: str  # builtin operator name, e.g. "FULLY_CONNECTED"
    inputs: tuple[int, ...]  # tensor indices, -1 for an omitted optional input
    outputs: tuple[int, ...]
    options: Any  # the schema's *OptionsT object or None
    version: int


@dataclass(frozen=True, eq=False)
class Graph:
    tensors: tuple[Tensor, ...]
    ops: tuple[Op, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    description: dict[str, Any] = field(default_factory=dict)

    def tensor(self, index: int) -> Tensor:
        return self.tensors[index]

    def op_inputs(self, op: Op) -> list[Tensor | None]:
        return [self.tensors[i] if i >= 0 else None for i in op.inputs]

    def op_outputs(self, op: Op) -> list[Tensor]:
        return [self.tensors[i] for i in op.outputs]


def read_graph(data: bytes, source: str = "<model>") -> Graph:
    """The main subgraph of a .tflite flatbuffer, or ``UnsupportedModelError`` / ``InputError``."""
    schema = _schema()
    if len(data) < 8 or not schema.Model.ModelBufferHasIdentifier(data, 0):
        raise InputError(f"{source}: not a TFLite flatbuffer (missing 'TFL3' identifier)")
    try:
        model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    except (IndexError, ValueError, TypeError, struct.error) as exc:
        raise InputError(f"{source}: corrupt or truncated TFLite file ({exc})") from exc
    if not model.subgraphs:
        raise InputError(f"{source}: the model has no subgraph")
    names = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    type_names = {value: name for name, value in vars(schema.TensorType).items() if not name.startswith("_")}
    graph = model.subgraphs[0]
    tensors = tuple(_tensor(i, t, model, data, type_names) for i, t in enumerate(graph.tensors or []))
    ops = []
    for i, op in enumerate(graph.operators or []):
        code = model.operatorCodes[op.opcodeIndex]
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        name = names.get(builtin, f"BUILTIN_{builtin}")
        if name == "CUSTOM":
            name = f"CUSTOM:{(code.customCode or b'?').decode(errors='replace')}"
        ops.append(
            Op(
                i,
                name,
                tuple(int(x) for x in _list(op.inputs)),
                tuple(int(x) for x in _list(op.outputs)),
                op.builtinOptions,
                int(code.version),
            )
        )
    result = Graph(
        tensors,
        tuple(ops),
        tuple(int(x) for x in _list(graph.inputs)),
        tuple(int(x) for x in _list(graph.outputs)),
        {"source": source, "bytes": bytes(data)},
    )
    from har_edge.codegen.fold import resolve_batch

    return resolve_batch(result)


def _list(values) -> list:
    return [] if values is None else list(values)


def _tensor(index: int, t, model, data: bytes, type_names: dict[int, str]) -> Tensor:
    shape = tuple(int(d) for d in _list(t.shape))
    dtype = type_names.get(t.type, f"TYPE_{t.type}").lower()
    signature = tuple(int(d) for d in _list(t.shapeSignature))
    if signature and any(d < 0 for d in signature):
        shape = signature  # keeps the -1: fold.resolve_batch resolves or refuses it
    q = t.quantization
    scale = np.asarray(_list(q.scale) if q is not None else [], np.float32)
    zero_point = np.asarray(_list(q.zeroPoint) if q is not None else [], np.int64)
    qdim = int(q.quantizedDimension) if q is not None else 0
    contents = None
    buffer = model.buffers[t.buffer] if t.buffer and t.buffer < len(model.buffers) else None
    if buffer is not None:
        raw = None
        if buffer.data is not None and len(buffer.data):
            raw = np.asarray(buffer.data, np.uint8).tobytes()
        elif buffer.offset and buffer.offset > 1 and buffer.size:
            raw = data[buffer.offset : buffer.offset + buffer.size]
        if raw is not None and dtype.upper() in _DTYPES:
            contents = np.frombuffer(raw, _DTYPES[dtype.upper()]).reshape(shape if shape else ())
    name = t.name.decode(errors="replace") if isinstance(t.name, bytes) else str(t.name)
    return Tensor(index, name, shape, dtype, scale, zero_point, qdim, contents)


def _schema():
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError as exc:
        raise InputError("reading .tflite files needs ai-edge-litert: pip install ai-edge-litert") from exc
    return schema_py_generated
