"""The trainable head's plain types and numpy reference math; no TensorFlow.

A frozen base turns a sensor window into a feature vector; the head turns features into class
probabilities: one layer (``softmax(x W0 + b0)``) or two (``softmax(relu(x W0 + b0) W1 + b1)``). The
export stage builds its .tflite (``har_edge.export.head.head_tflite``) from TFLite builtin ops only, so
a runtime that never imports TensorFlow (ai-edge-litert, tflite-runtime) can run and train it.

Signature contract of head.tflite (F features, H hidden units, C classes, ``batch`` >= 1 dynamic;
every tensor float32 unless noted):

- ``infer``: ``features`` [batch, F] -> ``probabilities`` [batch, C] (softmax).
- ``train``: ``features`` [batch, F], ``labels`` [batch, C] (one-hot), ``learning_rate`` [] (scalar)
  -> ``loss`` [] (scalar): the mean softmax cross-entropy BEFORE the step. Performs exactly one SGD
  step (gradient of the batch mean) on every head variable.
- ``get_weights``: no inputs -> ``w0`` [F, C], ``b0`` [C] for one layer; ``w0`` [F, H], ``b0`` [H],
  ``w1`` [H, C], ``b1`` [C] for two.
- ``set_weights``: the same names and shapes as inputs -> ``n_assigned`` int32 [] (the number of
  parameters written). TFLite drops a signature without outputs together with its assignments, hence it.

Caveats: there are no ``save``/``restore`` signatures, because checkpoint ops (SaveV2/RestoreV2) exist
only as Flex ops; the host checkpoints through ``get_weights``/``set_weights``. ``labels`` may be soft
labels as long as each row sums to 1 (the gradient ``p - y`` assumes it); rows that do not are not
detected on the device. ``reference_sgd_step`` is the ``train`` signature's math in numpy (float64),
the oracle the runtime and the firmware are checked against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from har_edge.errors import InputError

MIN_CLASSES = 2


def parameter_names(n_layers: int) -> list[str]:
    """``w0, b0, w1, b1, ...``: the tensor names of ``get_weights``/``set_weights``, layer by layer."""
    return [f"{kind}{i}" for i in range(n_layers) for kind in ("w", "b")]


def _read_only_copy(array: np.ndarray) -> np.ndarray:
    copy = np.array(array)
    copy.setflags(write=False)
    return copy


def _check_parameter(name: str, array: np.ndarray, ndim: int) -> None:
    if not isinstance(array, np.ndarray) or array.dtype != np.float32:
        raise InputError(f"{name} must be a float32 numpy array, got {getattr(array, 'dtype', type(array))}")
    if array.ndim != ndim or 0 in array.shape:
        raise InputError(f"{name} has shape {array.shape}; expected a non-empty {ndim}-D array")
    if not np.all(np.isfinite(array)):
        raise InputError(f"{name} contains NaN or infinite values")


def _check_layers(layers: tuple[tuple[np.ndarray, np.ndarray], ...]) -> None:
    if len(layers) not in (1, 2):
        raise InputError(f"a head has 1 or 2 layers, got {len(layers)}")
    for i, (w, b) in enumerate(layers):
        _check_parameter(f"w{i}", w, ndim=2)
        _check_parameter(f"b{i}", b, ndim=1)
        if b.shape != (w.shape[1],):
            raise InputError(f"b{i} has shape {b.shape}; expected ({w.shape[1]},) to match w{i}")
        if i > 0 and w.shape[0] != layers[i - 1][0].shape[1]:
            width = layers[i - 1][0].shape[1]
            raise InputError(f"w{i} has shape {w.shape}; expected {width} rows (the columns of w{i - 1})")
    n_classes = layers[-1][0].shape[1]
    if n_classes < MIN_CLASSES:
        raise InputError(f"a head needs at least {MIN_CLASSES} classes, got {n_classes}")


@dataclass(frozen=True, eq=False)
class HeadWeights:
    """The head's parameters: ``((W0, b0),)`` or ``((W0, b0), (W1, b1))`` with ReLU in between.

    Arrays must be float32 and finite, and the shapes must chain (W (F, C) or W0 (F, H), W1 (H, C)); a
    violation is an ``InputError``. They are stored as read-only copies. ``eq=False``: arrays have no
    single truth value, so compare layers explicitly.
    """

    layers: tuple[tuple[np.ndarray, np.ndarray], ...]

    def __post_init__(self) -> None:
        layers = tuple(tuple(layer) for layer in self.layers)
        if any(len(layer) != 2 for layer in layers):
            raise InputError("every layer must be a (W, b) pair")
        _check_layers(layers)
        object.__setattr__(self, "layers", tuple((_read_only_copy(w), _read_only_copy(b)) for w, b in layers))

    @property
    def n_features(self) -> int:
        return self.layers[0][0].shape[0]

    @property
    def n_classes(self) -> int:
        return self.layers[-1][0].shape[1]

    @property
    def hidden(self) -> int | None:
        """Hidden units of a two-layer head; ``None`` for one layer."""
        return self.layers[0][0].shape[1] if len(self.layers) == 2 else None

    @classmethod
    def random(cls, n_features: int, n_classes: int, hidden: int | None = None, seed: int = 0) -> HeadWeights:
        """A new head (e.g. for another class set): Glorot-uniform weights, zero biases."""
        widths = [n_features, n_classes] if hidden is None else [n_features, hidden, n_classes]
        if any(not isinstance(width, int | np.integer) or width < 1 for width in widths):
            raise InputError(f"layer widths must be positive integers, got {widths}")
        rng = np.random.default_rng(seed)
        layers = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True):
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            w = rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32)
            layers.append((w, np.zeros(fan_out, np.float32)))
        return cls(tuple(layers))

    @classmethod
    def from_named(cls, named: Mapping[str, np.ndarray]) -> HeadWeights:
        """From the outputs of the ``get_weights`` signature (``w0``, ``b0``, ...)."""
        n_layers = len(named) // 2
        if sorted(named) != sorted(parameter_names(n_layers)):
            raise InputError(f"expected tensors {parameter_names(n_layers)}, got {sorted(named)}")
        return cls(tuple((named[f"w{i}"], named[f"b{i}"]) for i in range(n_layers)))

    def named(self) -> dict[str, np.ndarray]:
        """The inputs of the ``set_weights`` signature (``w0``, ``b0``, ...)."""
        arrays = [array for layer in self.layers for array in layer]
        return dict(zip(parameter_names(len(self.layers)), arrays, strict=True))


# --- numpy reference ---------------------------------------------------------------------------------


def _check_batch(name: str, array: np.ndarray, width: int) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] != width:
        raise InputError(f"{name} has shape {array.shape}; expected (batch >= 1, {width})")
    if not np.all(np.isfinite(array)):
        raise InputError(f"{name} contains NaN or infinite values")
    return array.astype(np.float64)


def _reference_layer_inputs(weights: HeadWeights, x: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The input of every layer (features, then ReLU activations) and the logits, in float64."""
    inputs = [x]
    for w, b in weights.layers[:-1]:
        inputs.append(np.maximum(inputs[-1] @ w + b, 0.0))
    w, b = weights.layers[-1]
    return inputs, inputs[-1] @ w + b


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def reference_forward(weights: HeadWeights, features: np.ndarray) -> np.ndarray:
    """Class probabilities [batch, C] (float32) for ``features`` [batch, F], as ``infer`` computes them."""
    x = _check_batch("features", features, weights.n_features)
    _, logits = _reference_layer_inputs(weights, x)
    return np.exp(_log_softmax(logits)).astype(np.float32)


def reference_sgd_step(
    weights: HeadWeights, features: np.ndarray, onehot: np.ndarray, learning_rate: float
) -> tuple[HeadWeights, float]:
    """One SGD step on the mean softmax cross-entropy, as ``train`` does it.

    Returns the updated weights (float32) and the loss before the step. Computed in float64, so a
    float32 runtime agrees to about 1e-6 on small heads.
    """
    x = _check_batch("features", features, weights.n_features)
    y = _check_batch("onehot", onehot, weights.n_classes)
    if len(y) != len(x):
        raise InputError(f"onehot has {len(y)} rows but features has {len(x)}")
    if not (np.isfinite(learning_rate) and learning_rate > 0):
        raise InputError(f"learning_rate must be a positive finite number, got {learning_rate}")
    inputs, logits = _reference_layer_inputs(weights, x)
    log_p = _log_softmax(logits)
    loss = float(-(y * log_p).sum() / len(x))
    delta = (np.exp(log_p) - y) / len(x)  # d loss / d logits
    updated = [None] * len(weights.layers)
    for i in reversed(range(len(weights.layers))):
        w, b = weights.layers[i]
        updated[i] = (
            (w - learning_rate * (inputs[i].T @ delta)).astype(np.float32),
            (b - learning_rate * delta.sum(axis=0)).astype(np.float32),
        )
        if i > 0:
            delta = np.where(inputs[i] > 0, delta @ w.T, 0.0)  # through the ReLU that produced inputs[i]
    return HeadWeights(tuple(updated)), loss
