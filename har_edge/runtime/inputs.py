"""The one validation path for runtime inputs: raw windows (``Classifier``) and sample chunks
(``StreamingClassifier.feed``), and the classifier's own outputs (probabilities).

Only real numbers get through: bool, complex, strings, bytes, datetimes, objects and ragged lists are an
``InputError``, and so is any value that is NaN, infinite or beyond float32's range (the models run in
float32, where such a value would become infinite). Costs a few µs per call on a window.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from har_edge.errors import InputError

FLOAT32_MAX = float(np.finfo(np.float32).max)
_REAL_KINDS = "fiu"


def real_array(values, what: str) -> np.ndarray:
    """``values`` as a numpy array of real numbers (any int/uint/float dtype), else an ``InputError``."""
    if isinstance(values, np.ndarray):
        array = values
    else:
        try:
            array = np.asarray(values)
        except (ValueError, TypeError, OverflowError) as exc:
            raise InputError(f"{what}: not a rectangular array of numeric values ({exc})") from exc
    if array.dtype.kind not in _REAL_KINDS:
        raise InputError(f"{what}: expected numeric values (int or float), got dtype {array.dtype}")
    return array


def out_of_range_rows(array: np.ndarray) -> np.ndarray:
    """Indices along axis 0 of rows holding a NaN, an infinity or a value beyond float32's range
    (integers are always in range: even 2**64 is far below float32's maximum).

    Fast path: the largest magnitude (NaN makes it NaN, which compares False); rows are scanned only
    when it is out of range."""
    if array.dtype.kind != "f" or not array.size:
        return _NO_ROWS
    if float(np.abs(array).max()) <= FLOAT32_MAX:
        return _NO_ROWS
    rows = array.reshape(len(array), -1)
    if array.dtype.itemsize <= 4:
        good = np.isfinite(rows).all(axis=1)
    else:
        good = (np.abs(rows) <= FLOAT32_MAX).all(axis=1)  # NaN compares False
    return np.flatnonzero(~good)


_NO_ROWS = np.zeros(0, np.int64)


def checked_windows(windows, window: int, channels: Sequence[str]) -> np.ndarray:
    """Raw windows (n, window, channels), or one window (window, channels) as a batch of one."""
    x = real_array(windows, "windows")
    if x.ndim == 2:
        x = x[np.newaxis]
    if x.ndim != 3 or x.shape[1:] != (window, len(channels)):
        raise InputError(
            f"windows: expected numbers of shape (n, {window}, {len(channels)}) or "
            f"({window}, {len(channels)}): {window} samples of {', '.join(channels)}; "
            f"got shape {np.shape(x)} dtype {x.dtype}"
        )
    if len(x) == 0:
        raise InputError("windows: got an empty batch (0 windows)")
    bad = out_of_range_rows(x)
    if len(bad):
        raise InputError(
            f"windows: {len(bad)} contain NaN or infinite values (first: window {bad[0]}); values beyond "
            "float32's range count as infinite"
        )
    return x


def prechecked_windows(windows, window: int, channels: Sequence[str]) -> None:
    """The cheap half of ``checked_windows`` for windows whose values were checked already (e.g. cut
    from ``checked_samples`` chunks): a float32 array (n >= 1, window, channels), else an ``InputError``."""
    if not (
        isinstance(windows, np.ndarray)
        and windows.dtype == np.float32
        and windows.shape[1:] == (window, len(channels))
        and len(windows)
    ):
        raise InputError(
            f"predict_proba_checked: expected float32 windows (n >= 1, {window}, {len(channels)}), "
            f"got {type(windows).__name__} {getattr(windows, 'dtype', '')} {np.shape(windows)}"
        )


def checked_samples(samples, channels: Sequence[str], first_sample: int) -> np.ndarray:
    """A chunk of samples as float32 (k, channels); ``first_sample`` numbers its first row in errors."""
    chunk = real_array(samples, "samples")
    if chunk.ndim != 2 or chunk.shape[1] != len(channels):
        raise InputError(
            f"expected a chunk of shape (samples, {len(channels)}) with channels "
            f"{list(channels)}, got shape {chunk.shape}"
        )
    bad_rows = out_of_range_rows(chunk)
    if len(bad_rows):
        row = int(bad_rows[0])
        raise InputError(
            f"sample row {row} of the chunk (stream sample {first_sample + row}) is NaN or infinite "
            f"(or beyond float32's range): {chunk[row].tolist()}; {len(bad_rows)} bad rows in this chunk"
        )
    return chunk.astype(np.float32, copy=False)


def checked_probabilities(probabilities: np.ndarray, source: str) -> np.ndarray:
    """Model outputs that are finite, or an ``InputError``: a NaN never becomes a label."""
    if len(out_of_range_rows(probabilities)):
        rows = np.flatnonzero(~np.isfinite(probabilities).all(axis=1))
        raise InputError(
            f"{source}: the model produced NaN or infinite probabilities for {len(rows)} window(s) "
            f"(first: window {rows[0]}); its weights are corrupt"
        )
    return probabilities
