"""A structural verifier for .tflite flatbuffers (stdlib only: no TensorFlow, no LiteRT).

``verify_tflite(data, source)`` walks the whole model with bounds-checked reads before any interpreter
or schema reader sees it: every offset and vector inside the file, a known schema version (3), every
operator-code, tensor, buffer, subgraph and signature index in range, shapes of sane rank and size,
constant buffers exactly as large as their tensors' shapes and dtypes say, and quantization parameters
that match their tensors (one scale per channel, finite positive scales, zero points in range).
Anything else is an ``InputError`` naming ``source`` and the offending element.

Caveats: an operator's options table is checked for its bounds only (and the subgraph indices of
control-flow ops), not for what the options mean, and op-specific typing (an int8 ADD with a float
output) is not checked: a model that passes can still crash a kernel. Code that runs files it did not
produce should also run them in a child process first (``har_edge.runtime.probe``).
"""

from __future__ import annotations

import math
import struct

from har_edge.errors import InputError

SCHEMA_VERSION = 3
IDENTIFIER = b"TFL3"
MAX_FILE_BYTES = 2**31 - 1  # flatbuffers' own limit
MAX_SUBGRAPHS = 4096
MAX_ITEMS = 2**20  # tensors, operators, buffers, operator codes, signature entries
MAX_RANK = 16
MAX_ELEMENTS = 2**31 - 1
CUSTOM_OPERATOR = 32

# TensorType -> bytes per element (None: no fixed size; 0.5: packed nibbles). From schema.fbs.
_ITEM_BYTES = {
    0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 5: None, 6: 1, 7: 2, 8: 8, 9: 1, 10: 8, 11: 16, 12: 8,
    13: None, 14: None, 15: 4, 16: 2, 17: 0.5, 18: 2, 19: 0.25, 20: 0.5, 21: 1, 22: 1,
}  # fmt: skip
_INTEGER_RANGES = {3: (0, 255), 9: (-128, 127), 7: (-32768, 32767), 17: (-8, 7), 20: (0, 15)}
# BuiltinOptions union members that hold subgraph indices: {type: field ids of the indices}.
_SUBGRAPH_FIELDS = {16: (0,), 92: (0, 1), 93: (0, 1), 103: (0,)}  # Call, If, While, CallOnce


class _Bad(Exception):
    """A problem found at some element; turned into an ``InputError`` naming the file."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    def scalar(self, fmt: str, pos: int):
        width = struct.calcsize(fmt)
        if pos < 0 or pos + width > self.size:
            raise _Bad(f"read of {width} bytes at offset {pos} is outside the file ({self.size} bytes)")
        return struct.unpack_from("<" + fmt, self.data, pos)[0]

    def table(self, pos: int, what: str) -> _Table:
        vtable = pos - self.scalar("i", pos)
        vtable_bytes, inline_bytes = self.scalar("H", vtable), self.scalar("H", vtable + 2)
        if vtable_bytes < 4 or vtable_bytes % 2 or vtable + vtable_bytes > self.size:
            raise _Bad(f"{what}: vtable at {vtable} of {vtable_bytes} bytes is malformed")
        if inline_bytes < 4 or pos + inline_bytes > self.size:
            raise _Bad(f"{what}: table at {pos} of {inline_bytes} bytes runs past the file")
        return _Table(self, pos, vtable, vtable_bytes, inline_bytes, what)

    def target(self, pos: int, what: str) -> int:
        """Where the unsigned offset stored at ``pos`` points."""
        offset = self.scalar("I", pos)
        if offset == 0 or pos + offset >= self.size:
            raise _Bad(f"{what}: offset {offset} at {pos} points outside the file")
        return pos + offset

    def vector(self, pos: int, item_bytes: int, what: str, limit: int = MAX_ITEMS) -> tuple[int, int]:
        """(first element position, length) of the vector at ``pos``."""
        length = self.scalar("I", pos)
        if length > limit:
            raise _Bad(f"{what}: {length} elements, more than the limit {limit}")
        if pos + 4 + length * item_bytes > self.size:
            raise _Bad(f"{what}: vector of {length} x {item_bytes} bytes at {pos} runs past the file")
        return pos + 4, length


class _Table:
    def __init__(self, reader: _Reader, pos: int, vtable: int, vtable_bytes: int, inline: int, what: str):
        self.reader, self.pos, self.what = reader, pos, what
        self._vtable, self._vtable_bytes, self._inline = vtable, vtable_bytes, inline

    def _field(self, field_id: int, width: int) -> int | None:
        slot = 4 + 2 * field_id
        if slot + 2 > self._vtable_bytes:
            return None
        offset = self.reader.scalar("H", self._vtable + slot)
        if offset == 0:
            return None
        if offset < 4 or offset + width > self._inline:
            raise _Bad(
                f"{self.what}: field {field_id} at {offset} lies outside its {self._inline}-byte table"
            )
        return self.pos + offset

    def scalar(self, field_id: int, fmt: str, default=0):
        pos = self._field(field_id, struct.calcsize(fmt))
        return default if pos is None else self.reader.scalar(fmt, pos)

    def _target(self, field_id: int, name: str) -> int | None:
        pos = self._field(field_id, 4)
        return None if pos is None else self.reader.target(pos, f"{self.what}.{name}")

    def numbers(self, field_id: int, fmt: str, name: str, limit: int = MAX_ITEMS) -> list:
        pos = self._target(field_id, name)
        if pos is None:
            return []
        start, length = self.reader.vector(pos, struct.calcsize(fmt), f"{self.what}.{name}", limit)
        return list(struct.unpack_from(f"<{length}{fmt}", self.reader.data, start))

    def byte_count(self, field_id: int, name: str) -> int:
        pos = self._target(field_id, name)
        return 0 if pos is None else self.reader.vector(pos, 1, f"{self.what}.{name}", MAX_FILE_BYTES)[1]

    def string(self, field_id: int, name: str) -> bytes | None:
        pos = self._target(field_id, name)
        if pos is None:
            return None
        start, length = self.reader.vector(pos, 1, f"{self.what}.{name}", MAX_FILE_BYTES)
        if self.reader.scalar("B", start + length) != 0:
            raise _Bad(f"{self.what}.{name}: string at {pos} is not NUL-terminated")
        text = self.reader.data[start : start + length]
        try:
            text.decode("utf-8")  # LiteRT decodes names and keys as UTF-8 (a UnicodeDecodeError otherwise)
        except UnicodeDecodeError:
            raise _Bad(f"{self.what}.{name}: string at {pos} is not UTF-8") from None
        return text

    def tables(self, field_id: int, name: str, limit: int = MAX_ITEMS) -> list[_Table]:
        pos = self._target(field_id, name)
        if pos is None:
            return []
        start, length = self.reader.vector(pos, 4, f"{self.what}.{name}", limit)
        items = []
        for i in range(length):
            element = start + 4 * i
            items.append(self.reader.table(self.reader.target(element, name), f"{name}[{i}]"))
        return items

    def table(self, field_id: int, name: str) -> _Table | None:
        pos = self._target(field_id, name)
        return None if pos is None else self.reader.table(pos, f"{self.what}.{name}")


def verify_tflite(data: bytes, source: str = "<bytes>") -> None:
    """Raise an ``InputError`` naming ``source`` unless ``data`` is a well-formed TFLite model."""
    try:
        _verify(bytes(data))
    except _Bad as exc:
        raise InputError(f"{source}: corrupt TFLite model: {exc}") from None


def _verify(data: bytes) -> None:
    if len(data) > MAX_FILE_BYTES:
        raise _Bad(f"{len(data)} bytes, more than a flatbuffer can hold")
    if len(data) < 8 or data[4:8] != IDENTIFIER:
        raise _Bad(f"not a TFLite flatbuffer (no {IDENTIFIER.decode()!r} identifier)")
    reader = _Reader(data)
    model = reader.table(reader.target(0, "root"), "model")
    version = model.scalar(0, "I")
    if version != SCHEMA_VERSION:
        raise _Bad(f"schema version {version}, this verifier knows {SCHEMA_VERSION}")
    codes = [_operator_code(code) for code in model.tables(1, "operator_codes")]
    buffer_bytes = [_buffer_size(buffer, len(data)) for buffer in model.tables(4, "buffers")]
    subgraphs = model.tables(2, "subgraphs", MAX_SUBGRAPHS)
    if not subgraphs:
        raise _Bad("the model has no subgraph")
    model.string(3, "description")
    tensor_counts = [
        _subgraph(graph, codes, buffer_bytes, len(subgraphs), f"subgraph {g}")
        for g, graph in enumerate(subgraphs)
    ]
    for index in model.numbers(5, "i", "metadata_buffer"):
        _in_range(index, len(buffer_bytes), "metadata_buffer entry", "buffers")
    for i, metadata in enumerate(model.tables(6, "metadata")):
        metadata.string(0, "name")
        _in_range(metadata.scalar(1, "I"), len(buffer_bytes), f"metadata[{i}].buffer", "buffers")
    _signatures(model.tables(7, "signature_defs"), tensor_counts)


def _in_range(index: int, count: int, what: str, of: str) -> None:
    if not 0 <= index < count:
        raise _Bad(f"{what} {index} is out of range ({count} {of})")


def _operator_code(code: _Table) -> int:
    builtin = max(code.scalar(0, "b"), code.scalar(3, "i"))
    if builtin < 0 or builtin > 4096:
        raise _Bad(f"{code.what}: builtin operator {builtin} is not a TFLite operator")
    custom = code.string(1, "custom_code")
    if builtin == CUSTOM_OPERATOR and not custom:
        raise _Bad(f"{code.what}: a custom operator without a custom_code")
    return builtin


def _buffer_size(buffer: _Table, file_bytes: int) -> int:
    """Bytes of constant data the buffer holds (inline, or at offset/size for large models)."""
    inline = buffer.byte_count(0, "data")
    offset, size = buffer.scalar(1, "Q"), buffer.scalar(2, "Q")
    if offset > 1:
        if inline or offset + size > file_bytes:
            raise _Bad(f"{buffer.what}: external data at {offset} of {size} bytes lies outside the file")
        return size
    return inline


def _subgraph(graph: _Table, codes: list[int], buffer_bytes: list[int], n_subgraphs: int, what: str) -> int:
    tensors = graph.tables(0, "tensors")
    for i, tensor in enumerate(tensors):
        _tensor(tensor, buffer_bytes, f"{what} tensor {i}")
    n = len(tensors)
    for name, field_id in (("inputs", 1), ("outputs", 2)):
        for index in graph.numbers(field_id, "i", name):
            _in_range(index, n, f"{what} {name} tensor", "tensors")
    for j, op in enumerate(graph.tables(3, "operators")):
        _operator(op, codes, n, n_subgraphs, f"{what} operator {j}")
    graph.string(4, "name")
    return n


def _tensor(tensor: _Table, buffer_bytes: list[int], what: str) -> None:
    shape = tensor.numbers(0, "i", "shape", MAX_RANK)
    signature = tensor.numbers(7, "i", "shape_signature", MAX_RANK)
    dtype = tensor.scalar(1, "b")
    if dtype not in _ITEM_BYTES:
        raise _Bad(f"{what}: unknown tensor type {dtype}")
    if any(d < 0 for d in shape) or any(d < -1 for d in signature):
        raise _Bad(f"{what}: negative dimension in shape {shape} / shape_signature {signature}")
    if signature and len(signature) != len(shape):
        raise _Bad(f"{what}: shape {shape} and shape_signature {signature} differ in rank")
    elements = math.prod(shape)
    if elements > MAX_ELEMENTS:
        raise _Bad(f"{what}: shape {shape} has {elements} elements, more than {MAX_ELEMENTS}")
    buffer = tensor.scalar(2, "I")
    _in_range(buffer, len(buffer_bytes), f"{what} buffer", "buffers")
    tensor.string(3, "name")
    sparse = tensor.table(6, "sparsity") is not None
    item = _ITEM_BYTES[dtype]
    held = buffer_bytes[buffer]
    if held and item is not None and not sparse:
        needed = {math.ceil(elements * item)} | ({elements} if item < 1 else set())  # packed or one per byte
        if held not in needed:
            raise _Bad(f"{what}: buffer {buffer} holds {held} bytes, shape {shape} needs {min(needed)}")
    quantization = tensor.table(4, "quantization")
    if quantization is not None:
        _quantization(quantization, dtype, shape, what)


def _quantization(q: _Table, dtype: int, shape: list[int], what: str) -> None:
    scales = q.numbers(2, "f", "scale")
    zero_points = q.numbers(3, "q", "zero_point")
    q.numbers(0, "f", "min")
    q.numbers(1, "f", "max")
    details_type = q.scalar(4, "B")
    if details_type:
        q.table(5, "details")
    if not scales:
        return
    axis = q.scalar(6, "i")
    if len(scales) > 1 and not 0 <= axis < len(shape):
        raise _Bad(f"{what}: quantized_dimension {axis} outside the tensor's rank {len(shape)}")
    channels = shape[axis] if len(scales) > 1 else 1
    if len(scales) != channels or len(zero_points) not in (0, len(scales)):
        raise _Bad(
            f"{what}: {len(scales)} scales and {len(zero_points)} zero points, expected {channels} of each"
        )
    if not all(math.isfinite(s) and s >= 0 for s in scales):
        raise _Bad(f"{what}: quantization scales must be finite and >= 0")
    low, high = _INTEGER_RANGES.get(dtype, (-(2**31), 2**31 - 1))
    if not all(low <= z <= high for z in zero_points):
        raise _Bad(f"{what}: quantization zero point outside [{low}, {high}]")


def _operator(op: _Table, codes: list[int], n_tensors: int, n_subgraphs: int, what: str) -> None:
    _in_range(op.scalar(0, "I"), len(codes), f"{what} opcode_index", "operator codes")
    for name, field_id, lowest in (("inputs", 1, -1), ("outputs", 2, 0), ("intermediates", 8, 0)):
        for index in op.numbers(field_id, "i", name):
            if not lowest <= index < n_tensors:
                raise _Bad(f"{what}: {name} tensor {index} is out of range ({n_tensors} tensors)")
    op.numbers(7, "B", "mutating_variable_inputs")
    op.byte_count(5, "custom_options")
    for type_field in (3, 11):  # builtin_options, builtin_options_2
        kind = op.scalar(type_field, "B")
        if not kind:
            continue
        options = op.table(type_field + 1, "builtin_options")
        if options is None:
            raise _Bad(f"{what}: options of type {kind} are missing")
        if type_field == 3:
            for field_id in _SUBGRAPH_FIELDS.get(kind, ()):
                _in_range(options.scalar(field_id, "i"), n_subgraphs, f"{what} subgraph index", "subgraphs")


def _signatures(signatures: list[_Table], tensor_counts: list[int]) -> None:
    keys = set()
    for i, signature in enumerate(signatures):
        key = signature.string(2, "signature_key")
        if not key or key in keys:
            raise _Bad(f"signature {i}: key {key!r} is empty or repeated")
        keys.add(key)
        graph = signature.scalar(4, "I")
        _in_range(graph, len(tensor_counts), f"signature {key!r} subgraph_index", "subgraphs")
        for name, field_id in (("inputs", 0), ("outputs", 1)):
            names = set()
            for entry in signature.tables(field_id, name):
                label = entry.string(0, "name")
                if not label or label in names:
                    raise _Bad(f"signature {key!r} {name}: name {label!r} is empty or repeated")
                names.add(label)
                index = entry.scalar(1, "I")
                _in_range(index, tensor_counts[graph], f"signature {key!r} {name} tensor", "tensors")
