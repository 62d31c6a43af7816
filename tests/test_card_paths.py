"""Issue 20: a model card stored the data path as typed, so ``optimize`` run from another folder failed
("data/...: folder not found"). Trained with a relative path, optimized from elsewhere."""

from __future__ import annotations

import json

import pytest

from har_edge.cli import EXIT_OK
from tests.realdata_files import write_uea_pair
from tests.test_realdata_cli import run


@pytest.mark.slow
def test_optimize_from_another_folder_finds_the_data_a_relative_path_named(tmp_path, monkeypatch):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    write_uea_pair(project / "data")
    elsewhere.mkdir()
    monkeypatch.chdir(project)
    code, _, err = run(
        ["train", "--format", "uea", "--data", "data/Synth_TRAIN.ts", "--test-data", "data/Synth_TEST.ts"]
        + ["--epochs", "1", "--out", "run", "--no-progress"]
    )
    assert code == EXIT_OK, err
    note = json.loads((project / "run" / "model" / "card.json").read_text())["notes"]["data"]
    assert note["spec"] == str(project / "data" / "Synth_TRAIN.ts")
    assert note["test_spec"] == str(project / "data" / "Synth_TEST.ts")
    monkeypatch.chdir(elsewhere)
    code, out, err = run(["optimize", str(project / "run" / "model"), "--no-mcu", "--out", "bundle"])
    assert code == EXIT_OK, err
    assert "bundle accuracy" in out and (elsewhere / "bundle" / "manifest.json").is_file()
