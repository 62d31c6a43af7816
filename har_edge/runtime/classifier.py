"""Classify raw sensor windows with a bundle's frozen base and trainable head (no TensorFlow).

``Classifier`` verifies the bundle (file hashes first), loads both models, checks the manifest against
the models' real tensors, and then runs: validate windows -> normalize (manifest statistics) ->
quantize (int8 base) -> base -> dequantize -> flatten -> head ``infer``; for up to one base call of
windows in place, in the interpreters' own tensors (``har_edge.runtime.encode``), with the same bits.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from har_edge.errors import InputError
from har_edge.runtime.bundle import BASE_FILE, HEAD_FILE, Bundle, Manifest, open_bundle
from har_edge.runtime.encode import DequantizeInto, WindowEncoder
from har_edge.runtime.head import HeadWeights
from har_edge.runtime.inputs import checked_probabilities, checked_windows, prechecked_windows
from har_edge.runtime.interpreter import dequantize, load_interpreter, quantize
from har_edge.runtime.model_checks import (
    check_head_signatures,
    check_manifest_against_models,
    check_weights,
    probe_bundle,
)
from har_edge.runtime.signatures import SignatureCall

MAX_BATCH = 256  # windows per interpreter call; larger inputs are run in chunks
THREAD_MODES = ("per-thread", "lock")


def _load(name: str, model: bytes, num_threads: int | None):
    try:
        return load_interpreter(model, num_threads=num_threads)
    except InputError as exc:
        raise InputError(f"{name}: {exc}") from exc


def _in_chunks(run: Callable[[np.ndarray], np.ndarray], x: np.ndarray, size: int) -> np.ndarray:
    if len(x) <= size:
        return run(x)
    return np.concatenate([run(x[start : start + size]) for start in range(0, len(x), size)])


class BaseModel:
    """The frozen feature extractor: one input (window) and one output (features) tensor."""

    def __init__(self, model: bytes, num_threads: int | None) -> None:
        interpreter = _load(BASE_FILE, model, num_threads)
        self.call = SignatureCall(interpreter)
        inputs, outputs = self.call.inputs, self.call.outputs
        if len(inputs) != 1 or len(outputs) != 1:
            found = f"inputs {sorted(inputs)}, outputs {sorted(outputs)}"
            raise InputError(f"{BASE_FILE}: expected one input and one output, got {found}")
        (self.input,), (self.output,) = inputs.values(), outputs.values()
        self.max_batch = 1 if self.input.shape_signature[:1] == (1,) else MAX_BATCH  # fixed batch (MCU, LSTM)
        # an LSTM's state tensors keep their values between invokes; reset after every invoke (tensors
        # are allocated then, and start reset), each window starts from the reset state, as in Keras and
        # in the generated firmware. Only fixed-batch bases can hold an LSTM.
        self.reset_state = interpreter.reset_all_variables if self.max_batch == 1 else None

    def features(self, x: np.ndarray) -> np.ndarray:
        """Normalized windows in the model's layout (float32) -> features (n, F) float32."""
        return _in_chunks(self._run, x, self.max_batch)

    def invoke(self, direct) -> None:
        """Run the base on the inputs written in place (``self.call.direct``), leaving the state reset."""
        direct.invoke()
        if self.reset_state is not None:
            self.reset_state()

    def _run(self, x: np.ndarray) -> np.ndarray:
        (out,) = self.call(**{self.input.name: quantize(x, self.input.detail)}).values()
        if self.reset_state is not None:
            self.reset_state()
        return dequantize(out, self.output.detail).reshape(len(x), -1)


class HeadSession:
    """The trainable head's four signatures on one interpreter (see ``har_edge.runtime.head``)."""

    def __init__(self, model: bytes, num_threads: int | None) -> None:
        interpreter = _load(HEAD_FILE, model, num_threads)
        check_head_signatures(interpreter, HEAD_FILE)
        self.infer_call = SignatureCall(interpreter, "infer")
        self.train_call = SignatureCall(interpreter, "train")
        self.get_call = SignatureCall(interpreter, "get_weights")
        self.set_call = SignatureCall(interpreter, "set_weights")
        self.weight_shapes = {name: spec.shape_signature for name, spec in self.get_call.outputs.items()}
        check_weights(self.named_weights(), HEAD_FILE)

    @property
    def n_features(self) -> int:
        return self.weight_shapes["w0"][0]

    @property
    def n_classes(self) -> int:
        return self.weight_shapes[f"w{len(self.weight_shapes) // 2 - 1}"][1]

    @property
    def hidden(self) -> int | None:
        return self.weight_shapes["w0"][1] if len(self.weight_shapes) == 4 else None

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        return _in_chunks(lambda chunk: self.infer_call(features=chunk)["probabilities"], features, MAX_BATCH)

    def train_step(self, features: np.ndarray, onehot: np.ndarray, learning_rate: float) -> float:
        """One SGD step; returns the batch loss BEFORE the step."""
        rate = np.float32(learning_rate)
        return float(self.train_call(features=features, labels=onehot, learning_rate=rate)["loss"])

    def named_weights(self) -> dict[str, np.ndarray]:
        """``{w0, b0, ...}`` as the head holds them, unchecked (they may be NaN after a bad step)."""
        return self.get_call()

    def weights(self) -> HeadWeights:
        return HeadWeights.from_named(self.named_weights())

    def set_weights(self, weights: HeadWeights) -> None:
        named = weights.named()
        check_head_shapes(self.weight_shapes, named)
        assigned = int(self.set_call(**named)["n_assigned"])
        expected = sum(array.size for array in named.values())
        if assigned != expected:
            raise InputError(f"{HEAD_FILE}: set_weights assigned {assigned} parameters, expected {expected}")


def check_head_shapes(exported: Mapping[str, tuple[int, ...]], named: Mapping[str, np.ndarray]) -> None:
    """A head's variable shapes are fixed at export: weights of other shapes are an ``InputError``."""
    got = {name: tuple(array.shape) for name, array in named.items()}
    if got != dict(exported):
        raise InputError(
            f"head weights have shapes {got}, but {HEAD_FILE} was exported with {dict(exported)}; "
            "a head for another class count or hidden size needs a bundle exported with it "
            "(har-edge optimize ... --head-labels A,B,C [--head-hidden H])"
        )


@dataclass(frozen=True)
class _HeadState:
    """What the head should hold: ``weights`` None = as exported. ``version`` orders the states."""

    version: int
    weights: HeadWeights | None
    labels: tuple[str, ...]


class _Engine:
    """One base + head interpreter pair, and the head state version its head holds.

    ``probabilities`` takes the in-place path (``har_edge.runtime.encode``: the window is normalized
    and quantized straight into the base's input tensor, the features dequantized straight into the
    head's) when the backend has the per-subgraph API and the batch fits one base call; otherwise the
    general path (normalize, ``BaseModel.features``, ``HeadSession.probabilities``). Both give the
    same bits.
    """

    def __init__(self, bundle: Bundle, num_threads: int | None) -> None:
        self.base = BaseModel(bundle.base, num_threads)
        self.head = HeadSession(bundle.head, num_threads)
        self.head_version = 0
        m = bundle.manifest
        mean, std = m.normalization["mean"], m.normalization["std"]
        self.encoder = WindowEncoder(mean, std, self.base.input.shape_signature[1:], self.base.input.detail)
        self.dequantize = DequantizeInto(self.base.output.detail)
        self.in_place = self.base.call.uses_fast_path and self.head.infer_call.uses_fast_path
        self._shapes: dict[int, tuple[list, list]] = {}  # batch size -> (base, head) input shapes

    def sync(self, state: _HeadState) -> None:
        if self.head_version != state.version:
            self.head.set_weights(state.weights)
            self.head_version = state.version

    def probabilities(self, x: np.ndarray, normalize: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Validated raw windows (n, window, channels) -> probabilities (n, C) float32."""
        n = len(x)
        if not self.in_place or n > self.base.max_batch:
            return self.head.probabilities(self.base.features(normalize(x)))
        shapes = self._shapes.get(n)
        if shapes is None:
            features = (n, self.head.n_features)
            shapes = self._shapes[n] = ([(n, *self.base.input.shape_signature[1:])], [features])
        base = self.base.call.direct(shapes[0])
        self.encoder.encode_into(x, base.input_view(self.base.input.name))
        self.base.invoke(base)
        head = self.head.infer_call.direct(shapes[1])
        self.dequantize.into(base.output_view(self.base.output.name), head.input_view("features"))
        head.invoke()
        return head.output("probabilities")


class Classifier:
    """Raw sensor windows -> features, class probabilities and labels, from a bundle.

    A path is opened with ``open_bundle`` (sizes and hashes verified before any interpreter sees a
    byte); a ``Bundle`` is taken as ``open_bundle`` returned it. A model that does not load or run, or
    a manifest that disagrees with the models' tensors, is an ``InputError`` naming both values.

    ``thread_mode``: interpreters are not thread-safe, so one ``Classifier`` used from several threads
    either gives each thread its own interpreter pair (``"per-thread"``, the default: built on a
    thread's first call, 0.2 ms and one copy of the models' tensors per thread) or shares one pair
    behind a lock (``"lock"``). Both give exactly the one-thread results. Windows/s of per-thread
    relative to lock, measured on 2 cores (ai-edge-litert 2.3, the test suite's int8 dense bundle; the
    range of two runs):

    ==================  ===========  ===========  ===========
    windows per call    2 threads    3 threads    4 threads
    ==================  ===========  ===========  ===========
    1                   1.02-1.07x   0.71-0.77x   0.51-0.52x
    8                   1.30-1.63x   1.22-1.32x   1.04-1.12x
    64                  1.51-1.62x   1.32-1.55x   1.51-1.58x
    ==================  ===========  ===========  ===========

    Per-thread wins whenever there are no more threads than cores or calls carry several windows (the
    interpreter releases the GIL while it runs). With single windows from more threads than cores the
    GIL hand-offs around every invoke cost more than they gain, and ``"lock"`` is faster; there even
    one thread beats several (32k vs 24k windows/s).

    ``set_head_weights`` installs another head (e.g. a personalized one); a thread's interpreter picks
    it up on its next call, so calls already running finish with the previous head.
    """

    def __init__(
        self,
        bundle_or_path: Bundle | str | Path,
        *,
        num_threads: int | None = None,
        thread_mode: str = "per-thread",
    ) -> None:
        if thread_mode not in THREAD_MODES:
            raise InputError(f"thread_mode {thread_mode!r}, expected one of {THREAD_MODES}")
        bundle = bundle_or_path if isinstance(bundle_or_path, Bundle) else open_bundle(bundle_or_path)
        self.bundle = bundle
        self.thread_mode = thread_mode
        self._num_threads = num_threads
        self._mean = np.asarray(bundle.manifest.normalization["mean"], np.float64)
        self._std = np.asarray(bundle.manifest.normalization["std"], np.float64)
        probe_bundle(bundle)
        try:
            engine = _Engine(bundle, num_threads)
            check_manifest_against_models(bundle.manifest, engine.base, engine.head)
        except InputError as exc:
            raise InputError(f"{bundle.path}: {exc}") from exc
        self._head_shapes = engine.head.weight_shapes
        self._head_state = _HeadState(0, None, bundle.manifest.class_labels)
        self._versions = itertools.count(1)
        self._lock = threading.Lock()
        self._shared_engine = engine if thread_mode == "lock" else None
        self._local = threading.local()  # .engine: this thread's own, in "per-thread" mode
        if thread_mode == "per-thread":
            self._local.engine = engine

    @property
    def manifest(self) -> Manifest:
        return self.bundle.manifest

    @property
    def labels(self) -> tuple[str, ...]:
        """The installed head's class labels: the manifest's unless ``set_head_weights`` changed them."""
        return self._head_state.labels

    def features(self, windows: np.ndarray) -> np.ndarray:
        """Raw windows (n, window, channels), or one window (window, channels) -> features (n, F) float32."""
        m = self.manifest
        x = self._normalized(checked_windows(windows, m.window, m.channels))
        with self._engine() as (engine, _):
            return engine.base.features(x)

    def predict_proba(self, windows: np.ndarray) -> np.ndarray:
        """Class probabilities (n, C) float32, columns in the order of ``labels``."""
        return self._classify(windows)[0]

    def predict_proba_checked(self, windows: np.ndarray) -> np.ndarray:
        """``predict_proba`` for windows the caller has validated already: float32 (n, window, channels),
        n >= 1, every value finite (e.g. cut from chunks that passed ``inputs.checked_samples``, as
        ``StreamingClassifier`` does). The per-call input check is skipped; the outputs are still
        checked, and so are the array's type and shape (an ``InputError``), but not its values: for
        anything else use ``predict_proba``."""
        m = self.manifest
        prechecked_windows(windows, m.window, m.channels)
        return self._classify(windows, checked=True)[0]

    def predict(self, windows: np.ndarray) -> np.ndarray:
        """The most probable label per window, as an array of str (one window -> an array of one)."""
        probabilities, labels = self._classify(windows)
        return np.asarray(labels)[probabilities.argmax(axis=1)]

    def head_weights(self) -> HeadWeights:
        """The installed head's weights, read back through its ``get_weights`` signature."""
        with self._engine() as (engine, _):
            return engine.head.weights()

    def set_head_weights(
        self, weights: HeadWeights | Mapping[str, np.ndarray], *, labels: Sequence[str] | None = None
    ) -> None:
        """Install head weights (``HeadWeights`` or ``{w0, b0, ...}``) of the exported shapes.

        ``labels`` names the classes of a head trained for another label set of the same size; by
        default the current labels stay.
        """
        weights = weights if isinstance(weights, HeadWeights) else HeadWeights.from_named(weights)
        check_head_shapes(self._head_shapes, weights.named())
        labels = checked_labels(self.labels if labels is None else labels, weights.n_classes)
        self._head_state = _HeadState(next(self._versions), weights, labels)
        with self._engine():  # install now in this thread, so a failure surfaces here
            pass

    def _classify(self, windows: np.ndarray, checked: bool = False) -> tuple[np.ndarray, tuple[str, ...]]:
        m = self.manifest
        x = windows if checked else checked_windows(windows, m.window, m.channels)
        state = self._head_state
        if self._shared_engine is not None:
            with self._lock:
                self._shared_engine.sync(state)
                probabilities = self._shared_engine.probabilities(x, self._normalized)
        else:
            engine = self._thread_engine()
            engine.sync(state)
            probabilities = engine.probabilities(x, self._normalized)
        return checked_probabilities(probabilities, str(self.bundle.path)), state.labels

    def _thread_engine(self) -> _Engine:
        engine = getattr(self._local, "engine", None)
        if engine is None:
            engine = self._local.engine = _Engine(self.bundle, self._num_threads)
        return engine

    @contextmanager
    def _engine(self) -> Iterator[tuple[_Engine, _HeadState]]:
        state = self._head_state
        if self.thread_mode == "lock":
            with self._lock:
                self._shared_engine.sync(state)
                yield self._shared_engine, state
            return
        engine = self._thread_engine()
        engine.sync(state)
        yield engine, state

    def _normalized(self, x: np.ndarray) -> np.ndarray:
        """Checked raw windows -> normalized float32 in the base's layout (the reference computation)."""
        return normalized_windows(x, self._mean, self._std, self.manifest.input_layout)


def normalized_windows(x: np.ndarray, mean: np.ndarray, std: np.ndarray, layout: str) -> np.ndarray:
    """Checked raw windows (n, window, channels) -> the base's float32 input: normalized with the
    manifest's statistics (as ``har_edge.data.splits.Normalizer`` does), flattened for a "flat" base."""
    x = ((x - np.asarray(mean, np.float64)) / np.asarray(std, np.float64)).astype(np.float32)
    return x.reshape(len(x), -1) if layout == "flat" else x


def checked_labels(labels: Sequence[str], n_classes: int) -> tuple[str, ...]:
    """Distinct non-empty labels, one per head output, else an ``InputError``."""
    if isinstance(labels, str):
        raise InputError(f"labels: expected a sequence of names, got the string {labels!r}")
    labels = tuple(str(label) for label in labels)
    if len(labels) != n_classes or len(set(labels)) != len(labels) or not all(labels):
        raise InputError(
            f"labels: need {n_classes} distinct non-empty names (one per head output), got {labels}"
        )
    return labels
