"""The UEA/UCR .ts loader, on small files the tests write."""

from __future__ import annotations

import numpy as np
import pytest

from har_edge.data.formats import load_uea
from har_edge.errors import DataFormatError, InputError
from har_edge.types import UNLABELLED
from tests.format_files import assert_names_location, write_file, write_uea


def test_uea_each_case_becomes_a_recording_labelled_with_its_class(tmp_path):
    path = write_uea(tmp_path / "toy.ts", ["1,2,3,4:5,6,7,8:sit", "0.5,0.5,0.5,0.5:1e1,2,3,4:run"])
    dataset = load_uea(path)
    assert dataset.name == "Toy" and dataset.class_names == ("walk", "sit", "run")
    assert dataset.channels == ("dim0", "dim1")
    first, second = dataset.recordings
    assert (first.subject, second.subject) == ("case0", "case1")
    np.testing.assert_allclose(first.samples, [[1, 5], [2, 6], [3, 7], [4, 8]])
    assert set(first.labels) == {1} and set(second.labels) == {2} and second.samples[0, 1] == 10.0


def test_uea_question_mark_is_nan(tmp_path):
    recording = load_uea(write_uea(tmp_path / "toy.ts", ["1,?,3,4:5,6,?,8:walk"])).recordings[0]
    assert np.isnan(recording.samples[1, 0]) and np.isnan(recording.samples[2, 1])
    assert np.isfinite(recording.samples[[0, 3]]).all()


def test_uea_defaults_to_1_hz_and_notes_the_assumption(tmp_path):
    path = write_uea(tmp_path / "toy.ts", ["1,2,3,4:5,6,7,8:sit"])
    assumed = load_uea(path)
    np.testing.assert_allclose(assumed.recordings[0].timestamps_s, [0, 1, 2, 3])
    assert assumed.recordings[0].nominal_rate_hz == 1.0 and any("assumed 1.0 Hz" in n for n in assumed.notes)
    given = load_uea(path, rate_hz=50.0)
    np.testing.assert_allclose(given.recordings[0].timestamps_s, [0, 0.02, 0.04, 0.06])
    assert not any("assumed" in note for note in given.notes)


def test_uea_uses_channel_names_given_by_the_caller(tmp_path):
    path = write_uea(tmp_path / "toy.ts", ["1,2,3,4:5,6,7,8:sit"])
    assert load_uea(path, channels=("acc_x", "acc_y")).channels == ("acc_x", "acc_y")
    with pytest.raises(InputError, match="need 2 distinct names, one per dimension"):
        load_uea(path, channels=("acc_x",))


def test_uea_wrong_number_of_dimensions_names_the_line(tmp_path):
    path = write_uea(tmp_path / "toy.ts", ["1,2,3,4:5,6,7,8:sit", "1,2,3,4:sit"])
    with pytest.raises(DataFormatError, match="expected 2 dimensions and a class label") as exc_info:
        load_uea(path)
    assert_names_location(exc_info, path, line=12)


def test_uea_unknown_class_label_names_line_and_value(tmp_path):
    path = write_uea(tmp_path / "toy.ts", ["1,2,3,4:5,6,7,8:jump"])
    with pytest.raises(DataFormatError, match="unknown class label 'jump'") as exc_info:
        load_uea(path)
    assert_names_location(exc_info, path, line=11, field="class label")


def test_uea_non_numeric_value_names_line_and_dimension(tmp_path):
    path = write_uea(tmp_path / "toy.ts", ["1,2,3,4:5,x6,7,8:sit"])
    with pytest.raises(DataFormatError, match="'x6' is not a number") as exc_info:
        load_uea(path)
    assert_names_location(exc_info, path, line=11, field="dim1")


def test_uea_series_shorter_than_series_length_names_the_dimension(tmp_path):
    path = write_uea(tmp_path / "toy.ts", ["1,2,3,4:5,6,7:sit"])
    with pytest.raises(DataFormatError, match="3 values") as exc_info:
        load_uea(path)
    assert_names_location(exc_info, path, line=11, field="dim1")


def test_uea_unlabelled_univariate_file_infers_one_dimension(tmp_path):
    header = "@problemName Plain\n@univariate true\n@classLabel false\n@data\n"
    dataset = load_uea(write_uea(tmp_path / "plain.ts", ["1,2,3", "4,5"], header=header))
    assert dataset.channels == ("dim0",) and dataset.class_names == ()
    assert [len(r) for r in dataset.recordings] == [3, 2]
    assert all((r.labels == UNLABELLED).all() for r in dataset.recordings)


def test_uea_file_without_data_section_or_with_timestamps_is_an_error(tmp_path):
    path = write_file(tmp_path / "nodata.ts", "@problemName Toy\n@dimensions 2\n")
    with pytest.raises(DataFormatError, match="no @data line") as exc_info:
        load_uea(path)
    assert_names_location(exc_info, path)
    path = write_uea(
        tmp_path / "stamped.ts", ["1:sit"], header="@timeStamps true\n@classLabel true sit\n@data\n"
    )
    with pytest.raises(DataFormatError, match="@timeStamps true is not supported") as exc_info:
        load_uea(path)
    assert_names_location(exc_info, path, line=1)


def test_uea_repeated_class_labels_are_refused_naming_them(tmp_path):
    from tests.format_files import UEA_HEADER

    header = UEA_HEADER.replace("@classLabel true walk sit run", "@classLabel true walk sit walk")
    path = write_uea(tmp_path / "toy.ts", ["1,2,3,4:5,6,7,8:sit"], header)
    with pytest.raises(DataFormatError, match=r"@classLabel repeats \['walk'\]"):
        load_uea(path)
