"""Call one TFLite signature many times with little per-call overhead (numpy + stdlib only).

``SignatureCall`` resolves a signature once (subgraph, tensor indices, dtypes, shape signatures, the
tensor details quantization needs), converts dtypes, checks input shapes and resizes/re-allocates
only when a shape changes (a new batch size), and otherwise just sets the inputs, invokes the
subgraph and copies the outputs out. Every failure is an ``InputError`` naming the signature.

``SignatureRunner.__call__`` resizes every input and re-allocates on every call, but the interpreter
makes a same-shape resize + allocate a no-op (0.4 µs), so the saving is the runner's Python work, not
memory planning; a changed batch size costs 1.2 µs (head) to 2.7 µs (int8 base) to re-plan on either
path. Measured with ai-edge-litert 2.3 (x86-64, 2 cores) on a bundle's head (1600 features, 12
classes) and int8 base, µs per call as runner / ``SignatureCall`` / the invoke alone: ``infer``
batch 1: 7.2 / 7.0 / 5.2; ``train`` batch 32: 45.1 / 43.3 / 36.1; base batch 1: 7.1 / 6.9 / 5.1;
``get_weights``: 2.8 / 3.1 / 1.0. Without its input checks the bypass would save 0.5-3.3 µs; with
them it roughly pays for them (the same checks in front of the runner cost 0.8-1.2 µs more).

Caveat: no public API invokes a subgraph other than the primary one (``Interpreter.set_tensor`` and
``invoke`` reach subgraph 0 only), and the head's signatures live in other subgraphs. The fast path
therefore uses the interpreter wrapper's per-subgraph ``ResizeInputTensor``/``AllocateTensors``/
``SetTensor``/``Invoke``/``GetTensor`` and the runner's resolved subgraph index: private, but exactly
what ``SignatureRunner.__call__`` itself calls in LiteRT 2.3, ``tf.lite`` 2.21 and ``tflite_runtime``
2.14 (one shared ``interpreter.py`` source). When they are missing, ``SignatureCall`` falls back to
``SignatureRunner.__call__``: the same results with the runner's overhead.

``SignatureCall.direct`` goes one step further for the Classifier's hot path: ``DirectTensors`` gives
numpy views of the signature's input and output tensors (the wrapper's ``tensor``), so a caller writes
inputs in place and reads outputs without ``SetTensor``/``GetTensor`` copies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from har_edge.errors import InputError

WRAPPER_METHODS = ("ResizeInputTensor", "AllocateTensors", "SetTensor", "Invoke", "GetTensor", "tensor")


@dataclass(frozen=True)
class TensorSpec:
    """A signature tensor: name, index in its subgraph, dtype, shape signature (-1 = any size), and the
    interpreter's details (quantization)."""

    name: str
    index: int
    dtype: np.dtype
    shape_signature: tuple[int, ...]
    detail: dict

    @classmethod
    def from_detail(cls, name: str, detail: dict) -> TensorSpec:
        signature = tuple(int(d) for d in detail.get("shape_signature", detail["shape"]))
        return cls(name, int(detail["index"]), np.dtype(detail["dtype"]), signature, detail)

    def accepts(self, shape: tuple[int, ...]) -> bool:
        return len(shape) == len(self.shape_signature) and all(
            want in (-1, got) for want, got in zip(self.shape_signature, shape, strict=True)
        )

    def describe(self) -> str:
        return "(" + ", ".join("any" if d == -1 else str(d) for d in self.shape_signature) + ")"


def _specs(details: dict[str, dict]) -> dict[str, TensorSpec]:
    return {name: TensorSpec.from_detail(name, detail) for name, detail in details.items()}


class _SubgraphAccess:
    """The interpreter wrapper's per-subgraph calls (private API; see the module docstring)."""

    def __init__(self, wrapper, subgraph: int, inputs: dict[str, TensorSpec], outputs: dict[str, TensorSpec]):
        self._wrapper = wrapper
        self._subgraph = subgraph
        self._input_index = {name: spec.index for name, spec in inputs.items()}
        self._output_index = {name: spec.index for name, spec in outputs.items()}

    @classmethod
    def of(cls, interpreter, runner, inputs: dict, outputs: dict) -> _SubgraphAccess | None:
        """The access, or None when this backend lacks the private API."""
        wrapper = getattr(interpreter, "_interpreter", None)
        subgraph = getattr(runner, "_subgraph_index", None)
        if not isinstance(subgraph, int) or not all(hasattr(wrapper, m) for m in WRAPPER_METHODS):
            return None
        return cls(wrapper, subgraph, inputs, outputs)

    def resize(self, shapes: dict[str, tuple[int, ...]]) -> None:
        for name, shape in shapes.items():
            size = np.array(shape, dtype=np.int32)
            self._wrapper.ResizeInputTensor(self._input_index[name], size, False, self._subgraph)
        self._wrapper.AllocateTensors(self._subgraph)

    def run(self, arrays: dict[str, np.ndarray], *, resize: bool) -> dict[str, np.ndarray]:
        wrapper, subgraph = self._wrapper, self._subgraph
        if resize:
            self.resize({name: array.shape for name, array in arrays.items()})
        for name, array in arrays.items():
            wrapper.SetTensor(self._input_index[name], array, subgraph)
        wrapper.Invoke(subgraph)
        return {name: wrapper.GetTensor(index, subgraph) for name, index in self._output_index.items()}


class DirectTensors:
    """Zero-copy access to one signature's tensors, for hot loops that write inputs in place.

    ``input_view``/``output_view`` are numpy arrays over the interpreter's own memory: valid only until
    the next ``invoke`` or re-allocation (a dynamic output may move on every invoke), so take them
    afresh for each call and never keep them. ``output`` returns a copy the caller owns. An invoke
    that fails is an ``InputError`` naming the signature.
    """

    def __init__(self, name: str, access: _SubgraphAccess) -> None:
        self._name = name
        self._wrapper = access._wrapper
        self._subgraph = access._subgraph
        self._input_index = access._input_index
        self._output_index = access._output_index

    def input_view(self, name: str) -> np.ndarray:
        return self._wrapper.tensor(self._wrapper, self._input_index[name], self._subgraph)

    def output_view(self, name: str) -> np.ndarray:
        return self._wrapper.tensor(self._wrapper, self._output_index[name], self._subgraph)

    def output(self, name: str) -> np.ndarray:
        return self._wrapper.GetTensor(self._output_index[name], self._subgraph)

    def invoke(self) -> None:
        try:
            self._wrapper.Invoke(self._subgraph)
        except (RuntimeError, ValueError) as exc:
            raise InputError(f"signature {self._name!r}: the model failed to run ({exc})") from exc


class SignatureCall:
    """One signature of one interpreter, resolved once; call it with numpy arrays by input name.

    ``signature=None`` takes the model's only signature; ``fast_path=False`` always goes through
    ``SignatureRunner.__call__`` (for comparisons). Returns ``{output name: array}``, fresh arrays
    the caller owns. An input is converted to the tensor's dtype when that is a same-kind cast
    (float64 -> float32 yes, float -> int8 no: quantize first). A wrong input name, shape or dtype, or
    a model that fails to allocate or run, is an ``InputError``. Not thread-safe, like the interpreter;
    use an interpreter only through ``SignatureCall``s, which track the shapes they allocated.
    """

    def __init__(self, interpreter, signature: str | None = None, *, fast_path: bool = True) -> None:
        try:
            runner = interpreter.get_signature_runner(signature)
        except ValueError as exc:
            found = sorted(interpreter.get_signature_list())
            raise InputError(f"no signature {signature!r} in the model (it has {found}): {exc}") from exc
        self.name = signature or next(iter(interpreter.get_signature_list()))
        self.inputs = _specs(runner.get_input_details())
        self.outputs = _specs(runner.get_output_details())
        self._runner = runner
        self._direct = (
            _SubgraphAccess.of(interpreter, runner, self.inputs, self.outputs) if fast_path else None
        )
        self._checked_shapes: list[tuple[int, ...]] | None = None
        self._tensors = None if self._direct is None else DirectTensors(self.name, self._direct)

    @property
    def uses_fast_path(self) -> bool:
        """False when the backend lacks the private per-subgraph API (or ``fast_path=False``)."""
        return self._direct is not None

    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        arrays = self._converted(inputs)
        shapes = [array.shape for array in arrays.values()]
        reshaped = shapes != self._checked_shapes
        if reshaped:
            self._check_shapes(arrays)
        self._checked_shapes = None  # until this call succeeds: a failed resize is redone next time
        try:
            if self._direct is None:
                outputs = self._runner(**arrays)
            else:
                outputs = self._direct.run(arrays, resize=reshaped)
        except (RuntimeError, ValueError) as exc:
            raise InputError(f"signature {self.name!r}: the model failed to run ({exc})") from exc
        self._checked_shapes = shapes
        return outputs

    def direct(self, shapes: list[tuple[int, ...]]) -> DirectTensors | None:
        """The signature's tensors allocated for the input ``shapes`` (a list in the order of
        ``inputs``), for writing inputs in place and invoking without copies; None without the fast
        path. Re-allocates only when the shapes differ from the last call's. A shape a tensor does not
        accept, or a failed allocation, is an ``InputError``."""
        if self._direct is None:
            return None
        if shapes != self._checked_shapes:
            if len(shapes) != len(self.inputs):
                raise InputError(
                    f"signature {self.name!r} takes {len(self.inputs)} inputs, got {len(shapes)}"
                )
            named = dict(zip(self.inputs, (tuple(shape) for shape in shapes), strict=True))
            for name, shape in named.items():
                if not self.inputs[name].accepts(shape):
                    where = f"signature {self.name!r} input {name!r}"
                    raise InputError(f"{where} has shape {shape}; expected {self.inputs[name].describe()}")
            self._checked_shapes = None  # until the allocation succeeds
            try:
                self._direct.resize(named)
            except (RuntimeError, ValueError) as exc:
                raise InputError(f"signature {self.name!r}: cannot allocate {named} ({exc})") from exc
            self._checked_shapes = list(named.values())
        return self._tensors

    def _converted(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The inputs as arrays of the tensors' dtypes, in the signature's order."""
        if inputs.keys() != self.inputs.keys():
            expected = sorted(self.inputs)
            raise InputError(f"signature {self.name!r} takes inputs {expected}, got {sorted(inputs)}")
        arrays = {}
        for name, spec in self.inputs.items():
            array = np.asarray(inputs[name])
            if array.dtype != spec.dtype:
                if not np.can_cast(array.dtype, spec.dtype, casting="same_kind"):
                    raise InputError(
                        f"signature {self.name!r} input {name!r} is {spec.dtype}, got {array.dtype}"
                    )
                array = array.astype(spec.dtype)
            arrays[name] = array
        return arrays

    def _check_shapes(self, arrays: dict[str, np.ndarray]) -> None:
        for name, array in arrays.items():
            spec = self.inputs[name]
            if not spec.accepts(array.shape):
                where = f"signature {self.name!r} input {name!r}"
                raise InputError(f"{where} has shape {array.shape}; expected {spec.describe()}")
