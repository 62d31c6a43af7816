"""``har-edge personalize ... --on BOARD``: the personalization runs inside the generated firmware and
writes a checkpoint the host Personalizer restores, plus the firmware's checkpoint slots."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from har_edge.cli import main
from har_edge.codegen.head import head_spec
from har_edge.firmware.checkpoint import SlotStorage
from har_edge.runtime.bundle import open_bundle
from har_edge.runtime.classifier import Classifier
from har_edge.runtime.personalize import Personalizer

GOLDEN = Path(__file__).parent / "golden" / "dense_int8"
LABELS = "WALKING,SITTING,STANDING,LAYING"


def personalize(checkpoint: Path, board: str, *extra: str) -> list[str]:
    data = ["synthetic:wrist:smartwatch", "--subjects", "1", "--labels", LABELS]
    return ["personalize", str(GOLDEN), *data, "--checkpoint", str(checkpoint), "--on", board, *extra]


@pytest.mark.parametrize("board", ["host", "mps2-an386"])
def test_personalize_on_a_board_prints_its_figures_and_writes_both_checkpoints(board, tmp_path, capsys):
    if board != "host":
        from tests.arm_tools import require_arm_tools

        require_arm_tools()
    checkpoint = tmp_path / "me.ckpt"
    assert main(personalize(checkpoint, board, "--epochs", "3")) == 0
    out = capsys.readouterr().out
    assert (
        f"on {board}: accuracy" in out
        and "instructions per SGD step: batch 1: " in out
        and "batch 32: " in out
    )
    assert "RAM: head" in out and "checkpoint: slot" in out
    restored = Personalizer(Classifier(GOLDEN), labels=LABELS.split(","))
    restored.restore(checkpoint)
    slots = (tmp_path / "me.ckpt.slots").read_bytes()
    _, slot = SlotStorage(slots, head_spec(open_bundle(GOLDEN)).slot_bytes).newest()
    for name, array in slot.weights.named().items():
        np.testing.assert_array_equal(restored.weights().named()[name], array)


def test_personalize_on_board_resumes_from_the_host_checkpoint(tmp_path, capsys):
    checkpoint = tmp_path / "me.ckpt"
    assert main(personalize(checkpoint, "host", "--epochs", "1")) == 0
    first = (tmp_path / "me.ckpt.slots").read_bytes()
    assert main(personalize(checkpoint, "host", "--epochs", "1", "--resume", "--learning-rate", "1e-30")) == 0
    # A negligible rate: the resumed run starts from (and keeps) the first run's weights.
    spec = head_spec(open_bundle(GOLDEN))
    before, after = (
        SlotStorage(s, spec.slot_bytes).newest()[1].weights
        for s in (first, (tmp_path / "me.ckpt.slots").read_bytes())
    )
    np.testing.assert_allclose(after.layers[0][0], before.layers[0][0], rtol=0, atol=1e-6)


def test_personalize_on_an_unknown_board_is_exit_2_naming_the_boards(tmp_path, capsys):
    assert main(personalize(tmp_path / "me.ckpt", "esp32", "--epochs", "1")) == 2
    assert "unknown board 'esp32'" in capsys.readouterr().err
    assert not (tmp_path / "me.ckpt").exists()


def test_a_smaller_head_batch_trains_on_the_board_in_less_ram(tmp_path, capsys):
    ram = {}
    for batch in (32, 4):
        argv = personalize(tmp_path / f"{batch}.ckpt", "host", "--epochs", "2", "--head-batch", str(batch))
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert f"batch {batch}: " in out
        line = next(line for line in out.splitlines() if "RAM: head" in line)
        ram[batch] = [int(v.replace(",", "")) for v in re.findall(r"([\d,]+) B", line)]
    head = head_spec(open_bundle(GOLDEN))
    features_and_labels = 4 * (head.weights.n_features + head.weights.n_classes)
    assert ram[32][1] - ram[4][1] == 28 * features_and_labels  # the mini-batch cache
    assert ram[4][0] < ram[32][0]  # the step's scratch


def test_firmware_with_head_sizes_the_c_head_for_head_batch_and_reports_each_choices_ram(tmp_path, capsys):
    import json

    argv = [
        "firmware",
        str(GOLDEN),
        "--with-head",
        "--head-batch",
        "8",
        "--out",
        str(tmp_path / "fw"),
        "--json",
    ]
    assert main(argv) == 0
    ram = json.loads(capsys.readouterr().out)["head_ram_bytes_by_batch"]
    spec = head_spec(open_bundle(GOLDEN), max_batch=8)
    assert ram["8"] == spec.ram_bytes + spec.batch_cache_bytes
    assert list(ram) == ["1", "4", "8", "16", "32"] and sorted(ram.values()) == list(ram.values())
    assert "#define HEAD_MAX_BATCH 8" in (tmp_path / "fw" / "head" / "head_config.h").read_text()


def _host_personalize(checkpoint: Path, *extra: str) -> list[str]:
    return [arg for arg in personalize(checkpoint, "host", *extra) if arg not in ("--on", "host")]


def test_personalize_on_board_keeps_a_better_checkpoint_without_overwrite(tmp_path, capsys):
    checkpoint = tmp_path / "me.ckpt"
    assert main(_host_personalize(checkpoint, "--epochs", "5")) == 0
    better = checkpoint.read_bytes()
    assert main(personalize(checkpoint, "host", "--epochs", "1", "--learning-rate", "1e-30")) == 0
    assert "kept" in capsys.readouterr().out and checkpoint.read_bytes() == better
    assert (
        main(personalize(checkpoint, "host", "--epochs", "1", "--learning-rate", "1e-30", "--overwrite")) == 0
    )
    assert checkpoint.read_bytes() != better


def test_of_two_concurrent_runs_on_one_checkpoint_the_better_head_stays(tmp_path, capsys):
    import threading

    from har_edge.cli.personalize import checkpoint_lock

    checkpoint, better = tmp_path / "me.ckpt", tmp_path / "better.ckpt"
    assert main(_host_personalize(better, "--epochs", "5")) == 0
    codes = []
    worse_run = personalize(checkpoint, "host", "--epochs", "1", "--learning-rate", "1e-30")
    with checkpoint_lock(checkpoint):  # the better run is saving while the worse one trains
        worse = threading.Thread(target=lambda: codes.append(main(worse_run)))
        worse.start()
        checkpoint.write_bytes(better.read_bytes())
        worse.join(timeout=1)
        assert worse.is_alive()  # it waits for the lock before it compares
    worse.join()
    assert codes == [0] and checkpoint.read_bytes() == better.read_bytes()
