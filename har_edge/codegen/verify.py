"""The cross-check: generated firmware vs LiteRT with its *reference* kernels (``BUILTIN_REF``; the
optimized kernels differ by a step on some outputs, so they are no oracle), byte for byte (a float32
graph with an op whose last bit is the C library's: within ``verify_float.FLOAT_TOLERANCE``).

``CrossCheck`` is truthy iff every output byte matches; ``str()`` shows the totals, then for the
first mismatching inputs the input, both outputs and the differences, and per layer (when the
firmware was built with ``HAR_DUMP_LAYERS``) how many bytes differ and by how much, so the first
layer that goes wrong stands out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from har_edge.codegen import verify_float
from har_edge.codegen.emit import LayerInfo
from har_edge.codegen.graph import Graph, read_graph
from har_edge.errors import InputError

SHOWN_INPUTS = 3
SATURATION_MARGIN = 0.25  # float inputs also cover a quarter of the int8 range beyond each end


class ReferenceRunError(InputError):
    """LiteRT's reference kernels refused or failed on the model or the inputs (no comparison made)."""


def reference_interpreter(model_bytes: bytes):
    """LiteRT with its reference kernels, the model test-run in a child first (``runtime.probe``: an
    untrusted model may abort LiteRT); LiteRT's own refusals become an ``InputError``."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from har_edge.runtime.probe import probe_model

    probe_model(model_bytes, "the model")
    try:
        interpreter = Interpreter(
            model_content=model_bytes,
            experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
            experimental_preserve_all_tensors=True,
        )
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        problem = f"LiteRT's reference kernels cannot run the model to verify it: {exc}"
        raise ReferenceRunError(problem) from exc
    return interpreter


def random_inputs(model: bytes | Graph, n: int, seed: int = 0) -> np.ndarray:
    """``n`` seeded inputs (n, elements) in the model's input type: int8 over the whole range
    [-128, 127]; float32 into a QUANTIZE uniformly over the floats it maps onto [-128, 127], plus a
    ``SATURATION_MARGIN`` beyond each end (saturation is exercised too); other float32 inputs N(0, 2)."""
    graph = model if isinstance(model, Graph) else read_graph(model)
    t = graph.tensor(graph.inputs[0])
    rng = np.random.default_rng(seed)
    if t.dtype != "float32":
        return rng.integers(-128, 128, size=(n, t.size), dtype=np.int16).astype(np.int8)
    consumer = next((op for op in graph.ops if t.index in op.inputs), None)
    if consumer is None or consumer.name != "QUANTIZE":
        return rng.normal(0, 2, size=(n, t.size)).astype(np.float32)
    q = graph.tensor(consumer.outputs[0])
    scale, zero = float(q.single_scale()), q.single_zero_point()
    margin = SATURATION_MARGIN * 255
    low, high = (-128 - margin - zero) * scale, (127 + margin - zero) * scale
    return rng.uniform(low, high, size=(n, t.size)).astype(np.float32)


def reference_run(
    model_bytes: bytes, inputs: np.ndarray, layer_tensors: tuple[int, ...] = (), layer_inputs: int = 0
) -> tuple[np.ndarray, list[list[bytes]]]:
    """Output bytes (n, output bytes) of every input, and the bytes of ``layer_tensors`` for the first
    ``layer_inputs`` inputs."""
    interpreter = reference_interpreter(model_bytes)
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    outputs, layers = [], []
    for i, x in enumerate(inputs):
        x = np.asarray(x)
        if x.dtype != inp["dtype"] or x.size != int(np.prod(inp["shape"])):
            raise ReferenceRunError(
                f"input {i} is {x.dtype} with {x.size} values; the model takes {np.dtype(inp['dtype'])} "
                f"of shape {list(inp['shape'])}"
            )
        try:
            interpreter.reset_all_variables()  # each input from the reset state (LSTM), as the firmware does
            interpreter.set_tensor(inp["index"], x.reshape(inp["shape"]))
            interpreter.invoke()
        except (ValueError, RuntimeError) as exc:
            raise ReferenceRunError(f"LiteRT's reference kernels failed on input {i}: {exc}") from exc
        outputs.append(np.ascontiguousarray(interpreter.get_tensor(out["index"])).view(np.uint8).ravel())
        if i < layer_inputs:
            layers.append([np.ascontiguousarray(interpreter.get_tensor(t)).tobytes() for t in layer_tensors])
    return np.stack(outputs), layers


def quantize_windows(model_bytes: bytes, windows: np.ndarray) -> np.ndarray:
    """Float windows (normalized like training) as the model's input, (n, input values): quantized
    with its input tensor's scale and zero point as the runtime does (``runtime.interpreter.quantize``);
    a float32 input (a float interface) takes them as they are."""
    from har_edge.runtime.interpreter import quantize

    (detail,) = reference_interpreter(model_bytes).get_input_details()
    return quantize(np.asarray(windows, np.float32).reshape(len(windows), -1), detail)


@dataclass(frozen=True)
class LayerCheck:
    index: int
    name: str
    bytes: int
    mismatches: int  # values, over the checked inputs
    max_difference: float


@dataclass(frozen=True)
class InputMismatch:
    input_index: int
    input: np.ndarray
    expected: np.ndarray  # the output's values: bytes (uint8) or float32
    actual: np.ndarray

    @property
    def differing(self) -> int:
        return int(np.count_nonzero(self.expected != self.actual))

    @property
    def unit(self) -> str:
        return "bytes" if self.expected.dtype.itemsize == 1 else "values"

    @property
    def max_difference(self) -> float:
        return verify_float.max_difference(self.expected, self.actual)


@dataclass(frozen=True)
class CrossCheck:
    label: str
    inputs: int
    output_bytes: int
    mismatched_bytes: int
    mismatches: tuple[InputMismatch, ...]  # every input whose output differs
    layers: tuple[LayerCheck, ...] = field(default_factory=tuple)
    layer_inputs: int = 0
    tolerance: float = 0.0  # 0: byte for byte; else verify_float's relative bound
    differing_bytes: int = 0  # bytes that differ at all (within the tolerance or not)
    max_difference: float = 0.0  # largest |difference| of an output value

    def __bool__(self) -> bool:
        return self.mismatched_bytes == 0

    @property
    def bit_exact(self) -> bool:
        return self.differing_bytes == 0

    def __str__(self) -> str:
        verdict = "bit-exact" if self.bit_exact else "MISMATCH"
        if self and not self.bit_exact:
            verdict = f"within tolerance {self.tolerance:g} x max(1, |reference|)"
        lines = [
            f"{self.label}: {verdict}: {self.inputs} inputs x {self.output_bytes} output bytes, "
            f"{self.mismatched_bytes} bytes differ on {len(self.mismatches)} inputs"
            + (
                f" ({self.differing_bytes} differ at all, max |difference| {self.max_difference:g})"
                if self.tolerance
                else ""
            )
        ]
        for m in self.mismatches[:SHOWN_INPUTS]:
            lines += [
                f"  input {m.input_index}: {m.differing} {m.unit} differ, "
                f"max |difference| {m.max_difference:g}",
                f"    input    {_preview(m.input)}",
                f"    expected {_preview(m.expected)}",
                f"    firmware {_preview(m.actual)}",
            ]
        if self.layers:
            lines.append(
                f"  per layer (first {self.layer_inputs} inputs): bytes differing / max |difference|"
            )
            for layer in self.layers:
                mark = "" if layer.mismatches == 0 else "   <- differs"
                lines.append(
                    f"    {layer.name:<28} {layer.bytes:>7} B  {layer.mismatches:>7} / "
                    f"{layer.max_difference:g}{mark}"
                )
        return "\n".join(lines)


def _preview(values: np.ndarray, n: int = 16) -> str:
    values = np.asarray(values).ravel()
    signed = values.view(np.int8) if values.dtype == np.uint8 else values
    text = " ".join(f"{v:.9g}" if signed.dtype.kind == "f" else str(int(v)) for v in signed[:n])
    return text + (f" … ({values.size} values)" if values.size > n else "")


def cross_check(
    model_bytes: bytes,
    inputs: np.ndarray,
    firmware_outputs: np.ndarray,
    *,
    label: str = "model",
    layers: tuple[LayerInfo, ...] = (),
    layer_dump: bytes = b"",
    layer_inputs: int = 0,
) -> CrossCheck:
    """Compare firmware outputs (n, output bytes) with the reference; with ``layers`` and a
    ``layer_dump`` (HAR_DUMP_LAYERS), also each layer's output for the first ``layer_inputs`` inputs."""
    per_inference = sum(layer.output_bytes for layer in layers)
    layer_inputs = min(layer_inputs, len(layer_dump) // per_inference) if layer_dump and per_inference else 0
    tensors = tuple(layer.output_tensor for layer in layers)
    expected, reference_layers = reference_run(model_bytes, inputs, tensors, layer_inputs)
    actual = np.asarray(firmware_outputs, np.uint8)
    if actual.size != expected.size:
        raise ReferenceRunError(
            f"the firmware wrote {actual.size} output bytes for {len(expected)} inputs; LiteRT's "
            f"reference gives {expected.shape[1]} bytes per input"
        )
    actual = actual.reshape(expected.shape)
    graph = read_graph(model_bytes)
    limit = verify_float.tolerance(graph)
    beyond = verify_float.beyond_tolerance(expected, actual, limit)
    out_values = [verify_float.values(graph, graph.outputs[0], rows) for rows in (expected, actual)]
    bad = np.flatnonzero(np.any(beyond, axis=1))
    mismatches = tuple(
        InputMismatch(int(i), np.asarray(inputs[i]).ravel(), out_values[0][i], out_values[1][i]) for i in bad
    )
    checks = []
    if layer_inputs:
        dump = np.frombuffer(layer_dump[: per_inference * layer_inputs], np.uint8).reshape(layer_inputs, -1)
        start = 0
        for j, layer in enumerate(layers):
            got = verify_float.values(graph, layer.output_tensor, dump[:, start : start + layer.output_bytes])
            want = np.stack([np.frombuffer(reference_layers[i][j], np.uint8) for i in range(layer_inputs)])
            if layer.kept is not None:  # constant channels folded away: compare the bytes it holds
                want = want[:, layer.kept]
            want = verify_float.values(graph, layer.output_tensor, want)
            checks.append(
                LayerCheck(
                    layer.index,
                    layer.name,
                    layer.output_bytes,
                    int(np.count_nonzero(got != want)),
                    verify_float.max_difference(want, got),
                )
            )
            start += layer.output_bytes
    return CrossCheck(
        label,
        len(expected),
        expected.shape[1],
        int(np.count_nonzero(beyond)),
        mismatches,
        tuple(checks),
        layer_inputs,
        limit,
        int(np.count_nonzero(expected != actual)),
        verify_float.max_difference(*out_values),
    )


def verify_project(
    project,
    inputs: np.ndarray,
    *,
    board: str | None = None,
    layer_inputs: int = 8,
    model_bytes: bytes | None = None,
) -> CrossCheck:
    """Build ``project`` (a ``ProjectInfo``) with HAR_DUMP_LAYERS, run ``inputs`` and cross-check."""
    from har_edge.firmware.build import build, run

    board = board or project.board
    binary = build(
        project.path, board, defines=("HAR_DUMP_LAYERS",), binary=_dump_binary(project.path, board)
    )
    result = run(binary, board, inputs, project.output_bytes)
    model_bytes = model_bytes if model_bytes is not None else project.model.graph.description["bytes"]
    return cross_check(
        model_bytes,
        inputs,
        result.outputs,
        label=f"{project.name} on {board}",
        layers=project.model.layers,
        layer_dump=result.layer_dump,
        layer_inputs=layer_inputs,
    )


def _dump_binary(path: Path, board: str) -> str:
    return "app_dump.elf" if board != "host" else "app_dump"
