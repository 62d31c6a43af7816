"""The HHAR activity-CSV loader, on small files the tests write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from har_edge.data.formats import HHAR_CLASSES, load_hhar
from har_edge.errors import DataFormatError
from har_edge.types import ACC_CHANNELS, GYRO_CHANNELS, UNLABELLED
from tests.format_files import assert_names_location, write_file

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
    return write_file(path, HHAR_HEADER + "".join(lines))


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
    assert_names_location(exc_info, path)


def test_hhar_unknown_label_names_line_and_value(tmp_path, rng):
    gt = ["sit", "sit", "sit", "jump", "sit", "sit"]
    path = _phones_file(tmp_path, _hhar_rows(rng, "a", "s3", "s3_1", 6, 10**7, gt))
    with pytest.raises(DataFormatError, match="unknown label 'jump'") as exc_info:
        load_hhar(path)
    assert_names_location(exc_info, path, line=5, field="gt")


def test_hhar_wrong_header_is_an_error_on_line_1(hhar_path):
    hhar_path.write_text(hhar_path.read_text().replace("Creation_Time", "Created", 1))
    with pytest.raises(DataFormatError, match="expected Index,Arrival_Time,Creation_Time") as exc_info:
        load_hhar(hhar_path)
    assert_names_location(exc_info, hhar_path, line=1)


def test_hhar_missing_field_says_how_many_were_expected(hhar_path):
    lines = hhar_path.read_text().splitlines(keepends=True)
    lines[7] = lines[7].rsplit(",", 1)[0] + "\n"
    hhar_path.write_text("".join(lines))
    with pytest.raises(DataFormatError, match=r"9 fields \(expected 10 fields\)") as exc_info:
        load_hhar(hhar_path)
    assert_names_location(exc_info, hhar_path, line=8)


def test_hhar_non_numeric_sample_names_line_and_field(hhar_path):
    lines = hhar_path.read_text().splitlines(keepends=True)
    fields = lines[3].split(",")
    fields[4] = "oops"
    lines[3] = ",".join(fields)
    hhar_path.write_text("".join(lines))
    with pytest.raises(DataFormatError, match="'oops' is not a number") as exc_info:
        load_hhar(hhar_path)
    assert_names_location(exc_info, hhar_path, line=4, field="y")


def _swapped(rows: list[tuple], i: int, j: int) -> list[tuple]:
    rows = list(rows)
    rows[i], rows[j] = rows[j], rows[i]
    return rows


def test_hhar_rows_out_of_time_order_name_the_line_without_sort_by_time(tmp_path, rng):
    path = _phones_file(tmp_path, _swapped(_hhar_rows(rng, "a", "s3", "s3_1", 6, 10**7, ["sit"]), 2, 3))
    with pytest.raises(DataFormatError, match="is not later than line 4") as exc_info:
        load_hhar(path, sort_by_time=False)
    assert_names_location(exc_info, path, line=5, field="Creation_Time")


def test_hhar_orders_rows_of_a_device_by_creation_time_by_default_and_notes_it(tmp_path, rng):
    rows = _hhar_rows(rng, "a", "s3", "s3_1", 6, 10**7, ["sit", "walk", "bike"])
    path = _phones_file(tmp_path, _swapped(rows, 2, 3))
    dataset = load_hhar(path)
    assert "1 of 6 rows were out of time order" in dataset.notes[0]
    recording = dataset.recordings[0]
    np.testing.assert_allclose(np.diff(recording.timestamps_s), 0.01, rtol=1e-4)
    np.testing.assert_allclose(recording.samples[:, 0], [row[1] for row in rows], atol=1e-6)
    assert [HHAR_CLASSES[i] for i in recording.labels] == [row[-1] for row in rows]


def test_hhar_keeps_the_first_of_rows_repeating_a_creation_time_and_counts_them(tmp_path, rng):
    rows = _hhar_rows(rng, "a", "s3", "s3_1", 6, 10**7, ["sit"])
    rows[4] = (rows[3][0], *rows[4][1:])  # same time, other values
    rows.insert(2, rows[1])  # an exact copy
    dataset = load_hhar(_phones_file(tmp_path, rows))
    recording = dataset.recordings[0]
    np.testing.assert_allclose(recording.samples[:, 0], [rows[i][1] for i in (0, 1, 3, 4, 6)], atol=1e-6)
    assert (
        "dropped 2 rows repeating a device's Creation_Time (1 of them with other values" in dataset.notes[0]
    )


def test_hhar_repeated_creation_time_names_the_line_without_sort_by_time(tmp_path, rng):
    rows = _hhar_rows(rng, "a", "s3", "s3_1", 6, 10**7, ["sit"])
    rows[4] = (rows[3][0], *rows[4][1:])
    path = _phones_file(tmp_path, rows)
    with pytest.raises(DataFormatError, match="repeats the timestamp of line 5") as exc_info:
        load_hhar(path, sort_by_time=False)
    assert_names_location(exc_info, path, line=6, field="Creation_Time")
