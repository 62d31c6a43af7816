"""Load-time checks of a bundle's models beyond hashes: each model verified and run once in a child
process (``probe_model``), the head's signature contract, finite, sane head weights, and every shape
and quantization the manifest declares against the models' real tensors.

The head contract (``har_edge.runtime.head``): ``infer(features) -> probabilities``,
``train(features, labels, learning_rate) -> loss``, ``get_weights() -> w0, b0[, w1, b1]`` and
``set_weights(w0, b0[, w1, b1]) -> n_assigned``. A renamed input or output is refused here, not found
missing later by ``Personalizer``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from har_edge.errors import InputError
from har_edge.runtime.bundle import BASE_FILE, HEAD_FILE, MCU_BASE_FILE, Bundle, Manifest, Quantization
from har_edge.runtime.inputs import checked_probabilities
from har_edge.runtime.probe import probe_models
from har_edge.runtime.signatures import TensorSpec

QUANTIZATION_TOLERANCE = 1e-6  # relative, between the manifest's scale and the model's
MAX_ABS_WEIGHT = 1e6  # larger head weights come from a broken export or a forged file, not training
_WEIGHTS = (("w0", "b0"), ("w0", "b0", "w1", "b1"))


def probe_bundle(bundle: Bundle) -> None:
    """Verify and test-run the base, head and MCU base (when listed) of ``bundle`` (in parallel; once per
    content per process)."""
    names = [name for name in (BASE_FILE, HEAD_FILE, MCU_BASE_FILE) if name in bundle.files]
    probe_models([(bundle.files[name], str(bundle.path / name)) for name in names])


def check_head_signatures(interpreter, source: str) -> None:
    """The head's four signatures with exactly the contract's input and output names."""
    found = {
        key: (sorted(io.get("inputs", ())), sorted(io.get("outputs", ())))
        for key, io in interpreter.get_signature_list().items()
    }
    weights = tuple(found.get("get_weights", ((), ()))[1])
    expected = {
        "infer": (["features"], ["probabilities"]),
        "train": (["features", "labels", "learning_rate"], ["loss"]),
        "get_weights": ([], sorted(weights)),
        "set_weights": (sorted(weights), ["n_assigned"]),
    }
    if tuple(sorted(weights)) not in {tuple(sorted(names)) for names in _WEIGHTS} or found != expected:
        raise InputError(
            f"{source}: signatures {found} do not follow the head contract {expected} "
            f"(get_weights outputs one of {[list(names) for names in _WEIGHTS]})"
        )


def check_weights(named: Mapping[str, np.ndarray], source: str) -> None:
    """Every weight finite and at most ``MAX_ABS_WEIGHT`` in magnitude, else an ``InputError``."""
    for name, array in named.items():
        values = np.asarray(array, dtype=np.float64)
        if not np.isfinite(values).all():
            raise InputError(f"{source}: head weight {name} contains NaN or infinite values")
        if values.size and np.abs(values).max() > MAX_ABS_WEIGHT:
            raise InputError(
                f"{source}: head weight {name} holds |w| = {np.abs(values).max():.3g}, over the sane "
                f"limit {MAX_ABS_WEIGHT:g}"
            )


def check_manifest_against_models(manifest: Manifest, base, head) -> None:
    """Every shape and quantization the manifest declares must be what the models really have (``base``: a
    ``classifier.BaseModel``, ``head``: a ``classifier.HeadSession``)."""
    _check_base_input(manifest, base.input)
    features = base.features(np.zeros((1, *base.input.shape_signature[1:]), np.float32))
    _check_equal(
        "base output features",
        f"feature_shape {manifest.feature_shape}",
        manifest.n_features,
        features.shape[1],
    )
    _check_quantization("base input", manifest.base_input_quantization, base.input)
    _check_quantization("base output", manifest.base_output_quantization, base.output)
    _check_equal(
        "head input features", f"feature_shape {manifest.feature_shape}", manifest.n_features, head.n_features
    )
    labels = f"{len(manifest.class_labels)} class_labels"
    _check_equal("head output classes", labels, len(manifest.class_labels), head.n_classes)
    _check_equal(
        "head hidden units", f"head_hidden {manifest.head_hidden}", manifest.head_hidden, head.hidden
    )
    checked_probabilities(head.probabilities(features), HEAD_FILE)  # the head runs, to finite numbers


def _check_base_input(manifest: Manifest, spec: TensorSpec) -> None:
    window, channels = manifest.window, len(manifest.channels)
    expected = (window * channels,) if manifest.input_layout == "flat" else (window, channels)
    declared = f"window {window} x {channels} channels, {manifest.input_layout} layout"
    _check_equal("base input shape", declared, expected, spec.shape_signature[1:])


def _check_equal(what: str, declared: str, expected, actual) -> None:
    if expected != actual:
        raise InputError(
            f"manifest lies about the {what}: it says {declared} -> {expected}, the model has {actual}"
        )


def _check_quantization(what: str, declared: Quantization | None, spec: TensorSpec) -> None:
    actual = None
    if np.issubdtype(spec.dtype, np.integer):
        scale, zero_point = spec.detail["quantization"]
        actual = Quantization(float(scale), int(zero_point))
    matches = (declared is None) == (actual is None) and (
        declared is None
        or (
            declared.zero_point == actual.zero_point
            and np.isclose(declared.scale, actual.scale, rtol=QUANTIZATION_TOLERANCE, atol=0)
        )
    )
    if not matches:
        raise InputError(
            f"manifest lies about the {what} quantization: it says {declared}, the model has {actual}"
        )
