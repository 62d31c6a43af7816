"""The PAMAP2 Protocol loader, on small subject files the tests write."""

from __future__ import annotations

import numpy as np
import pytest

from har_edge.data.formats import PAMAP2_CLASSES, load_pamap2
from har_edge.errors import DataFormatError, InputError
from har_edge.types import ACC_CHANNELS, GYRO_CHANNELS, UNLABELLED
from tests.format_files import IMU_OFFSETS, assert_names_location, pamap2_table, write_file, write_pamap2


def test_pamap2_selects_acc16_and_gyro_of_the_chosen_imu(tmp_path, rng):
    table = pamap2_table(rng)
    path = write_pamap2(tmp_path / "subject101.dat", table)
    for imu, offset in IMU_OFFSETS.items():
        dataset = load_pamap2(path, imu=imu)
        (recording,) = dataset.recordings
        assert dataset.channels == ACC_CHANNELS + GYRO_CHANNELS and recording.domain == imu
        np.testing.assert_allclose(recording.samples[:, :3], table[:, offset + 1 : offset + 4], atol=1e-5)
        np.testing.assert_allclose(recording.samples[:, 3:], table[:, offset + 7 : offset + 10], atol=1e-5)
    assert load_pamap2(path, gyro=False).recordings[0].samples.shape == (40, 3)


def test_pamap2_maps_activity_ids_to_fixed_classes_and_transient_zero_to_unlabelled(tmp_path, rng):
    path = write_pamap2(tmp_path / "subject101.dat", pamap2_table(rng))
    dataset = load_pamap2(path)
    labels = dataset.recordings[0].labels
    assert dataset.class_names == PAMAP2_CLASSES and len(PAMAP2_CLASSES) == 18
    assert list(labels[::10]) == [
        UNLABELLED,
        PAMAP2_CLASSES.index("lying"),
        PAMAP2_CLASSES.index("walking"),
        PAMAP2_CLASSES.index("rope jumping"),
    ]


def test_pamap2_keeps_nan_gaps_and_100_hz_timestamps(tmp_path, rng):
    table = pamap2_table(rng)
    table[5:9, 4:7] = np.nan  # hand acc16 dropped packets
    recording = load_pamap2(write_pamap2(tmp_path / "subject101.dat", table)).recordings[0]
    assert np.isnan(recording.samples[5:9, :3]).all() and not np.isnan(recording.samples[:5]).any()
    np.testing.assert_allclose(recording.timestamps_s[:2], [5.64, 5.65])
    assert recording.nominal_rate_hz == 100.0


def test_pamap2_loads_every_subject_file_of_a_folder_with_subject_from_the_file_name(tmp_path, rng):
    for subject in (102, 101):
        write_pamap2(tmp_path / f"subject{subject}.dat", pamap2_table(rng, n=10 + subject % 100))
    write_file(tmp_path / "readme.txt", "not data")
    assert [(r.subject, len(r)) for r in load_pamap2(tmp_path).recordings] == [("101", 11), ("102", 12)]


def test_pamap2_wrong_column_count_names_the_line(tmp_path, rng):
    path = write_pamap2(tmp_path / "subject101.dat", pamap2_table(rng))
    lines = path.read_text().splitlines(keepends=True)
    lines[6] = lines[6].rstrip("\n") + " 1.0\n"
    path.write_text("".join(lines))
    with pytest.raises(DataFormatError, match=r"55 fields \(expected 54 fields\)") as exc_info:
        load_pamap2(path)
    assert_names_location(exc_info, path, line=7)


def test_pamap2_unknown_activity_id_names_line_and_value(tmp_path, rng):
    table = pamap2_table(rng)
    table[12, 1] = 8  # 8 is not a protocol activity
    path = write_pamap2(tmp_path / "subject101.dat", table)
    with pytest.raises(DataFormatError, match="unknown label 8") as exc_info:
        load_pamap2(path)
    assert_names_location(exc_info, path, line=13, field="activity_id")


def test_pamap2_repeated_timestamp_names_the_line(tmp_path, rng):
    table = pamap2_table(rng)
    table[20, 0] = table[19, 0]
    path = write_pamap2(tmp_path / "subject101.dat", table)
    with pytest.raises(DataFormatError, match="repeats the timestamp of line 20") as exc_info:
        load_pamap2(path)
    assert_names_location(exc_info, path, line=21, field="timestamp")


def test_pamap2_unknown_imu_is_an_input_error(tmp_path, rng):
    path = write_pamap2(tmp_path / "subject101.dat", pamap2_table(rng))
    with pytest.raises(InputError, match="'hand', 'chest', 'ankle'"):
        load_pamap2(path, imu="wrist")


def test_pamap2_folder_without_subject_files_is_an_error(tmp_path):
    with pytest.raises(DataFormatError, match="no subjectNNN.dat files") as exc_info:
        load_pamap2(tmp_path)
    assert_names_location(exc_info, tmp_path)
