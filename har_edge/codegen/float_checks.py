"""What the float32 path checks of an op before lowering it (``check_form``: arity, operands, options,
so a malformed graph is a refusal, never an exception), and which float ops' last bit is the C
library's (``inexact_ops``: the ops ``verify_float`` holds to a tolerance instead of every bit)."""

from __future__ import annotations

from har_edge.codegen.graph import Graph, Op
from har_edge.codegen.lower import refuse

LIBM_OPS = ("SOFTMAX", "LOGISTIC", "TANH")
# (required, at most) inputs of each op; every one has one output. Checked before lowering, with the
# options the lowerings read, so a malformed graph is a refusal, never an exception.
ARITY = {
    **dict.fromkeys(("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D"), (2, 3)),
    **dict.fromkeys(("MAX_POOL_2D", "AVERAGE_POOL_2D", "SOFTMAX", "LOGISTIC", "TANH", "SQUEEZE"), (1, 1)),
    **dict.fromkeys(("RELU", "RELU6", "RELU_N1_TO_1"), (1, 1)),
    **dict.fromkeys(("MEAN", "ADD", "MUL", "PAD", "EXPAND_DIMS"), (2, 2)),
    "PADV2": (2, 3),
    "RESHAPE": (1, 2),
    "CONCATENATION": (1, 1 << 16),
}
OPTIONS = {
    "CONV_2D": ("padding", "strideH", "strideW"),
    "DEPTHWISE_CONV_2D": ("padding", "strideH", "strideW"),
    "MAX_POOL_2D": ("padding", "strideH", "strideW", "filterHeight", "filterWidth"),
    "AVERAGE_POOL_2D": ("padding", "strideH", "strideW", "filterHeight", "filterWidth"),
    "SOFTMAX": ("beta",),
    "CONCATENATION": ("axis",),
}


def check_form(graph: Graph, op: Op) -> None:
    """Arity, present operands, non-empty tensors and options (strides and filters >= 1)."""
    required, most = ARITY[op.name]
    inputs = graph.op_inputs(op)
    if not required <= len(inputs) <= most or len(op.outputs) != 1 or None in inputs[:required]:
        raise refuse(
            op, f"{len(inputs)} inputs, {len(op.outputs)} outputs", f"{required} to {most} inputs, 1 output"
        )
    tensors = [t for t in inputs + graph.op_outputs(op) if t is not None]
    if any(0 in t.shape for t in tensors):
        raise refuse(op, "an empty tensor", "tensors with at least one element")
    for name in OPTIONS.get(op.name, ()):
        value = getattr(op.options, name, None)
        if value is None or (name.startswith(("stride", "filter")) and value < 1):
            raise refuse(op, f"option {name} = {value}", f"a builtin option {name} (strides, filters >= 1)")


def inexact_ops(graph: Graph) -> list[str]:
    """The float ops of ``graph`` whose last bit is the C library's (expf, tanhf), as "index:NAME"; every
    other float kernel adds in the reference's order (a MEAN over the last axis too, which TFLite's
    source routes through Eigen: bit-exact in the tests all the same)."""
    return [
        f"{op.index}:{op.name}"
        for op in graph.ops
        if op.name in LIBM_OPS and graph.op_outputs(op)[0].dtype == "float32"
    ]
