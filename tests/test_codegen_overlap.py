"""The memory plan's overlap (codegen/overlap.py, codegen/plan.py): a window kernel's output starts a
margin before its dying input and overlaps it. The margin formula against an enumeration of the rows
each output row reads; plans on crafted lifetimes; and crafted int8 models, one per rule (stride 2,
padding, kernels taller than the stride, fewer input than output channels; CONV_2D, DEPTHWISE_CONV_2D,
MAX_POOL_2D, AVERAGE_POOL_2D), each planned with its output exactly the margin before its input, whose
host build gives the same bytes as the plan without overlap and as LiteRT's reference kernels."""

from __future__ import annotations

import functools
from itertools import combinations

import numpy as np
import pytest

from har_edge.codegen.overlap import ENVIRONMENT, kernel_name, output_margin, window_margin
from har_edge.codegen.plan import ALIGN, Usage, compatible, plan_memory
from tests.firmware_support import host_outputs, int8_model, random_inputs
from tests.test_codegen_sparse import _pruned

# ----------------------------------------------------------------------------------- the margin


def _enumerated_margin(in_h, in_row, out_h, out_row, stride, pad_top, k_h) -> int:
    """The smallest lead of the output over the input from which on every larger lead is safe: no
    output byte of row oy lands on an input byte that row oy or a later row still reads (the rows
    each output row reads: its window, clipped to the input)."""
    last_read = np.full(in_h, -1)
    for oy in range(out_h):
        y0 = oy * stride - pad_top
        last_read[max(y0, 0) : min(y0 + k_h, in_h)] = oy
    rows_of_output = np.arange(out_h * out_row) // out_row

    def safe(margin: int) -> bool:
        landing = np.arange(out_h * out_row) - margin  # the input byte under each output byte
        inside = (landing >= 0) & (landing < in_h * in_row)
        return not (last_read[landing[inside] // in_row] >= rows_of_output[inside]).any()

    leads = range(out_h * out_row, -1, -1)  # from the output ending where the input starts, down
    return next(m + 1 for m in leads if not safe(m)) if not all(map(safe, leads)) else 0


@pytest.mark.parametrize(
    ("in_h", "in_row", "out_h", "out_row", "stride", "pad_top", "k_h"),
    [
        (9, 12, 9, 12, 1, 1, 3),  # SAME 3x3: two rows of lead
        (9, 12, 5, 18, 2, 1, 3),  # stride 2, padding, more output than input bytes per row
        (10, 8, 5, 8, 2, 0, 3),  # kernel taller than the stride, no padding
        (12, 4, 12, 12, 1, 0, 1),  # 1x1, three times the channels out
        (21, 4, 11, 8, 2, 2, 5),  # the HAR time axis
        (7, 6, 7, 6, 1, 2, 5),  # padding of two rows
    ],
)
def test_margin_is_the_smallest_that_keeps_every_row_still_to_be_read(
    in_h, in_row, out_h, out_row, stride, pad_top, k_h
):
    assert window_margin(in_h, in_row, out_h, out_row, stride, pad_top) == _enumerated_margin(
        in_h, in_row, out_h, out_row, stride, pad_top, k_h
    )


def test_margin_is_safe_when_rows_are_skipped():
    # stride 3 over 1-row windows reads rows 0, 3, 6: the rule ignores the skipped rows (conservative)
    rule = window_margin(9, 10, 3, 10, 3, 0)
    assert rule >= _enumerated_margin(9, 10, 3, 10, 3, 0, 1)


# ------------------------------------------------------------------------------------- the plans


def _lead(margin: int) -> int:
    """The margin rounded up to whole ALIGN-byte steps, as offsets are."""
    return -(-margin // ALIGN) * ALIGN


def test_output_is_placed_the_margin_before_its_dying_input():
    # input -> A (100) -> B (100, window kernel, margin 30) -> out
    usages = [Usage((0,), (1,)), Usage((1,), (2,), overlap=30), Usage((2,), (3,))]
    sizes = {0: 10, 1: 100, 2: 100, 3: 10}
    plan = plan_memory(usages, sizes, model_input=0, model_output=3)
    assert plan.buffers[1].offset - plan.buffers[2].offset == _lead(30) == 32
    assert plan.arena_bytes == 132
    off = plan_memory(usages, sizes, model_input=0, model_output=3, overlap=False)
    assert off.arena_bytes == 200
    a, b = off.buffers[1], off.buffers[2]
    assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset


def test_an_input_read_again_later_is_never_overlapped():
    usages = [Usage((0,), (1,)), Usage((1,), (2,), overlap=30), Usage((1, 2), (3,))]
    plan = plan_memory(usages, {0: 10, 1: 100, 2: 100, 3: 10}, model_input=0, model_output=3)
    a, b = plan.buffers[1], plan.buffers[2]
    assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset
    assert plan.arena_bytes == 200


def _random_usages(rng: np.random.Generator, ops: int) -> tuple[list[Usage], dict[int, int]]:
    """A random graph: each op reads one or two earlier tensors (maybe a skip), writes a new one; some
    are in place, some window kernels with a margin, some with a scratch."""
    sizes, usages = {0: int(rng.integers(1, 200))}, []
    for i in range(ops):
        out = i + 1
        sizes[out] = int(rng.integers(1, 300))
        reads = (i,) if rng.random() < 0.7 or i == 0 else (i, int(rng.integers(0, i)))
        kind = rng.integers(0, 3)
        usages.append(
            Usage(
                reads,
                (out,),
                in_place=kind == 0,
                overlap=int(rng.integers(0, sizes[out] + 1)) if kind == 1 else None,
                scratch=int(rng.integers(0, 40)) if rng.random() < 0.3 else 0,
            )
        )
    return usages, sizes


@pytest.mark.parametrize("seed", range(20))
def test_every_buffer_is_aligned_inside_the_arena_and_overlaps_only_as_allowed(seed):
    rng = np.random.default_rng(seed)
    usages, sizes = _random_usages(rng, int(rng.integers(2, 25)))
    plan = plan_memory(usages, sizes, model_input=0, model_output=len(usages))
    arena = [b for b in plan.buffers.values() if b.place == "arena"]
    for b in arena:
        assert b.offset % ALIGN == 0 and b.offset >= 0 and b.offset + b.size <= plan.arena_bytes
        producer = usages[b.first] if b.key >= 0 else None
        for key in b.in_place_of | set(b.may_overlap):  # only over an input of its op that dies there
            assert plan.buffers[key].last == b.first and key in {plan.root[t] for t in producer.reads}
            assert producer.in_place if key in b.in_place_of else key == plan.root[producer.reads[0]]
        assert all(margin == producer.overlap for margin in b.may_overlap.values())
    for a, b in combinations(arena, 2):
        if a.first <= b.last and b.first <= a.last:
            assert compatible(a, a.offset, b, b.offset), (a, b)


# ---------------------------------------------------------------------------- crafted int8 models


def _around(target):
    """input -> 1x1 CONV_2D to 4 channels -> ``target(k, x)`` -> 1x1 CONV_2D -> output: the target's
    input and output are the two largest buffers of the arena, so the smallest plan overlaps them."""
    return lambda k, x: k.layers.Conv2D(3, 1)(target(k, k.layers.Conv2D(4, 1)(x)))


def _layer(make):
    return lambda k, x: make(k)(x)


RULES = {
    "conv_stride2_same_channels_4_to_6": (
        (13, 11, 3),
        _around(_layer(lambda k: k.layers.Conv2D(6, 3, strides=2, padding="same"))),
    ),
    "conv_valid_3x2": ((9, 8, 3), _around(_layer(lambda k: k.layers.Conv2D(5, (3, 2))))),
    "conv_1x1_channels_4_to_12": ((7, 6, 3), _around(_layer(lambda k: k.layers.Conv2D(12, 1)))),
    "conv_time_stride2_whole_width": (  # the kernel spans the input width: read in place, not gathered
        (21, 1, 3),
        _around(_layer(lambda k: k.layers.Conv2D(8, (5, 1), strides=(2, 1), padding="same"))),
    ),
    "depthwise_same": ((12, 9, 3), _around(_layer(lambda k: k.layers.DepthwiseConv2D(3, padding="same")))),
    "depthwise_stride2_multiplier2": (
        (12, 9, 3),
        _around(_layer(lambda k: k.layers.DepthwiseConv2D(3, strides=2, depth_multiplier=2, padding="same"))),
    ),
    "depthwise_time_multiplier4": (
        (20, 1, 3),
        _around(_layer(lambda k: k.layers.DepthwiseConv2D((9, 1), depth_multiplier=4, padding="same"))),
    ),
    "max_pool_same_stride2": (
        (13, 10, 3),
        _around(_layer(lambda k: k.layers.MaxPooling2D(3, 2, padding="same"))),
    ),
    "average_pool_same_stride1": (
        (9, 7, 3),
        _around(_layer(lambda k: k.layers.AveragePooling2D(3, 1, padding="same"))),
    ),
    "average_pool_valid_stride2_odd_rows": (
        (13, 9, 3),
        _around(_layer(lambda k: k.layers.AveragePooling2D(2))),
    ),
}


@functools.cache
def _rule_model(name: str) -> bytes:
    shape, build = RULES[name]
    return int8_model(build, shape, seed=5)


def _outputs_without_overlap(model: bytes, inputs: np.ndarray, folder, monkeypatch) -> np.ndarray:
    from har_edge.codegen.project import write_project
    from har_edge.firmware.build import build, run

    monkeypatch.setenv(ENVIRONMENT, "0")
    info = write_project(model, folder, "host", "model")
    monkeypatch.delenv(ENVIRONMENT)
    target = info.model.layers[1].output_tensor
    plan = info.model.plan
    out, source = plan.buffers[plan.root[target]], plan.buffers[plan.root[info.model.layers[0].output_tensor]]
    assert out.offset + out.size <= source.offset or source.offset + source.size <= out.offset
    return run(build(info.path, "host"), "host", inputs, info.output_bytes).outputs


@pytest.mark.parametrize("name", sorted(RULES))
def test_overlapped_plan_gives_the_same_bytes_as_the_plan_without_overlap(name, tmp_path, monkeypatch):
    from har_edge.codegen.lower import lower_graph
    from har_edge.codegen.verify import cross_check

    monkeypatch.delenv(ENVIRONMENT, raising=False)
    model = _rule_model(name)
    inputs = random_inputs(model, 48, seed=9)
    info, result = host_outputs(model, inputs, dump=True)
    generated = info.model
    target = lower_graph(generated.graph)[1]
    margin = output_margin(generated.graph, target)
    plan = generated.plan
    source, out = plan.buffers[plan.root[target.reads[0]]], plan.buffers[plan.root[target.writes[0]]]
    assert margin is not None and 0 < margin < out.size
    assert source.offset - out.offset == _lead(margin)  # tight: the output runs just ahead of the reads
    check = cross_check(
        model,
        inputs,
        result.outputs,
        label=name,
        layers=generated.layers,
        layer_dump=result.layer_dump,
        layer_inputs=4,
    )
    broken = "the kernel's loop order no longer keeps codegen/overlap.py's window rule (fix one of them)"
    assert check, f"{check}; {broken}"
    without = _outputs_without_overlap(model, inputs, tmp_path / "off", monkeypatch)
    assert np.array_equal(result.outputs, without), broken
    _, dsp = host_outputs(model, inputs, dsp=True)
    assert np.array_equal(result.outputs, dsp.outputs), broken


def test_turning_overlap_off_builds_firmware_apart_from_the_cached_overlapped_build(tmp_path, monkeypatch):
    from har_edge.firmware.flow import build_cached

    model = _rule_model("conv_1x1_channels_4_to_12")
    monkeypatch.delenv(ENVIRONMENT, raising=False)
    overlapped = build_cached(model, "host", cache_dir=tmp_path)
    monkeypatch.setenv(ENVIRONMENT, "0")
    separate = build_cached(model, "host", cache_dir=tmp_path)
    assert separate.info.path != overlapped.info.path
    assert separate.info.model.arena_bytes > overlapped.info.model.arena_bytes
    monkeypatch.delenv(ENVIRONMENT)
    assert build_cached(model, "host", cache_dir=tmp_path).info.path == overlapped.info.path


@pytest.mark.parametrize("name", ["pretrainedResnet_quant", "vww_96_int8"])
def test_every_convolution_and_pool_of_the_mlperf_image_models_has_an_overlap_rule(name):
    # the arena goal (issue 24) rests on these: a new kernel for one of these layers needs its rule
    # in overlap.py (or the arena grows back), and the plan is smaller with them than without; a layer
    # the generator runs block-sparse has none (channel groups outer)
    from har_edge.codegen.emit import generate
    from har_edge.codegen.lower import lower_graph
    from tests.shared_files import shared_file

    model = shared_file("models", "mlperf-tiny", f"{name}.tflite").read_bytes()
    generated = generate(model)
    windows = {"CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D"}
    layers = [
        layer
        for layer in lower_graph(generated.graph)
        if layer.op in windows and kernel_name(layer) != "har_conv_sparse_s8"
    ]
    assert layers and all(output_margin(generated.graph, layer) is not None for layer in layers)
    assert generated.arena_bytes < generate(model, overlap=False).arena_bytes


def test_block_sparse_conv_never_overlaps_its_input_because_it_runs_channel_groups_outer():
    """har_conv_sparse_s8 reads every input row again for each group of 4 channels, after the earlier
    groups wrote their outputs: an output over its input would feed it its own results (the spectrogram
    branch's pair-sum conv of cnn+spectrogram did, 1,252 bytes off over 1,000 windows)."""
    from har_edge.codegen.lower import lower_graph
    from har_edge.codegen.verify import cross_check

    model = int8_model(
        _around(_pruned(lambda k: k.layers.Conv2D(8, (5, 1), (2, 1), "same"), 0.25)), (21, 1, 3), seed=5
    )
    inputs = random_inputs(model, 48, seed=9)
    info, result = host_outputs(model, inputs)
    target = lower_graph(info.model.graph)[1]
    assert kernel_name(target) == "har_conv_sparse_s8"
    assert output_margin(info.model.graph, target) is None
    plan = info.model.plan
    source, out = plan.buffers[plan.root[target.reads[0]]], plan.buffers[plan.root[target.writes[0]]]
    assert out.offset + out.size <= source.offset or source.offset + source.size <= out.offset
    assert cross_check(model, inputs, result.outputs, label="sparse conv")
