"""Load-time checks of a bundle's models beyond hashes: each model verified and run once in a child
process (``probe_model``), the head's signature contract, and finite, sane head weights.

The head contract (``har_edge.runtime.head``): ``infer(features) -> probabilities``,
``train(features, labels, learning_rate) -> loss``, ``get_weights() -> w0, b0[, w1, b1]`` and
``set_weights(w0, b0[, w1, b1]) -> n_assigned``. A renamed input or output is refused here, not found
missing later by ``Personalizer``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from har_edge.errors import InputError
from har_edge.runtime.bundle import BASE_FILE, HEAD_FILE, MCU_BASE_FILE, Bundle
from har_edge.runtime.probe import probe_models

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
