"""Find a TFLite interpreter without importing TensorFlow, and run a model on a batch.

Backends in order: ``ai_edge_litert.interpreter`` (LiteRT, numpy 2, x86-64/aarch64 wheels),
``tflite_runtime.interpreter`` (last release 2.14 needs numpy<2, but has armv7l wheels), and
``tensorflow.lite`` only when neither is installed (it imports TensorFlow).
"""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path
from types import ModuleType

import numpy as np

from har_edge.errors import HarEdgeError, InputError
from har_edge.tflite_verify import verify_tflite

BACKENDS = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter", "tensorflow.lite")


class NoInterpreterError(HarEdgeError):
    """No TFLite interpreter package is installed."""


def _backend_module() -> ModuleType:
    for name in BACKENDS:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise NoInterpreterError("no TFLite interpreter found: pip install ai-edge-litert (or tflite-runtime)")


def interpreter_backend() -> str:
    """The module name of the backend ``load_interpreter`` uses."""
    return _backend_module().__name__


def load_interpreter(
    model: bytes | str | Path,
    *,
    num_threads: int | None = None,
    default_delegates: bool = True,
    verified: bool = False,
):
    """An Interpreter over ``model`` (bytes or a .tflite path). A corrupt file is an ``InputError``.

    The flatbuffer is checked by ``har_edge.tflite_verify`` first (once per distinct content, unless
    ``verified`` says the caller did). ``default_delegates=False`` runs the builtin kernels without the
    XNNPACK delegate (whose int8 kernels round differently; TFLM matches the builtin ones)."""
    source = str(model) if isinstance(model, str | Path) else "<model bytes>"
    try:
        content = Path(model).read_bytes() if isinstance(model, str | Path) else bytes(model)
    except OSError as exc:
        raise InputError(f"{source}: cannot read the model ({exc})") from exc
    if not verified:
        _verify_once(content, source)
    module = _backend_module()
    options = {}
    if not default_delegates:
        if not hasattr(module, "OpResolverType"):
            raise HarEdgeError(f"{module.__name__} cannot turn off its default delegates")
        options["experimental_op_resolver_type"] = module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    try:
        return module.Interpreter(model_content=content, num_threads=num_threads, **options)
    except (ValueError, RuntimeError, KeyError, AttributeError) as exc:
        raise InputError(f"not a loadable TFLite model ({exc})") from exc


_VERIFIED: set[bytes] = set()  # sha256 digests of contents that passed verify_tflite


def _verify_once(content: bytes, source: str) -> None:
    digest = hashlib.sha256(content).digest()
    if digest not in _VERIFIED:
        verify_tflite(content, source)
        _VERIFIED.add(digest)


def _integer_range(dtype) -> tuple[int, int] | None:
    """(min, max) of an integer tensor type, None for floats. Cached: np.iinfo is slow on a hot path."""
    dtype = np.dtype(dtype)
    if dtype not in _RANGES:
        _RANGES[dtype] = (int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)) if dtype.kind in "iu" else None
    return _RANGES[dtype]


_RANGES: dict[np.dtype, tuple[int, int] | None] = {}


def quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    """Float -> the tensor's integer type with its (scale, zero point); floats pass through."""
    dtype = detail["dtype"]
    bounds = _integer_range(dtype)
    if bounds is None:
        return x.astype(dtype, copy=False)
    scale, zero_point = detail["quantization"]
    q = np.rint(np.divide(x, scale, dtype=np.float32))
    q += zero_point
    np.minimum(q, bounds[1], out=q)  # ufuncs: np.clip's Python wrapper costs microseconds per call
    np.maximum(q, bounds[0], out=q)
    return q.astype(dtype)


def dequantize(q: np.ndarray, detail: dict) -> np.ndarray:
    """The tensor's integer values -> float32 with its (scale, zero point); floats pass through."""
    if _integer_range(detail["dtype"]) is None:
        return q.astype(np.float32, copy=False)
    scale, zero_point = detail["quantization"]
    real = q.astype(np.float32)
    real -= zero_point
    real *= scale
    return real


def run_model(
    model: bytes | str | Path, x: np.ndarray, *, batch_size: int = 256, default_delegates: bool = True
) -> np.ndarray:
    """Run a single-input, single-output model over ``x`` (float), quantizing in and dequantizing out.

    A model with a fixed batch dimension of 1 (the microcontroller variant) is run one window at a time.
    ``default_delegates``: see ``load_interpreter``.
    """
    interpreter = load_interpreter(model, default_delegates=default_delegates)
    try:
        return _run_batches(interpreter, x, batch_size)
    except (RuntimeError, ValueError) as exc:
        raise InputError(f"the model failed to run ({exc})") from exc


def _run_batches(interpreter, x: np.ndarray, batch_size: int) -> np.ndarray:
    (inp,) = interpreter.get_input_details()
    fixed_batch = int(inp["shape_signature"][0]) if len(inp["shape_signature"]) else 1
    step = 1 if fixed_batch == 1 else batch_size
    outputs = []
    current = None
    for start in range(0, len(x), step):
        chunk = x[start : start + step]
        if len(chunk) != current:
            interpreter.resize_tensor_input(inp["index"], [len(chunk), *inp["shape"][1:]])
            interpreter.allocate_tensors()
            current = len(chunk)
            (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
        interpreter.set_tensor(inp["index"], quantize(chunk, inp))
        interpreter.invoke()
        if step == 1:  # an LSTM keeps its state between invokes: each window starts from reset
            interpreter.reset_all_variables()
        outputs.append(dequantize(interpreter.get_tensor(out["index"]), out))
    return np.concatenate(outputs) if outputs else np.zeros((0,), np.float32)
