"""The UCI HAPT RawData loader, on small folders the tests write."""

from __future__ import annotations

import numpy as np
import pytest

from har_edge.data.formats import load_hapt
from har_edge.errors import DataFormatError
from har_edge.types import ACC_CHANNELS, GRAVITY_M_S2, GYRO_CHANNELS, UNLABELLED
from tests.format_files import HAPT_NAMES, assert_names_location, rows_text, write_file, write_hapt


def test_hapt_converts_acceleration_from_g_to_m_s2(tmp_path, rng):
    raw = write_hapt(tmp_path, rng)
    dataset = load_hapt(tmp_path)
    written_g = np.round(raw[1][0], 6)  # as rows_text writes them
    np.testing.assert_allclose(dataset.recordings[0].samples[:, :3], written_g * GRAVITY_M_S2, rtol=1e-6)
    np.testing.assert_allclose(dataset.recordings[0].samples[:, 3:], raw[1][1], atol=1e-6)


def test_hapt_loads_one_recording_per_experiment_at_50_hz(tmp_path, rng):
    write_hapt(tmp_path, rng)
    dataset = load_hapt(tmp_path)
    assert dataset.channels == ACC_CHANNELS + GYRO_CHANNELS
    assert [(r.subject, len(r), r.domain) for r in dataset.recordings] == [
        ("11", 120, "waist"),
        ("12", 80, "waist"),
    ]
    first = dataset.recordings[0]
    assert first.samples.dtype == np.float32 and first.timestamps_s.dtype == np.float64
    np.testing.assert_allclose(first.timestamps_s[:3], [0.0, 0.02, 0.04])
    assert first.nominal_rate_hz == 50.0


def test_hapt_labels_samples_inside_intervals_and_leaves_the_rest_unlabelled(tmp_path, rng):
    write_hapt(tmp_path, rng)
    dataset = load_hapt(tmp_path)
    assert dataset.class_names == HAPT_NAMES
    labels = dataset.recordings[0].labels
    assert np.all(labels[10:30] == HAPT_NAMES.index("STANDING"))  # interval 11..30, 1-based inclusive
    assert np.all(labels[49:60] == HAPT_NAMES.index("WALKING_UPSTAIRS"))
    outside = np.r_[0:10, 30:49, 60:120]
    assert np.all(labels[outside] == UNLABELLED)
    assert np.all(dataset.recordings[1].labels == HAPT_NAMES.index("SITTING"))


def test_hapt_without_gyro_loads_accelerometer_only_and_needs_no_gyro_files(tmp_path, rng):
    write_hapt(tmp_path, rng)
    for gyro_file in tmp_path.glob("gyro_*"):
        gyro_file.unlink()
    dataset = load_hapt(tmp_path, gyro=False)
    assert dataset.channels == ACC_CHANNELS and dataset.recordings[0].samples.shape == (120, 3)


def test_hapt_finds_activity_labels_in_the_parent_folder_as_in_the_archive(tmp_path, rng):
    raw_data = tmp_path / "RawData"
    write_hapt(raw_data, rng)
    (raw_data / "activity_labels.txt").rename(tmp_path / "activity_labels.txt")
    assert load_hapt(raw_data).class_names == HAPT_NAMES


def test_hapt_missing_gyro_file_is_an_error_naming_it(tmp_path, rng):
    write_hapt(tmp_path, rng)
    (tmp_path / "gyro_exp02_user12.txt").unlink()
    with pytest.raises(DataFormatError, match="gyro=False") as exc_info:
        load_hapt(tmp_path)
    assert_names_location(exc_info, tmp_path / "gyro_exp02_user12.txt")


def test_hapt_acc_and_gyro_row_count_mismatch_is_an_error(tmp_path, rng):
    write_hapt(tmp_path, rng)
    write_file(tmp_path / "gyro_exp01_user11.txt", rows_text(rng.normal(size=(119, 3))))
    with pytest.raises(DataFormatError, match="119 rows but acc_exp01_user11.txt has 120") as exc_info:
        load_hapt(tmp_path)
    assert_names_location(exc_info, tmp_path / "gyro_exp01_user11.txt")


def test_hapt_label_interval_past_the_end_of_the_data_names_the_line(tmp_path, rng):
    write_hapt(tmp_path, rng, labels="1 11 1 1 10\n2 12 1 70 81\n")
    with pytest.raises(DataFormatError, match="past the end of experiment 2") as exc_info:
        load_hapt(tmp_path)
    assert_names_location(exc_info, tmp_path / "labels.txt", line=2, field="end")


def test_hapt_partial_copy_loads_the_experiments_present_and_notes_the_missing(tmp_path, rng):
    write_hapt(tmp_path, rng, labels="1 11 5 11 30\n2 12 4 1 80\n3 13 1 1 10\n7 17 2 5 60\n")
    for missing in tmp_path.glob("*_exp02_*"):
        missing.unlink()
    dataset = load_hapt(tmp_path)
    assert [r.subject for r in dataset.recordings] == ["11"]
    assert "lists 3 experiments without acc_exp files here (a partial copy?): 2, 3, 7" in dataset.notes[0]


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ("1 11 7 1 10", "activity", "unknown activity id 7"),
        ("1 12 1 1 10", "user", "user 12 for experiment 1"),
        ("1 11 1 10 5", "start", "interval 10..5"),
        ("1 11 2 20 40", "start", "overlaps"),
    ],
)
def test_hapt_invalid_label_row_names_line_and_field(tmp_path, rng, row, field, message):
    write_hapt(tmp_path, rng, labels=f"1 11 1 30 50\n\n{row}\n")
    with pytest.raises(DataFormatError, match=message) as exc_info:
        load_hapt(tmp_path)
    assert_names_location(exc_info, tmp_path / "labels.txt", line=3, field=field)


def test_hapt_non_numeric_value_names_line_and_field(tmp_path, rng):
    write_hapt(tmp_path, rng)
    acc_path = tmp_path / "acc_exp01_user11.txt"
    lines = acc_path.read_text().splitlines(keepends=True)
    lines[4] = "0.1 abc 0.3\n"
    acc_path.write_text("".join(lines))
    with pytest.raises(DataFormatError, match="'abc' is not a number") as exc_info:
        load_hapt(tmp_path)
    assert_names_location(exc_info, acc_path, line=5, field="y")


def test_hapt_missing_column_says_how_many_fields_were_expected(tmp_path, rng):
    write_hapt(tmp_path, rng)
    acc_path = tmp_path / "acc_exp02_user12.txt"
    acc_path.write_text(acc_path.read_text() + "0.1 0.2\n")
    with pytest.raises(DataFormatError, match=r"2 fields \(expected 3 fields\)") as exc_info:
        load_hapt(tmp_path)
    assert_names_location(exc_info, acc_path, line=81)


def test_hapt_missing_folder_or_empty_file_is_an_error(tmp_path, rng):
    with pytest.raises(DataFormatError, match="folder not found"):
        load_hapt(tmp_path / "nowhere")
    write_hapt(tmp_path, rng)
    write_file(tmp_path / "acc_exp01_user11.txt", "")
    with pytest.raises(DataFormatError, match="file is empty") as exc_info:
        load_hapt(tmp_path)
    assert_names_location(exc_info, tmp_path / "acc_exp01_user11.txt")
