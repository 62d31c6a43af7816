"""The benchmark report: JSON (schema-validated) round trip, Pareto front, Markdown, CSV, plots, atomicity."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import fields

import numpy as np
import pytest

from har_edge.bench import plots
from har_edge.bench.report import (
    CSV_FILE,
    JSON_FILE,
    MARKDOWN_FILE,
    Report,
    build_report,
    git_commit,
    load_report,
    pareto_front,
    render_markdown,
    report_schema,
    tool_versions,
    validate_report,
    write_report,
)
from har_edge.bench.results import SCHEMA_VERSION, ResultRow
from har_edge.errors import DataFormatError, InputError, OutputExistsError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_row(variant: str, target: str = "desktop", **figures) -> ResultRow:
    """A measured desktop row with every figure the Pareto front needs; ``figures`` override."""
    defaults = dict(
        size_bytes=10_000,
        gzip_bytes=6_000,
        latency_us_p50=100.0,
        latency_us_p90=120.0,
        accuracy=0.9,
        provenance={"latency": "measured"},
    )
    return ResultRow(variant=variant, target=target, **{**defaults, **figures})


def sweep_rows(rng: np.random.Generator) -> list[ResultRow]:
    """A small sweep: float32/int8 × three sparsities on a measured desktop and an estimated MCU (int8
    only, the unpruned one too big for its RAM), plus one row the MCU could not run."""
    rows = []
    for precision, bytes_per_weight in (("float32", 4), ("int8", 1)):
        for sparsity in (0.0, 0.5, 0.75):
            variant = f"dense-{precision}-s{int(sparsity * 100)}"
            size = int(20_000 * bytes_per_weight * (1 - 0.6 * sparsity)) + 900
            accuracy = float(
                0.92 - 0.04 * sparsity - (0.01 if precision == "int8" else 0) + rng.normal(0, 0.002)
            )
            common = dict(
                size_bytes=size,
                gzip_bytes=int(size * 0.6),
                model="dense",
                precision=precision,
                sparsity=sparsity,
                accuracy=accuracy,
                macro_f1=accuracy - 0.03,
                accuracy_drop_pp=round(100 * (0.92 - accuracy), 3),
                details={"seed": 1, "windows": [128, 3]},
            )
            desktop_us = float(rng.uniform(40, 200))
            rows.append(
                make_row(
                    variant,
                    latency_us_p50=desktop_us,
                    latency_us_p90=desktop_us * 1.2,
                    latency_n=200,
                    threads=1,
                    latency_norm_p50=desktop_us / 50.0,
                    **common,
                )
            )
            if precision == "int8":
                ram = 40_000 if sparsity == 0 else 30_000
                rows.append(
                    make_row(
                        variant,
                        "mcu",
                        ram_bytes=ram,
                        flash_bytes=size + 25_000,
                        latency_us_p50=float(rng.uniform(8_000, 20_000)),
                        latency_us_p90=None,
                        fits=ram <= 32_768,
                        ram_margin_bytes=32_768 - ram,
                        flash_margin_bytes=262_144 - size - 25_000,
                        measurement="estimated",
                        provenance={"latency": "estimated", "ram": "measured", "flash": "estimated"},
                        notes=("latency from MACs × cycles/MAC",),
                        **common,
                    )
                )
    rows.append(
        ResultRow(
            variant="dense-float32-s0",
            target="mcu",
            size_bytes=80_900,
            gzip_bytes=48_000,
            error="TFLM cannot run a float32 model | use int8",
        )
    )
    return rows


@pytest.fixture
def report(rng) -> Report:
    return build_report(
        sweep_rows(rng),
        source="synthetic:waist dense",
        calibration_us_p50=50.0,
        failures=[{"config": {"precision": "int8", "sparsity": 0.9}, "error": "pruning diverged"}],
        settings={"sparsities": [0.0, 0.5, 0.75], "precisions": ["float32", "int8"]},
    )


# --- JSON and schema ----------------------------------------------------------------------------------


def test_write_then_load_gives_an_equal_report(report, tmp_path):
    write_report(report, tmp_path / "out", plots=False)
    loaded = load_report(tmp_path / "out" / JSON_FILE)
    assert loaded == report
    assert loaded.results == report.results


def test_written_json_validates_with_real_numbers_and_nulls(report, tmp_path):
    write_report(report, tmp_path / "out", plots=False)
    data = json.loads((tmp_path / "out" / JSON_FILE).read_text())
    validate_report(data, "written report")
    desktop = data["results"][0]
    assert type(desktop["size_bytes"]) is int and type(desktop["latency_us_p50"]) is float
    assert desktop["ram_bytes"] is None and desktop["fits"] is None
    assert data["calibration_us_p50"] == 50.0 and data["created_utc"].endswith("Z")


def test_schema_is_draft_2020_12_and_requires_exactly_the_result_row_fields():
    import jsonschema

    schema = report_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    row_schema = schema["$defs"]["result"]
    names = {f.name for f in fields(ResultRow)}
    assert set(row_schema["properties"]) == names == set(row_schema["required"])
    assert row_schema["additionalProperties"] is False
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION


def _rename(data, old, new):
    row = data["results"][0]
    row[new] = row.pop(old)


@pytest.mark.parametrize(
    ("mutate", "field", "expected"),
    [
        pytest.param(
            lambda d: _rename(d, "latency_us_p50", "latncy_us_p50"),
            "$.results[0].latncy_us_p50",
            "latency_us_p50",
            id="typo-key",
        ),
        pytest.param(
            lambda d: d["results"][0].update(latency_us_p50="fast"),
            "$.results[0].latency_us_p50",
            "number or null",
            id="string-for-number",
        ),
        pytest.param(
            lambda d: d["results"][0].update(size_bytes=1000.5),
            "$.results[0].size_bytes",
            "integer",
            id="float-for-integer",
        ),
        pytest.param(
            lambda d: d["results"][0].update(measurement="guessed"),
            "$.results[0].measurement",
            '"measured", "estimated"',
            id="bad-measurement",
        ),
        pytest.param(
            lambda d: d["results"][1]["provenance"].update(ram="simulated"),
            "$.results[1].provenance.ram",
            '"measured", "estimated"',
            id="bad-provenance",
        ),
        pytest.param(
            lambda d: d["results"][0].update(ram_bytes=-1),
            "$.results[0].ram_bytes",
            ">= 0",
            id="negative-bytes",
        ),
        pytest.param(lambda d: d.pop("source"), "$.source", "a value", id="missing-key"),
    ],
)
def test_schema_violation_names_the_field_and_what_was_expected(report, mutate, field, expected):
    data = json.loads(json.dumps(report.to_dict()))
    mutate(data)
    with pytest.raises(DataFormatError) as caught:
        validate_report(data, "bench/report.json")
    assert caught.value.field == field
    assert expected in str(caught.value)
    assert str(caught.value).startswith("bench/report.json")


def test_load_report_names_the_file_and_field_of_a_schema_violation(report, tmp_path):
    data = report.to_dict()
    data["results"][2]["accuracy"] = "93%"
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DataFormatError, match=r"report\.json, field '\$\.results\[2\]\.accuracy'"):
        load_report(path)


def test_load_report_rejects_another_schema_version(report, tmp_path):
    path = tmp_path / "report.json"
    path.write_text(json.dumps({**report.to_dict(), "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(DataFormatError, match="schema_version") as caught:
        load_report(path)
    assert caught.value.field == "$.schema_version" and caught.value.expected == str(SCHEMA_VERSION)


def test_load_report_of_broken_json_names_file_and_line(tmp_path):
    path = tmp_path / "report.json"
    path.write_text('{\n  "schema_version": 1,\n  "results": [,]\n}')
    with pytest.raises(DataFormatError) as caught:
        load_report(path)
    assert caught.value.path == str(path) and caught.value.line == 3


def test_load_report_of_a_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="nothing.json"):
        load_report(tmp_path / "nothing.json")


def test_numpy_scalars_in_details_are_written_as_json_numbers(tmp_path):
    row = make_row("a", details={"windows": np.int64(128), "scale": np.float32(0.5), "shape": (1, 3)})
    write_report(build_report([row], source="s"), tmp_path / "out", plots=False)
    details = json.loads((tmp_path / "out" / JSON_FILE).read_text())["results"][0]["details"]
    assert details == {"windows": 128, "scale": 0.5, "shape": [1, 3]}


# --- Pareto front -------------------------------------------------------------------------------------


def test_pareto_front_excludes_rows_another_row_beats_on_every_figure():
    best = make_row("small-fast", size_bytes=1_000, latency_us_p50=100.0, accuracy=0.90)
    dominated = make_row("big-slow-worse", size_bytes=2_000, latency_us_p50=200.0, accuracy=0.85)
    accurate = make_row("accurate", size_bytes=5_000, latency_us_p50=300.0, accuracy=0.95)
    assert pareto_front([best, dominated, accurate]) == [best, accurate]


def test_pareto_front_is_computed_per_target():
    desktop_best = make_row("a", size_bytes=1_000, latency_us_p50=100.0, accuracy=0.9)
    desktop_worse = make_row("b", size_bytes=2_000, latency_us_p50=200.0, accuracy=0.8)
    mcu_alone = make_row("b", "mcu", size_bytes=2_000, latency_us_p50=9_000.0, accuracy=0.8)
    assert pareto_front([desktop_best, desktop_worse, mcu_alone]) == [desktop_best, mcu_alone]


def test_pareto_front_ignores_error_rows_and_rows_missing_a_figure():
    failed = make_row("failed", size_bytes=1, latency_us_p50=1.0, accuracy=1.0, error="interpreter crashed")
    untimed = make_row("untimed", size_bytes=1, latency_us_p50=None, accuracy=1.0)
    ok = make_row("ok", size_bytes=5_000, latency_us_p50=500.0, accuracy=0.5)
    assert pareto_front([failed, untimed, ok]) == [ok]


def test_pareto_front_keeps_every_row_of_a_tie_and_drops_rows_worse_in_one_figure():
    twin_a = make_row("twin-a", size_bytes=1_000, latency_us_p50=100.0, accuracy=0.9)
    twin_b = make_row("twin-b", size_bytes=1_000, latency_us_p50=100.0, accuracy=0.9)
    slightly_worse = make_row("worse", size_bytes=1_000, latency_us_p50=100.0, accuracy=0.89)
    assert pareto_front([twin_a, slightly_worse, twin_b]) == [twin_a, twin_b]


def test_build_report_records_the_front_and_rejects_a_repeated_variant_on_a_target():
    rows = [make_row("a", size_bytes=1_000), make_row("b", size_bytes=2_000)]
    built = build_report(rows, source="s")
    assert built.pareto == ({"variant": "a", "target": "desktop"},)
    assert built.on_front(rows[0]) and not built.on_front(rows[1])
    with pytest.raises(InputError, match="'a' on target 'desktop' appears twice"):
        build_report([rows[0], rows[0]], source="s")


# --- Markdown and CSV ---------------------------------------------------------------------------------


def _table_line(markdown: str, variant: str, target: str) -> str:
    (line,) = [
        line for line in markdown.splitlines() if line.startswith(f"| {variant} ") and f"| {target} |" in line
    ]
    return line


def test_markdown_has_a_row_per_result_marking_estimates_misfits_errors_and_the_front(report):
    markdown = render_markdown(report)
    for row in report.results:
        _table_line(markdown, row.variant, row.target)
    unfit_mcu = _table_line(markdown, "dense-int8-s0", "mcu")
    assert "| **no** (RAM -7.1 KiB) |" in unfit_mcu
    assert "~" in unfit_mcu.split("|")[7] and "| estimated |" in unfit_mcu  # ~p50, the figures column
    assert "| yes |" in _table_line(markdown, "dense-int8-s50", "mcu")
    desktop = _table_line(markdown, "dense-float32-s0", "desktop")
    assert "~" not in desktop and "| measured |" in desktop
    failed = _table_line(markdown, "dense-float32-s0", "mcu")
    assert r"TFLM cannot run a float32 model \| use int8" in failed
    on_front = {(key["variant"], key["target"]) for key in report.pareto}
    for row in report.results:
        assert ("★" in _table_line(markdown, row.variant, row.target)) == (
            (row.variant, row.target) in on_front
        )
    assert f"- created: {report.created_utc}" in markdown
    assert "- calibration: 50.0 µs p50" in markdown and "- machine: platform" in markdown
    assert "pruning diverged" in markdown


def test_csv_has_one_line_per_row_with_flattened_provenance(report, tmp_path):
    import pandas as pd

    write_report(report, tmp_path / "out", plots=False)
    table = pd.read_csv(tmp_path / "out" / CSV_FILE)
    assert len(table) == len(report.results)
    expected = [f.name for f in fields(ResultRow) if f.name != "provenance"]
    assert set(expected) | {"provenance.latency", "provenance.ram", "provenance.flash", "pareto"} == set(
        table.columns
    )
    assert list(table["variant"]) == [row.variant for row in report.results]
    assert list(table["pareto"]) == [report.on_front(row) for row in report.results]
    mcu = table[(table["target"] == "mcu") & table["error"].isna()]
    assert set(mcu["provenance.latency"]) == {"estimated"} and set(mcu["provenance.ram"]) == {"measured"}
    assert json.loads(table["details"][0]) == {"seed": 1, "windows": [128, 3]}
    assert "40000," in (tmp_path / "out" / CSV_FILE).read_text()  # integers stay integers beside blanks


# --- plots --------------------------------------------------------------------------------------------


def test_write_report_draws_three_valid_pngs_deterministically(report, tmp_path):
    paths = write_report(report, tmp_path / "first")
    second = write_report(report, tmp_path / "second")
    assert set(paths) == {JSON_FILE, CSV_FILE, MARKDOWN_FILE, *plots.PLOTS}
    for name in plots.PLOTS:
        data = paths[name].read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000
        assert b"Matplotlib" not in data
        assert data == second[name].read_bytes()
        assert f"]({name})" in paths[MARKDOWN_FILE].read_text()


def test_plots_are_skipped_with_a_reason_when_the_report_lacks_their_data(tmp_path):
    one_sparsity_no_latency = build_report(
        [make_row("a", latency_us_p50=None, sparsity=0.5), make_row("b", latency_us_p50=None, sparsity=0.5)],
        source="s",
    )
    assert plots.accuracy_vs_sparsity(one_sparsity_no_latency, tmp_path / "s.png") is None
    assert plots.latency_per_target(one_sparsity_no_latency, tmp_path / "l.png") is None
    assert plots.pareto_scatter(one_sparsity_no_latency, tmp_path / "p.png") == tmp_path / "p.png"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["p.png"]

    paths = write_report(one_sparsity_no_latency, tmp_path / "out")
    assert "pareto.png" in paths and "accuracy_vs_sparsity.png" not in paths
    markdown = paths[MARKDOWN_FILE].read_text()
    assert "accuracy_vs_sparsity.png not drawn: results with an accuracy cover 1 sparsity level" in markdown
    assert "latency_per_target.png not drawn: no result without an error has a p50 latency" in markdown


def test_a_report_of_only_failures_draws_no_plot(tmp_path):
    only_errors = build_report([make_row("a", error="could not convert")], source="s")
    assert set(plots.lacking_data(only_errors)) == set(plots.PLOTS)
    assert set(write_report(only_errors, tmp_path / "out")) == {JSON_FILE, CSV_FILE, MARKDOWN_FILE}


# --- atomic writes ------------------------------------------------------------------------------------


def test_unserializable_detail_is_an_error_naming_it_and_creates_nothing(tmp_path):
    bad = build_report([make_row("a"), make_row("b", details={"model": object()})], source="s")
    with pytest.raises(InputError, match=r"\$\.results\[1\]\.details\.model: a object cannot be written"):
        write_report(bad, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_nan_figure_is_an_error_not_an_invalid_json_file(tmp_path):
    bad = build_report([make_row("a", accuracy=float("nan"))], source="s")
    with pytest.raises(InputError, match=r"\$\.results\[0\]\.accuracy: nan is not a finite number"):
        write_report(bad, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_a_failure_while_writing_leaves_no_folder_and_no_temporary_files(report, tmp_path, monkeypatch):
    def broken_plot(report, path):
        path.write_bytes(b"half a png")
        raise RuntimeError("disk full")

    monkeypatch.setitem(plots.PLOTS, "pareto.png", plots.Plot(broken_plot, lambda report: None))
    with pytest.raises(RuntimeError, match="disk full"):
        write_report(report, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_existing_folder_is_kept_unless_overwrite(report, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier run")
    with pytest.raises(OutputExistsError):
        write_report(report, out, plots=False)
    assert (out / "keep.txt").read_text() == "earlier run"
    write_report(report, out, plots=False, overwrite=True)
    assert sorted(path.name for path in out.iterdir()) == sorted([JSON_FILE, CSV_FILE, MARKDOWN_FILE])


# --- provenance of the run ----------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_commit_is_the_head_of_the_checkout_and_none_outside_one(tmp_path):
    assert git_commit(tmp_path) is None
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "x"], cwd=tmp_path, check=True, env=env)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=tmp_path, check=True, env=env, capture_output=True, text=True
    ).stdout.strip()
    assert git_commit(tmp_path) == head


def test_tool_versions_list_installed_distributions_only(monkeypatch):
    import har_edge.bench.report as report_module

    monkeypatch.setattr(
        report_module, "TOOL_DISTRIBUTIONS", ("numpy", "har-edge", "no-such-distribution-xyz")
    )
    versions = tool_versions()
    assert versions == {"numpy": np.__version__, "har-edge": versions["har-edge"]}


def test_accuracy_vs_sparsity_joins_only_variants_that_differ_in_sparsity_alone():
    rows = [
        make_row("float32", precision="float32", sparsity=0.0, accuracy=0.90, model="dense"),
        make_row("float16", precision="float16", sparsity=0.0, accuracy=0.89, model="dense"),
        make_row("int8", precision="int8", sparsity=0.0, accuracy=0.88, model="dense"),
        make_row("pruned75+int8", precision="int8", sparsity=0.75, accuracy=0.80, model="dense"),
        make_row("pruned50+int8", precision="int8", sparsity=0.5, accuracy=0.85, model="dense"),
        make_row(
            "pruned50+int8", target="rpi4", precision="int8", sparsity=0.5, accuracy=0.85, model="dense"
        ),
        make_row("qat+int8", precision="int8", sparsity=0.0, accuracy=0.70, model="dense"),
    ]
    series = plots.sparsity_series(build_report(rows, source="test"))
    assert series == {
        "float32": [(0.0, 90.0)],
        "float16": [(0.0, 89.0)],
        "int8": [(0.0, 88.0), (50.0, 85.0), (75.0, 80.0)],  # real points, no mean with qat's 70 %
        "int8 qat": [(0.0, 70.0)],
    }


def test_markdown_explains_drop_pp_lists_scored_windows_and_prints_only_legends_rows_need():
    rows = [
        make_row(
            "int8", accuracy_drop_pp=1.5, notes=("accuracy on the 120 test windows: held-out subjects",)
        ),
        make_row(
            "personalized", accuracy_drop_pp=-2.0, notes=("head personalized ...; scored on the other 70 %",)
        ),
    ]
    markdown = render_markdown(build_report(rows, source="test"))
    assert "positive is worse than float32, negative better" in markdown
    assert (
        "- int8: accuracy on the 120 test windows" in markdown
        and "- personalized: head personalized" in markdown
    )
    assert "estimated, not measured" not in markdown and "does not fit" not in markdown
