"""``har-edge firmware --board`` on the other MPS2 cores QEMU emulates (``har_edge.firmware.mps2``):
the same project built for a Cortex-M3 (no DSP extension: the portable loops) and a Cortex-M7 gives
LiteRT's bytes, and the M3's instruction count shows it runs without the DSP loops."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from har_edge.cli import main
from tests.arm_tools import require_arm_tools

GOLDEN = Path(__file__).parent / "golden" / "dense_int8"


def verified(board: str, out: Path, capsys) -> dict:
    assert (
        main(["firmware", str(GOLDEN), "--board", board, "--out", str(out), "--verify", "20", "--json"]) == 0
    )
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("board", ["mps2-an385", "mps2-an500"])
def test_the_project_verifies_bit_exact_on_another_core_and_counts_its_instructions(board, tmp_path, capsys):
    require_arm_tools()
    document = verified(board, tmp_path / board, capsys)
    assert document["board"] == board and document["verify"]["bit_exact"]
    assert document["figures"]["instructions_per_inference"] > 0
    if board == "mps2-an385":  # Cortex-M3: no SMLAD, so more instructions than the M4F's DSP loops
        m4 = verified("mps2-an386", tmp_path / "m4", capsys)["figures"]["instructions_per_inference"]
        assert document["figures"]["instructions_per_inference"] > 1.2 * m4
