"""The LSTM kernel's fixed-point activations (firmware/runtime/lstm.c) against gemmlowp's, on every one
of the 65,536 int16 inputs: the Q3.12 sigmoid and tanh of the gates and the tanh of the cell for every
integer-bit count TFLite's kernel evaluates (0..6), compiled for the host (portable C) and for the
emulated Cortex-M4F (SMLABB products, the exp table). The oracle, har_edge/codegen/gemmlowp.py, is
checked against the float functions here and, through the whole LSTM, against LiteRT's reference
kernels in tests/test_codegen_lstm.py."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from har_edge.codegen import gemmlowp
from tests.arm_tools import require_arm_tools
from tests.sshd import require_toolchains

REPO = Path(__file__).resolve().parents[1]
RUNTIME = REPO / "firmware" / "runtime"
CELL_BITS = range(7)  # tanh_integer_bits = 15 + k for cell scales 2^k, k in [-15, -9]
INPUTS = np.arange(-32768, 32768)

# every activation over every input, int16, to har_act.bin: sigmoid, gate tanh, then the cell's tanh
DRIVER = r"""
#include <stdio.h>

#include "lstm.c"

static void put(FILE *f, int16_t *chunk, int32_t *n, int32_t value)
{
    chunk[(*n)++] = (int16_t)value;
    if (*n == 256) fwrite(chunk, 2, 256, f), *n = 0;
}

int main(void)
{
    FILE *f = fopen("har_act.bin", "wb");
    if (!f) return 2;
    int16_t chunk[256];
    int32_t n = 0;
    for (int32_t a = -32768; a < 32768; a++) put(f, chunk, &n, sigmoid_q3_12(a));
    for (int32_t a = -32768; a < 32768; a++) put(f, chunk, &n, tanh_q(a, 3));
    for (int bits = 0; bits < 7; bits++)
        for (int32_t a = -32768; a < 32768; a++) put(f, chunk, &n, tanh_cell(a, bits));
    fclose(f);
    (void)har_lstm_s8;
    return 0;
}
"""


def _expected() -> np.ndarray:
    rows = [gemmlowp.logistic_q3_12(INPUTS), gemmlowp.tanh(INPUTS, 3)]
    rows += [gemmlowp.tanh(INPUTS, bits) for bits in CELL_BITS]
    return np.stack(rows).astype(np.int16)


def _compare(folder: Path) -> None:
    got = np.fromfile(folder / "har_act.bin", np.int16).reshape(-1, len(INPUTS))
    expected = _expected()
    assert got.shape == expected.shape
    names = ["sigmoid Q3.12", "tanh Q3.12", *(f"tanh of the cell, {b} integer bits" for b in CELL_BITS)]
    for name, g, e in zip(names, got, expected, strict=True):
        wrong = np.flatnonzero(g != e)
        assert wrong.size == 0, (
            f"{name}: {wrong.size} inputs differ, first {INPUTS[wrong[0]]}: {g[wrong[0]]} != {e[wrong[0]]}"
        )


def test_gemmlowp_model_is_within_16_steps_of_the_float_functions():  # gemmlowp's int16 error: up to 12
    x = INPUTS / 4096.0
    assert np.abs(gemmlowp.logistic_q3_12(INPUTS) - 32768 / (1 + np.exp(-x))).max() <= 16
    assert np.abs(gemmlowp.tanh(INPUTS, 3) - 32768 * np.tanh(x)).max() <= 16
    assert np.abs(gemmlowp.tanh(INPUTS, 0) - 32768 * np.tanh(INPUTS / 32768.0)).max() <= 16
    assert gemmlowp.logistic_q3_12(np.array([0]))[0] == 1 << 14 and gemmlowp.tanh(np.array([0]), 2)[0] == 0


def test_exp_table_header_is_the_one_the_tool_writes():
    assert (REPO / gemmlowp.EXP_HEADER).read_text() == gemmlowp.exp_table_header()


def test_host_lstm_activations_equal_gemmlowp_on_every_input(tmp_path):
    if shutil.which("gcc") is None:
        if require_toolchains():
            pytest.fail("gcc missing")
        pytest.skip("host gcc missing")
    (tmp_path / "driver.c").write_text(DRIVER)
    flags = ["-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{RUNTIME}"]
    subprocess.run(["gcc", *flags, "driver.c", "-o", "act"], cwd=tmp_path, check=True, capture_output=True)
    subprocess.run([str(tmp_path / "act")], cwd=tmp_path, check=True, timeout=120)
    _compare(tmp_path)


def test_cortex_m4_lstm_activations_equal_gemmlowp_on_every_input(tmp_path):
    require_arm_tools()
    board = REPO / "firmware" / "mps2-an386"
    shutil.copy(board / "Makefile", tmp_path / "Makefile")
    (tmp_path / "board").mkdir()
    for name in ("board.c", "startup.c", "linker.ld", "board_internal.h"):
        shutil.copy(board / name, tmp_path / "board" / name)
    shutil.copy(REPO / "firmware" / "harness" / "har_board.h", tmp_path / "board" / "har_board.h")
    shutil.copytree(RUNTIME, tmp_path / "runtime")
    (tmp_path / "driver.c").write_text(DRIVER)
    sources = "SOURCES=driver.c board/board.c board/startup.c"
    subprocess.run(
        ["make", "-s", "APP=act.elf", sources], cwd=tmp_path, check=True, capture_output=True, timeout=300
    )
    subprocess.run(
        ["make", "-s", "APP=act.elf", sources, "run"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=300,
    )
    _compare(tmp_path)
