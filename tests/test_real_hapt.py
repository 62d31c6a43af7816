"""Issue 20 on real recordings: the shared UCI HAPT users (``../shared/data``; skipped without it,
failed under ``HAR_EDGE_REQUIRE_TOOLCHAINS=1``). The benchmark's pipeline on three users, the
gyroscope option, one user split by activity occurrence, and a model of one user beating kNN."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.real_hapt import extract_users, main
from benchmarks.real_hapt_one_user import main as one_user_main
from har_edge.data import load_dataset
from har_edge.data.plan import split_windows, window_config_for
from har_edge.data.windows import make_windows
from tests.shared_files import shared_file


@pytest.mark.slow
def test_real_hapt_benchmark_scores_every_model_and_variant_on_held_out_users(tmp_path):
    archive = shared_file("data", "hapt-users03-28.tar.xz")
    code = main(
        ["--archive", str(archive), "--users", "3,4,5", "--models", "dense", "--epochs", "2"]
        + ["--fine-tune-epochs", "4", "--out", str(tmp_path)]
    )
    assert code == 0
    results = json.loads((tmp_path / "real_hapt.json").read_text())
    assert results["users"] == ["3", "4", "5"] and len(results["test_users"]) == 1
    assert results["test_users"][0] not in results["validation_users"]
    dense = results["models"]["dense"]
    assert dense["params"] == 20_004 and len(dense["recall"]) == len(results["class_names"]) == 12
    for variant in ("int8", "pruned50+int8", "qat+int8"):
        assert np.isfinite(dense["variants"][variant]["drop_pp"]), dense["variants"][variant]
    knn = results["knn"]
    assert set(knn["accuracy_by_fit"]) == {"hop 100", "hop 25"}
    assert knn["accuracy"] == max(knn["accuracy_by_fit"].values())
    goals = {g["goal"]: g for g in results["goals"]}
    assert goals["dense accuracy >= 78%"]["met"] == (dense["accuracy"] >= 0.78)
    table = (tmp_path / "real_hapt.md").read_text()
    assert f"test users {results['test_users'][0]}" in table and "| dense | 20,004 |" in table


def test_real_hapt_benchmark_with_the_gyroscope_fits_knn_on_six_channels(tmp_path):
    archive = shared_file("data", "hapt-users03-28.tar.xz")
    common = ["--archive", str(archive), "--users", "3,4,5", "--models", ""]
    assert main(common + ["--channels", "acc+gyro", "--out", str(tmp_path / "gyro")]) == 0
    assert main(common + ["--out", str(tmp_path / "acc")]) == 0
    gyro, acc = (json.loads((tmp_path / k / "real_hapt.json").read_text()) for k in ("gyro", "acc"))
    assert gyro["channels"] == ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
    assert acc["channels"] == ["acc_x", "acc_y", "acc_z"]
    assert gyro["knn"]["accuracy_by_fit"] != acc["knn"]["accuracy_by_fit"]
    assert (
        "channels acc_x, acc_y, acc_z, gyro_x, gyro_y, gyro_z;"
        in (tmp_path / "gyro" / "real_hapt.md").read_text()
    )


def test_one_real_hapt_user_is_split_by_disjoint_occurrences_covering_every_activity(tmp_path):
    raw = extract_users(shared_file("data", "hapt-users03-28.tar.xz"), tmp_path, (3,))
    dataset = load_dataset(str(raw), "hapt")
    windows, _ = make_windows(dataset, window_config_for(dataset))
    splits = split_windows(windows, cases=False, seed=0)
    assert splits.grouping == "occurrence" and dataset.subjects == ("3",)
    parts = (splits.train, splits.val, splits.test)
    for a in range(3):
        for b in range(a + 1, 3):
            apart = np.abs(parts[a].start[:, None] - parts[b].start[None, :]) >= windows.window
            other_recording = parts[a].recording[:, None] != parts[b].recording[None, :]
            assert (apart | other_recording).all(), "windows of two splits overlap in time"
    # The six activities everywhere; this user's transitions (2-5 windows each) only train.
    assert set(splits.val.y.tolist()) == set(splits.test.y.tolist()) == set(range(6))
    assert set(splits.train.y.tolist()) == set(range(12))
    occurrences = [set(zip(p.recording.tolist(), p.occurrence.tolist(), strict=True)) for p in parts]
    held_out = occurrences[1] | occurrences[2]
    assert len(held_out) >= 12 and not occurrences[1] & occurrences[2]


@pytest.mark.slow
def test_a_cnn_trained_on_one_real_hapt_user_beats_knn_on_the_users_held_out_occurrences(tmp_path):
    archive = shared_file("data", "hapt-users03-28.tar.xz")
    assert one_user_main(["--archive", str(archive), "--users", "5", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "one_user.json").read_text())
    assert (results["model"], results["channels"]) == ("cnn", "acc+gyro")
    (user,) = results["users"]
    assert user["user"] == "5" and user["grouping"] == "occurrence" and user["sizes"]["test"] >= 40
    # kNN: the better of its fits at hop 100 and at the training hop, on the same six channels
    assert user["accuracy"] > user["knn_accuracy"] and user["win"]
    assert "wins 1/1" in (tmp_path / "one_user.md").read_text()
