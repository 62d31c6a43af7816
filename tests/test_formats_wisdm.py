"""The WISDM v1.1 raw loader, on small files the tests write (broken records included)."""

from __future__ import annotations

import numpy as np
import pytest

from har_edge.data.formats import WISDM_CLASSES, load_wisdm
from har_edge.errors import DataFormatError
from har_edge.types import ACC_CHANNELS
from tests.format_files import assert_names_location, wisdm_line, wisdm_run, write_wisdm


def test_wisdm_reads_records_in_m_s2_with_nanosecond_timestamps(tmp_path):
    path = write_wisdm(tmp_path / "WISDM_ar_v1.1_raw.txt", wisdm_run(33, "Jogging", 49105962326000, 5))
    dataset = load_wisdm(path)
    (recording,) = dataset.recordings
    assert (
        recording.subject == "33"
        and dataset.channels == ACC_CHANNELS
        and dataset.class_names == WISDM_CLASSES
    )
    np.testing.assert_allclose(recording.samples[:, 0], np.arange(5))
    np.testing.assert_allclose(recording.timestamps_s, 49105.962326 + np.arange(5) * 0.05)
    assert set(recording.labels) == {WISDM_CLASSES.index("Jogging")} and recording.nominal_rate_hz == 20.0
    assert dataset.notes == ()


def test_wisdm_accepts_several_records_per_line_trailing_commas_and_empty_lines(tmp_path):
    lines = [
        wisdm_line(1, "Walking", 1_000) + wisdm_line(1, "Walking", 2_000),
        "",
        "1,Walking,3000,1.0,2.0,3.0,;",
        "1,Sitting,4000,1.0,2.0,3.0",  # last record of a line may lack its ';'
    ]
    dataset = load_wisdm(write_wisdm(tmp_path / "w.txt", lines))
    (recording,) = dataset.recordings
    np.testing.assert_allclose(recording.timestamps_s * 1e9, [1_000, 2_000, 3_000, 4_000])
    assert list(recording.labels) == [0, 0, 0, WISDM_CLASSES.index("Sitting")]
    assert dataset.notes == ()


def test_wisdm_skips_broken_lines_and_notes_their_line_numbers(tmp_path):
    lines = wisdm_run(7, "Upstairs", 10**9, 3) + [
        "7,Upstairs,1200000000,0.1,;",
        "7,Upstairs,1300000000,a,1,2;",
    ]
    path = write_wisdm(tmp_path / "w.txt", lines + wisdm_run(7, "Upstairs", 2 * 10**9, 2))
    dataset = load_wisdm(path)
    assert [len(r) for r in dataset.recordings] == [5]
    assert len(dataset.notes) == 2
    assert f"{path}, line 4" in dataset.notes[0] and "has 4 fields" in dataset.notes[0]
    assert f"{path}, line 5, field 'x'" in dataset.notes[1]


def test_wisdm_error_policy_raises_with_line_and_expected_record(tmp_path):
    path = write_wisdm(tmp_path / "w.txt", wisdm_run(7, "Upstairs", 10**9, 3) + ["7,Upstairs,;"])
    with pytest.raises(DataFormatError, match="expected a record user,activity,timestamp,x,y,z") as exc_info:
        load_wisdm(path, on_bad_line="error")
    assert_names_location(exc_info, path, line=4)


def test_wisdm_drops_zero_timestamp_rows_and_notes_the_count(tmp_path):
    lines = (
        wisdm_run(3, "Standing", 10**9, 2)
        + [wisdm_line(3, "Standing", 0)] * 2
        + wisdm_run(3, "Standing", 2 * 10**9, 2)
    )
    dataset = load_wisdm(write_wisdm(tmp_path / "w.txt", lines))
    assert [len(r) for r in dataset.recordings] == [4]
    assert dataset.notes == (f"{tmp_path / 'w.txt'}: dropped 2 records with timestamp 0 (lines 3, 4)",)


def test_wisdm_splits_a_user_at_backward_timestamp_jumps(tmp_path):
    lines = (
        wisdm_run(5, "Walking", 9 * 10**9, 4)
        + wisdm_run(5, "Jogging", 1 * 10**9, 3)
        + wisdm_run(6, "Sitting", 10**9, 2)
    )
    dataset = load_wisdm(write_wisdm(tmp_path / "w.txt", lines))
    assert [(r.subject, len(r), r.timestamps_s[0]) for r in dataset.recordings] == [
        ("5", 4, 9.0),
        ("5", 3, 1.0),
        ("6", 2, 1.0),
    ]
    assert any("user 5: split into 2 recordings" in note and "(lines 5)" in note for note in dataset.notes)


def test_wisdm_drops_a_repeated_timestamp_and_notes_its_line(tmp_path):
    lines = wisdm_run(2, "Downstairs", 10**9, 3)
    lines.insert(2, lines[1])
    dataset = load_wisdm(write_wisdm(tmp_path / "w.txt", lines))
    assert [len(r) for r in dataset.recordings] == [3]
    assert any("dropped 1 records repeating the previous timestamp (lines 3)" in n for n in dataset.notes)


def test_wisdm_unknown_activity_is_an_error_naming_line_and_value(tmp_path):
    path = write_wisdm(
        tmp_path / "w.txt", wisdm_run(2, "Walking", 10**9, 2) + [wisdm_line(2, "Running", 3 * 10**9)]
    )
    with pytest.raises(DataFormatError, match="unknown label 'Running'") as exc_info:
        load_wisdm(path)
    assert_names_location(exc_info, path, line=3, field="activity")


def test_wisdm_file_without_valid_records_is_an_error(tmp_path):
    path = write_wisdm(tmp_path / "w.txt", ["garbage", ";;"])
    with pytest.raises(DataFormatError, match="no valid records") as exc_info:
        load_wisdm(path)
    assert_names_location(exc_info, path)
