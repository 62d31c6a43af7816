"""Transfer with real domains, as users tried it: a domain of one or two subjects (split by activity
occurrence in time), errors that name the domain, per-domain options on the command line, and a UEA
target whose assumed 1 Hz rate is printed with the windows per case it made."""

from __future__ import annotations

import numpy as np
import pytest

from har_edge.cli import EXIT_BAD_INPUT, EXIT_OK, main
from har_edge.cli.transfer import domain
from har_edge.data.synthetic import SyntheticConfig, generate
from har_edge.data.windows import WindowConfig, make_windows
from har_edge.errors import InputError
from har_edge.transfer.grid import DataSettings, Domain, Pair, make_study
from har_edge.transfer.protocol import LabelMapping, load_splits, split_domain
from har_edge.transfer.run import prepare_pair
from har_edge.types import ACC_CHANNELS, GYRO_CHANNELS
from tests.format_files import write_file
from tests.realdata_files import write_uea_cases

CLASSES = ("WALKING", "SITTING", "STANDING")
HHAR_NAMES = {"WALKING": "walk", "SITTING": "sit", "STANDING": "stand"}
HHAR_MAPPING = LabelMapping(tuple(HHAR_NAMES.items()))
SIX = ",".join(ACC_CHANNELS + GYRO_CHANNELS)
STUDY = make_study(
    data=DataSettings(subjects=3, source_subjects=3, seconds_per_activity=8, classes=CLASSES), model=["dense"]
)


def write_watch_user(path, users=("a",), *, occurrences: int = 8, seconds: float = 8.0, seed: int = 0):
    """A ``Watch_accelerometer.csv``: each user walks, sits and stands in turn, ``occurrences`` times
    each for ``seconds``, at ~100 Hz (10 ms ± 0.5 ms); the activity shows in the signal."""
    rng = np.random.default_rng(seed)
    lines, t_ns = [], 1_424_696_633_908_000_000
    for user in users:
        for k in range(occurrences * len(CLASSES)):
            name = HHAR_NAMES[CLASSES[k % len(CLASSES)]]
            n = int(seconds * 100)
            steps = np.round(rng.normal(10.0, 0.5, n) * 1e6).astype(np.int64)
            level = 3.0 * CLASSES.index(CLASSES[k % len(CLASSES)])
            xyz = rng.normal(level, 1.0, (n, 3))
            for step, (x, y, z) in zip(steps, xyz, strict=True):
                t_ns += int(step)
                lines.append(
                    f"{len(lines)},{t_ns // 10**6},{t_ns},{x:.4f},{y:.4f},{z:.4f},{user},gear,gear_1,{name}\n"
                )
        t_ns += 60 * 10**9
    return write_file(path, "Index,Arrival_Time,Creation_Time,x,y,z,User,Model,Device,gt\n" + "".join(lines))


def write_basic_motions(path, *, per_class: int = 8):
    """A .ts file shaped like UEA BasicMotions: cases of 100 samples at 10 Hz (the file does not say
    so), 6 unnamed dimensions (accelerometer, gyroscope), one class label per case."""
    dataset = generate(SyntheticConfig(subjects=2, seconds_per_activity=50, classes=CLASSES, seed=3))
    windows, _ = make_windows(dataset, WindowConfig(rate_hz=10.0, window=100, hop=100))
    cases = [i for c in range(len(CLASSES)) for i in np.flatnonzero(windows.y == c)[:per_class]]
    return write_uea_cases(path, windows, cases)


@pytest.mark.parametrize("users", [("a",), ("a", "b")])
def test_a_domain_of_one_or_two_subjects_is_split_by_activity_occurrence_not_refused(tmp_path, users):
    watch = write_watch_user(tmp_path / "Watch_accelerometer.csv", users)
    pair = Pair(Domain("synthetic:waist"), Domain(str(watch), "hhar"), HHAR_MAPPING)
    info = prepare_pair(pair, STUDY, tmp_path / "cache")  # was: "needs at least 3 subjects, got 1"
    target = info["target_splits"]
    assert target["grouping"] == "occurrence" and info["source_splits"]["grouping"] == "subject"
    assert all(
        target[part]["subjects"] == list(users) and target[part]["windows"] > 0
        for part in ("train", "val", "test")
    )
    stored = load_splits(info["data"], "target")
    assert len(stored.train) == target["train"]["windows"] and stored.train.x.shape[1:] == (100, 3)


def test_the_occurrence_split_shares_no_occurrence_and_no_overlapping_window_between_splits(tmp_path):
    from har_edge.data.formats import load_hhar

    watch = write_watch_user(tmp_path / "Watch_accelerometer.csv")
    windows, _ = make_windows(load_hhar(watch), STUDY_WINDOWS)
    splits = split_domain(windows, (0.4, 0.1, 0.5), seed=0)
    parts = (splits.train, splits.val, splits.test)
    occurrences = [set(zip(p.recording.tolist(), p.occurrence.tolist(), strict=True)) for p in parts]
    assert all(not (occurrences[i] & occurrences[j]) for i, j in ((0, 1), (0, 2), (1, 2)))
    spans = [(int(s), int(s) + windows.window, k) for k, p in enumerate(parts) for s in p.start]
    assert not any(a0 < b1 and b0 < a1 and ka != kb for a0, a1, ka in spans for b0, b1, kb in spans)
    assert {len(set(p.y.tolist())) for p in parts} == {3}  # every class in every split


STUDY_WINDOWS = WindowConfig(rate_hz=25.0, window=100, hop=50, channels=ACC_CHANNELS)


def test_a_domain_too_small_to_split_is_named_with_its_role_and_path(tmp_path):
    # 8 s per activity: too few windows for any class to spare one for validation or test (a longer
    # single occurrence is cut in time into blocks, and then it splits)
    watch = write_watch_user(tmp_path / "Watch_accelerometer.csv", occurrences=1, seconds=8)
    pair = Pair(Domain("synthetic:waist"), Domain(str(watch), "hhar"), HHAR_MAPPING)
    with pytest.raises(InputError, match="occurrences per class: stand 1, sit 1, walk 1") as exc_info:
        prepare_pair(pair, STUDY, tmp_path / "cache")
    assert str(exc_info.value).startswith(f"target domain {watch} (hhar): 1 subject(s)")


def test_a_source_domain_error_names_the_source(tmp_path):
    pair = Pair(Domain("synthetic:waist", channels="gyro_x,gyro_y,gyro_z"), Domain("synthetic:wrist"))
    with pytest.raises(InputError, match=r"^source domain synthetic:waist: channels \['gyro_x'"):
        prepare_pair(pair, STUDY, tmp_path / "cache")


def test_an_assumed_uea_rate_is_noted_with_the_windows_per_case_it_made(tmp_path):
    ts = write_basic_motions(tmp_path / "Motions_TRAIN.ts")
    names = (("channels", tuple(SIX.split(","))),)
    assumed = prepare_pair(
        Pair(Domain("synthetic:waist"), Domain(str(ts), "uea", names)), STUDY, tmp_path / "c"
    )
    notes = "\n".join(assumed["notes"])
    assert "assumed 1.0 Hz" in notes  # the loader's own note, now printed by transfer too
    assert (
        f"target domain {ts} (uea): 24 cases at 1 Hz (assumed: the file states no rate; set it with " in notes
    )
    assert "--target-option source_rate=HZ) made 48 windows per case of 100 samples at 25 Hz" in notes
    given = Domain(str(ts), "uea", (*names, ("rate_hz", 10.0)))
    info = prepare_pair(Pair(Domain("synthetic:waist"), given), STUDY, tmp_path / "c")
    assert any("24 cases at 10 Hz (given) made 3 windows per case" in note for note in info["notes"])


def test_windows_of_another_channel_count_are_refused_and_same_counts_pair_by_position(tmp_path):
    ts = write_basic_motions(tmp_path / "Motions_TRAIN.ts")
    all_six = Domain(str(ts), "uea", (("rate_hz", 10.0),), channels="all")
    with pytest.raises(InputError, match="the source windows have 3 channels .* the target 6"):
        prepare_pair(Pair(Domain("synthetic:waist"), all_six), STUDY, tmp_path / "c")
    first_three = Domain(str(ts), "uea", (("rate_hz", 10.0),), channels="dim0,dim1,dim2")
    info = prepare_pair(Pair(Domain("synthetic:waist"), first_three), STUDY, tmp_path / "c")
    assert any("pair by position: acc_x=dim0, acc_y=dim1, acc_z=dim2" in note for note in info["notes"])


def test_domain_options_set_format_channels_rate_and_loader_options():
    made = domain(
        "x.ts",
        None,
        ["format=uea", "channels=acc+gyro", "source_rate=10", f"format.channels={SIX}", "max_gap_s=0.5"],
        "--target-option",
    )
    assert (made.format, made.channels) == ("uea", "acc+gyro")
    assert dict(made.options) == {"rate_hz": 10.0, "channels": tuple(SIX.split(",")), "max_gap_s": 0.5}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("channels", "expected KEY=VALUE"),
        ("format=xls", "expected one of hapt, hhar"),
        ("format=uea", "and the format given before \\(hapt\\)"),
        ("source_rate=fast", "source_rate=fast: expected a positive number of Hz"),
        ("source_rate=-1", "expected a positive number of Hz"),
    ],
)
def test_bad_domain_options_say_what_was_expected(item, message):
    with pytest.raises(InputError, match=message):
        domain("x", "hapt", [item], "--source-option")


def test_the_cli_runs_a_uea_target_at_the_rate_given_per_domain_and_prints_the_notes(tmp_path, capsys):
    ts = write_basic_motions(tmp_path / "Motions_TRAIN.ts")
    study = write_file(
        tmp_path / "small.toml",
        "[study]\nsubjects = 3\nsource_subjects = 3\nseconds_per_activity = 8\n"
        'classes = ["WALKING", "SITTING", "STANDING"]\n',
    )
    argv = ["transfer", "--study", str(study), "--source", "synthetic:waist", "--target", str(ts)]
    argv += ["--target-option", "format=uea", "--target-option", "source_rate=10"]
    argv += ["--target-option", f"format.channels={SIX}", "--model", "dense", "--k", "0", "--size", "all"]
    argv += ["--strategy", "freeze", "--seed", "0", "--epochs", "1", "--engine", "serial"]
    argv += ["--no-plots", "--no-progress"]  # k = 0 only: the baseline, no source model to train
    assert main([*argv, "--out", str(tmp_path / "out")]) == EXIT_OK
    err = capsys.readouterr().err
    assert f"note: target domain {ts} (uea): 24 cases at 10 Hz (given) made 3 windows per case" in err
    assert main([*argv[:7], "--target-option", "channels", "--out", str(tmp_path / "bad")]) == EXIT_BAD_INPUT
    assert "--target-option 'channels': expected KEY=VALUE" in capsys.readouterr().err


def test_per_domain_options_need_a_pair_on_the_command_line(tmp_path, capsys):
    assert main(["transfer", "--target-option", "source_rate=10", "--out", str(tmp_path)]) == EXIT_BAD_INPUT
    assert "--target-option need --source and --target" in capsys.readouterr().err
