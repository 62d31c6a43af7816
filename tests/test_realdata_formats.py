"""Real data sets as they are (issue 13): the loaders and the default windowing/splitting on files in the
real formats, written by the tests."""

from __future__ import annotations

import numpy as np
import pytest

from har_edge.data.formats import load, load_csv, load_hhar, load_uea
from har_edge.data.plan import split_windows, window_config_for
from har_edge.data.windows import make_windows
from har_edge.errors import DataFormatError, InputError
from har_edge.types import ACC_CHANNELS
from tests.format_files import write_file
from tests.realdata_files import UEA_LENGTH, write_hhar_shuffled, write_uea_pair


def test_uea_case_is_one_window_at_the_files_rate_with_all_dimensions(tmp_path):
    train, _ = write_uea_pair(tmp_path)
    dataset = load_uea(train)
    config = window_config_for(dataset)
    assert (config.rate_hz, config.window, config.channels) == (1.0, UEA_LENGTH, None)
    windows, _ = make_windows(dataset, config)
    assert len(windows) == len(dataset.recordings) == 40 and windows.x.shape == (40, UEA_LENGTH, 6)
    np.testing.assert_allclose(windows.x[0], dataset.recordings[0].samples, atol=1e-5)  # not resampled


def test_uea_with_a_known_rate_keeps_one_window_per_case_when_resampled(tmp_path):
    train, _ = write_uea_pair(tmp_path)
    dataset = load_uea(train, rate_hz=10.0)
    config = window_config_for(dataset, rate_hz=20.0)
    assert config.window == 2 * (UEA_LENGTH - 1) + 1
    assert len(make_windows(dataset, config)[0]) == 40


def test_uea_unequal_cases_give_one_window_each_of_the_shortest_length(tmp_path):
    header = "@problemName toy\n@dimensions 1\n@classLabel true a b\n@data\n"
    path = write_file(
        tmp_path / "toy.ts", header + "1,2,3,4:a\n1,2,3,4,5,6,7,8,9:b\n1,2,3,4,5:a\n5,6,7,8:b\n"
    )
    dataset = load_uea(path)
    windows, _ = make_windows(dataset, window_config_for(dataset))
    assert windows.window == 4 and list(windows.recording) == [0, 1, 2, 3]


def test_uea_cases_split_by_case_stratified_by_class_and_noted(tmp_path):
    train, _ = write_uea_pair(tmp_path)
    dataset = load_uea(train)
    windows, _ = make_windows(dataset, window_config_for(dataset))
    splits = split_windows(windows, cases=dataset.cases, seed=0)
    assert splits.grouping == "case"
    for part in (splits.train, splits.val, splits.test):
        assert set(np.bincount(part.y, minlength=4)) == {len(part) // 4}  # every class equally
    assert any("split by case (stratified by class)" in note for note in dataset.notes)


def test_uea_channel_names_given_as_a_comma_list_name_the_dimensions(tmp_path):
    train, _ = write_uea_pair(tmp_path)
    names = "acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z"
    dataset = load(train, "uea", channels=names.split(","))
    assert dataset.channels == tuple(names.split(",")) and window_config_for(dataset).channels == ACC_CHANNELS


def test_split_without_a_test_fraction_holds_no_test_split_out(tmp_path):
    train, _ = write_uea_pair(tmp_path)
    dataset = load_uea(train)
    windows, _ = make_windows(dataset, window_config_for(dataset))
    splits = split_windows(windows, cases=True, test_fraction=0.0, seed=0)
    assert splits.sizes() == {"train": 32, "val": 8, "test": 0}


def test_hhar_file_as_recorded_loads_by_default_with_sorted_rows_and_counted_repeats(tmp_path):
    path = tmp_path / "Phones_accelerometer.csv"
    written = write_hhar_shuffled(path)
    lines = path.read_text().splitlines()[1:]
    seen, repeated = set(), 0
    for line in lines:
        fields = line.split(",")
        key = (fields[6], fields[8], fields[2])
        repeated += key in seen
        seen.add(key)
    dataset = load_hhar(path)
    assert sum(len(r) for r in dataset.recordings) == written["rows"] - repeated
    assert all(np.all(np.diff(r.timestamps_s) > 0) for r in dataset.recordings)
    assert f"dropped {repeated} rows repeating a device's Creation_Time" in dataset.notes[0]
    with pytest.raises(DataFormatError, match="Creation_Time"):
        load_hhar(path, sort_by_time=False)


def _csv(tmp_path, times: list[str], acc_scale: float = 1.0):
    rows = [
        f"{t},{0.1 * acc_scale:.4f},{0.2 * acc_scale:.4f},{9.7 * acc_scale:.4f},{'walk' if i < 4 else 'sit'}"
        for i, t in enumerate(times)
    ]
    return write_file(tmp_path / "rec.csv", "time,ax,ay,az,act\n" + "\n".join(rows) + "\n")


COLUMNS = {"acc_x": "ax", "acc_y": "ay", "acc_z": "az"}


def test_csv_iso_date_time_column_gives_seconds_and_the_rate(tmp_path):
    times = [f"1970-01-01 00:04:40.{ms:03d}" for ms in range(15, 175, 20)]
    dataset = load_csv(_csv(tmp_path, times), columns=COLUMNS, label_column="act", time_column="time")
    recording = dataset.recordings[0]
    np.testing.assert_allclose(recording.timestamps_s, np.arange(8) * 0.02, atol=1e-9)
    assert recording.nominal_rate_hz == pytest.approx(50.0)


def test_csv_bad_time_value_names_line_and_field(tmp_path):
    times = ["1970-01-01 00:04:40.015", "1970-01-01 00:04:40.035", "soon"] + ["1970-01-01 00:04:41"] * 5
    with pytest.raises(DataFormatError, match="'soon' is neither a number nor an ISO date-time") as exc_info:
        load_csv(_csv(tmp_path, times), columns=COLUMNS, label_column="act", time_column="time")
    assert exc_info.value.line == 4 and exc_info.value.field == "time"


def test_csv_acc_unit_mg_converts_to_m_s2(tmp_path):
    path = _csv(tmp_path, [str(i / 50) for i in range(8)], acc_scale=1000 / 9.80665)
    dataset = load_csv(path, columns=COLUMNS, label_column="act", time_column="time", acc_unit="mg")
    np.testing.assert_allclose(dataset.recordings[0].samples[0], [0.1, 0.2, 9.7], rtol=1e-3)
    assert dataset.notes == ()


def test_csv_implausible_magnitude_for_the_declared_unit_is_noted_with_the_unit_that_fits(tmp_path):
    path = _csv(tmp_path, [str(i / 50) for i in range(8)], acc_scale=1000 / 9.80665)  # mg, declared m/s²
    dataset = load_csv(path, columns=COLUMNS, label_column="act", time_column="time")
    assert "implausible for a worn accelerometer" in dataset.notes[0]
    assert "acc_unit=mg would fit" in dataset.notes[0]


def test_csv_with_one_subject_and_one_class_says_why_it_cannot_be_split(tmp_path):
    rows = "\n".join(f"{i / 50},0.1,0.2,9.7,walk" for i in range(1000))
    dataset = load_csv(
        write_file(tmp_path / "one.csv", "time,ax,ay,az,act\n" + rows + "\n"),
        columns=COLUMNS,
        label_column="act",
        time_column="time",
    )
    windows, _ = make_windows(dataset, window_config_for(dataset))
    with pytest.raises(
        InputError, match="only one class \\('walk'\\) has windows: a classifier needs at least 2"
    ):
        split_windows(windows, cases=False)


def test_unknown_format_option_lists_the_valid_keys(tmp_path):
    with pytest.raises(InputError, match="its options: rate_hz, sort_by_time"):
        load(tmp_path / "Phones_accelerometer.csv", "hhar", sort=True)


def test_two_subjects_say_how_to_split_them(tmp_path):
    rows = "\n".join(
        f"{i / 50},0.1,0.2,9.7,{'walk' if i % 400 < 200 else 'sit'},{i // 1000}" for i in range(2000)
    )
    path = write_file(tmp_path / "two.csv", "time,ax,ay,az,act,user\n" + rows + "\n")
    dataset = load_csv(path, columns=COLUMNS, label_column="act", time_column="time", subject_column="user")
    windows, _ = make_windows(dataset, window_config_for(dataset))
    with pytest.raises(InputError, match="--test-data \\(then 2 subjects suffice\\)"):
        split_windows(windows, cases=False)
    assert split_windows(windows, cases=False, test_fraction=0.0).sizes()["test"] == 0
