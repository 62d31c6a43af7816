"""The mps2-an386 board under QEMU: instruction counting, stack high-water marks, semihosting file I/O
and exit codes, on a small bring-up program (tests/firmware_board/calibrate.c) built with the board's
own Makefile, linker script and startup code."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from har_edge.firmware import mps2
from tests.arm_tools import require_arm_tools

HARNESS_HEADER = Path(mps2.SOURCE_DIR).parent / "harness" / "har_board.h"
CALIBRATE = Path(__file__).parent / "firmware_board" / "calibrate.c"
SPIN = re.compile(r"^HAR spin (\d+) instructions (\d+)$", re.M)
STACK = re.compile(r"^HAR stack_bytes (\d+) (\d+) (\d+)", re.M)
RESOLUTION = mps2.INSTRUCTIONS_PER_TICK
CALL_OVERHEAD = 40  # instructions around the loop between the two counter reads (call, return, loads)


@pytest.fixture(scope="module")
def calibrate_elf(tmp_path_factory) -> Path:
    require_arm_tools()
    project = tmp_path_factory.mktemp("calibrate")
    (project / "board").mkdir()
    (project / "harness").mkdir()
    for name in mps2.BOARD_FILES:
        shutil.copy(mps2.SOURCE_DIR / name, project / "board" / name)
    shutil.copy(mps2.SOURCE_DIR / mps2.MAKEFILE, project / mps2.MAKEFILE)
    shutil.copy(HARNESS_HEADER, project / "harness")
    shutil.copy(CALIBRATE, project / "harness")
    subprocess.run(["make", "-s", "-C", str(project)], check=True, capture_output=True, text=True)
    return project / mps2.ELF_NAME


def run_calibrate(elf: Path, folder: Path, request: bytes) -> mps2.QemuRun:
    folder.mkdir(exist_ok=True)
    (folder / "har_in.bin").write_bytes(request)
    return mps2.run_image(elf, folder, timeout_s=60)


def spins(run: mps2.QemuRun) -> dict[int, int]:
    return {int(n): int(count) for n, count in SPIN.findall(run.stdout)}


def test_instruction_count_is_identical_across_runs(calibrate_elf, tmp_path):
    first = run_calibrate(calibrate_elf, tmp_path / "a", bytes([0, 0]))
    second = run_calibrate(calibrate_elf, tmp_path / "b", bytes([0, 0]))
    assert first.returncode == second.returncode == 0, first.stderr
    assert len(spins(first)) == 4
    assert spins(first) == spins(second)


def test_instruction_count_is_two_per_iteration_of_a_two_instruction_loop(calibrate_elf, tmp_path):
    counts = spins(run_calibrate(calibrate_elf, tmp_path, bytes([0, 0])))
    for n, count in counts.items():
        assert 2 * n - RESOLUTION <= count <= 2 * n + CALL_OVERHEAD + RESOLUTION, (n, count)
        assert count % RESOLUTION == 0  # one SysTick tick is 40 instructions


def test_stack_high_water_grows_by_the_stack_a_call_touches(calibrate_elf, tmp_path):
    kib = 8
    run = run_calibrate(calibrate_elf, tmp_path, bytes([0, kib]))
    before, after, since_mark = map(int, STACK.search(run.stdout).groups())
    assert before > 0  # printf and fopen already used some
    assert kib * 1024 <= since_mark < kib * 1024 + 1024  # the touched block plus a few frames
    assert after > before
    assert since_mark < after < since_mark + before  # main's own depth lies above the mark
    quiet = run_calibrate(calibrate_elf, tmp_path / "quiet", bytes([0, 0]))
    quiet_before, quiet_after, quiet_since_mark = map(int, STACK.search(quiet.stdout).groups())
    assert quiet_after == quiet_before  # a mark repaints, but the high-water mark keeps what came before
    assert quiet_since_mark < 64


def test_exit_code_and_semihosting_files_pass_through(calibrate_elf, tmp_path):
    run = run_calibrate(calibrate_elf, tmp_path, bytes([7, 0]) + b"semihosting")
    assert run.returncode == 7
    assert (tmp_path / "har_out.bin").read_bytes() == b"gnitsohimes"


def test_fault_is_reported_and_exits_instead_of_hanging(calibrate_elf, tmp_path):
    run = run_calibrate(calibrate_elf, tmp_path, bytes([255, 0]))
    assert run.returncode == mps2.FAULT_EXIT_CODE
    assert "HAR fault HardFault" in run.stdout + run.stderr


def test_missing_input_file_is_reported_with_an_error_exit(calibrate_elf, tmp_path):
    run = mps2.run_image(calibrate_elf, tmp_path, timeout_s=60)
    assert run.returncode == 2
    assert "HAR error no har_in.bin" in run.stdout


def test_missing_tools_are_named_when_path_has_none_of_them(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    missing = mps2.missing_tools()
    assert {"arm-none-eabi-gcc", "qemu-system-arm"} <= set(missing)


def test_a_wheel_carries_every_file_of_the_top_level_firmware_folder(tmp_path):
    """A non-editable install (Quickstart 1) has no checkout: setup.py's build_py copies firmware/ into
    the wheel as har_edge/firmware/c/, where ``firmware_root`` looks first."""
    import subprocess
    import sys
    import zipfile

    repo = Path(__file__).resolve().parents[1]
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            tmp_path,
            repo,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("har_edge-*.whl")
    shipped = {name for name in zipfile.ZipFile(wheel).namelist() if name.startswith("har_edge/firmware/c/")}
    sources = {
        "har_edge/firmware/c/" + path.relative_to(repo / "firmware").as_posix()
        for path in (repo / "firmware").rglob("*")
        if path.is_file()
    }
    assert {"har_edge/firmware/c/mps2-an386/startup.c", "har_edge/firmware/c/runtime/conv.c"} <= shipped
    assert sources == shipped


def test_missing_tools_fail_instead_of_skipping_when_ci_requires_toolchains(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HAR_EDGE_REQUIRE_TOOLCHAINS", "1")
    with pytest.raises(pytest.fail.Exception, match="apt-get install gcc-arm-none-eabi"):
        require_arm_tools()
    monkeypatch.setenv("HAR_EDGE_REQUIRE_TOOLCHAINS", "0")
    with pytest.raises(pytest.skip.Exception):
        require_arm_tools()
