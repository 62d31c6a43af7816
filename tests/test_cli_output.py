"""Output a person can read (issue 13, part 3): version, help, quiet native logs, Ctrl-C, closed pipes,
file modes, and help examples that parse as written."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from har_edge import __version__
from har_edge.cli import EXIT_INTERRUPTED, EXIT_OK, VERBS, build_parser, main
from har_edge.fsutil import atomic_directory, atomic_write_text, current_umask
from har_edge.nativelog import filtered_stderr

ROOT = Path(__file__).resolve().parents[1]


def _har_edge(*argv: str, **options) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "har_edge", *argv], env=env, capture_output=True, **options)


def test_version_prints_the_package_version(capsys):
    assert main(["--version"]) == EXIT_OK
    assert capsys.readouterr().out.strip() == f"har-edge {__version__}"


def test_help_shows_the_defaults_of_options_that_have_one(capsys):
    assert main(["train", "--help"]) == EXIT_OK
    text = " ".join(capsys.readouterr().out.split())
    assert "(default 30)" in text and "architecture (default dense)" in text and "(default majority)" in text
    assert "(default None)" not in text and "(default False)" not in text


def test_rate_means_only_the_resampling_rate_and_source_rate_the_datas_own(capsys):
    assert main(["predict", "--help"]) == EXIT_OK
    predict_help = capsys.readouterr().out
    assert "--source-rate" in predict_help and "--rate " not in predict_help


def test_native_log_lines_are_dropped_and_everything_else_passes(capfd):
    with filtered_stderr():
        os.write(2, b"I0000 00:00:1796157223.696619    5164 cudart_stub.cc:31] Could not find cuda drivers\n")
        os.write(2, b"INFO: ")  # LiteRT writes its prefix apart
        os.write(2, b"Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"fully_quantize: 0, inference_type: 6, input_inference_type: INT8\n")
        os.write(2, b"error: a real problem\n")
        os.write(2, b"\rtraining:  10%|# | 3/30")  # a progress bar's partial line
    assert capfd.readouterr().err == "error: a real problem\n\rtraining:  10%|# | 3/30"


def test_verbose_keeps_native_log_lines(capfd):
    with filtered_stderr(enabled=False):
        os.write(2, b"fully_quantize: 0\n")
    assert capfd.readouterr().err == "fully_quantize: 0\n"


def test_ctrl_c_during_a_verb_is_exit_130_with_one_line_and_no_output_left(monkeypatch, tmp_path, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("har_edge.cli.train.train_model", interrupted, raising=False)
    monkeypatch.setattr("har_edge.train.train_model", interrupted)
    argv = ["train", "--subjects", "3", "--epochs", "1", "--no-progress", "--out", str(tmp_path / "r")]
    assert main(argv) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "interrupted\n"
    assert list(tmp_path.iterdir()) == []


def test_closed_pipe_is_silent():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "har_edge", "inspect", str(ROOT / "tests" / "golden" / "dense_int8")]
    child = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()  # the reader is gone before the report is written, as with `| head -0`
    assert child.stderr.read() == b""
    assert child.wait() == 141


def test_written_files_and_folders_respect_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_directory(tmp_path / "out") as staging:
            atomic_write_text(staging / "metrics.json", "{}")
        assert current_umask() == 0o022
    finally:
        os.umask(old)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "out" / "metrics.json").stat().st_mode & 0o777 == 0o644


def _examples() -> list[tuple[str, list[str]]]:
    examples = []
    for verb in VERBS:
        joined = verb.example.replace("\\\n", " ")
        examples += [
            (verb.name, shlex.split(line)[1:])
            for line in joined.splitlines()
            if line.strip().startswith("har-edge ")
        ]
    return examples


@pytest.mark.parametrize(
    ("verb", "argv"), _examples(), ids=lambda v: v if isinstance(v, str) else " ".join(v)
)
def test_every_help_example_parses_as_written(verb, argv):
    args = build_parser().parse_args([os.path.expanduser(a) for a in argv])
    assert args.verb == argv[0]


def test_readme_verb_table_is_one_table():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("| verb | what it does |") :]
    table = section[: section.index("\n\n")].splitlines()
    verbs = {re.match(r"\| `(\w+)", row)[1] for row in table[2:]}
    assert verbs == {verb.name for verb in VERBS}


@pytest.mark.slow
def test_optimize_is_quiet_by_default_and_shows_native_logs_with_v(tmp_path):
    run = tmp_path / "run"
    train = _har_edge("train", "--subjects", "3", "--epochs", "1", "--no-progress", "--out", str(run))
    assert train.returncode == 0, train.stderr
    quiet = _har_edge("optimize", str(run / "model"), "--no-mcu", "--out", str(tmp_path / "b"))
    assert quiet.returncode == 0
    noise = re.compile(rb"cudart|absl|oneDNN|fully_quantize:|XNNPACK")
    assert not noise.search(quiet.stderr + train.stderr), (quiet.stderr + train.stderr).decode()
    loud = _har_edge("-v", "optimize", str(run / "model"), "--no-mcu", "--out", str(tmp_path / "b2"))
    assert loud.returncode == 0 and b"fully_quantize:" in loud.stderr


def _metrics(accuracy: float, knn: float, epochs_run: int) -> dict:
    return {
        "model": "dense",
        "evaluated_on": "test split (subject-disjoint)",
        "n_windows": 100,
        "accuracy": accuracy,
        "macro_f1": accuracy,
        "knn_baseline": {"accuracy": knn, "macro_f1": knn},
        "monitor": "val_accuracy",
        "best_epoch": 2,
        "epochs_run": epochs_run,
        "model_summary": {"params": 10, "macs": 20},
    }


def test_summary_announces_early_stopping_and_says_plainly_when_knn_wins(capsys, tmp_path):
    from har_edge.cli.train import print_summary

    print_summary(_metrics(0.68, 0.80, epochs_run=8), tmp_path, epochs=30)
    out = capsys.readouterr().out
    assert (
        "early stopping: validation accuracy stopped improving after epoch 3; stopped at epoch 8 of 30" in out
    )
    assert "does not beat the kNN baseline" in out
    print_summary(_metrics(0.90, 0.80, epochs_run=30), tmp_path, epochs=30)
    out = capsys.readouterr().out
    assert "early stopping" not in out and "kNN baseline" in out and "does not beat" not in out


def test_confusion_title_carries_accuracy_and_names_classes_without_test_windows():
    import numpy as np

    from har_edge.metrics import classification_metrics, confusion_title

    metrics = classification_metrics(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), ("walk", "sit", "run"))
    assert confusion_title(metrics, "dense on X") == (
        "dense on X\naccuracy 0.750, macro-F1 "
        + f"{metrics.macro_f1:.3f} on 4 windows\nno test windows of: run"
    )
