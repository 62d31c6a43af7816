"""A tiny study end to end: outputs, the cache, failures, the schema, the heatmaps, Ray and Ray Train."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from har_edge.cli import EXIT_CHECK_FAILED, EXIT_OK, main
from har_edge.errors import DataFormatError
from har_edge.transfer import adapt as strategies
from har_edge.transfer.grid import AdaptSettings, DataSettings, Domain, Pair, SourceSettings, make_study
from har_edge.transfer.plots import heatmap_figure
from har_edge.transfer.report import build_report, load, validate
from har_edge.transfer.run import run_study

pytestmark = pytest.mark.slow
PAIR = "synthetic:waist -> synthetic:wrist:smartwatch"


def tiny_study(**changes):
    fields = dict(
        pairs=(Pair(Domain("synthetic:waist"), Domain("synthetic:wrist:smartwatch")),),
        model=["dense"],
        k=[0, "all"],
        size=[10, "all"],
        strategy=["freeze", "head-only"],
        seed=[0, 1],
        data=DataSettings(
            subjects=4, source_subjects=4, seconds_per_activity=12, classes=("WALKING", "SITTING", "LAYING")
        ),
        adapt=AdaptSettings(epochs=2, patience=2, head_epochs=3, min_epoch_windows=32),
        source=SourceSettings(epochs=2),
    )
    return make_study(**{**fields, **changes})


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    return out, run_study(tiny_study(), out, engine="local", workers=1, progress=False)


def _copy_without_points(first_run, folder):
    out, _ = first_run
    shutil.copytree(out / "cache", folder / "cache", ignore=shutil.ignore_patterns("points"))
    return folder


def _figures(rows):
    return {r["config_hash"]: (r["micro_f1"], r["macro_f1"], r["n_adapt"]) for r in rows}


def test_a_study_runs_every_point_once_with_one_source_per_seed(first_run):
    _, outcome = first_run
    assert outcome.failures == () and outcome.cached == 0
    assert outcome.points == len(outcome.rows) == 2 * 2 * 3  # sizes x seeds x (baseline, freeze, head-only)
    assert outcome.sources_trained == 2
    info = outcome.domains[PAIR]
    assert info["labels"] == ["WALKING", "SITTING", "LAYING"]
    assert {r["n_adapt"] for r in outcome.rows if r["size"] is None} == {
        info["target_splits"]["train"]["windows"]
    }


def test_a_rerun_recomputes_nothing(first_run):
    out, outcome = first_run
    again = run_study(tiny_study(), out, engine="serial", progress=False)
    assert again.cached == again.points and again.sources_trained == 0
    assert again.rows == outcome.rows
    assert again.sources.keys() == outcome.sources.keys()


def test_the_report_is_schema_valid_and_bad_documents_are_refused(first_run):
    _, outcome = first_run
    document = json.loads(json.dumps(build_report(outcome)))
    validate(document, "built")
    summary = {(r["strategy"], r["k"], r["size"]): r for r in document["summary"]}
    assert summary[("freeze", 3, 10)]["seeds"] == 2 and summary[("freeze", 3, 10)]["micro_f1_std"] is not None
    document["points"][0]["micro_f1"] = 1.5
    with pytest.raises(DataFormatError, match=r"points\[0\]\.micro_f1.*<= 1"):
        validate(document, "tampered")
    document["points"][0]["micro_f1"] = 0.5
    document["points"][0]["f1"] = 0.5
    with pytest.raises(DataFormatError, match="points\\[0\\]"):
        validate(document, "tampered")


def test_the_heatmap_shows_the_mean_micro_f1_of_the_points(first_run):
    _, outcome = first_run
    document = build_report(outcome)
    image = heatmap_figure(document, PAIR, "dense", "freeze").axes[0].images[0].get_array()
    expected = np.zeros((2, 2))
    for i, size in enumerate([10, None]):
        for j, k in enumerate([0, 3]):
            values = [
                r["micro_f1"]
                for r in document["points"]
                if r["size"] == size and r["k"] == k and r["strategy"] == ("baseline" if k == 0 else "freeze")
            ]
            assert len(values) == 2
            expected[i, j] = 100 * np.mean(values)
    np.testing.assert_allclose(np.asarray(image), expected)


def test_the_cli_writes_the_report_folder_and_a_failed_point_is_recorded(
    first_run, tmp_path, monkeypatch, capsys
):
    out = _copy_without_points(first_run, tmp_path)
    real = strategies.adapt

    def failing(strategy, *args, **kwargs):
        if strategy == "freeze":
            raise RuntimeError("simulated out of memory")
        return real(strategy, *args, **kwargs)

    monkeypatch.setattr(strategies, "adapt", failing)
    study = tmp_path / "study.toml"
    study.write_text(
        "[study]\nsubjects = 4\nsource_subjects = 4\nseconds_per_activity = 12\n"
        'classes = ["WALKING", "SITTING", "LAYING"]\n'
        "[source]\nepochs = 2\n[adapt]\nepochs = 2\npatience = 2\nhead_epochs = 3\nmin_epoch_windows = 32\n"
        '[[pair]]\nsource = "synthetic:waist"\ntarget = "synthetic:wrist:smartwatch"\n'
        '[grid]\nmodel = ["dense"]\nk = [0, "all"]\nsize = [10, "all"]\n'
        'strategy = ["freeze", "head-only"]\nseed = [0, 1]\n'
    )
    code = main(["transfer", "--study", str(study), "--engine", "serial", "--out", str(out), "--no-progress"])
    assert code == EXIT_CHECK_FAILED
    document = load(out / "report" / "transfer.json")
    assert len(document["failures"]) == 4 and len(document["points"]) == 8
    assert all("simulated out of memory" in f["error"] for f in document["failures"])
    assert {f["config"]["strategy"] for f in document["failures"]} == {"freeze"}
    assert "4 failed" in capsys.readouterr().out
    names = {p.name for p in (out / "report").iterdir()}
    heatmap = "heatmap-synthetic_waist_to_synthetic_wrist_smartwatch_dense-{}.png"
    assert {"transfer.json", "transfer.csv", "transfer.md", heatmap.format("head-only")} <= names
    assert heatmap.format("freeze") not in names  # every freeze point failed: nothing to draw
    monkeypatch.setattr(strategies, "adapt", real)
    assert main(
        ["transfer", "--study", str(study), "--engine", "serial", "--out", str(out), "--no-progress"]
    ) == (EXIT_OK)  # the next run retries the failed points only


def test_ray_gives_the_same_figures_as_the_local_pool(first_run, tmp_path):
    pytest.importorskip("ray")
    _, local = first_run
    on_ray = run_study(
        tiny_study(), _copy_without_points(first_run, tmp_path), engine="ray", workers=1, progress=False
    )
    assert on_ray.failures == () and on_ray.cached == 0 and on_ray.sources_trained == 0
    assert _figures(on_ray.rows) == _figures(local.rows)


def test_ray_train_trains_the_source_data_parallel_on_two_workers(first_run):
    pytest.importorskip("ray.train")
    from har_edge.train import TrainConfig
    from har_edge.transfer.protocol import load_splits
    from har_edge.transfer.ray_train import train_on_ray

    _, outcome = first_run
    splits = load_splits(outcome.domains[PAIR]["data"], "source")
    trained = train_on_ray(splits, "dense", TrainConfig(epochs=2, seed=0), workers=2)
    assert trained.card.class_names == ("WALKING", "SITTING", "LAYING")
    assert trained.card.notes["trainer"] == {"ray_train_workers": 2}
    assert len(trained.history["val_loss"]) == 2
    assert trained.test_metrics.n == len(splits.test)
