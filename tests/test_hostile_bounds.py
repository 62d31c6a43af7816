"""Memory and time are bounded before allocating: a manifest whose normalization or rate would turn every
input into infinity or a multi-gigabyte grid, a recording whose samples lie far apart, and a FIFO or a
device given as a file are typed errors naming the limit, not an exhausted machine or a hang."""

from __future__ import annotations

import os

import numpy as np
import pytest

from har_edge.data.windows import MAX_UPSAMPLING, WindowConfig, make_windows
from har_edge.errors import InputError
from har_edge.fsutil import read_bounded
from har_edge.runtime.bundle import open_bundle
from tests.conftest import make_dataset, make_recording
from tests.hostile_support import golden_copy, manifest_of, write_manifest


@pytest.mark.parametrize(
    ("field", "value"),
    [("mean", 1e308), ("mean", -1e300), ("std", 5e-324), ("std", 1e300)],
)
def test_a_normalization_that_overflows_to_infinity_is_refused(tmp_path, field, value):
    bundle = golden_copy(tmp_path)
    manifest = manifest_of(bundle)
    manifest["normalization"][field][0] = value
    write_manifest(bundle, manifest)
    with pytest.raises(InputError, match=r"normalization.*expected a magnitude in"):
        open_bundle(bundle)


def test_a_manifest_rate_of_a_megahertz_is_refused(tmp_path):
    bundle = golden_copy(tmp_path)
    manifest = manifest_of(bundle)
    manifest["rate_hz"] = 1e6
    write_manifest(bundle, manifest)
    with pytest.raises(InputError, match=r"rate_hz.*\[0, 10000\]"):
        open_bundle(bundle)


def test_samples_far_apart_are_refused_before_the_resampling_grid_is_allocated():
    t = np.array([0.0, 200.0, 400.0, 600.0])  # one row every 200 s, claimed as a 0.005 Hz device
    rec = make_recording(np.zeros(4, dtype=int), rate_hz=0.005, timestamps=t)
    with pytest.raises(InputError, match=rf"more than {MAX_UPSAMPLING}x its samples"):
        make_windows(make_dataset([rec]), WindowConfig(rate_hz=50.0, window=100, hop=100))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_without_a_writer_is_refused_at_once_not_waited_for(tmp_path):
    fifo = tmp_path / "report.json"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        read_bounded(fifo, 1 << 20, "report")


def test_a_device_and_a_file_over_the_limit_are_refused_naming_the_limit(tmp_path):
    with pytest.raises(InputError, match="not a regular file"):
        read_bounded("/dev/zero", 1 << 20, "checkpoint")
    big = tmp_path / "big.json"
    big.write_bytes(b"x" * 2000)
    with pytest.raises(InputError, match="has 2,000 bytes; the limit is 1,024 bytes"):
        read_bounded(big, 1024, "budgets")
    assert read_bounded(big, 2000) == b"x" * 2000


@pytest.mark.parametrize("role", ["report", "budgets"])
def test_gate_refuses_a_device_as_report_or_budgets_without_reading_it(tmp_path, capsys, role):
    from har_edge.cli import main

    files = {"report": tmp_path / "report.json", "budgets": tmp_path / "budgets.toml"}
    files["budgets"].write_text("[budget.desktop]\nmin_accuracy = 0.9\n")
    files[role] = "/dev/zero"
    assert main(["gate", str(files["report"]), "--budgets", str(files["budgets"])]) == 2
    assert "/dev/zero" in capsys.readouterr().err


def test_the_json_nesting_scan_skips_strings_across_chunk_boundaries(monkeypatch):
    import json

    from har_edge.runtime import strict_json

    document = {"a": ['x\\"[[[', {"b": ["\\\\", [[{"c": '"{{"'}]]]}], "d": "]]]"}
    raw = json.dumps(document).encode()
    for chunk in (1, 2, 3, 5, 1 << 22):
        monkeypatch.setattr(strict_json, "_SCAN_CHUNK", chunk)
        assert strict_json._nesting_depth(raw) == 7  # {[{[[[{


@pytest.mark.parametrize("fmt", ["hapt", "hhar", "wisdm", "pamap2", "uea", "csv"])
def test_a_line_longer_than_the_limit_is_refused_naming_the_limit(tmp_path, monkeypatch, fmt):
    from har_edge.data import formats
    from har_edge.data.formats import text
    from tests.hostile_support import REPO

    monkeypatch.syspath_prepend(str(REPO / "tools"))
    import fuzz_cases
    import fuzz_seeds

    monkeypatch.setattr(text, "MAX_LINE_CHARS", 4096)
    seed = fuzz_seeds.build_seeds(tmp_path)[fmt]
    victim = (
        max((p for p in seed.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
        if seed.is_dir()
        else seed
    )
    victim.write_bytes(victim.read_bytes() + b"1" * 10_000)  # a last line without a newline
    with pytest.raises(InputError, match="a line longer than 4,096 characters"):
        formats.load(str(seed), fmt, **fuzz_cases.DATA_FORMATS[fmt][0])


@pytest.mark.parametrize(
    "text",
    [
        "[tool.har_edge.budgets.desktop]\nmin_accuracy = 0.9\n",
        "[tool.har_edge.budget.desktop]\nmin_accuracy = 0.9\n"
        "[tool.har_edge.budgets.desktop]\nmin_accuracy = 0.99\n",
    ],
    ids=["only the typo", "the typo next to real tables"],
)
def test_a_budget_table_typo_in_pyproject_is_refused_not_ignored(tmp_path, text):
    from har_edge.gate.budgets import load_budgets

    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(text)
    with pytest.raises(InputError, match="budgets"):
        load_budgets(pyproject)
