import json

import pytest

from har_edge.cli import EXIT_BAD_INPUT, EXIT_OK, main


@pytest.mark.parametrize("verb", ["train", "demo"])
def test_help_of_each_verb_shows_an_example_and_exits_0(verb, capsys):
    assert main([verb, "--help"]) == EXIT_OK
    assert f"har-edge {verb} --" in capsys.readouterr().out


def test_top_level_help_lists_the_verbs_with_examples(capsys):
    assert main(["--help"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "train" in out and "demo" in out and "examples:" in out


def test_unknown_verb_is_a_usage_error_with_exit_2(capsys):
    assert main(["fly"]) == EXIT_BAD_INPUT
    assert "invalid choice" in capsys.readouterr().err


def test_a_path_without_format_is_exit_2_naming_the_formats(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == EXIT_BAD_INPUT
    assert "--format is required (hapt, hhar, wisdm, pamap2, uea, csv)" in capsys.readouterr().err


def test_subjects_option_with_real_data_is_refused(tmp_path, capsys):
    argv = [
        "train",
        "--data",
        str(tmp_path),
        "--format",
        "hapt",
        "--subjects",
        "3",
        "--out",
        str(tmp_path / "o"),
    ]
    assert main(argv) == EXIT_BAD_INPUT
    assert "--subjects applies only to synthetic" in capsys.readouterr().err


def test_csv_without_column_mapping_is_refused(tmp_path, capsys):
    argv = ["train", "--data", str(tmp_path / "x.csv"), "--format", "csv", "--out", str(tmp_path / "o")]
    assert main(argv) == EXIT_BAD_INPUT
    assert "--column CHANNEL=COLUMN" in capsys.readouterr().err


def test_an_unknown_augmentation_is_exit_2_naming_the_valid_ones_before_any_output(tmp_path, capsys):
    argv = ["train", "--data", "synthetic", "--augment", "scale+shift", "--out", str(tmp_path / "o")]
    assert main(argv) == EXIT_BAD_INPUT
    assert "unknown shift (expected 'none' or a +-list of scale, rotate, jitter)" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_existing_output_without_overwrite_is_exit_2_and_left_untouched(tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["train", "--data", "synthetic", "--out", str(out)]) == EXIT_BAD_INPUT
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"


@pytest.mark.slow
def test_train_on_synthetic_data_beats_chance_and_writes_model_metrics_and_plot(tmp_path):
    out = tmp_path / "run"
    argv = [
        "train",
        "--data",
        "synthetic",
        "--subjects",
        "8",
        "--epochs",
        "8",
        "--no-progress",
        "--out",
        str(out),
    ]
    assert main(argv) == EXIT_OK
    metrics = json.loads((out / "metrics.json").read_text())
    chance = 1 / len(metrics["class_names"])
    assert metrics["accuracy"] > 4 * chance
    assert metrics["knn_baseline"]["accuracy"] > 2 * chance
    assert metrics["evaluated_on"].startswith("test split")
    assert sum(map(sum, metrics["confusion_matrix"])) == metrics["n_windows"]
    assert (out / "model" / "model.keras").is_file()
    card = json.loads((out / "model" / "card.json").read_text())
    assert card["architecture"] == "dense" and len(card["normalization"]["mean"]) == 3
    assert (out / "confusion.png").read_bytes()[:4] == b"\x89PNG"


def test_format_options_reach_the_loader_with_typed_values(tmp_path, capsys):
    argv = [
        "train",
        "--data",
        str(tmp_path / "none.dat"),
        "--format",
        "pamap2",
        "--format-option",
        "imu=elbow",
    ]
    assert main([*argv, "--out", str(tmp_path / "o")]) == EXIT_BAD_INPUT
    assert "elbow" in capsys.readouterr().err  # the loader itself rejected the value


def test_malformed_format_option_is_exit_2(tmp_path, capsys):
    argv = ["train", "--data", str(tmp_path), "--format", "hhar", "--format-option", "sort_by_time"]
    assert main([*argv, "--out", str(tmp_path / "o")]) == EXIT_BAD_INPUT
    assert "KEY=VALUE" in capsys.readouterr().err


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    argv = [
        "train",
        "--data",
        "synthetic",
        "--subjects",
        "6",
        "--epochs",
        "3",
        "--no-progress",
        "--out",
        str(out),
    ]
    assert main(argv) == EXIT_OK
    return out


@pytest.mark.slow
def test_optimize_writes_a_verified_bundle_that_inspect_reports_as_builtin_only(
    trained_run, tmp_path, capsys
):
    bundle = tmp_path / "bundle"
    argv = ["optimize", str(trained_run / "model"), "--prune", "0.5", "--fine-tune-epochs", "1"]
    assert main([*argv, "--quantize", "int8", "--split-at", "headlayer", "--out", str(bundle)]) == EXIT_OK
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["optimization"]["sparsity_target"] == 0.5
    assert manifest["optimization"]["sparsity_reached"] >= 0.45
    capsys.readouterr()
    assert main(["inspect", str(bundle)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "hashes verified" in out and out.count("builtin ops only: yes") == 3


@pytest.mark.slow
def test_optimize_with_personal_labels_exports_a_new_head(trained_run, tmp_path):
    bundle = tmp_path / "personal"
    argv = [
        "optimize",
        str(trained_run / "model"),
        "--head-labels",
        "walk,sit,stand,lie",
        "--head-hidden",
        "8",
    ]
    assert main([*argv, "--no-mcu", "--out", str(bundle)]) == EXIT_OK
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["class_labels"] == ["walk", "sit", "stand", "lie"] and manifest["head_hidden"] == 8


@pytest.mark.slow
def test_optimize_at_an_unknown_layer_is_exit_2_listing_split_points(trained_run, tmp_path, capsys):
    argv = ["optimize", str(trained_run / "model"), "--split-at", "nope", "--out", str(tmp_path / "b")]
    assert main(argv) == EXIT_BAD_INPUT
    assert "valid: dense32, dense16, headlayer" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("sparsity", ["1.0", "-0.1"])
def test_optimize_with_sparsity_outside_0_1_is_exit_2(trained_run, tmp_path, capsys, sparsity):
    argv = ["optimize", str(trained_run / "model"), "--prune", sparsity, "--out", str(tmp_path / "b")]
    assert main(argv) == EXIT_BAD_INPUT
    assert "sparsity" in capsys.readouterr().err


def test_inspect_of_a_missing_path_is_exit_2(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "none.tflite")]) == EXIT_BAD_INPUT
    assert "no such file" in capsys.readouterr().err


@pytest.mark.slow
def test_optimize_with_qat_after_pruning_keeps_the_pruned_weights_zero(trained_run, tmp_path):
    bundle = tmp_path / "qat"
    argv = ["optimize", str(trained_run / "model"), "--prune", "0.5", "--qat", "--fine-tune-epochs", "5"]
    assert main([*argv, "--no-mcu", "--out", str(bundle)]) == EXIT_OK
    optimization = json.loads((bundle / "manifest.json").read_text())["optimization"]
    assert optimization["qat"] is True
    assert optimization["sparsity_after_qat"] >= 0.45


@pytest.fixture(scope="module")
def personal_bundle(trained_run, tmp_path_factory):
    bundle = tmp_path_factory.mktemp("cli") / "personal"
    argv = ["optimize", str(trained_run / "model"), "--head-labels", "WALKING,SITTING,STANDING,LAYING"]
    assert main([*argv, "--no-mcu", "--out", str(bundle)]) == EXIT_OK
    return bundle


@pytest.mark.slow
def test_predict_writes_one_csv_row_per_window_without_importing_tensorflow(personal_bundle, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "p.csv"
    code = (
        "import sys; from har_edge.cli import main\n"
        f"argv = ['predict', {str(personal_bundle)!r}, 'synthetic', '--subjects', '2']\n"
        f"argv += ['--out', {str(out)!r}]\n"
        "code = main(argv)\n"
        "print(code, 'tensorflow' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "0 False"
    rows = out.read_text().strip().splitlines()
    assert rows[0] == "subject,recording,start_s,predicted,probability,true_label"
    assert len(rows) > 100 and {r.split(",")[3] for r in rows[1:]} <= {
        "WALKING",
        "SITTING",
        "STANDING",
        "LAYING",
    }


@pytest.fixture(scope="module")
def generic_bundle(trained_run, tmp_path_factory):
    bundle = tmp_path_factory.mktemp("cli") / "generic"
    assert main(["optimize", str(trained_run / "model"), "--no-mcu", "--out", str(bundle)]) == EXIT_OK
    return bundle


@pytest.mark.slow
def test_predict_stream_reports_events_of_a_rule(generic_bundle, capsys):
    argv = ["predict", str(generic_bundle), "synthetic", "--subjects", "1", "--stream", "--ema", "0.5"]
    assert main([*argv, "--event", "LAYING,0.5,0.3,2"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "streamed" in out and " enter LAYING" in out


@pytest.mark.slow
def test_predict_on_its_training_data_warns_and_scores_the_held_out_subjects_apart(generic_bundle, capsys):
    # A user saw "accuracy 0.854" on the training data where held-out subjects scored 0.654, unexplained.
    assert main(["predict", str(generic_bundle), "synthetic", "--subjects", "6"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert "predicted windows per class:" in lines[0]
    assert lines[1].startswith("accuracy ") and "windows whose label the bundle knows" in lines[1]
    assert lines[2].startswith("warning: synthetic is the data this bundle was trained on")
    held_out = json.loads((generic_bundle / "manifest.json").read_text())["optimization"]["evaluation"]
    assert lines[3].endswith(
        f"held-out test subjects ({', '.join(held_out['test_subjects'])}), none used in training"
    )
    # Other data (here: another body position) gets no warning.
    assert main(["predict", str(generic_bundle), "synthetic:wrist", "--subjects", "6"]) == EXIT_OK
    assert "warning" not in capsys.readouterr().out


@pytest.mark.slow
def test_personalize_saves_a_checkpoint_that_resume_restores(personal_bundle, tmp_path, capsys):
    checkpoint = tmp_path / "me.ckpt"
    argv = ["personalize", str(personal_bundle), "synthetic:wrist", "--subjects", "1"]
    argv += ["--labels", "WALKING,SITTING,STANDING,LAYING", "--checkpoint", str(checkpoint), "--epochs", "5"]
    assert main(argv) == EXIT_OK
    assert checkpoint.read_bytes().startswith(b"HAR-EDGE-HEAD-CHECKPOINT\n")
    assert main([*argv, "--resume"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.count(f"wrote {checkpoint}") + out.count(f"kept {checkpoint}") == 2  # kept: it scored better


@pytest.mark.slow
def test_personalize_with_a_label_the_data_lacks_is_exit_2_listing_its_classes(
    personal_bundle, tmp_path, capsys
):
    argv = [
        "personalize",
        str(personal_bundle),
        "synthetic",
        "--subjects",
        "1",
        "--labels",
        "WALKING,SITTING,X,Y",
    ]
    assert main([*argv, "--checkpoint", str(tmp_path / "c")]) == EXIT_BAD_INPUT
    assert "no windows labelled ['X', 'Y']" in capsys.readouterr().err


@pytest.mark.slow
def test_bench_on_the_training_data_scores_only_the_held_out_test_subjects(generic_bundle, tmp_path):
    manifest = json.loads((generic_bundle / "manifest.json").read_text())
    test_subjects = manifest["optimization"]["evaluation"]["test_subjects"]
    argv = [
        "bench",
        str(generic_bundle),
        "--data",
        "synthetic",
        "--subjects",
        "6",
        "--no-plots",
        "--no-progress",
    ]
    assert main([*argv, "--out", str(tmp_path / "r")]) == EXIT_OK
    (row,) = json.loads((tmp_path / "r" / "report.json").read_text())["results"]
    assert "the held-out test subjects of synthetic (none used in training)" in row["notes"][0]
    assert 0 < len(test_subjects) < 6
