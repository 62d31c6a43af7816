"""The generic CSV loader, on small files the tests write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from har_edge.data.formats import load_csv
from har_edge.errors import DataFormatError, InputError
from har_edge.types import GRAVITY_M_S2, UNLABELLED
from tests.format_files import assert_names_location, write_file

CSV_COLUMNS = {"acc_x": "ax", "acc_y": "ay", "acc_z": "az", "gyro_x": "gx"}


def _csv_file(path: Path, rows: list[str], header: str = "t_ms,who,ax,ay,az,gx,note,label") -> Path:
    return write_file(path, header + "\n" + "\n".join(rows) + "\n")


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
    assert_names_location(exc_info, csv_path, line=3, field="t_ms")


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
    assert_names_location(exc_info, csv_path, line=3, field="label")


def test_csv_missing_column_is_named_with_the_header_columns(csv_path):
    with pytest.raises(DataFormatError, match="no column 'az2'.*expected one of 't_ms'") as exc_info:
        load_csv(csv_path, columns={"acc_z": "az2"}, rate_hz=10.0)
    assert_names_location(exc_info, csv_path, line=1, field="az2")


def test_csv_non_numeric_channel_value_names_line_and_field(csv_path):
    csv_path.write_text(csv_path.read_text().replace("0.1,0.0,1.0", "0.1,n/a,1.0"))
    with pytest.raises(DataFormatError, match="'n/a' is not a number") as exc_info:
        load_csv(csv_path, columns=CSV_COLUMNS, rate_hz=10.0)
    assert_names_location(exc_info, csv_path, line=4, field="ay")


def test_csv_time_going_backwards_within_a_recording_names_the_line(csv_path):
    csv_path.write_text(csv_path.read_text().replace("25,s2", "-5,s2"))
    with pytest.raises(DataFormatError, match="is not later than line 3") as exc_info:
        load_csv(csv_path, columns=CSV_COLUMNS, time_column="t_ms", subject_column="who")
    assert_names_location(exc_info, csv_path, line=6, field="t_ms")


def test_csv_header_only_file_has_no_data_rows(tmp_path):
    path = _csv_file(tmp_path / "empty.csv", [])
    with pytest.raises(DataFormatError, match="no data rows") as exc_info:
        load_csv(path, columns=CSV_COLUMNS, rate_hz=10.0)
    assert_names_location(exc_info, path)


@pytest.mark.parametrize("stamp", ["1_000", "١٢٣", "１２"])
def test_csv_time_that_python_float_would_read_but_is_not_ascii_decimal_is_refused(tmp_path, stamp):
    rows = ["0,s1,0.0,0.0,1.0,0.5,x,walk", f"{stamp},s1,0.1,0.0,1.0,0.5,x,walk"]
    path = _csv_file(tmp_path / "my_data.csv", rows)
    with pytest.raises(DataFormatError, match="neither a number nor an ISO date-time") as exc_info:
        load_csv(path, columns=CSV_COLUMNS, time_column="t_ms", subject_column="who")
    assert_names_location(exc_info, path, line=3, field="t_ms")


@pytest.mark.parametrize("chunk_lines", [200_000, 5])
def test_csv_quoted_line_break_is_refused_naming_the_line_wherever_the_chunk_ends(
    tmp_path, monkeypatch, chunk_lines
):
    from har_edge.data.formats import text

    monkeypatch.setattr(text, "CHUNK_LINES", chunk_lines)
    rows = [f"{i * 20},s1,0.1,0.2,0.3,0.5,x,walk" for i in range(10)]
    rows[4] = '80,s1,0.1,0.2,0.3,0.5,x,"wa\nlk"'
    path = _csv_file(tmp_path / "my_data.csv", rows)
    with pytest.raises(DataFormatError, match="a quoted field runs past the end of the line") as exc_info:
        load_csv(path, columns=CSV_COLUMNS, time_column="t_ms", label_column="label")
    assert_names_location(exc_info, path, line=6)
