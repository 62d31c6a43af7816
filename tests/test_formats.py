"""What every loader shares: missing and empty files, the ``load`` dispatcher, option checks and chunked
reading of large files."""

from __future__ import annotations

import numpy as np
import pytest

from har_edge.data.formats import FORMATS, load, load_pamap2, load_wisdm, text
from har_edge.errors import DataFormatError, InputError
from har_edge.types import ACC_CHANNELS
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
    assert_names_location(exc_info, path)


@pytest.mark.parametrize(("fmt", "options"), FILE_LOADERS.items())
def test_every_file_loader_reports_an_empty_file_by_name(tmp_path, fmt, options):
    path = write_file(tmp_path / "Phones_accelerometer.csv", "")
    with pytest.raises(DataFormatError, match="file is empty") as exc_info:
        load(path, fmt, **options)
    assert_names_location(exc_info, path)


def test_load_dispatches_to_the_loader_of_the_format_with_its_options(tmp_path, rng):
    path = write_uea(tmp_path / "toy.ts", ["1,2,3,4:5,6,7,8:sit"])
    assert set(FORMATS) == {"hapt", "hhar", "wisdm", "pamap2", "uea", "csv"}
    dataset = load(path, "uea", rate_hz=4.0)
    assert dataset.name == "Toy" and dataset.recordings[0].nominal_rate_hz == 4.0
    write_hapt(tmp_path / "hapt", rng)
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
    path = write_wisdm(tmp_path / "w.txt", wisdm_run(1, "Walking", 10**9, 3))
    with pytest.raises(InputError, match=next(iter(options))):
        load_wisdm(path, **options)


def test_large_files_are_read_in_chunks_with_correct_line_numbers(tmp_path, rng, monkeypatch):
    monkeypatch.setattr(text, "CHUNK_LINES", 7)
    table = pamap2_table(rng, n=30)
    path = write_pamap2(tmp_path / "subject101.dat", table)
    path.write_text(path.read_text().replace("\n", "\n\n", 3))  # blank lines shift later line numbers
    recording = load_pamap2(path).recordings[0]
    np.testing.assert_allclose(recording.timestamps_s, table[:, 0], atol=1e-9)
    lines = path.read_text().splitlines(keepends=True)
    lines[25] = "bad " + lines[25]
    path.write_text("".join(lines))
    with pytest.raises(DataFormatError) as exc_info:
        load_pamap2(path)
    assert_names_location(exc_info, path, line=26)
