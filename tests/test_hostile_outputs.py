"""What a hostile data set can put into the outputs: class labels that matplotlib would parse as math
(``$\\frac{$`` ended a whole training run at its last step) are drawn literally."""

from __future__ import annotations

import numpy as np

from har_edge.metrics import classification_metrics, plot_confusion


def test_a_confusion_plot_draws_mathtext_labels_literally(tmp_path):
    names = ("$\\frac{$", "a$b", "plain")
    rng = np.random.default_rng(0)
    truth, predicted = rng.integers(0, 3, 60), rng.integers(0, 3, 60)
    path = plot_confusion(classification_metrics(truth, predicted, names), tmp_path / "c.png", title="$x^{$")
    assert path.read_bytes().startswith(b"\x89PNG")


def test_predict_out_neutralizes_formulas_and_the_terminal_gets_no_escape_sequences(tmp_path, capsys):
    import csv

    from har_edge.cli import main
    from tests.hostile_support import golden_copy, manifest_of, write_manifest

    bundle = golden_copy(tmp_path)
    manifest = manifest_of(bundle)
    hostile = [
        '=HYPERLINK("http://x","y")',
        "@SUM(1)",
        "+1+cmd|' /C calc'!A0",
        "\x1b]0;owned\x07\x1b[31mLAYING",
    ]
    manifest["class_labels"] = hostile
    write_manifest(bundle, manifest)
    out = tmp_path / "p.csv"
    argv = ["predict", str(bundle), "synthetic:wrist:smartwatch", "--subjects", "1", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and "\x07" not in printed and "\\x1b]0;owned" in printed
    predicted = [row["predicted"] for row in csv.DictReader(out.open())]
    assert predicted and all(cell[0] not in "=+-@" for cell in predicted)
    assert {cell.lstrip("'") for cell in predicted} <= set(hostile)


def test_a_negative_number_in_a_csv_stays_a_number():
    from har_edge.cli.predict import _inert

    assert (_inert("-1.5"), _inert("-cmd"), _inert(3), _inert("walk")) == ("-1.5", "'-cmd", 3, "walk")


def test_staging_folders_of_killed_writers_are_removed_by_the_next_write_and_live_ones_kept(tmp_path):
    import os
    import subprocess
    import sys

    from har_edge.fsutil import atomic_directory

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = tmp_path / f".report.{int(dead.stdout)}.abc123.tmp"  # a bench killed with -9 left it
    live = tmp_path / f".report.{os.getpid()}.def456.tmp"  # a write still running in this process
    stale.mkdir()
    live.mkdir()
    with atomic_directory(tmp_path / "report") as staging:
        (staging / "report.json").write_text("{}")
    assert not stale.exists() and live.is_dir() and (tmp_path / "report" / "report.json").is_file()


def test_predict_out_never_overwrites_the_data_it_reads(tmp_path, capsys):
    from har_edge.cli import main
    from tests.hostile_support import GOLDEN

    data = tmp_path / "mine.csv"
    data.write_text("t,ax,ay,az\n0,0,0,1\n")
    argv = ["predict", str(GOLDEN), str(data), "--format", "csv", "--out", str(data), "--overwrite"]
    assert main(argv) == 2 and "delete the input" in capsys.readouterr().err
    assert data.read_text() == "t,ax,ay,az\n0,0,0,1\n"
