"""benchmarks/firmware_vs_tflm.py's harness (the side-by-side with TFLM + CMSIS-NN), without building the
peer's library (~12 minutes): the archive cache key and unpack, the table and goals from measured rows,
the har_edge side and the cycle estimate on a tiny model, and the estimator against micro-benchmarks
whose cycles follow from the Cortex-M4 TRM.

The one test that runs TFLM skips when the peer's library is not already built in the cache of
``../shared/peers/tflm-cmsis-nn.tar.xz`` (``tox -e peer`` builds it), even under
HAR_EDGE_REQUIRE_TOOLCHAINS=1: a missing build is a cache state, not a missing tool, and building it
here would cost the suite 12 minutes."""

from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from har_edge.errors import InputError
from tests.arm_tools import require_arm_tools
from tests.firmware_support import int8_model
from tests.shared_files import shared_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import cycle_estimate  # noqa: E402
import firmware_vs_tflm  # noqa: E402
import peer_table  # noqa: E402
import peer_tree  # noqa: E402


def _archive(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:xz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_peer_archive_is_unpacked_once_into_a_folder_named_by_its_sha256(tmp_path):
    archive = _archive(tmp_path / "a.tar.xz", {"tflm-cmsis-nn/Makefile": b"all:\n"})
    tree = peer_tree.unpacked_tree(archive, tmp_path / "cache")
    assert tree == tmp_path / "cache" / peer_tree.archive_key(archive) / "tflm-cmsis-nn"
    (tree / "build").mkdir()  # a library built in the cache survives the next run
    assert peer_tree.unpacked_tree(archive, tmp_path / "cache") == tree
    assert (tree / "build").is_dir()
    other = _archive(tmp_path / "b.tar.xz", {"tflm-cmsis-nn/Makefile": b"all: x\n"})
    assert peer_tree.unpacked_tree(other, tmp_path / "cache") != tree


def test_peer_archive_with_a_member_outside_its_folder_is_refused(tmp_path):
    archive = _archive(tmp_path / "evil.tar.xz", {"../escaped": b"x", "tflm-cmsis-nn/Makefile": b""})
    with pytest.raises(InputError, match="evil.tar.xz"):
        peer_tree.unpacked_tree(archive, tmp_path / "cache")
    assert not (tmp_path / "escaped").exists()
    with pytest.raises(InputError, match="no such peer archive"):
        peer_tree.unpacked_tree(tmp_path / "missing.tar.xz", tmp_path / "cache")


def _side(instructions, flash, ram):
    return {"instructions_per_inference": instructions, "flash_bytes": flash, "ram_bytes": ram}


def _row(model, macs, har, cmsis, between=0):
    return {
        "model": model,
        "macs": macs,
        "har_edge": _side(*har),
        "tflm_cmsis_nn": _side(*cmsis),
        "tflm_reference": _side(cmsis[0] * 2, cmsis[1], cmsis[2]),
        "outputs": {
            "output_bytes": 12,
            "vs_builtin_ref": {"har_edge": 0, "tflm_cmsis_nn": between, "tflm_reference": 0},
            "between": {"har_edge vs tflm_cmsis_nn": between},
        },
    }


def test_table_shows_ratios_and_the_goals_say_which_model_misses_them():
    rows = [
        _row("dense", 1000, (1500, 400, 300), (3000, 1000, 500)),  # 0.50x, 1.5/MAC
        _row("ad01_int8", 1000, (2700, 600, 400), (3000, 1000, 500), between=4),  # 0.90x, 2.7/MAC
        {"model": "lstm", "note": "not converted: boom"},
    ]
    table = peer_table.markdown(rows)
    assert "| dense | 1,000 | 1,500 (1.50/MAC) | 3,000 (3.00/MAC) | 0.50× |" in table
    assert "| ad01_int8 |" in table and "0.90×" in table and "no (4 B)" in table
    assert "| lstm | not converted: boom |" in table
    verdicts = {g["goal"]: g for g in peer_table.goals(rows)}
    ratio_goal = verdicts["har_edge ≤ 0.6× TFLM+CMSIS-NN instructions on every model"]
    assert ratio_goal["met"] is False and "ad01_int8 0.90×" in ratio_goal["detail"]
    assert "not compared: lstm" in ratio_goal["detail"]
    assert verdicts["dense ≤ 2.0 instr/MAC"]["met"] is True
    assert verdicts["every MLPerf Tiny model ≤ 2.0 instr/MAC"]["met"] is False
    assert verdicts["flash ≤ 0.5× TFLM+CMSIS-NN"]["met"] is False  # ad01: 0.60x
    assert verdicts["RAM ≤ 0.7× TFLM+CMSIS-NN"]["met"] is False  # ad01: 0.80x
    assert verdicts["outputs byte-identical between har_edge and TFLM+CMSIS-NN"]["met"] is False


def test_saved_run_renders_the_same_table_and_a_foreign_json_is_refused(tmp_path):
    rows = [_row("dense", 1000, (1500, 400, 300), (3000, 1000, 500))]
    peer_table.write_json(tmp_path / "run.json", rows, tmp_path)
    assert peer_table.markdown(peer_table.read_rows(tmp_path / "run.json")) == peer_table.markdown(rows)
    (tmp_path / "other.json").write_text('{"schema_version": 1}')
    with pytest.raises(InputError, match="other.json: not a firmware_vs_tflm JSON"):
        peer_table.read_rows(tmp_path / "other.json")


def test_tflm_figures_count_the_used_arena_not_the_static_buffer():
    measured = {
        "instructions_median_after_first": 900,
        "instructions_first": 1200,
        "flash_minus_baseline": 5000,
        "flash_by_origin": {},
        "arena_used_bytes": 700,
        "static_ram_minus_baseline": peer_tree.ARENA_SIZE + 64,
        "inference_stack_bytes": 200,
    }
    figures = peer_tree.figures(measured)
    assert figures["instructions_per_inference"] == 900  # the warm-up is not counted
    assert figures["ram_bytes"] == 700 + 64 + 200


def test_micro_profiler_log_becomes_per_operator_rows():
    lines = ["FULLY_CONNECTED took 1200 ticks (0 ms).", "noise", "SOFTMAX took 40 ticks (0 ms)."]
    assert peer_tree.profile_rows(lines) == [
        {"op": "FULLY_CONNECTED", "instructions": 1200},
        {"op": "SOFTMAX", "instructions": 40},
    ]


def test_mnemonics_are_classed_with_conditions_and_suffixes_dropped():
    assert [cycle_estimate.classify(m) for m in ("bls", "muls", "ldrbeq", "vmla.f32", "smlad", "bics")] == [
        "branch",
        "mul",
        "load",
        "fp_mac",
        "mul",
        "alu",
    ]


@pytest.fixture(scope="module")
def tiny_model() -> bytes:
    return int8_model(
        lambda k, x: k.layers.Dense(12, activation="relu")(k.layers.Flatten()(x)), (16, 3), seed=3
    )


def test_har_edge_side_of_the_comparison_is_bit_exact_and_its_cycles_are_estimated(tiny_model, tmp_path):
    from har_edge.codegen.verify import random_inputs, reference_run

    require_arm_tools()
    inputs = random_inputs(tiny_model, 2, seed=5)
    side, outputs = firmware_vs_tflm.har_side(tiny_model, inputs, tmp_path)
    assert side["macs"] == 48 * 12
    assert np.array_equal(outputs, reference_run(tiny_model, inputs)[0])
    assert side["flash_bytes"] == side["weights_bytes"] + side["code_bytes"]
    mix = cycle_estimate.estimate_image(Path(side["elf"]), inputs.tobytes())
    # the traced window is the SysTick-counted inference (40-instruction resolution) plus the bracket call
    assert abs(mix.instructions - mix.harness_instructions) <= 80
    low, typical, high = mix.cycles
    assert mix.instructions <= low <= typical <= high


def test_cycle_estimator_matches_the_trm_on_micro_benchmarks():
    require_arm_tools()
    for result in cycle_estimate.validate(names=("SMLAD", "LDR")):
        assert result["ok"], result
        assert result["instructions_traced"] == result["instructions_systick"]


def test_tflm_side_runs_the_same_inputs_when_the_peer_library_is_built(tiny_model, tmp_path):
    require_arm_tools()
    archive = shared_file("peers", f"{peer_tree.TREE_NAME}.tar.xz")
    tree = peer_tree.default_cache() / peer_tree.archive_key(archive) / peer_tree.TREE_NAME
    if not (tree.is_dir() and peer_tree.library_built(tree, "cmsis_nn")):
        pytest.skip(f"the peer library is not built in {tree} (tox -e peer builds it; ~12 minutes)")
    from har_edge.codegen.verify import random_inputs, reference_run

    inputs = random_inputs(tiny_model, 2, seed=5)
    (tmp_path / "tiny.tflite").write_bytes(tiny_model)
    (tmp_path / "inputs.bin").write_bytes(inputs.tobytes())
    side, outputs = firmware_vs_tflm.tflm_side(
        tree,
        "test-tiny",
        tmp_path / "tiny.tflite",
        tmp_path / "inputs.bin",
        "cmsis_nn",
        peer_tree.baseline(tree),
        False,
    )
    assert side["instructions_per_inference"] > 0 and side["flash_bytes"] > 0
    assert np.array_equal(outputs.reshape(2, -1), reference_run(tiny_model, inputs)[0])
