"""CONV_2D's dense kernel (firmware/runtime/conv.c): two output positions x two channels over an int16
column of their receptive fields. Chains of convolutions that take every way a field reaches the column
(widened straight from the input in one span or row by row, short rows staged in whole words, border
fields gathered with their padding, tap by tap or through the stage) with odd channel counts, odd
position counts, strides, SAME/VALID padding, ReLU/ReLU6 and no activation, are byte-identical to
LiteRT's reference kernels: portable and DSP loops on the host, the Cortex-M4 assembly loop under QEMU.
The short requantization with SMMLAR (requant.h) gives the bits of har_short_double."""

from __future__ import annotations

import functools
import subprocess

import numpy as np
import pytest

from har_edge.codegen.emit import generate
from har_edge.codegen.kernel_costs import conv_scratch_bytes, sparse_scratch_bytes
from har_edge.codegen.ops_conv import interleave_pairs
from har_edge.firmware.boards import FIRMWARE_DIR
from tests.arm_tools import require_arm_tools
from tests.firmware_support import host_cross_check, int8_model, random_inputs


def _stem_chain(k, x):  # (9, 9, 3)
    y = k.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)  # rows of 9 bytes: staged
    y = k.layers.Conv2D(7, 1, activation="relu6")(y)  # 25 positions, 7 channels, k = 8
    y = k.layers.Conv2D(5, 1, strides=2)(y)  # k = 7: staged in whole words; 9 positions
    return k.layers.Conv2D(6, 3, padding="same", activation="relu")(
        y
    )  # rows of 15 bytes, every field clipped


def _depth1_chain(k, x):  # (13, 6, 1), the shape of the keyword-spotting stem
    y = k.layers.Conv2D(6, (5, 4), strides=2, padding="same", activation="relu")(x)  # rows of 4 bytes
    y = k.layers.Conv2D(4, 3, padding="same")(y)  # in_c 6, clipped: gathered
    y = k.layers.Conv2D(4, 3, padding="same", activation="relu")(y)  # in_c 4: tap by tap, padding filled
    return k.layers.Conv2D(9, (2, 3), padding="valid")(y)  # kernel as wide as the input: one span


CASES = {"stem_chain": ((9, 9, 3), _stem_chain), "depth1_chain": ((13, 6, 1), _depth1_chain)}


@functools.cache
def case_model(name: str) -> bytes:
    shape, build = CASES[name]
    return int8_model(build, shape, seed=5)


@pytest.mark.parametrize("dsp", [False, True], ids=["portable", "dsp"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_dense_conv_chain_is_bit_exact_with_reference_kernels(name, dsp):
    model = case_model(name)
    layers = generate(model).layers
    assert [(layer.name.split(":")[1], layer.kernel["format"]) for layer in layers] == [
        ("CONV_2D", "dense")
    ] * 4
    check = host_cross_check(model, random_inputs(model, 48, seed=7), dsp=dsp, label=name)
    assert check, str(check)


def test_dense_conv_chains_are_bit_exact_on_the_emulated_cortex_m4(tmp_path):
    require_arm_tools()
    from har_edge.codegen.project import write_project
    from har_edge.codegen.verify import cross_check
    from har_edge.firmware.build import build, run

    for name in sorted(CASES):
        model = case_model(name)
        inputs = random_inputs(model, 48, seed=8)
        info = write_project(model, tmp_path / name, "mps2-an386", "net")
        result = run(build(info.path, "mps2-an386"), "mps2-an386", inputs, info.output_bytes)
        check = cross_check(model, inputs, result.outputs, label=f"{name} on mps2-an386")
        assert check, str(check)


def test_interleave_pairs_puts_two_channels_per_block_of_four_inputs():
    rows = np.arange(3 * 6, dtype=np.int8).reshape(3, 6)  # 3 channels (padded to 4), 6 inputs (to 8)
    blocks = interleave_pairs(rows).reshape(2, 2, 2, 4)  # pair, block, row of the pair, input
    assert blocks[0, 0].tolist() == [rows[0, :4].tolist(), rows[1, :4].tolist()]
    assert blocks[0, 1].tolist() == [[4, 5, 0, 0], [10, 11, 0, 0]]
    assert blocks[1, 0].tolist() == [rows[2, :4].tolist(), [0, 0, 0, 0]]


def test_conv_scratch_holds_two_widened_fields_and_a_stage_only_when_fields_are_gathered():
    # a pointwise layer on 64 channels: two int16 fields of 64 inputs + 4 for 8-byte alignment
    assert conv_scratch_bytes((1, 25, 5, 64), (1, 25, 5, 64), (1, 1), (1, 0)) == 4 + 4 * 64
    # 3x3 on 3 channels: rows of 9 bytes are staged (k = 27 -> 28)
    assert conv_scratch_bytes((1, 9, 9, 3), (1, 5, 5, 8), (3, 3), (2, 1)) == 4 + 5 * 28
    # rows of 4 bytes need the stage only where a field is clipped at the left or right edge
    assert conv_scratch_bytes((1, 13, 6, 1), (1, 7, 3, 6), (5, 4), (2, 1)) == 4 + 5 * 20
    assert conv_scratch_bytes((1, 13, 6, 1), (1, 5, 2, 6), (5, 4), (2, 0)) == 4 + 4 * 20


def test_sparse_conv_scratch_holds_the_border_fields_of_a_time_convolution_and_one_group_of_records():
    # (5, 1) along time on 12 channels, stride 2, SAME (pad_top 1): the first row's window starts
    # above the input, the last one's passes its end; k = 60, and 7 kept blocks of 36 bytes, then a tail of 88
    assert (
        sparse_scratch_bytes((1, 200, 1, 12), (1, 100, 1, 24), (5, 1), (2, 1, 0), 7) == 2 * 60 + 7 * 36 + 88
    )
    # stride 1, pad_top 2: two rows at the top and two at the bottom (their window passes the end)
    assert sparse_scratch_bytes((1, 25, 1, 48), (1, 25, 1, 48), (5, 1), (1, 2, 0), 3) == 4 * 240 + 3 * 36 + 88
    # k = 15 -> 16: the last window inside also reads past the end
    assert sparse_scratch_bytes((1, 10, 1, 3), (1, 6, 1, 4), (5, 1), (1, 0, 0), 1) == 16 + 36 + 88
    # a 2-D window is gathered into one field (k = 27 -> 28)
    assert sparse_scratch_bytes((1, 9, 9, 3), (1, 5, 5, 8), (3, 3), (2, 1, 1), 2) == 28 + 2 * 36 + 88


SHORT_FORMS = r"""
#include <stdio.h>
#include "requant.h"
int main(void) {
    long x, m, right, zero;
    while (scanf("%ld %ld %ld %ld", &x, &m, &right, &zero) == 4) {
        const long round = (1L << (right - 1)) + zero * (1L << right);
        const int32_t t[3] = {(int32_t)m, (int32_t)round, (int32_t)right};
        printf("%ld %ld\n", (long)har_short_double((int32_t)x, t), (long)har_short_double_mla((int32_t)x, t));
    }
    return 0;
}
"""


def test_short_requantization_with_smmlar_gives_the_bits_of_the_short_form(tmp_path):
    (tmp_path / "main.c").write_text(SHORT_FORMS)
    binary = tmp_path / "short"
    flags = ["-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{FIRMWARE_DIR / 'runtime'}"]
    subprocess.run(["gcc", *flags, "-o", str(binary), str(tmp_path / "main.c")], check=True)
    rng = np.random.default_rng(11)
    rows = []
    for right in range(1, 22):
        m = rng.integers(1 << 30, 1 << 31, size=80)
        x = rng.integers(-(1 << 30) + 1, 1 << 30, size=80)
        x[:40] = rng.integers(-(1 << (right + 2)), 1 << (right + 2), size=40)  # around the rounding steps
        x[:6] = [0, -1, 1, -2, (1 << 30) - 1, -(1 << 30) + 1]
        m[:2] = [0, 1 << 30]  # a constant channel's multiplier, the smallest normal one
        zero = rng.integers(-128, 128, size=80)
        rows += [f"{a} {b} {right} {z}" for a, b, z in zip(x, m, zero, strict=True)]
    done = subprocess.run(
        [str(binary)], input="\n".join(rows) + "\n", capture_output=True, text=True, check=True
    )
    pairs = np.array([[int(v) for v in line.split()] for line in done.stdout.splitlines()])
    assert len(pairs) == len(rows)
    assert pairs[:, 1].tolist() == pairs[:, 0].tolist()


@functools.cache
def _general_requant_model() -> bytes:
    """A 3x3 SAME conv whose channel 2 has a bias near 2^30: its accumulators may pass 2^30, so the
    layer takes the general requantization (multipliers and shifts, no triplets)."""
    from tests.crafted_models import Op as CraftedOp
    from tests.crafted_models import T, build, options

    weights = np.random.default_rng(13).integers(-60, 61, (4, 3, 3, 3)).astype(np.int8)
    bias = np.array([100, -2_000, (1 << 30) - 10, 5_000], np.int32)
    conv = options("Conv2D", padding=0, strideH=1, strideW=1, dilationHFactor=1, dilationWFactor=1)
    tensors = [
        T((1, 6, 5, 3), scale=0.05, zero_point=3),
        T((4, 3, 3, 3), scale=0.02, data=weights),
        T((4,), "int32", 0.001, data=bias),
        T((1, 6, 5, 4), scale=0.1, zero_point=-5),
    ]
    return build(tensors, [CraftedOp("CONV_2D", (0, 1, 2), (3,), conv)])


@pytest.mark.parametrize("dsp", [False, True], ids=["portable", "dsp"])
def test_dense_conv_without_the_short_requantization_is_bit_exact(dsp):
    model = _general_requant_model()
    assert "l0_multiplier" in generate(model).source and "l0_requant" not in generate(model).source
    check = host_cross_check(model, random_inputs(model, 32, seed=9), dsp=dsp, label="general requant")
    assert check, str(check)


def test_a_kernel_row_of_one_byte_stays_inside_the_scratch_and_the_input(tmp_path):
    """A (4, 1) kernel over a one-channel column: its rows of one byte once went to the stage a whole
    word each, writing past the scratch and reading past the input (AddressSanitizer)."""
    from har_edge.codegen.project import write_project
    from har_edge.codegen.verify import reference_run
    from tests.crafted_models import Op as CraftedOp
    from tests.crafted_models import T, build, options

    weights = (np.arange(12).reshape(3, 4, 1, 1) - 5).astype(np.int8)
    conv = options("Conv2D", padding=1, strideH=1, strideW=1, dilationHFactor=1, dilationWFactor=1)
    tensors = [
        T((1, 9, 1, 1), scale=0.05, zero_point=2),
        T((3, 4, 1, 1), scale=0.02, data=weights),
        T((3,), "int32", 0.001, data=np.array([5, -7, 9], np.int32)),
        T((1, 6, 1, 3), scale=0.1, zero_point=1),
    ]
    model = build(tensors, [CraftedOp("CONV_2D", (0, 1, 2), (3,), conv)])
    project = tmp_path / "fw"
    write_project(model, project, "host", "model")
    sanitize = "-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
    make = ["make", "-s", "APP=app", f"CFLAGS={sanitize}"]
    subprocess.run(make, cwd=project, check=True, capture_output=True)
    inputs = random_inputs(model, 4, seed=3)
    (project / "har_in.bin").write_bytes(inputs.tobytes())
    done = subprocess.run([str(project / "app")], cwd=project, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "ERROR" not in done.stderr and "runtime error" not in done.stderr, done.stderr
    outputs = np.frombuffer((project / "har_out.bin").read_bytes(), np.uint8).reshape(4, -1)
    expected, _ = reference_run(model, inputs)
    assert np.array_equal(outputs, np.asarray(expected).reshape(4, -1))
