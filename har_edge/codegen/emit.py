"""Emit ``<name>_model.h`` / ``<name>_model.c``: weights and tables as ``_Alignas(16) static const``
arrays, one params struct and one kernel call per layer, one static arena sized by the memory plan,
and the entry point ``int <name>_invoke(const <name>_input_t *input, <name>_output_t *output)``.

``generate`` refuses unsupported models before returning any text, so nothing is written for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from har_edge.codegen.constant_channels import FoldedGraph, fold_constant_channels
from har_edge.codegen.graph import Graph, read_graph
from har_edge.codegen.lower import CArray, Layer, lower_graph
from har_edge.codegen.overlap import enabled, output_margin
from har_edge.codegen.plan import MemoryPlan, Usage, plan_memory
from har_edge.errors import InputError

C_TYPES = {"int8": "int8_t", "float32": "float"}


@dataclass(frozen=True)
class LayerInfo:
    index: int
    name: str  # "3:CONV_2D"
    macs: int
    output_tensor: int
    output_bytes: int
    kernel: dict | None = None  # FULLY_CONNECTED / CONV_2D: dense or block-sparse weights (codegen.sparse)
    # the flat positions of the model's tensor that the output holds when constant channels were folded
    # out of it (codegen.constant_channels); None: all of them
    kept: np.ndarray | None = field(default=None, compare=False)


@dataclass(frozen=True, eq=False)
class GeneratedModel:
    name: str
    header: str
    source: str
    graph: Graph
    layers: tuple[LayerInfo, ...]
    plan: MemoryPlan
    weight_bytes: int  # bytes of constant arrays (weights, biases, multipliers, tables)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def arena_bytes(self) -> int:
        return self.plan.arena_bytes


def check_name(name: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name) or name == "har_harness":
        raise InputError(
            f"model name {name!r}: expected a C identifier in lower case (a-z, 0-9, _), "
            "starting with a letter, at most 40 characters"
        )
    return name


def generate(
    model: bytes | Graph, name: str = "har", overlap: bool | None = None, fold: bool = True
) -> GeneratedModel:
    """C sources for an int8 .tflite (bytes) or an already read ``Graph``. ``overlap``: whether the
    memory plan may start a window kernel's output over its dying input (``overlap.py``; default:
    yes, unless the environment sets ``HAR_EDGE_ARENA_OVERLAP=0``). ``fold``: whether constant
    channels are folded away first (``constant_channels.py``); the model's ``graph`` is then the
    folded one."""
    name = check_name(name)
    graph = model if isinstance(model, Graph) else read_graph(model)
    folded = fold_constant_channels(graph) if fold else None
    if folded is not None:
        graph = folded.graph
    layers = lower_graph(graph)
    usages = [
        Usage(
            lay.reads,
            lay.writes,
            lay.alias,
            lay.in_place,
            lay.scratch,
            lay.in_place_scratch,
            output_margin(graph, lay),
        )
        for lay in layers
    ]
    sizes = {t.index: t.nbytes for t in graph.tensors}
    plan = plan_memory(usages, sizes, graph.inputs[0], graph.outputs[0], overlap=enabled(overlap))
    arrays = [a for lay in layers for a in lay.arrays]
    infos = tuple(_info(graph, lay, folded) for lay in layers)
    header = _header(name, graph, plan, infos)
    source = _source(name, graph, layers, plan, arrays)
    weight_bytes = sum(a.values.size * np.dtype(_NUMPY[a.ctype]).itemsize for a in arrays)
    return GeneratedModel(name, header, source, graph, infos, plan, weight_bytes)


def _info(graph: Graph, layer: Layer, folded: FoldedGraph | None) -> LayerInfo:
    kernel, kept = layer.kernel, None
    if folded is not None:
        kept = folded.kept.get(layer.writes[0])
        if layer.index in folded.report:
            kernel = {**kernel, "folding": folded.report[layer.index]}
    output = layer.writes[0]
    return LayerInfo(layer.index, layer.name, layer.macs, output, graph.tensor(output).nbytes, kernel, kept)


_NUMPY = {"int8_t": np.int8, "int16_t": np.int16, "int32_t": np.int32, "float": np.float32}


def _io_type(graph: Graph, tensor: int) -> str:
    dtype = graph.tensor(tensor).dtype
    if dtype not in C_TYPES:
        raise InputError(
            f"model input/output tensor {graph.tensor(tensor).name!r} is {dtype}; int8 or float32"
        )
    return C_TYPES[dtype]


def _all_int8(graph: Graph) -> bool:
    return all(graph.tensor(i).dtype == "int8" for i in (graph.inputs[0], graph.outputs[0]))


def _io_comment(graph: Graph, t, role: str) -> str:
    """What the caller passes or gets: int8 as the model's quantization, or float32 that the model
    quantizes (QUANTIZE) or dequantizes (DEQUANTIZE) itself."""
    shape = "x".join(str(d) for d in t.shape) or "scalar"
    if t.dtype != "float32":
        return f"/* {role}: int8 [{shape}], quantized (see the _SCALE and _ZERO_POINT macros) */"
    neighbour = next(
        (op for op in graph.ops if (t.index in op.inputs if role == "input" else t.index in op.outputs)),
        None,
    )
    if neighbour is None or neighbour.name not in ("QUANTIZE", "DEQUANTIZE"):
        return f"/* {role}: float [{shape}] */"
    edge = neighbour.outputs[0] if role == "input" else neighbour.inputs[0]
    q = graph.tensor(edge)
    step = "QUANTIZE to int8" if role == "input" else "DEQUANTIZE from int8"
    return (
        f"/* {role}: float [{shape}] (float32 interface): the model does the {step} itself, "
        f"scale {float(q.single_scale())!r}, zero point {q.single_zero_point()} */"
    )


def _float_literal(value) -> str:
    return f"{float(np.float32(value)).hex()}f"


def _header(name: str, graph: Graph, plan: MemoryPlan, layers: tuple[LayerInfo, ...]) -> str:
    upper = name.upper()
    x, y = graph.tensor(graph.inputs[0]), graph.tensor(graph.outputs[0])
    lines = [
        f"/* {name}: generated by har_edge.codegen; do not edit. {_precision(graph)} inference, batch 1"
        f"{_interface_note(graph)}. */",
        f"#ifndef {upper}_MODEL_H",
        f"#define {upper}_MODEL_H",
        "",
        "#include <stdint.h>",
        "",
        "#ifdef __cplusplus",
        'extern "C" {',
        "#endif",
        "",
        _io_comment(graph, x, "input"),
        f"typedef {_io_type(graph, x.index)} {name}_input_t;",
        _io_comment(graph, y, "output"),
        f"typedef {_io_type(graph, y.index)} {name}_output_t;",
        f"#define {upper}_INPUT_SIZE {x.nbytes} /* bytes of one input */",
        f"#define {upper}_INPUT_COUNT {x.size} /* values of one input */",
        f"#define {upper}_OUTPUT_SIZE {y.nbytes} /* bytes of one output */",
        f"#define {upper}_OUTPUT_COUNT {y.size} /* values of one output */",
    ]
    for label, tensor in (("INPUT", x), ("OUTPUT", y)):
        if tensor.scale.size:
            lines += [
                f"#define {upper}_{label}_SCALE {float(tensor.single_scale())!r}f",
                f"#define {upper}_{label}_ZERO_POINT ({tensor.single_zero_point()})",
            ]
    lines += [
        f"#define {upper}_ARENA_BYTES {plan.arena_bytes}",
        f"#define {upper}_LAYER_COUNT {len(layers)}",
        f"#define {upper}_MACS {sum(layer.macs for layer in layers)}",
        "",
        f"extern const char *const {name}_layer_names[{upper}_LAYER_COUNT];",
        "",
        f"/* Runs one inference; returns 0. Not reentrant: one static arena of {upper}_ARENA_BYTES. */",
        f"int {name}_invoke(const {name}_input_t *input, {name}_output_t *output);",
        "",
        "#ifdef __cplusplus",
        "}",
        "#endif",
        "",
        "#endif",
        "",
    ]
    return "\n".join(lines)


def _interface_note(graph: Graph) -> str:
    """An int8 graph with a float32 input or output (QUANTIZE/DEQUANTIZE) says so in the first line."""
    if _precision(graph) == "float32" or _all_int8(graph):
        return ""
    return " (float32 at the marked interface)"


def _precision(graph: Graph) -> str:
    from har_edge.codegen.ops_float import float_lowering

    return "float32" if any(float_lowering(graph, op) for op in graph.ops) else "int8"


def _array(a: CArray) -> str:
    values = a.values.ravel()
    items = [_float_literal(v) for v in values] if a.ctype == "float" else [str(int(v)) for v in values]
    rows = [", ".join(items[i : i + 16]) for i in range(0, len(items), 16)] or ["0"]
    body = ",\n    ".join(rows)
    return f"_Alignas(16) static const {a.ctype} {a.name}[{max(len(items), 1)}] = {{\n    {body}\n}};"


_PLACEHOLDER = re.compile(r"\{(p|out|scratch|in\d+)\}")


def _fill(template: str, values: dict[str, str]) -> str:
    """Replace the buffer placeholders ({p}, {out}, {scratch}, {in0}…) of a layer's C text."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def _source(name: str, graph: Graph, layers: list[Layer], plan: MemoryPlan, arrays: list[CArray]) -> str:
    upper = name.upper()
    out = [
        f"/* {name}: generated by har_edge.codegen from {graph.description.get('source', 'a model')}; "
        "do not edit. */",
        "#include <stdint.h>",
        "#include <string.h>",
        "",
        '#include "har_nn.h"',
        f'#include "{name}_model.h"',
        "",
        "#if defined(HAR_PROFILE_LAYERS) || defined(HAR_DUMP_LAYERS)",
        '#include "har_board.h"',
        "#endif",
        "#ifndef HAR_LAYER_BEGIN",
        "#define HAR_LAYER_BEGIN(i)",
        "#define HAR_LAYER_END(i)",
        "#endif",
        "#ifndef HAR_LAYER_OUTPUT",
        "#define HAR_LAYER_OUTPUT(i, data, bytes)",
        "#endif",
        "",
        *([f"_Alignas(16) static int8_t arena[{plan.arena_bytes}];", ""] if plan.arena_bytes else []),
        f"const char *const {name}_layer_names[{upper}_LAYER_COUNT] = {{",
        *[f'    "{lay.name}",' for lay in layers],
        "};",
        "",
        *[_array(a) for a in arrays],
        "",
    ]
    body = []
    for position, lay in enumerate(layers):
        values = {"p": f"l{lay.index}_p", "out": plan.expression(lay.writes[0]), "scratch": "0"}
        values.update({f"in{j}": plan.expression(t) for j, t in enumerate(lay.reads)})
        if position in plan.scratch:  # keyed by position: folded ops leave gaps in the op indices
            values["scratch"] = plan.buffer_expression(plan.scratch[position])
        if lay.params is not None:
            struct, fields = lay.params
            out.append(f"static const {struct} l{lay.index}_p = {{{_fill(fields, values)}}};")
        body.append(f"    HAR_LAYER_BEGIN({lay.index});")
        if lay.call:
            body.append("    " + _fill(lay.call, values))
        body.append(f"    HAR_LAYER_END({lay.index});")
        body.append(
            f"    HAR_LAYER_OUTPUT({lay.index}, {values['out']}, {graph.tensor(lay.writes[0]).nbytes});"
        )
    if plan.root[graph.outputs[0]] == plan.root[graph.inputs[0]]:
        body.append(f"    memcpy(output, input, {upper}_OUTPUT_SIZE);")
    out += [
        "",
        f"int {name}_invoke(const {name}_input_t *input, {name}_output_t *output)",
        "{",
        "    (void)input;",
        "    (void)output;",
        *body,
        "    return 0;",
        "}",
        "",
    ]
    return "\n".join(out)
