"""Sweeps: the TOML file, the grid, the cache, failed points, and the local and Ray engines agreeing."""

from __future__ import annotations

import json

import pytest

from har_edge.bench.sweep import load_sweep, run_sweep
from har_edge.cli import EXIT_BAD_INPUT, main
from har_edge.errors import DataFormatError

TINY = """
[sweep]
name = "tiny"
subjects = 4
epochs = 2
fine_tune_epochs = {fine_tune_epochs}
[grid]
model = ["dense"]
sparsity = {sparsity}
precision = ["int8"]
split_point = ["none"]
target = ["rpi4"]
"""


def sweep_file(tmp_path, text=None, *, sparsity="[0.0, 0.5]", fine_tune_epochs=4):
    path = tmp_path / "sweep.toml"
    if text is None:
        text = TINY.format(sparsity=sparsity, fine_tune_epochs=fine_tune_epochs)
    path.write_text(text)
    return path


def test_the_grid_is_the_product_of_its_lists_with_distinct_stable_hashes(tmp_path):
    text = (
        TINY.format(sparsity="[0.0, 0.5, 0.75]", fine_tune_epochs=4)
        .replace('precision = ["int8"]', 'precision = ["float32", "int8"]')
        .replace('split_point = ["none"]', 'split_point = ["none", "headlayer"]')
    )
    points = load_sweep(sweep_file(tmp_path, text)).points()
    assert len(points) == 12
    assert len({p.key() for p in points}) == 12
    assert [p.key() for p in points] == [p.key() for p in load_sweep(tmp_path / "sweep.toml").points()]
    assert {p.split_point for p in points} == {None, "headlayer"}


def test_pruning_structure_is_a_grid_dimension_that_keeps_unstructured_hashes(tmp_path):
    plain = load_sweep(sweep_file(tmp_path)).points()
    text = (
        TINY.format(sparsity="[0.0, 0.5]", fine_tune_epochs=4)
        + 'structure = ["unstructured", "block", "unit"]\n'
    )
    points = load_sweep(sweep_file(tmp_path, text)).points()
    assert [(p.sparsity, p.structure) for p in points] == [
        (0.0, "unstructured"),
        (0.5, "unstructured"),
        (0.5, "block"),
        (0.5, "unit"),
    ]
    assert [p.key() for p in points[:2]] == [p.key() for p in plain]  # caches of older sweeps stay valid
    assert [p.variant for p in points[2:]] == ["dense-s50-block-int8", "dense-s50-unit-int8"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("[sweep]", "[sweep]\nepoch = 3"), "unknown key sweep.epoch.*one of name, data"),
        (("[grid]", "[grid]\nthreads = [1]"), "unknown key grid.threads.*one of model, sparsity"),
        (('target = ["rpi4"]', 'target = ["rpi4", "jetson"]'), "unknown target 'jetson'"),
        (("sparsity = [0.0, 0.5]", "sparsity = [0.0, 1.5]"), "expected values in \\[0, 1\\)"),
        (('split_point = ["none"]', 'split_point = ["conv9"]'), "split point 'conv9'.*dense32, dense16"),
        (('model = ["dense"]', 'model = ["transformer"]'), "transformer"),
        (("subjects = 4", 'subjects = "four"'), "expected int"),
        (
            ('target = ["rpi4"]', 'target = ["rpi4"]\nstructure = ["rows"]'),
            "structure 'rows'.*block, m:n, unit",
        ),
        (("subjects = 4", "subjects = 0"), "subjects = 0.*an integer >= 1"),
        (("epochs = 2", "epochs = 0"), "epochs = 0.*an integer >= 1"),
        (("subjects = 4", 'subjects = 4\nformat = "hapx"'), "unknown format 'hapx'"),
    ],
)
def test_a_bad_sweep_file_is_refused_naming_the_field(tmp_path, change, message):
    text = TINY.format(sparsity="[0.0, 0.5]", fine_tune_epochs=4).replace(*change)
    with pytest.raises(DataFormatError, match=message):
        load_sweep(sweep_file(tmp_path, text))


def test_malformed_toml_is_exit_2(tmp_path, capsys):
    path = sweep_file(tmp_path, "[grid\nmodel = ")
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    assert "not valid TOML" in capsys.readouterr().err


def _figures(rows):
    return {(r.variant, r.target): (r.size_bytes, r.gzip_bytes, r.accuracy, r.macro_f1) for r in rows}


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    config = load_sweep(sweep_file(folder))
    return config, folder / "out", run_sweep(config, folder / "out", workers=1, progress=False)


@pytest.mark.slow
def test_a_local_sweep_measures_every_point_on_every_target(local_sweep):
    config, _, outcome = local_sweep
    assert outcome.failures == () and outcome.cached == 0
    assert [(r.variant, r.target) for r in outcome.rows] == [
        ("dense-s0-int8", "rpi4"),
        ("dense-s50-int8", "rpi4"),
    ]
    pruned = outcome.rows[1]
    assert pruned.sparsity == pytest.approx(0.5, abs=0.01) and pruned.gzip_bytes < outcome.rows[0].gzip_bytes


@pytest.mark.slow
def test_a_rerun_takes_every_point_from_the_cache_with_the_same_rows(local_sweep):
    config, out, first = local_sweep
    again = run_sweep(config, out, workers=1, progress=False)
    assert again.cached == again.points == 2
    assert again.rows == first.rows


@pytest.mark.slow
def test_a_damaged_cache_entry_is_recomputed(local_sweep):
    config, out, first = local_sweep
    entry = out / "cache" / "points" / f"{config.points()[0].key()}.json"
    entry.write_text("{ truncated")
    again = run_sweep(config, out, workers=1, progress=False)
    assert again.cached == 1
    assert _figures(again.rows) == _figures(first.rows)
    assert json.loads(entry.read_text())["rows"]


def test_a_point_that_cannot_run_returns_its_error_instead_of_raising(tmp_path):
    # The sweep records such a point under "failures" and goes on. (Its old trigger, a pruning ramp longer
    # than one fine-tuning epoch, is gone: fine-tuning now gets the recipe's minimum steps per epoch.)
    from har_edge.bench.sweep.tasks import point_task

    (point,) = load_sweep(sweep_file(tmp_path, sparsity="[0.75]", fine_tune_epochs=1)).points()
    missing = tmp_path / "no-such-model"
    result = point_task(point.to_dict(), str(missing), str(tmp_path / "cache"))
    assert set(result) == {"error"}
    assert "no-such-model" in result["error"] and result["error"].split(":")[0].endswith("Error")
    assert not (tmp_path / "cache" / "points").exists()  # nothing cached for a failed point


@pytest.mark.slow
def test_ray_gives_the_same_sizes_and_accuracies_as_the_local_pool(local_sweep, tmp_path):
    pytest.importorskip("ray")
    config, _, local = local_sweep
    on_ray = run_sweep(config, tmp_path / "ray", engine="ray", workers=1, progress=False)
    assert on_ray.failures == ()
    assert _figures(on_ray.rows) == _figures(local.rows)
