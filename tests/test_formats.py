"""Loaders of real HAR formats, tested on small files the tests write in each exact format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from har_edge.data.formats import (
    FORMATS,
    HHAR_CLASSES,
    PAMAP2_CLASSES,
    WISDM_CLASSES,
    load,
    load_csv,
    load_hapt,
    load_hhar,
    load_pamap2,
    load_uea,
    load_wisdm,
    text,
)
from har_edge.errors import DataFormatError, InputError
from har_edge.types import ACC_CHANNELS, GRAVITY_M_S2, GYRO_CHANNELS, UNLABELLED


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _rows(values: np.ndarray) -> str:
    return "".join(" ".join(f"{v:.6f}" for v in row) + "\n" for row in values)


def _assert_names_location(
    exc_info: pytest.ExceptionInfo, path: Path, *, line: int | None = None, field: str | None = None
):
    """The error names the file, and the line and field when given."""
    error = exc_info.value
    assert isinstance(error, DataFormatError)
    assert error.path == str(path) and str(path) in str(error)
    if line is not None:
        assert error.line == line and f"line {line}" in str(error)
    if field is not None:
        assert error.field == field and repr(field) in str(error)


# ---------------------------------------------------------------------------------------------------------
# HAPT
# ---------------------------------------------------------------------------------------------------------

HAPT_NAMES = ("WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING")


def _hapt(root: Path, rng: np.random.Generator, *, lengths=(120, 80), labels: str | None = None) -> dict:
    """Write a RawData folder, one experiment per length (user = experiment + 10); return the raw arrays."""
    raw = {}
    for exp, n in enumerate(lengths, start=1):
        acc, gyro = rng.normal(0, 1, (n, 3)), rng.normal(0, 0.5, (n, 3))
        _write(root / f"acc_exp{exp:02d}_user{exp + 10:02d}.txt", _rows(acc))
        _write(root / f"gyro_exp{exp:02d}_user{exp + 10:02d}.txt", _rows(gyro))
        raw[exp] = (acc, gyro)
    _write(root / "activity_labels.txt", "".join(f"{i} {name}\n" for i, name in enumerate(HAPT_NAMES, 1)))
    _write(root / "labels.txt", labels if labels is not None else "1 11 5 11 30\n1 11 2 50 60\n2 12 4 1 80\n")
    return raw


def test_hapt_converts_acceleration_from_g_to_m_s2(tmp_path, rng):
    raw = _hapt(tmp_path, rng)
    dataset = load_hapt(tmp_path)
    written_g = np.round(raw[1][0], 6)  # as _rows writes them
    np.testing.assert_allclose(dataset.recordings[0].samples[:, :3], written_g * GRAVITY_M_S2, rtol=1e-6)
    np.testing.assert_allclose(dataset.recordings[0].samples[:, 3:], raw[1][1], atol=1e-6)


def test_hapt_loads_one_recording_per_experiment_at_50_hz(tmp_path, rng):
    _hapt(tmp_path, rng)
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
    _hapt(tmp_path, rng)
    dataset = load_hapt(tmp_path)
    assert dataset.class_names == HAPT_NAMES
    labels = dataset.recordings[0].labels
    assert np.all(labels[10:30] == HAPT_NAMES.index("STANDING"))  # interval 11..30, 1-based inclusive
    assert np.all(labels[49:60] == HAPT_NAMES.index("WALKING_UPSTAIRS"))
    outside = np.r_[0:10, 30:49, 60:120]
    assert np.all(labels[outside] == UNLABELLED)
    assert np.all(dataset.recordings[1].labels == HAPT_NAMES.index("SITTING"))


def test_hapt_without_gyro_loads_accelerometer_only_and_needs_no_gyro_files(tmp_path, rng):
    _hapt(tmp_path, rng)
    for gyro_file in tmp_path.glob("gyro_*"):
        gyro_file.unlink()
    dataset = load_hapt(tmp_path, gyro=False)
    assert dataset.channels == ACC_CHANNELS and dataset.recordings[0].samples.shape == (120, 3)


def test_hapt_finds_activity_labels_in_the_parent_folder_as_in_the_archive(tmp_path, rng):
    raw_data = tmp_path / "RawData"
    _hapt(raw_data, rng)
    (raw_data / "activity_labels.txt").rename(tmp_path / "activity_labels.txt")
    assert load_hapt(raw_data).class_names == HAPT_NAMES


def test_hapt_missing_gyro_file_is_an_error_naming_it(tmp_path, rng):
    _hapt(tmp_path, rng)
    (tmp_path / "gyro_exp02_user12.txt").unlink()
    with pytest.raises(DataFormatError, match="gyro=False") as exc_info:
        load_hapt(tmp_path)
    _assert_names_location(exc_info, tmp_path / "gyro_exp02_user12.txt")


def test_hapt_acc_and_gyro_row_count_mismatch_is_an_error(tmp_path, rng):
    _hapt(tmp_path, rng)
    _write(tmp_path / "gyro_exp01_user11.txt", _rows(rng.normal(size=(119, 3))))
    with pytest.raises(DataFormatError, match="119 rows but acc_exp01_user11.txt has 120") as exc_info:
        load_hapt(tmp_path)
    _assert_names_location(exc_info, tmp_path / "gyro_exp01_user11.txt")


def test_hapt_label_interval_past_the_end_of_the_data_names_the_line(tmp_path, rng):
    _hapt(tmp_path, rng, labels="1 11 1 1 10\n2 12 1 70 81\n")
    with pytest.raises(DataFormatError, match="past the end of experiment 2") as exc_info:
        load_hapt(tmp_path)
    _assert_names_location(exc_info, tmp_path / "labels.txt", line=2, field="end")


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ("1 11 7 1 10", "activity", "unknown activity id 7"),
        ("3 13 1 1 10", "experiment", "experiment 3 has no acc_exp file"),
        ("1 12 1 1 10", "user", "user 12 for experiment 1"),
        ("1 11 1 10 5", "start", "interval 10..5"),
        ("1 11 2 20 40", "start", "overlaps"),
    ],
)
def test_hapt_invalid_label_row_names_line_and_field(tmp_path, rng, row, field, message):
    _hapt(tmp_path, rng, labels=f"1 11 1 30 50\n\n{row}\n")
    with pytest.raises(DataFormatError, match=message) as exc_info:
        load_hapt(tmp_path)
    _assert_names_location(exc_info, tmp_path / "labels.txt", line=3, field=field)


def test_hapt_non_numeric_value_names_line_and_field(tmp_path, rng):
    _hapt(tmp_path, rng)
    acc_path = tmp_path / "acc_exp01_user11.txt"
    lines = acc_path.read_text().splitlines(keepends=True)
    lines[4] = "0.1 abc 0.3\n"
    acc_path.write_text("".join(lines))
    with pytest.raises(DataFormatError, match="'abc' is not a number") as exc_info:
        load_hapt(tmp_path)
    _assert_names_location(exc_info, acc_path, line=5, field="y")


def test_hapt_missing_column_says_how_many_fields_were_expected(tmp_path, rng):
    _hapt(tmp_path, rng)
    acc_path = tmp_path / "acc_exp02_user12.txt"
    acc_path.write_text(acc_path.read_text() + "0.1 0.2\n")
    with pytest.raises(DataFormatError, match=r"2 fields \(expected 3 fields\)") as exc_info:
        load_hapt(tmp_path)
    _assert_names_location(exc_info, acc_path, line=81)


def test_hapt_missing_folder_or_empty_file_is_an_error(tmp_path, rng):
    with pytest.raises(DataFormatError, match="folder not found"):
        load_hapt(tmp_path / "nowhere")
    _hapt(tmp_path, rng)
    _write(tmp_path / "acc_exp01_user11.txt", "")
    with pytest.raises(DataFormatError, match="file is empty") as exc_info:
        load_hapt(tmp_path)
    _assert_names_location(exc_info, tmp_path / "acc_exp01_user11.txt")


# ---------------------------------------------------------------------------------------------------------
# HHAR
# ---------------------------------------------------------------------------------------------------------

HHAR_HEADER = "Index,Arrival_Time,Creation_Time,x,y,z,User,Model,Device,gt\n"
T0_NS = 1_424_696_633_908_000_000


def _hhar_rows(rng, user: str, model: str, device: str, n: int, step_ns: int, gt: list[str]) -> list[tuple]:
    xyz = rng.normal(0, 3, (n, 3))
    return [(T0_NS + i * step_ns, *xyz[i], user, model, device, gt[i % len(gt)]) for i in range(n)]


def _hhar_file(path: Path, rows: list[tuple]) -> Path:
    lines = [
        f"{i},{t // 1_000_000},{t},{x:.6f},{y:.6f},{z:.6f},{user},{model},{device},{gt}\n"
        for i, (t, x, y, z, user, model, device, gt) in enumerate(rows)
    ]
    return _write(path, HHAR_HEADER + "".join(lines))


def _phones_file(tmp_path: Path, rows: list[tuple]) -> Path:
    return _hhar_file(tmp_path / "Phones_accelerometer.csv", rows)


def _interleave(*groups: list[tuple]) -> list[tuple]:
    """Rows of several devices interleaved as in the real files (round robin)."""
    longest = max(map(len, groups))
    return [group[i] for i in range(longest) for group in groups if i < len(group)]


@pytest.fixture
def hhar_path(tmp_path, rng) -> Path:
    rows = _interleave(
        _hhar_rows(rng, "a", "nexus4", "nexus4_1", 30, 5_000_000, ["stand", "null"]),
        _hhar_rows(rng, "a", "s3", "s3_1", 20, 10_000_000, ["walk"]),
        _hhar_rows(rng, "b", "nexus4", "nexus4_1", 10, 5_000_000, ["bike", "stairsdown"]),
    )
    return _phones_file(tmp_path, rows)


def test_hhar_splits_recordings_per_user_and_device(hhar_path):
    dataset = load_hhar(hhar_path)
    assert [(r.subject, r.domain, len(r)) for r in dataset.recordings] == [
        ("a", "phone/nexus4/nexus4_1", 30),
        ("a", "phone/s3/s3_1", 20),
        ("b", "phone/nexus4/nexus4_1", 10),
    ]
    assert dataset.channels == ACC_CHANNELS and dataset.class_names == HHAR_CLASSES


def test_hhar_takes_timestamps_from_creation_time_in_nanoseconds(hhar_path):
    s3 = load_hhar(hhar_path).recordings[1]
    np.testing.assert_allclose(s3.timestamps_s - T0_NS / 1e9, np.arange(20) * 0.010, atol=1e-6)


def test_hhar_estimates_each_nominal_rate_from_the_median_step_unless_given(hhar_path):
    assert [r.nominal_rate_hz for r in load_hhar(hhar_path).recordings] == pytest.approx(
        [200.0, 100.0, 200.0]
    )
    assert {r.nominal_rate_hz for r in load_hhar(hhar_path, rate_hz=50.0).recordings} == {50.0}


def test_hhar_maps_gt_strings_to_the_fixed_classes_and_null_to_unlabelled(hhar_path):
    nexus_a, s3_a, nexus_b = load_hhar(hhar_path).recordings
    assert list(nexus_a.labels[:4]) == [HHAR_CLASSES.index("stand"), UNLABELLED] * 2
    assert set(s3_a.labels) == {HHAR_CLASSES.index("walk")}
    assert list(nexus_b.labels[:2]) == [HHAR_CLASSES.index("bike"), HHAR_CLASSES.index("stairsdown")]


def test_hhar_watch_gyroscope_file_gives_gyro_channels_and_watch_domain(tmp_path, rng):
    path = _hhar_file(
        tmp_path / "Watch_gyroscope.csv", _hhar_rows(rng, "c", "gear", "gear_1", 5, 10**7, ["sit"])
    )
    dataset = load_hhar(path)
    assert dataset.channels == GYRO_CHANNELS and dataset.recordings[0].domain == "watch/gear/gear_1"


def test_hhar_file_name_without_phone_or_watch_is_an_error(tmp_path, rng):
    path = _hhar_file(tmp_path / "data.csv", _hhar_rows(rng, "a", "s3", "s3_1", 5, 10**7, ["sit"]))
    with pytest.raises(DataFormatError, match="Phones_accelerometer.csv") as exc_info:
        load_hhar(path)
    _assert_names_location(exc_info, path)


def test_hhar_unknown_label_names_line_and_value(tmp_path, rng):
    gt = ["sit", "sit", "sit", "jump", "sit", "sit"]
    path = _phones_file(tmp_path, _hhar_rows(rng, "a", "s3", "s3_1", 6, 10**7, gt))
    with pytest.raises(DataFormatError, match="unknown label 'jump'") as exc_info:
        load_hhar(path)
    _assert_names_location(exc_info, path, line=5, field="gt")


def test_hhar_wrong_header_is_an_error_on_line_1(hhar_path):
    hhar_path.write_text(hhar_path.read_text().replace("Creation_Time", "Created", 1))
    with pytest.raises(DataFormatError, match="expected Index,Arrival_Time,Creation_Time") as exc_info:
        load_hhar(hhar_path)
    _assert_names_location(exc_info, hhar_path, line=1)


def test_hhar_missing_field_says_how_many_were_expected(hhar_path):
    lines = hhar_path.read_text().splitlines(keepends=True)
    lines[7] = lines[7].rsplit(",", 1)[0] + "\n"
    hhar_path.write_text("".join(lines))
    with pytest.raises(DataFormatError, match=r"9 fields \(expected 10 fields\)") as exc_info:
        load_hhar(hhar_path)
    _assert_names_location(exc_info, hhar_path, line=8)


def test_hhar_non_numeric_sample_names_line_and_field(hhar_path):
    lines = hhar_path.read_text().splitlines(keepends=True)
    fields = lines[3].split(",")
    fields[4] = "oops"
    lines[3] = ",".join(fields)
    hhar_path.write_text("".join(lines))
    with pytest.raises(DataFormatError, match="'oops' is not a number") as exc_info:
        load_hhar(hhar_path)
    _assert_names_location(exc_info, hhar_path, line=4, field="y")


def _swapped(rows: list[tuple], i: int, j: int) -> list[tuple]:
    rows = list(rows)
    rows[i], rows[j] = rows[j], rows[i]
    return rows


def test_hhar_rows_out_of_time_order_name_the_line(tmp_path, rng):
    path = _phones_file(tmp_path, _swapped(_hhar_rows(rng, "a", "s3", "s3_1", 6, 10**7, ["sit"]), 2, 3))
    with pytest.raises(DataFormatError, match="is not later than line 4") as exc_info:
        load_hhar(path)
    _assert_names_location(exc_info, path, line=5, field="Creation_Time")


def test_hhar_sort_by_time_orders_rows_of_a_device_by_creation_time(tmp_path, rng):
    rows = _hhar_rows(rng, "a", "s3", "s3_1", 6, 10**7, ["sit", "walk", "bike"])
    path = _phones_file(tmp_path, _swapped(rows, 2, 3))
    recording = load_hhar(path, sort_by_time=True).recordings[0]
    np.testing.assert_allclose(np.diff(recording.timestamps_s), 0.01, rtol=1e-4)
    np.testing.assert_allclose(recording.samples[:, 0], [row[1] for row in rows], atol=1e-6)
    assert [HHAR_CLASSES[i] for i in recording.labels] == [row[-1] for row in rows]


def test_hhar_repeated_creation_time_names_the_line(tmp_path, rng):
    rows = _hhar_rows(rng, "a", "s3", "s3_1", 6, 10**7, ["sit"])
    rows[4] = (rows[3][0], *rows[4][1:])
    path = _phones_file(tmp_path, rows)
    with pytest.raises(DataFormatError, match="repeats the timestamp of line 5") as exc_info:
        load_hhar(path, sort_by_time=True)
    _assert_names_location(exc_info, path, line=6, field="Creation_Time")


# ---------------------------------------------------------------------------------------------------------
# WISDM
# ---------------------------------------------------------------------------------------------------------

WISDM_STEP_NS = 50_000_000  # 20 Hz


def _wisdm_line(user: int, activity: str, t_ns: int, xyz=(0.5, 9.8, -1.25)) -> str:
    return f"{user},{activity},{t_ns},{xyz[0]},{xyz[1]},{xyz[2]};"


def _wisdm_file(path: Path, lines: list[str]) -> Path:
    return _write(path, "\n".join(lines) + "\n")


def _wisdm_run(user: int, activity: str, t0_ns: int, n: int) -> list[str]:
    return [_wisdm_line(user, activity, t0_ns + i * WISDM_STEP_NS, (i, -i, 0.5)) for i in range(n)]


def test_wisdm_reads_records_in_m_s2_with_nanosecond_timestamps(tmp_path):
    path = _wisdm_file(tmp_path / "WISDM_ar_v1.1_raw.txt", _wisdm_run(33, "Jogging", 49105962326000, 5))
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
        _wisdm_line(1, "Walking", 1_000) + _wisdm_line(1, "Walking", 2_000),
        "",
        "1,Walking,3000,1.0,2.0,3.0,;",
        "1,Sitting,4000,1.0,2.0,3.0",  # last record of a line may lack its ';'
    ]
    dataset = load_wisdm(_wisdm_file(tmp_path / "w.txt", lines))
    (recording,) = dataset.recordings
    np.testing.assert_allclose(recording.timestamps_s * 1e9, [1_000, 2_000, 3_000, 4_000])
    assert list(recording.labels) == [0, 0, 0, WISDM_CLASSES.index("Sitting")]
    assert dataset.notes == ()


def test_wisdm_skips_broken_lines_and_notes_their_line_numbers(tmp_path):
    lines = _wisdm_run(7, "Upstairs", 10**9, 3) + [
        "7,Upstairs,1200000000,0.1,;",
        "7,Upstairs,1300000000,a,1,2;",
    ]
    path = _wisdm_file(tmp_path / "w.txt", lines + _wisdm_run(7, "Upstairs", 2 * 10**9, 2))
    dataset = load_wisdm(path)
    assert [len(r) for r in dataset.recordings] == [5]
    assert len(dataset.notes) == 2
    assert f"{path}, line 4" in dataset.notes[0] and "has 4 fields" in dataset.notes[0]
    assert f"{path}, line 5, field 'x'" in dataset.notes[1]


def test_wisdm_error_policy_raises_with_line_and_expected_record(tmp_path):
    path = _wisdm_file(tmp_path / "w.txt", _wisdm_run(7, "Upstairs", 10**9, 3) + ["7,Upstairs,;"])
    with pytest.raises(DataFormatError, match="expected a record user,activity,timestamp,x,y,z") as exc_info:
        load_wisdm(path, on_bad_line="error")
    _assert_names_location(exc_info, path, line=4)


def test_wisdm_drops_zero_timestamp_rows_and_notes_the_count(tmp_path):
    lines = (
        _wisdm_run(3, "Standing", 10**9, 2)
        + [_wisdm_line(3, "Standing", 0)] * 2
        + _wisdm_run(3, "Standing", 2 * 10**9, 2)
    )
    dataset = load_wisdm(_wisdm_file(tmp_path / "w.txt", lines))
    assert [len(r) for r in dataset.recordings] == [4]
    assert dataset.notes == (f"{tmp_path / 'w.txt'}: dropped 2 records with timestamp 0 (lines 3, 4)",)


def test_wisdm_splits_a_user_at_backward_timestamp_jumps(tmp_path):
    lines = (
        _wisdm_run(5, "Walking", 9 * 10**9, 4)
        + _wisdm_run(5, "Jogging", 1 * 10**9, 3)
        + _wisdm_run(6, "Sitting", 10**9, 2)
    )
    dataset = load_wisdm(_wisdm_file(tmp_path / "w.txt", lines))
    assert [(r.subject, len(r), r.timestamps_s[0]) for r in dataset.recordings] == [
        ("5", 4, 9.0),
        ("5", 3, 1.0),
        ("6", 2, 1.0),
    ]
    assert any("user 5: split into 2 recordings" in note and "(lines 5)" in note for note in dataset.notes)


def test_wisdm_drops_a_repeated_timestamp_and_notes_its_line(tmp_path):
    lines = _wisdm_run(2, "Downstairs", 10**9, 3)
    lines.insert(2, lines[1])
    dataset = load_wisdm(_wisdm_file(tmp_path / "w.txt", lines))
    assert [len(r) for r in dataset.recordings] == [3]
    assert any("dropped 1 records repeating the previous timestamp (lines 3)" in n for n in dataset.notes)


def test_wisdm_unknown_activity_is_an_error_naming_line_and_value(tmp_path):
    path = _wisdm_file(
        tmp_path / "w.txt", _wisdm_run(2, "Walking", 10**9, 2) + [_wisdm_line(2, "Running", 3 * 10**9)]
    )
    with pytest.raises(DataFormatError, match="unknown label 'Running'") as exc_info:
        load_wisdm(path)
    _assert_names_location(exc_info, path, line=3, field="activity")


def test_wisdm_file_without_valid_records_is_an_error(tmp_path):
    path = _wisdm_file(tmp_path / "w.txt", ["garbage", ";;"])
    with pytest.raises(DataFormatError, match="no valid records") as exc_info:
        load_wisdm(path)
    _assert_names_location(exc_info, path)


# ---------------------------------------------------------------------------------------------------------
# PAMAP2
# ---------------------------------------------------------------------------------------------------------

IMU_OFFSETS = {"hand": 3, "chest": 20, "ankle": 37}


def _pamap2_table(rng, n: int = 40, activities=(0, 1, 4, 24)) -> np.ndarray:
    table = rng.normal(0, 2, (n, 54))
    table[:, 0] = 5.64 + np.arange(n) * 0.01
    table[:, 1] = np.repeat(activities, -(-n // len(activities)))[:n]
    table[:, 2] = np.nan
    table[::10, 2] = 104.0
    for offset in IMU_OFFSETS.values():
        table[:, offset + 13 : offset + 17] = np.nan  # orientation: invalid
    return table


def _pamap2_file(path: Path, table: np.ndarray) -> Path:
    lines = [
        f"{row[0]:.2f} {int(row[1])} " + " ".join("NaN" if np.isnan(v) else f"{v:.5f}" for v in row[2:])
        for row in table
    ]
    return _write(path, "\n".join(lines) + "\n")


def test_pamap2_selects_acc16_and_gyro_of_the_chosen_imu(tmp_path, rng):
    table = _pamap2_table(rng)
    path = _pamap2_file(tmp_path / "subject101.dat", table)
    for imu, offset in IMU_OFFSETS.items():
        dataset = load_pamap2(path, imu=imu)
        (recording,) = dataset.recordings
        assert dataset.channels == ACC_CHANNELS + GYRO_CHANNELS and recording.domain == imu
        np.testing.assert_allclose(recording.samples[:, :3], table[:, offset + 1 : offset + 4], atol=1e-5)
        np.testing.assert_allclose(recording.samples[:, 3:], table[:, offset + 7 : offset + 10], atol=1e-5)
    assert load_pamap2(path, gyro=False).recordings[0].samples.shape == (40, 3)


def test_pamap2_maps_activity_ids_to_fixed_classes_and_transient_zero_to_unlabelled(tmp_path, rng):
    path = _pamap2_file(tmp_path / "subject101.dat", _pamap2_table(rng))
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
    table = _pamap2_table(rng)
    table[5:9, 4:7] = np.nan  # hand acc16 dropped packets
    recording = load_pamap2(_pamap2_file(tmp_path / "subject101.dat", table)).recordings[0]
    assert np.isnan(recording.samples[5:9, :3]).all() and not np.isnan(recording.samples[:5]).any()
    np.testing.assert_allclose(recording.timestamps_s[:2], [5.64, 5.65])
    assert recording.nominal_rate_hz == 100.0


def test_pamap2_loads_every_subject_file_of_a_folder_with_subject_from_the_file_name(tmp_path, rng):
    for subject in (102, 101):
        _pamap2_file(tmp_path / f"subject{subject}.dat", _pamap2_table(rng, n=10 + subject % 100))
    _write(tmp_path / "readme.txt", "not data")
    assert [(r.subject, len(r)) for r in load_pamap2(tmp_path).recordings] == [("101", 11), ("102", 12)]


def test_pamap2_wrong_column_count_names_the_line(tmp_path, rng):
    path = _pamap2_file(tmp_path / "subject101.dat", _pamap2_table(rng))
    lines = path.read_text().splitlines(keepends=True)
    lines[6] = lines[6].rstrip("\n") + " 1.0\n"
    path.write_text("".join(lines))
    with pytest.raises(DataFormatError, match=r"55 fields \(expected 54 fields\)") as exc_info:
        load_pamap2(path)
    _assert_names_location(exc_info, path, line=7)


def test_pamap2_unknown_activity_id_names_line_and_value(tmp_path, rng):
    table = _pamap2_table(rng)
    table[12, 1] = 8  # 8 is not a protocol activity
    path = _pamap2_file(tmp_path / "subject101.dat", table)
    with pytest.raises(DataFormatError, match="unknown label 8") as exc_info:
        load_pamap2(path)
    _assert_names_location(exc_info, path, line=13, field="activity_id")


def test_pamap2_repeated_timestamp_names_the_line(tmp_path, rng):
    table = _pamap2_table(rng)
    table[20, 0] = table[19, 0]
    path = _pamap2_file(tmp_path / "subject101.dat", table)
    with pytest.raises(DataFormatError, match="repeats the timestamp of line 20") as exc_info:
        load_pamap2(path)
    _assert_names_location(exc_info, path, line=21, field="timestamp")


def test_pamap2_unknown_imu_is_an_input_error(tmp_path, rng):
    path = _pamap2_file(tmp_path / "subject101.dat", _pamap2_table(rng))
    with pytest.raises(InputError, match="'hand', 'chest', 'ankle'"):
        load_pamap2(path, imu="wrist")


def test_pamap2_folder_without_subject_files_is_an_error(tmp_path):
    with pytest.raises(DataFormatError, match="no subjectNNN.dat files") as exc_info:
        load_pamap2(tmp_path)
    _assert_names_location(exc_info, tmp_path)


# ---------------------------------------------------------------------------------------------------------
# UEA / UCR .ts
# ---------------------------------------------------------------------------------------------------------

UEA_HEADER = """# A two-dimensional toy problem
@problemName Toy
@timeStamps false
@missing true
@univariate false
@dimensions 2
@equalLength true
@seriesLength 4
@classLabel true walk sit run
@data
"""


def _uea_file(path: Path, cases: list[str], header: str = UEA_HEADER) -> Path:
    return _write(path, header + "\n".join(cases) + "\n")


def test_uea_each_case_becomes_a_recording_labelled_with_its_class(tmp_path):
    path = _uea_file(tmp_path / "toy.ts", ["1,2,3,4:5,6,7,8:sit", "0.5,0.5,0.5,0.5:1e1,2,3,4:run"])
    dataset = load_uea(path)
    assert dataset.name == "Toy" and dataset.class_names == ("walk", "sit", "run")
    assert dataset.channels == ("dim0", "dim1")
    first, second = dataset.recordings
    assert (first.subject, second.subject) == ("case0", "case1")
    np.testing.assert_allclose(first.samples, [[1, 5], [2, 6], [3, 7], [4, 8]])
    assert set(first.labels) == {1} and set(second.labels) == {2} and second.samples[0, 1] == 10.0


def test_uea_question_mark_is_nan(tmp_path):
    recording = load_uea(_uea_file(tmp_path / "toy.ts", ["1,?,3,4:5,6,?,8:walk"])).recordings[0]
    assert np.isnan(recording.samples[1, 0]) and np.isnan(recording.samples[2, 1])
    assert np.isfinite(recording.samples[[0, 3]]).all()


def test_uea_defaults_to_1_hz_and_notes_the_assumption(tmp_path):
    path = _uea_file(tmp_path / "toy.ts", ["1,2,3,4:5,6,7,8:sit"])
    assumed = load_uea(path)
    np.testing.assert_allclose(assumed.recordings[0].timestamps_s, [0, 1, 2, 3])
    assert assumed.recordings[0].nominal_rate_hz == 1.0 and "assumed 1.0 Hz" in assumed.notes[0]
    given = load_uea(path, rate_hz=50.0)
    np.testing.assert_allclose(given.recordings[0].timestamps_s, [0, 0.02, 0.04, 0.06])
    assert given.notes == ()


def test_uea_uses_channel_names_given_by_the_caller(tmp_path):
    path = _uea_file(tmp_path / "toy.ts", ["1,2,3,4:5,6,7,8:sit"])
    assert load_uea(path, channels=("acc_x", "acc_y")).channels == ("acc_x", "acc_y")
    with pytest.raises(InputError, match="1 channel names given for 2 dimensions"):
        load_uea(path, channels=("acc_x",))


def test_uea_wrong_number_of_dimensions_names_the_line(tmp_path):
    path = _uea_file(tmp_path / "toy.ts", ["1,2,3,4:5,6,7,8:sit", "1,2,3,4:sit"])
    with pytest.raises(DataFormatError, match="expected 2 dimensions and a class label") as exc_info:
        load_uea(path)
    _assert_names_location(exc_info, path, line=12)


def test_uea_unknown_class_label_names_line_and_value(tmp_path):
    path = _uea_file(tmp_path / "toy.ts", ["1,2,3,4:5,6,7,8:jump"])
    with pytest.raises(DataFormatError, match="unknown class label 'jump'") as exc_info:
        load_uea(path)
    _assert_names_location(exc_info, path, line=11, field="class label")


def test_uea_non_numeric_value_names_line_and_dimension(tmp_path):
    path = _uea_file(tmp_path / "toy.ts", ["1,2,3,4:5,x6,7,8:sit"])
    with pytest.raises(DataFormatError, match="'x6' is not a number") as exc_info:
        load_uea(path)
    _assert_names_location(exc_info, path, line=11, field="dim1")


def test_uea_series_shorter_than_series_length_names_the_dimension(tmp_path):
    path = _uea_file(tmp_path / "toy.ts", ["1,2,3,4:5,6,7:sit"])
    with pytest.raises(DataFormatError, match="3 values") as exc_info:
        load_uea(path)
    _assert_names_location(exc_info, path, line=11, field="dim1")


def test_uea_unlabelled_univariate_file_infers_one_dimension(tmp_path):
    header = "@problemName Plain\n@univariate true\n@classLabel false\n@data\n"
    dataset = load_uea(_uea_file(tmp_path / "plain.ts", ["1,2,3", "4,5"], header=header))
    assert dataset.channels == ("dim0",) and dataset.class_names == ()
    assert [len(r) for r in dataset.recordings] == [3, 2]
    assert all((r.labels == UNLABELLED).all() for r in dataset.recordings)


def test_uea_file_without_data_section_or_with_timestamps_is_an_error(tmp_path):
    path = _write(tmp_path / "nodata.ts", "@problemName Toy\n@dimensions 2\n")
    with pytest.raises(DataFormatError, match="no @data line") as exc_info:
        load_uea(path)
    _assert_names_location(exc_info, path)
    path = _uea_file(
        tmp_path / "stamped.ts", ["1:sit"], header="@timeStamps true\n@classLabel true sit\n@data\n"
    )
    with pytest.raises(DataFormatError, match="@timeStamps true is not supported") as exc_info:
        load_uea(path)
    _assert_names_location(exc_info, path, line=1)


# ---------------------------------------------------------------------------------------------------------
# Generic CSV
# ---------------------------------------------------------------------------------------------------------

CSV_COLUMNS = {"acc_x": "ax", "acc_y": "ay", "acc_z": "az", "gyro_x": "gx"}


def _csv_file(path: Path, rows: list[str], header: str = "t_ms,who,ax,ay,az,gx,note,label") -> Path:
    return _write(path, header + "\n" + "\n".join(rows) + "\n")


@pytest.fixture
def csv_path(tmp_path) -> Path:
    rows = [
        "0,s1,0.0,0.0,1.0,0.5,x,walk",
        "0,s2,1.0,0.0,0.0,0.1,y,sit",
        "20,s1,0.1,0.0,1.0,0.5,x,",
        "40,s1,0.2,0.0,1.0,0.5,z,walk",
        "25,s2,1.0,0.5,0.0,0.2,y,sit",
    ]
    return _csv_file(tmp_path / "my_data.csv", rows)


def test_csv_maps_columns_to_channels_and_converts_g_to_m_s2_on_acc_channels_only(csv_path):
    dataset = load_csv(
        csv_path, columns=CSV_COLUMNS, time_column="t_ms", time_unit="ms", subject_column="who", acc_unit="g"
    )
    assert dataset.channels == ("acc_x", "acc_y", "acc_z", "gyro_x") and dataset.name == "my_data"
    recording = dataset.recordings[0]
    np.testing.assert_allclose(recording.samples[0], [0.0, 0.0, GRAVITY_M_S2, 0.5], rtol=1e-6)
    np.testing.assert_allclose(recording.timestamps_s, [0.0, 0.02, 0.04])


def test_csv_repeated_time_names_the_line(csv_path):
    with pytest.raises(DataFormatError, match="repeats the timestamp of line 2") as exc_info:
        load_csv(csv_path, columns=CSV_COLUMNS, time_column="t_ms")
    _assert_names_location(exc_info, csv_path, line=3, field="t_ms")


def test_csv_splits_recordings_per_subject_in_file_order(csv_path):
    dataset = load_csv(
        csv_path, columns=CSV_COLUMNS, time_column="t_ms", time_unit="ms", subject_column="who"
    )
    assert [(r.subject, len(r)) for r in dataset.recordings] == [("s1", 3), ("s2", 2)]
    assert dataset.recordings[0].nominal_rate_hz == pytest.approx(50.0)


def test_csv_class_set_is_sorted_distinct_labels_and_empty_cells_are_unlabelled(csv_path):
    dataset = load_csv(csv_path, columns=CSV_COLUMNS, rate_hz=10.0, label_column="label")
    assert dataset.class_names == ("sit", "walk")
    assert list(dataset.recordings[0].labels) == [1, 0, UNLABELLED, 1, 0]


def test_csv_without_time_column_spaces_samples_by_the_given_rate(csv_path):
    recording = load_csv(csv_path, columns=CSV_COLUMNS, rate_hz=25.0).recordings[0]
    assert recording.subject == "my_data" and recording.nominal_rate_hz == 25.0
    np.testing.assert_allclose(recording.timestamps_s, np.arange(5) * 0.04)


def test_csv_without_time_column_or_rate_is_an_input_error(csv_path):
    with pytest.raises(InputError, match="time_column or rate_hz"):
        load_csv(csv_path, columns=CSV_COLUMNS)


def test_csv_label_outside_given_class_names_names_row_and_value(csv_path):
    with pytest.raises(DataFormatError, match="unknown label 'sit'") as exc_info:
        load_csv(
            csv_path, columns=CSV_COLUMNS, rate_hz=10.0, label_column="label", class_names=("walk", "run")
        )
    _assert_names_location(exc_info, csv_path, line=3, field="label")


def test_csv_missing_column_is_named_with_the_header_columns(csv_path):
    with pytest.raises(DataFormatError, match="no column 'az2'.*expected one of 't_ms'") as exc_info:
        load_csv(csv_path, columns={"acc_z": "az2"}, rate_hz=10.0)
    _assert_names_location(exc_info, csv_path, line=1, field="az2")


def test_csv_non_numeric_channel_value_names_line_and_field(csv_path):
    csv_path.write_text(csv_path.read_text().replace("0.1,0.0,1.0", "0.1,n/a,1.0"))
    with pytest.raises(DataFormatError, match="'n/a' is not a number") as exc_info:
        load_csv(csv_path, columns=CSV_COLUMNS, rate_hz=10.0)
    _assert_names_location(exc_info, csv_path, line=4, field="ay")


def test_csv_time_going_backwards_within_a_recording_names_the_line(csv_path):
    csv_path.write_text(csv_path.read_text().replace("25,s2", "-5,s2"))
    with pytest.raises(DataFormatError, match="is not later than line 3") as exc_info:
        load_csv(csv_path, columns=CSV_COLUMNS, time_column="t_ms", subject_column="who")
    _assert_names_location(exc_info, csv_path, line=6, field="t_ms")


def test_csv_header_only_file_has_no_data_rows(tmp_path):
    path = _csv_file(tmp_path / "empty.csv", [])
    with pytest.raises(DataFormatError, match="no data rows") as exc_info:
        load_csv(path, columns=CSV_COLUMNS, rate_hz=10.0)
    _assert_names_location(exc_info, path)


# ---------------------------------------------------------------------------------------------------------
# All loaders and the dispatcher
# ---------------------------------------------------------------------------------------------------------

FILE_LOADERS = {
    "hhar": {},
    "wisdm": {},
    "pamap2": {},
    "uea": {},
    "csv": {"columns": {"acc_x": "ax"}, "rate_hz": 10.0},
}


@pytest.mark.parametrize(("fmt", "options"), FILE_LOADERS.items())
def test_every_file_loader_reports_a_missing_file_by_name(tmp_path, fmt, options):
    path = tmp_path / "Phones_accelerometer.csv"
    with pytest.raises(DataFormatError, match="file not found") as exc_info:
        load(path, fmt, **options)
    _assert_names_location(exc_info, path)


@pytest.mark.parametrize(("fmt", "options"), FILE_LOADERS.items())
def test_every_file_loader_reports_an_empty_file_by_name(tmp_path, fmt, options):
    path = _write(tmp_path / "Phones_accelerometer.csv", "")
    with pytest.raises(DataFormatError, match="file is empty") as exc_info:
        load(path, fmt, **options)
    _assert_names_location(exc_info, path)


def test_load_dispatches_to_the_loader_of_the_format_with_its_options(tmp_path, rng):
    path = _uea_file(tmp_path / "toy.ts", ["1,2,3,4:5,6,7,8:sit"])
    assert set(FORMATS) == {"hapt", "hhar", "wisdm", "pamap2", "uea", "csv"}
    dataset = load(path, "uea", rate_hz=4.0)
    assert dataset.name == "Toy" and dataset.recordings[0].nominal_rate_hz == 4.0
    _hapt(tmp_path / "hapt", rng)
    assert load(tmp_path / "hapt", "hapt", gyro=False).channels == ACC_CHANNELS


def test_load_unknown_format_is_an_input_error_listing_the_valid_ones(tmp_path):
    with pytest.raises(InputError, match="unknown data format 'parquet'; valid formats: hapt, hhar, wisdm"):
        load(tmp_path / "x", "parquet")


def test_load_unknown_option_is_an_input_error_naming_the_format(tmp_path):
    with pytest.raises(InputError, match="format 'wisdm'.*imu"):
        load(tmp_path / "x", "wisdm", imu="hand")


@pytest.mark.parametrize(
    "options",
    [{"rate_hz": 0.0}, {"rate_hz": "20"}, {"rate_hz": float("nan")}, {"on_bad_line": "ignore"}],
)
def test_invalid_option_values_are_input_errors(tmp_path, options):
    path = _wisdm_file(tmp_path / "w.txt", _wisdm_run(1, "Walking", 10**9, 3))
    with pytest.raises(InputError, match=next(iter(options))):
        load_wisdm(path, **options)


def test_large_files_are_read_in_chunks_with_correct_line_numbers(tmp_path, rng, monkeypatch):
    monkeypatch.setattr(text, "CHUNK_LINES", 7)
    table = _pamap2_table(rng, n=30)
    path = _pamap2_file(tmp_path / "subject101.dat", table)
    path.write_text(path.read_text().replace("\n", "\n\n", 3))  # blank lines shift later line numbers
    recording = load_pamap2(path).recordings[0]
    np.testing.assert_allclose(recording.timestamps_s, table[:, 0], atol=1e-9)
    lines = path.read_text().splitlines(keepends=True)
    lines[25] = "bad " + lines[25]
    path.write_text("".join(lines))
    with pytest.raises(DataFormatError) as exc_info:
        load_pamap2(path)
    _assert_names_location(exc_info, path, line=26)
