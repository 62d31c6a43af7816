"""The tolerance the cross-check holds float32 graphs to, and the views that show float values.

The float kernels (``runtime/*_f32.c``) compute every output with the operations of TFLite's reference
float kernels in their order, built without multiply-add contraction (``-ffp-contract=off``, in both
board Makefiles), so a float32 graph is held to the same rule as an int8 one, **bit-exact**, unless it
contains an op whose last bit is not the kernels' to decide (``float_checks.inexact_ops``): SOFTMAX,
LOGISTIC and TANH call the C library's ``expf``/``tanhf``. Those graphs are held to

    |firmware - reference| <= FLOAT_TOLERANCE * max(1, |reference|)   per output value.

Why that bound (measured on this project's machines by ``benchmarks/float_libm.py``, 2^18 values per
op): on the host both sides call glibc and every bit matches; on the Cortex-M4F (newlib's
single-precision expf/tanhf) TANH differs on 0.01 % of outputs by at most 2 ulp, LOGISTIC on 5.8 % by
at most 2 ulp, SOFTMAX (rows of 16) on 10 % by at most 4 ulp, relative 3.8e-7 at most; the models'
softmax outputs differ by ~1.5e-8. 1e-5 leaves room for a TANH or LOGISTIC inside a graph whose few-ulp
difference the following layers amplify, and is still far below a difference that changes a prediction.
"""

from __future__ import annotations

import numpy as np

from har_edge.codegen.graph import Graph

FLOAT_TOLERANCE = 1e-5


def tolerance(graph: Graph) -> float:
    """0.0 (byte for byte) unless the model's output is float32 and ``float_checks.inexact_ops`` finds an op
    whose last bit belongs to the C library; then ``FLOAT_TOLERANCE``."""
    from har_edge.codegen.float_checks import inexact_ops

    output = graph.tensor(graph.outputs[0])
    return FLOAT_TOLERANCE if output.dtype == "float32" and inexact_ops(graph) else 0.0


def values(graph: Graph, tensor: int, raw: np.ndarray) -> np.ndarray:
    """Rows of raw bytes (uint8) of ``tensor`` as its values: float32 for a float32 tensor, else the
    bytes unchanged."""
    raw = np.ascontiguousarray(raw, np.uint8)
    return raw.view(np.float32) if graph.tensor(tensor).dtype == "float32" else raw


def beyond_tolerance(expected: np.ndarray, actual: np.ndarray, limit: float) -> np.ndarray:
    """Which bytes (same shape as the uint8 rows given) count as mismatched: every differing byte when
    ``limit`` is 0, else the 4 bytes of each float32 value farther than ``limit * max(1, |expected|)``."""
    differ = expected != actual
    if limit == 0.0:
        return differ
    e, a = expected.view(np.float32).astype(np.float64), actual.view(np.float32).astype(np.float64)
    with np.errstate(invalid="ignore"):
        far = ~(np.abs(a - e) <= limit * np.maximum(1.0, np.abs(e)))
    far &= ~((e == a) | (np.isnan(e) & np.isnan(a)))  # equal values (infinities, NaNs) are no mismatch
    return np.repeat(far, 4, axis=1)


def max_difference(expected: np.ndarray, actual: np.ndarray) -> float:
    """The largest |expected - actual| of two arrays of values (int8 bytes read as signed)."""
    if expected.size == 0:
        return 0.0
    signed = (lambda v: v.view(np.int8)) if expected.dtype == np.uint8 else (lambda v: v)
    return float(np.max(np.abs(signed(expected).astype(np.float64) - signed(actual).astype(np.float64))))
