"""``har-edge firmware`` (``har_edge.cli.firmware``): the project it writes, --build/--run/--verify on
the host and the emulated board, --json, and its exit codes: 0 bit-exact, 1 a byte differs (a kernel
one step off), 2 bad input or a missing toolchain naming the Debian packages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from har_edge.cli import main
from har_edge.codegen import project
from tests.arm_tools import require_arm_tools

BUNDLE = Path(__file__).parent / "golden" / "dense_int8"  # its base_mcu.tflite is the int8 batch-1 base
MODEL = BUNDLE / "base_mcu.tflite"


def run(capsys, argv: list) -> tuple[int, str, str]:
    """``har-edge firmware ARGV``: (exit code, stdout, stderr)."""
    code = main(["firmware", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def require_host_compiler() -> None:
    if shutil.which("gcc") is None or shutil.which("make") is None:
        pytest.skip("host gcc/make missing")


def test_writes_a_project_without_building_when_only_out_is_given(tmp_path, capsys):
    code, text, _ = run(capsys, [MODEL, "--board", "mps2-an386", "--out", tmp_path / "fw"])
    assert code == 0 and "wrote" in text
    written = {p.relative_to(tmp_path / "fw").as_posix() for p in (tmp_path / "fw").rglob("*") if p.is_file()}
    assert {"Makefile", "board/startup.c", "board/board.c", "board/linker.ld", "harness/harness.c"} <= written
    assert "model/net_model.c" in written and not (tmp_path / "fw" / "app.elf").exists()


def test_with_head_adds_the_bundles_float_head_and_the_project_still_verifies(tmp_path, capsys):
    require_arm_tools()
    argv = [
        BUNDLE,
        "--board",
        "mps2-an386",
        "--out",
        tmp_path / "fw",
        "--with-head",
        "--verify",
        10,
        "--json",
    ]
    code, text, _ = run(capsys, argv)
    assert code == 0 and json.loads(text)["with_head"] and json.loads(text)["verify"]["bit_exact"]
    assert {"head.c", "checkpoint.c"} <= {p.name for p in (tmp_path / "fw" / "head").iterdir()}
    code, _, error = run(capsys, [MODEL, "--board", "host", "--out", tmp_path / "bare", "--with-head"])
    assert code == 2 and "--with-head needs a bundle folder" in error


def test_verify_on_the_emulated_board_is_bit_exact_and_json_has_the_figures(tmp_path, capsys):
    require_arm_tools()
    argv = [BUNDLE, "--board", "mps2-an386", "--out", tmp_path / "fw", "--verify", 100, "--json"]
    code, text, _ = run(capsys, argv)
    document = json.loads(text)
    figures = document["figures"]
    assert code == 0 and document["verify"]["bit_exact"] and document["verify"]["inputs"] == 100
    assert figures["instructions_per_inference"] > 0 and len(figures["layers"]) == len(document["layers"])
    assert all(layer["instructions"] is not None for layer in figures["layers"])
    assert figures["memory"]["weights_bytes"] > 0 and figures["model_ram_bytes"] > 0
    assert (tmp_path / "fw" / "app.elf").is_file()


def test_a_kernel_one_step_off_fails_verify_with_exit_1_and_the_cross_check(tmp_path, monkeypatch, capsys):
    require_host_compiler()
    broken = tmp_path / "runtime"
    shutil.copytree(project.RUNTIME_DIR, broken)
    requant = broken / "requant.h"
    text = requant.read_text()
    assert "har_clamp_s8(" in text and "har_sat_s8(" in text
    # the kernels' output clamps (the calls after the definitions) get a value one step too high
    off_by_one = (
        "#define har_clamp_s8(x, lo, hi) (har_clamp_s8((x) + 1, (lo), (hi)))\n"
        "#define har_sat_s8(x) (har_sat_s8((x) + 1))\n"
    )
    head, guard_end = text.rsplit("#endif", 1)  # before the include guard's #endif
    requant.write_text(head + off_by_one + "#endif" + guard_end)
    monkeypatch.setattr(project, "RUNTIME_DIR", broken)
    code, text, _ = run(capsys, [MODEL, "--board", "host", "--out", tmp_path / "fw", "--verify", 20])
    assert code == 1
    assert "MISMATCH" in text and "bytes differ" in text and "<- differs" in text


def test_host_verify_passes_with_exit_0(tmp_path, capsys):
    require_host_compiler()
    code, text, _ = run(capsys, [MODEL, "--board", "host", "--out", tmp_path / "fw", "--verify", 50])
    assert code == 0 and "bit-exact: 50 inputs" in text


def test_missing_arm_toolchain_is_exit_2_naming_the_debian_packages(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, error = run(capsys, [MODEL, "--board", "mps2-an386", "--out", tmp_path / "fw", "--build"])
    assert code == 2
    assert "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm" in error
    assert not (tmp_path / "fw").exists()  # refused before writing anything


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.tflite", "--board", "host", "--out", "fw"], "no such bundle folder or .tflite file"),
        ([Path(__file__).parent / "golden", "--board", "host", "--out", "fw"], "needs base_mcu.tflite"),
        ([MODEL, "--board", "host", "--out", "fw", "--verify", 0], "a positive integer"),
        ([MODEL, "--board", "host", "--out", "fw", "--seed", -1], "a seed"),
    ],
    ids=["missing-file", "folder-without-mcu-model", "verify-zero", "negative-seed"],
)
def test_bad_input_is_exit_2_with_the_reason(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    code, _, error = run(capsys, argv)
    assert code == 2 and message in error


def test_help_shows_an_example_per_board_and_the_defaults(capsys):
    code, text, _ = run(capsys, ["--help"])
    assert code == 0 and "--board mps2-an386" in text and "--board host" in text and "default 0" in text


def test_an_existing_out_folder_needs_overwrite(tmp_path, capsys):
    (tmp_path / "fw").mkdir()
    code, _, error = run(capsys, [MODEL, "--board", "host", "--out", tmp_path / "fw"])
    assert code == 2 and "--overwrite" in error
    assert run(capsys, [MODEL, "--board", "host", "--out", tmp_path / "fw", "--overwrite"])[0] == 0
