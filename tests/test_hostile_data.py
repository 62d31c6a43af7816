"""Data files are untrusted: values that are infinite or overflow float32, literal ``inf``, ``1_000`` and
non-ASCII digits are not numbers in any loader (the error names the line and field); a UEA header is
checked against the data before anything is allocated; a CSV field over the csv module's limit is a
typed error; nothing infinite is ever normalized or trained on."""

from __future__ import annotations

import numpy as np
import pytest

from har_edge.cli import main
from har_edge.data.formats import load_csv, load_hapt, load_pamap2, load_uea, load_wisdm
from har_edge.data.splits import Normalizer
from har_edge.errors import DataFormatError, InputError
from har_edge.types import Recording
from tests.format_files import (
    assert_names_location,
    pamap2_table,
    wisdm_run,
    write_file,
    write_hapt,
    write_pamap2,
    write_uea,
    write_wisdm,
)

HOSTILE = ["inf", "-Infinity", "1e39", "1_000", "١٢٣", "１２", "0x10"]
CSV_COLUMNS = {"acc_x": "ax", "acc_y": "ay", "acc_z": "az"}


def _csv(tmp_path, value: str):
    rows = [f"{20 * i},{0.1 * i:.1f},0.0,1.0" for i in range(6)]
    rows[3] = f"60,{value},0.0,1.0"
    return write_file(tmp_path / "me.csv", "t_ms,ax,ay,az\n" + "\n".join(rows) + "\n")


@pytest.mark.parametrize("value", HOSTILE)
def test_csv_refuses_a_value_that_is_no_finite_float32_number_naming_line_and_field(tmp_path, value):
    path = _csv(tmp_path, value)
    with pytest.raises(DataFormatError) as info:
        load_csv(path, columns=CSV_COLUMNS, time_column="t_ms", time_unit="ms")
    assert_names_location(info, path, line=5, field="ax")


@pytest.mark.parametrize("value", HOSTILE)
def test_hapt_refuses_hostile_numbers_naming_line_and_field(tmp_path, value, rng):
    write_hapt(tmp_path, rng)
    path = tmp_path / "acc_exp01_user11.txt"
    lines = path.read_text().splitlines()
    lines[6] = f"0.5 {value} 0.25"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError) as info:
        load_hapt(tmp_path)
    assert_names_location(info, path, line=7, field="y")


@pytest.mark.parametrize("value", ["inf", "1e39", "1_000", "١٢٣"])
def test_pamap2_refuses_hostile_numbers_but_keeps_nan_gaps(tmp_path, value, rng):
    path = write_pamap2(tmp_path / "subject101.dat", pamap2_table(rng))
    lines = path.read_text().splitlines()
    fields = lines[4].split(" ")
    fields[4] = value  # the hand IMU's acc16 x
    lines[4] = " ".join(fields)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError) as info:
        load_pamap2(path)
    assert_names_location(info, path, line=5, field="hand_acc16_x")


@pytest.mark.parametrize("value", HOSTILE)
def test_uea_refuses_hostile_numbers_naming_line_and_dimension(tmp_path, value):
    path = write_uea(tmp_path / "toy.ts", ["1,2,3,4:5,6,7,8:sit", f"1,2,3,4:5,{value},7,8:run"])
    with pytest.raises(DataFormatError) as info:
        load_uea(path)
    assert_names_location(info, path, field="dim1")
    assert info.value.line is not None


def test_uea_question_marks_stay_nan_gaps(tmp_path):
    recording = load_uea(write_uea(tmp_path / "toy.ts", ["1,?,3,4:5,6,?,8:walk"])).recordings[0]
    assert np.isnan(recording.samples).sum() == 2


def test_uea_with_an_absurd_dimensions_header_is_refused_before_allocating(tmp_path):
    from tests.format_files import UEA_HEADER

    header = UEA_HEADER.replace("@dimensions 2", "@dimensions 123456789012345678")
    path = write_uea(tmp_path / "toy.ts", ["1,2,3,4:5,6,7,8:sit"], header=header)
    with pytest.raises(DataFormatError, match="@dimensions 123456789012345678, but the first case has 2"):
        load_uea(path)


@pytest.mark.parametrize(("value", "field"), [("1e39", "x"), ("1_000", "x"), ("١٢٣", "x")])
def test_wisdm_refuses_hostile_numbers_when_bad_lines_are_errors(tmp_path, value, field):
    lines = wisdm_run(7, "Walking", 10**12, 5)
    lines[2] = lines[2].replace(lines[2].split(",")[3], value, 1)
    path = write_wisdm(tmp_path / "w.txt", lines)
    with pytest.raises(DataFormatError) as info:
        load_wisdm(path, on_bad_line="error")
    assert_names_location(info, path, line=3, field=field)


def test_wisdm_skips_a_record_with_non_ascii_digits_instead_of_reading_them_as_numbers(tmp_path):
    lines = wisdm_run(7, "Walking", 10**12, 5)
    lines[2] = lines[2].replace(lines[2].split(",")[3], "١٢٣", 1)
    dataset = load_wisdm(write_wisdm(tmp_path / "w.txt", lines))
    assert sum(len(r) for r in dataset.recordings) == 4
    assert any("line 3" in note for note in dataset.notes)


def test_a_csv_field_over_the_csv_module_limit_is_a_typed_error_naming_the_line(tmp_path):
    rows = ["0,0.0,0.0,1.0", "20,0.1,0.0,1.0", f'40,"{"x" * 200_000}",0.0,1.0']
    path = write_file(tmp_path / "me.csv", "t_ms,ax,ay,az\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataFormatError, match="field larger than field limit") as info:
        load_csv(path, columns=CSV_COLUMNS, time_column="t_ms", time_unit="ms")
    assert_names_location(info, path, line=4)


def test_train_on_a_file_with_an_overflowing_value_is_exit_2_and_writes_no_model(tmp_path, capsys):
    path = _csv(tmp_path, "1e39")
    out = tmp_path / "model"
    code = main(
        ["train", "--data", str(path), "--format", "csv", "--time-column", "t_ms", "--out", str(out)]
        + [f"--column={channel}={column}" for channel, column in CSV_COLUMNS.items()]
    )
    assert code == 2 and not out.exists()
    assert "line 5" in capsys.readouterr().err


def test_a_recording_with_infinite_samples_is_refused_naming_its_source():
    samples = np.zeros((4, 3), np.float32)
    samples[2, 1] = np.inf
    with pytest.raises(DataFormatError, match="my.csv: recording of 's1': sample 2 is infinite"):
        Recording(
            "s1", samples, np.arange(4.0), np.zeros(4, np.int32), ("x", "y", "z"), ("a",), 50.0, "my.csv"
        )


def test_the_normalizer_refuses_to_fit_on_or_load_non_finite_statistics(rng):
    from types import SimpleNamespace

    x = rng.normal(size=(5, 10, 3)).astype(np.float32)
    x[1, 2, 0] = np.inf
    with pytest.raises(InputError, match="refusing to normalize"):
        Normalizer.fit(SimpleNamespace(x=x))
    with pytest.raises(InputError, match="be finite"):
        Normalizer.from_dict({"mean": [float("inf"), 0.0], "std": [1.0, float("nan")]})
