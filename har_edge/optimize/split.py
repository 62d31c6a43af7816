"""Split a trained model at a named layer into a frozen *base* (feature extractor) and a *head*.

``split(model, at=...)`` rebuilds the layers after ``at`` as a Keras model on a new input, so
``head(base(x)) == model(x)``. A head can be trained on a device only when it is a flatten (or
dropout/reshape) followed by one dense softmax layer or by dense-relu-dense-softmax:
``trainable_head_weights`` extracts those weights, or says why the head does not qualify.
Caveat: a split inside one branch of a multi-branch model (e.g. inside the cnn's temporal branch when
the spectrogram branch is on) is refused, because the head would need the raw input too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from har_edge.errors import InputError
from har_edge.runtime.head import HeadWeights

PASS_THROUGH_LAYERS = ("Flatten", "Dropout", "Reshape", "InputLayer", "QuantizeLayer")


@dataclass(frozen=True, eq=False)
class SplitModel:
    base: Any
    head: Any
    split_layer: str
    feature_shape: tuple[int, ...]

    @property
    def n_features(self) -> int:
        return int(np.prod(self.feature_shape))


def split(model, at: str, split_points: tuple[str, ...] = ()) -> SplitModel:
    """Cut ``model`` after layer ``at``. ``split_points`` (from the model card) name the valid cuts."""
    from har_edge.tfcompat import keras

    names = [layer.name for layer in model.layers]
    valid = split_points or tuple(names[1:-1])
    if at not in names or (split_points and at not in split_points):
        raise InputError(
            f"cannot split at {at!r}: not a split point of {model.name!r}; valid: {', '.join(valid)}"
        )
    k = keras()
    cut = model.get_layer(at)
    base = k.Model(model.input, cut.output, name=f"{model.name}_base")
    feature_shape = tuple(int(d) for d in cut.output.shape[1:])
    head_input = k.Input(shape=feature_shape, name="features")
    head_output = _replay_after(model, cut, head_input, valid)
    head = k.Model(head_input, head_output, name=f"{model.name}_head")
    if not head.trainable_weights:
        raise InputError(
            f"splitting at {at!r} leaves a head with no trainable weights; valid: {', '.join(valid)}"
        )
    return SplitModel(base, head, at, feature_shape)


def _replay_after(model, cut, head_input, valid: tuple[str, ...]):
    """Call every layer downstream of ``cut`` again, on tensors rebuilt from ``head_input``."""
    rebuilt = {id(cut.output): head_input}
    for layer in model.layers[model.layers.index(cut) + 1 :]:
        inputs = layer.input if isinstance(layer.input, list) else [layer.input]
        missing = [t for t in inputs if id(t) not in rebuilt]
        if missing:
            raise InputError(
                f"splitting at {cut.name!r} leaves layer {layer.name!r} depending on the model input "
                f"(another branch); valid split points: {', '.join(valid)}"
            )
        args = [rebuilt[id(t)] for t in inputs]
        rebuilt[id(layer.output)] = layer(args if len(args) > 1 else args[0])
    return rebuilt[id(model.output)]


def trainable_head_weights(head) -> HeadWeights:
    """The head's dense weights as ``HeadWeights`` (one or two dense layers after pass-through layers)."""
    layers = [layer for layer in head.layers if type(unwrap_layer(layer)).__name__ not in PASS_THROUGH_LAYERS]
    kinds = [(type(unwrap_layer(layer)).__name__, activation_name(unwrap_layer(layer))) for layer in layers]
    if kinds not in ([("Dense", "softmax")], [("Dense", "relu"), ("Dense", "softmax")]):
        described = ", ".join(
            f"{layer.name} ({kind}/{act})" for layer, (kind, act) in zip(layers, kinds, strict=True)
        )
        raise InputError(
            f"this head cannot be trained on a device: it must be flatten + dense(softmax) or "
            f"dense(relu) + dense(softmax), got {described}; split later or replace the head"
        )
    if any(len(layer.input_shape) != 2 for layer in layers):
        raise InputError("a trainable head's dense layers must see flat features; split at a later layer")
    return HeadWeights(tuple(dense_weights(layer) for layer in layers))


def new_head(n_features: int, n_classes: int, *, hidden: int | None = None, seed: int = 0) -> HeadWeights:
    """A freshly initialized head for another class set (e.g. 12 generic classes -> 4 personal ones)."""
    if n_classes < 2:
        raise InputError(f"a head needs at least 2 classes, got {n_classes}")
    return HeadWeights.random(n_features, n_classes, hidden=hidden, seed=seed)


def unwrap_layer(layer):
    """The layer inside a tfmot QuantizeWrapper (quantization-aware training), else the layer."""
    return layer.layer if type(layer).__name__.startswith("QuantizeWrapper") else layer


def activation_name(layer) -> str:
    activation = getattr(layer, "activation", None)
    activation = getattr(activation, "activation", activation)  # QAT's QuantizeAwareActivation wraps it
    return getattr(activation, "__name__", "none")


def dense_weights(layer) -> tuple[np.ndarray, np.ndarray]:
    """(kernel, bias) of a Dense layer or of the float variables inside its QAT wrapper."""
    by_suffix = {w.name.rsplit("/", 1)[-1]: w for w in layer.weights}
    kernel, bias = by_suffix["kernel:0"], by_suffix["bias:0"]
    return np.asarray(kernel.numpy(), dtype=np.float32), np.asarray(bias.numpy(), dtype=np.float32)
