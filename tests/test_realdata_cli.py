"""Issue 13 as a user meets it on the command line: a UEA pair, an HHAR file as recorded, then the
deployment loop (optimize -> predict/stream -> personalize -> bench) on that real-format data."""

from __future__ import annotations

import contextlib
import csv
import io
import json

import pytest

from har_edge.cli import EXIT_BAD_INPUT, EXIT_OK, main
from har_edge.types import ACC_CHANNELS
from tests.realdata_files import UEA_CLASSES, UEA_LENGTH, write_hhar_shuffled, write_uea_pair

LABELS = ",".join(UEA_CLASSES)


def run(argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)`` with its stdout and stderr (module fixtures cannot use capsys)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def uea(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uea")
    train, test = write_uea_pair(folder)
    # The first command, as written (plus --no-progress for the log).
    result = run(
        ["train", "--format", "uea", "--data", str(train), "--test-data", str(test)]
        + ["--out", str(folder / "run"), "--no-progress"]
    )
    return folder, train, test, result


@pytest.fixture(scope="module")
def uea_bundle(uea):
    folder, *_ = uea
    result = run(["optimize", str(folder / "run" / "model"), "--no-mcu", "--out", str(folder / "b"), "--zip"])
    return folder / "b", result


@pytest.fixture(scope="module")
def personal_uea_bundle(uea):
    folder, *_ = uea
    argv = ["optimize", str(folder / "run" / "model"), "--head-labels", LABELS, "--no-mcu"]
    result = run([*argv, "--out", str(folder / "personal")])
    return folder / "personal", result


@pytest.mark.slow
def test_uea_first_command_trains_on_one_window_per_case_and_tests_on_the_test_file(uea):
    folder, train, test, (code, out, err) = uea
    assert code == EXIT_OK
    metrics = json.loads((folder / "run" / "metrics.json").read_text())
    assert metrics["n_windows"] == 20 and metrics["evaluated_on"] == str(test)
    assert metrics["split_sizes"] == {"train": 32, "val": 8, "test": 0}  # nothing held out for testing
    assert metrics["split_grouping"] == "case"
    card = json.loads((folder / "run" / "model" / "card.json").read_text())
    assert (card["window"], card["rate_hz"], len(card["channels"])) == (UEA_LENGTH, 1.0, 6)
    assert "split by case, stratified by class" in out
    assert "assumed 1.0 Hz (set it with --source-rate)" in err  # the loader's notes reach the terminal
    assert metrics["accuracy"] > 0.5  # four classes: chance is 0.25


@pytest.mark.slow
def test_uea_channels_named_on_the_command_line_can_be_selected(uea, tmp_path):
    _, train, _, _ = uea
    names = "acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z"
    argv = ["train", "--format", "uea", "--data", str(train), "--format-option", f"channels={names}"]
    code, _, _ = run(
        [*argv, "--channels", "acc", "--epochs", "1", "--no-progress", "--out", str(tmp_path / "r")]
    )
    assert code == EXIT_OK
    assert tuple(json.loads((tmp_path / "r" / "model" / "card.json").read_text())["channels"]) == ACC_CHANNELS


@pytest.mark.slow
def test_hhar_file_as_recorded_trains_with_default_options_and_prints_what_was_repaired(tmp_path):
    path = tmp_path / "Phones_accelerometer.csv"
    write_hhar_shuffled(path)
    argv = ["train", "--format", "hhar", "--data", str(path), "--epochs", "1", "--no-progress"]
    code, out, err = run([*argv, "--out", str(tmp_path / "r")])
    assert code == EXIT_OK
    assert "rows were out of time order within their device" in err and "repeating a device's" in err
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["split_grouping"] == "subject" and any(
        "out of time order" in n for n in metrics["dataset_notes"]
    )


def test_unknown_format_option_is_exit_2_listing_the_valid_keys(tmp_path):
    argv = ["train", "--format", "hhar", "--data", str(tmp_path / "Phones_accelerometer.csv")]
    code, _, err = run([*argv, "--format-option", "sort=true", "--out", str(tmp_path / "r")])
    assert code == EXIT_BAD_INPUT and "its options: rate_hz, sort_by_time" in err


def test_csv_without_time_column_needs_the_source_rate(tmp_path):
    argv = ["train", "--format", "csv", "--data", str(tmp_path / "x.csv"), "--column", "acc_x=ax"]
    code, _, err = run([*argv, "--out", str(tmp_path / "r")])
    assert code == EXIT_BAD_INPUT and "--source-rate HZ" in err


@pytest.mark.slow
def test_optimize_prints_the_accuracy_of_the_bundle_it_built(uea_bundle):
    _, (code, out, _) = uea_bundle
    assert code == EXIT_OK
    assert "bundle accuracy 0." in out and "20 labelled windows of the separate test data" in out


@pytest.mark.slow
def test_optimize_with_a_new_head_warns_that_it_is_untrained(personal_uea_bundle):
    _, (code, out, _) = personal_uea_bundle
    assert code == EXIT_OK and "is untrained" in out and "bundle accuracy" not in out


def _read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_predict_stream_out_writes_every_window_and_event_from_a_bundle_zip(uea, uea_bundle, tmp_path):
    _, _, test, _ = uea
    bundle, _ = uea_bundle
    out = tmp_path / "stream.csv"
    argv = [
        "predict",
        f"{bundle}.zip",
        str(test),
        "--format",
        "uea",
        "--stream",
        "--event",
        "LAYING,0.4,0.2,1",
    ]
    code, printed, _ = run([*argv, "--out", str(out)])
    assert code == EXIT_OK
    rows = _read_csv(out)
    kinds = [row["kind"] for row in rows]
    assert kinds.count("window") == 20 and set(kinds) <= {"window", "enter", "exit"}
    assert f"streamed 20 windows from 20 recordings, {len(rows) - 20} events" in printed


@pytest.mark.parametrize("flag", [["--ema", "0.5"], ["--event", "LAYING,0.8,0.6,3"]])
def test_smoothing_or_events_without_stream_are_exit_2(flag, tmp_path):
    code, _, err = run(["predict", str(tmp_path), "synthetic", *flag])
    assert code == EXIT_BAD_INPUT and "apply to --stream" in err


@pytest.mark.slow
def test_personalize_keeps_a_better_checkpoint_and_predict_and_bench_use_it(
    uea, personal_uea_bundle, tmp_path
):
    _, train, test, _ = uea
    bundle, _ = personal_uea_bundle
    checkpoint = tmp_path / "me.ckpt"
    argv = ["personalize", str(bundle), str(train), "--format", "uea", "--labels", LABELS]
    code, out, _ = run([*argv, "--checkpoint", str(checkpoint), "--epochs", "60"])
    assert code == EXIT_OK and f"wrote {checkpoint}" in out
    good = checkpoint.read_bytes()
    # A re-run that learns nothing (the untrained head again) must not replace it silently ...
    weak = [*argv, "--checkpoint", str(checkpoint), "--epochs", "1", "--learning-rate", "1e-9"]
    code, out, _ = run(weak)
    assert code == EXIT_OK and f"kept {checkpoint}" in out and checkpoint.read_bytes() == good
    # ... unless asked to.
    assert run([*weak, "--overwrite"])[0] == EXIT_OK and checkpoint.read_bytes() != good
    checkpoint.write_bytes(good)
    code, out, _ = run(
        ["predict", str(bundle), str(test), "--format", "uea", "--checkpoint", str(checkpoint)]
    )
    assert code == EXIT_OK and "on the 20 windows whose label the bundle knows" in out
    report = tmp_path / "bench"
    argv = ["bench", str(bundle), "--data", str(test), "--format", "uea", "--checkpoint", str(checkpoint)]
    assert run([*argv, "--no-plots", "--no-progress", "--out", str(report)])[0] == EXIT_OK
    (row,) = json.loads((report / "report.json").read_text())["results"]
    assert row["variant"].endswith("+personalized") and row["accuracy"] > 0.5
    assert "accuracy on 20 windows" in row["notes"][0]
