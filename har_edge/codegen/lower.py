"""Lowering: each op of a ``Graph`` becomes one ``Layer``: a kernel call with a params struct and its
constant arrays, every number decided here (see ``quant.py``). Unsupported ops, dtypes and options
raise ``UnsupportedModelError`` naming the op and its index, before anything is written; Flex and
hybrid (dynamic-range) models are refused first, as a whole, saying what to do instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from har_edge.codegen.graph import Graph, Op, Tensor, UnsupportedModelError


@dataclass(frozen=True)
class CArray:
    name: str
    ctype: str  # "int8_t", "int32_t" or "float"
    values: np.ndarray


@dataclass
class Layer:
    """One op as generated C. ``call`` is a statement with ``{in0}``, ``{in1}``…, ``{out}`` and
    ``{scratch}`` placeholders for buffer pointers; ``params`` is (C struct type, initializer)."""

    index: int
    op: str
    reads: tuple[int, ...]
    writes: tuple[int, ...]
    call: str = ""
    params: tuple[str, str] | None = None
    arrays: list[CArray] = field(default_factory=list)
    macs: int = 0
    alias: bool = False
    in_place: bool = False
    scratch: int = 0
    in_place_scratch: int = 0  # scratch only when planned in place; ``{scratch}`` is 0 otherwise

    @property
    def name(self) -> str:
        return f"{self.index}:{self.op}"


Lowering = Callable[[Graph, Op], Layer]
LOWERINGS: dict[str, Lowering] = {}


def lowering(*names: str):
    def register(function: Lowering) -> Lowering:
        for name in names:
            LOWERINGS[name] = function
        return function

    return register


def supported_ops() -> str:
    return ", ".join(sorted(LOWERINGS))


def lower_graph(graph: Graph) -> list[Layer]:
    """Every op lowered, or the first refusal. Needs exactly one model input and one output."""
    from har_edge.codegen import ops_conv, ops_misc, ops_shape  # noqa: F401 (registers the lowerings)

    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise UnsupportedModelError(
            f"the model has {len(graph.inputs)} inputs and {len(graph.outputs)} outputs",
            supported="exactly one input and one output tensor",
        )
    refuse_flex_and_hybrid(graph)
    layers = []
    for op in graph.ops:
        function = LOWERINGS.get(op.name)
        if function is None:
            raise UnsupportedModelError(
                "no int8 kernel for this op", op=op.name, index=op.index, supported=supported_ops()
            )
        layers.append(function(graph, op))
    _refuse_float_between_layers(graph, layers)
    return layers


HYBRID_ADVICE = (
    "convert it with full-integer quantization instead: a representative dataset and int8 ops, e.g.\n"
    "  converter = tf.lite.TFLiteConverter.from_keras_model(model)\n"
    "  converter.optimizations = [tf.lite.Optimize.DEFAULT]\n"
    "  converter.representative_dataset = lambda: ([x[None]] for x in calibration_windows[:200])\n"
    "  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]\n"
    "  converter.inference_input_type = converter.inference_output_type = tf.int8  # or keep float32\n"
    "(har-edge optimize --quantize int8 does this)"
)


def refuse_flex_and_hybrid(graph: Graph) -> None:
    """Refuse the two kinds of model that no kernel choice can run, saying what they are: Flex
    (TensorFlow) ops, and dynamic-range quantization (float activations into ops with int8 weights)."""
    flex = [op for op in graph.ops if op.name.startswith("CUSTOM:Flex")]
    if flex:
        names = ", ".join(f"op {op.index} ({op.name.removeprefix('CUSTOM:')})" for op in flex)
        raise UnsupportedModelError(
            f"the model uses TensorFlow (Flex / SELECT_TF_OPS) ops: {names}. They need the TensorFlow "
            "runtime inside the interpreter; TFLM cannot run Flex ops either",
            supported="builtin TFLite ops only: convert without tf.lite.OpsSet.SELECT_TF_OPS (replace "
            "the layers that need them)",
        )
    for op in graph.ops:
        ins = [t for t in graph.op_inputs(op) if t is not None]
        activations = [t for t in ins if not t.is_constant]
        weights = [t for t in ins if t.is_constant and t.dtype == "int8"]
        if weights and any(t.dtype == "float32" for t in activations):
            raise UnsupportedModelError(
                "this model has float activations and int8 weights (dynamic-range quantization: float32 "
                f"{activations[0].name!r} meets int8 weights {weights[0].name!r}); the generator runs "
                "full-integer models, and TFLM does not run dynamic-range models either; " + HYBRID_ADVICE,
                op=op.name,
                index=op.index,
            )


def _refuse_float_between_layers(graph: Graph, layers: list[Layer]) -> None:
    boundary = {graph.inputs[0], graph.outputs[0]}
    for layer in layers:
        for t in layer.reads + layer.writes:
            tensor = graph.tensor(t)
            if tensor.dtype != "int8" and t not in boundary:
                raise UnsupportedModelError(
                    f"tensor {tensor.name!r} is {tensor.dtype} inside the graph",
                    op=layer.op,
                    index=layer.index,
                    supported="int8 activations (float32 only as the model's input "
                    "into QUANTIZE or output of DEQUANTIZE)",
                )


# ------------------------------------------------------------------------------ helpers for ops_*.py


def refuse(op: Op, problem: str, supported: str) -> UnsupportedModelError:
    return UnsupportedModelError(problem, op=op.name, index=op.index, supported=supported)


def require_int8(op: Op, *tensors: Tensor | None) -> None:
    for t in tensors:
        if t is not None and t.dtype != "int8":
            raise refuse(op, f"tensor {t.name!r} is {t.dtype}", "int8 activations and weights")
        if t is not None and t.scale.size == 0:
            raise refuse(op, f"tensor {t.name!r} is not quantized", "quantized int8 tensors")


ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}


def fused_activation(op: Op) -> str:
    code = getattr(op.options, "fusedActivationFunction", 0)
    if code not in ACTIVATIONS:
        raise refuse(op, f"fused activation code {code}", "NONE, RELU, RELU_N1_TO_1, RELU6")
    return ACTIVATIONS[code]


def c_ints(values) -> str:
    return "{" + ", ".join(str(int(v)) for v in values) + "}"


def shape4(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """A shape of rank <= 4 padded with leading 1s."""
    if len(shape) > 4:
        raise ValueError(f"rank {len(shape)} > 4")
    return (1,) * (4 - len(shape)) + tuple(shape)


def contiguous_strides(shape4_: tuple[int, ...]) -> list[int]:
    strides, step = [], 1
    for d in reversed(shape4_):
        strides.insert(0, step)
        step *= d
    return strides
