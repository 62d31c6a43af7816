"""HHAR files as they circulate: without the header line, with E-notation timestamps, and watch timing
that jitters and stalls (the fixed 2.5-period gap rule cut such a file into pieces shorter than a window)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from har_edge.cli import EXIT_BAD_INPUT, build_parser, main
from har_edge.cli.common import load_noted, load_options
from har_edge.data.formats import load, load_hhar
from har_edge.data.formats.timing import MAX_JITTER_GAP_S
from har_edge.data.windows import WindowConfig, find_gaps, make_windows
from har_edge.errors import DataFormatError, InputError
from har_edge.types import Dataset
from tests.format_files import assert_names_location, write_file

HEADER = "Index,Arrival_Time,Creation_Time,x,y,z,User,Model,Device,gt\n"
T0_NS = 1_424_696_633_908_000_000
WATCH_ROWS, STALLS_UNDER_100_MS, STALLS_OVER_100_MS, TRUE_GAPS = 10_000, 45, 30, 4


def watch_steps_ns(rng: np.random.Generator) -> np.ndarray:
    """Time steps of a ~100 Hz watch: 10 ms ± 0.8 ms jitter, 45 stalls of 30-95 ms, 30 of 110-300 ms
    and 4 true gaps of 2-6 s, at random places: 79 steps over 2.5 periods, 45 of them under 100 ms."""
    steps = np.clip(rng.normal(10.0, 0.8, WATCH_ROWS - 1), 7.0, 13.0)
    long = rng.choice(WATCH_ROWS - 1, STALLS_UNDER_100_MS + STALLS_OVER_100_MS + TRUE_GAPS, replace=False)
    steps[long] = np.concatenate(
        [
            rng.uniform(30, 95, STALLS_UNDER_100_MS),
            rng.uniform(110, 300, STALLS_OVER_100_MS),
            rng.uniform(2000, 6000, TRUE_GAPS),
        ]
    )
    return np.round(steps * 1e6).astype(np.int64)


def write_watch(
    path: Path,
    rng: np.random.Generator,
    *,
    header: bool = True,
    creation=str,
    steps_ns=None,
    users: tuple[str, ...] = ("a",),
) -> np.ndarray:
    """A ``Watch_accelerometer.csv`` of a gear watch worn by each of ``users`` (walk, then sit);
    ``creation`` writes each Creation_Time. Returns the Creation_Time values of the last user."""
    lines = []
    for user in users:
        steps = watch_steps_ns(rng) if steps_ns is None else steps_ns
        times = T0_NS + np.concatenate([[0], np.cumsum(steps)])
        xyz = rng.normal(0, 3, (len(times), 3))
        gt = np.where(np.arange(len(times)) < len(times) // 2, "walk", "sit")
        xyz[:, 0] += np.where(gt == "walk", 4.0, 0.0)  # learnable
        lines += [
            f"{len(lines) + i},{t // 1_000_000},{creation(int(t))},{x:.5f},{y:.5f},{z:.5f},{user},gear,"
            f"gear_1,{g}\n"
            for i, (t, (x, y, z), g) in enumerate(zip(times, xyz, gt, strict=True))
        ]
    write_file(path, (HEADER if header else "") + "".join(lines))
    return times


def excel_e_notation(value: int) -> str:
    """As a spreadsheet writes a 19-digit integer: 15 significant digits, a 3-digit exponent."""
    mantissa, exponent = f"{Decimal(value):.14E}".split("E")
    return f"{mantissa}E{exponent[0]}{int(exponent[1:]):03d}"


@pytest.fixture
def watch(tmp_path, rng) -> Path:
    path = tmp_path / "Watch_accelerometer.csv"
    write_watch(path, rng)
    return path


def _time_jumps(dataset: Dataset) -> list[float]:
    return [g.duration_s for rec in dataset.recordings for g in find_gaps(rec) if g.kind == "time_jump"]


def _fixed_rule(dataset: Dataset) -> Dataset:
    """The data set as the loader gave it before: no measured threshold, so 2.5 nominal periods."""
    return replace(dataset, recordings=tuple(replace(r, max_gap_s=None) for r in dataset.recordings))


def test_the_fixed_rule_cut_a_jittery_watch_79_times_and_kept_few_windows_the_measured_one_keeps_most(watch):
    dataset = load_hhar(watch)
    fixed = _fixed_rule(dataset)
    fixed_jumps = _time_jumps(fixed)
    assert len(fixed_jumps) == 79 and sum(d < 0.1 for d in fixed_jumps) == 45  # the figures
    assert sorted(_time_jumps(dataset)) == sorted(d for d in fixed_jumps if d > 1.0)  # only the 4 true gaps
    config = WindowConfig()  # 4 s windows, 2 s hop
    few, _ = make_windows(fixed, config)
    kept, _ = make_windows(dataset, config)
    recording = dataset.recordings[0]
    gap_free_s = recording.duration_s - sum(_time_jumps(dataset))
    possible = gap_free_s / (config.hop / config.rate_hz)
    assert len(few) < 0.2 * possible and len(kept) > 0.85 * possible
    assert MAX_JITTER_GAP_S >= recording.max_gap_s > 0.3  # bridges every stall (<= 0.3 s), not the gaps


def test_the_note_says_which_threshold_was_measured_and_what_it_bridged(watch):
    (note,) = [n for n in load_hhar(watch).notes if "gap threshold" in n]
    assert str(watch) in note and "measured timing jitter" in note and "max_gap_s=SECONDS" in note
    assert "Of 79 steps over 2.5 median steps, 75 are shorter and interpolated across; 4 steps cut" in note


def test_a_given_max_gap_s_sets_the_threshold_of_every_recording_and_is_noted(watch):
    dataset = load(watch, "hhar", max_gap_s=0.1)
    assert {r.max_gap_s for r in dataset.recordings} == {0.1}
    assert len(_time_jumps(dataset)) == 79 - 45
    assert any("time steps over max_gap_s=0.1 s are gaps" in n for n in dataset.notes)


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), "soon", True])
def test_max_gap_s_must_be_a_positive_number_of_seconds(watch, value):
    with pytest.raises(InputError, match="max_gap_s must be a positive number of seconds"):
        load_hhar(watch, max_gap_s=value)


def test_evenly_sampled_data_keeps_the_fixed_rule(tmp_path, rng):
    steps = np.full(WATCH_ROWS - 1, 10_000_000)
    steps[[1000, 5000]] = [40_000_000, 3_000_000_000]  # one 40 ms stall, one 3 s gap
    path = tmp_path / "Watch_gyroscope.csv"
    write_watch(path, rng, steps_ns=steps)
    recording = load_hhar(path).recordings[0]
    assert recording.max_gap_s == pytest.approx(0.025)
    assert [round(g.duration_s, 3) for g in find_gaps(recording)] == [0.04, 3.0]


def test_a_file_without_the_header_line_loads_like_the_original_and_says_so(tmp_path, rng):
    original, headerless = (
        tmp_path / "a" / "Watch_accelerometer.csv",
        tmp_path / "b" / "Watch_accelerometer.csv",
    )
    write_watch(original, np.random.default_rng(5))
    write_watch(headerless, np.random.default_rng(5), header=False)
    with_header, without = load_hhar(original), load_hhar(headerless)
    np.testing.assert_array_equal(without.recordings[0].samples, with_header.recordings[0].samples)
    np.testing.assert_array_equal(without.recordings[0].timestamps_s, with_header.recordings[0].timestamps_s)
    (note,) = [n for n in without.notes if "no header line" in n]
    assert str(headerless) in note and "line 1 is a data row" in note
    assert not any("no header line" in n for n in with_header.notes)


def test_a_first_line_that_is_neither_the_header_nor_a_data_row_is_refused_on_line_1(tmp_path, rng):
    path = tmp_path / "Watch_accelerometer.csv"
    write_watch(path, rng, header=False)
    path.write_text(path.read_text().replace(",walk\n", ",jog\n", 1))
    with pytest.raises(DataFormatError, match="or no header and a data row of 10 fields") as exc_info:
        load_hhar(path)
    assert_names_location(exc_info, path, line=1)


def test_e_notation_creation_times_are_read_as_the_exact_integers_they_write(tmp_path, rng):
    path = tmp_path / "Watch_accelerometer.csv"
    times = write_watch(path, rng, creation=excel_e_notation)
    assert excel_e_notation(1_424_696_631_913_250_000) == "1.42469663191325E+018"  # as the issue saw it
    dataset = load_hhar(path)
    exact = np.array([int(Decimal(excel_e_notation(int(t)))) for t in times])
    assert np.all(np.abs(exact - times) <= 5_000) and np.all(exact % 10_000 == 0)  # 15 digits: 10 µs
    np.testing.assert_array_equal(dataset.recordings[0].timestamps_s, exact / 1e9)
    (note,) = [n for n in dataset.notes if "E-notation" in n]
    assert f"{len(times):,} Creation_Time values" in note and "to 10 µs at the coarsest" in note


def test_an_e_notation_creation_time_with_a_fraction_names_line_and_field(tmp_path, rng):
    path = tmp_path / "Watch_accelerometer.csv"
    times = write_watch(path, rng, creation=excel_e_notation)
    path.write_text(path.read_text().replace(excel_e_notation(int(times[6])), "1.4246966339080001234E+3"))
    with pytest.raises(DataFormatError, match="is not an integer \\(it has a fraction\\)") as exc_info:
        load_hhar(path)
    assert_names_location(exc_info, path, line=8, field="Creation_Time")


def test_the_cli_passes_max_gap_s_as_a_format_option_and_prints_the_notes(watch, tmp_path, capsys):
    argv = ["train", "--format", "hhar", "--data", str(watch), "--format-option", "max_gap_s=0.5"]
    options = load_options(build_parser().parse_args([*argv, "--out", str(tmp_path / "r")]))
    assert options == {"max_gap_s": 0.5}  # what the model card records, so optimize rebuilds the windows
    load_noted(str(watch), "hhar", options)
    printed = capsys.readouterr().err
    assert "note: " in printed and "max_gap_s=0.5 s are gaps" in printed
    argv[-1] = "max_gap_s=-2"
    assert main([*argv, "--out", str(tmp_path / "bad")]) == EXIT_BAD_INPUT
    assert "max_gap_s must be a positive number of seconds" in capsys.readouterr().err
