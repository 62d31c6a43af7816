"""What the verbs share: exit codes, the parser that returns instead of exiting, the verb record, the data
and training arguments and their translation into loader options and configs."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from har_edge.cli.argtypes import non_negative_int, positive_int, positive_number, seed
from har_edge.errors import InputError

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2
VERBOSE_FLAGS = ("-v", "--verbose")
VERBOSE_HELP = "show TensorFlow's and LiteRT's native log lines (hidden by default)"


@dataclass(frozen=True)
class Verb:
    """One ``har-edge`` verb: its name, one-line help, examples (the end of its ``--help``), the
    function that adds its arguments and the handler that runs it (returns the exit code)."""

    name: str
    help: str
    example: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]

    def add_to(self, verbs) -> None:
        parser = verbs.add_parser(
            self.name, help=self.help, formatter_class=HelpFormatter, epilog=self.example
        )
        self.add_arguments(parser)
        parser.add_argument(*VERBOSE_FLAGS, action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Examples as written, and every option's default after its help (unless it has none or says it)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or action.default in (None, False, [], argparse.SUPPRESS)
            or not action.option_strings
        ):
            return text
        return f"{text} (default %(default)s)".lstrip()


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so ``main`` returns the code."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message}")


class UsageError(Exception):
    pass


FORMAT_CHOICES = ("hapt", "hhar", "wisdm", "pamap2", "uea", "csv")


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument(
        "--data", default="synthetic", help="synthetic[:position[:device]] or a path (default synthetic)"
    )
    group.add_argument("--format", choices=FORMAT_CHOICES, help="the format of a --data path")
    group.add_argument("--subjects", type=positive_int, help="synthetic: number of subjects (default 30)")
    group.add_argument(
        "--channels",
        help="acc, acc+gyro, all, or a comma list (default: acc when the data has acc_x/y/z, else all)",
    )
    group.add_argument(
        "--rate",
        type=positive_number,
        help="resample to this rate in Hz (default 50; uea: the file's rate, see --source-rate)",
    )
    group.add_argument(
        "--window", type=positive_int, help="window length in samples (default 200; uea: one window per case)"
    )
    group.add_argument(
        "--hop", type=positive_int, help="hop between windows in samples (default 100; uea: one per case)"
    )
    group.add_argument(
        "--train-hop",
        type=positive_int,
        help="hop between training windows (default a quarter of --hop: more shifted examples; "
        "validation and test windows keep --hop)",
    )
    group.add_argument(
        "--labeling", default="majority", choices=("majority", "strict"), help="how a window gets its label"
    )
    add_loader_arguments(group)


def add_runtime_data_arguments(parser: argparse.ArgumentParser) -> None:
    """BUNDLE and DATA positionals plus the loader options; window geometry comes from the manifest."""
    parser.add_argument("bundle", type=Path, help="a bundle folder or .zip")
    parser.add_argument("data", help="synthetic[:position[:device]] or a path")
    parser.add_argument("--format", choices=FORMAT_CHOICES, help="the format of a DATA path")
    parser.add_argument("--subjects", type=positive_int, help="synthetic: number of subjects (default 30)")
    add_loader_arguments(parser)


def add_loader_arguments(group) -> None:
    group.add_argument(
        "--source-rate",
        type=positive_number,
        metavar="HZ",
        help="the data's own sampling rate: csv without --time-column (required there), uea (default 1 Hz)",
    )
    group.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="CHANNEL=COLUMN",
        help="csv: map a channel to a file column (repeat)",
    )
    group.add_argument("--label-column", help="csv: the label column")
    group.add_argument("--subject-column", help="csv: the subject column")
    group.add_argument("--time-column", help="csv: the time column (seconds, or see time_unit)")
    group.add_argument(
        "--format-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a loader option, e.g. imu=chest (pamap2), acc_unit=mg (csv), channels=a,b,c (uea); repeat",
    )


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training")
    group.add_argument("--epochs", type=positive_int, default=30, help="at most this many epochs")
    group.add_argument("--batch-size", type=positive_int, default=64, help="windows per step")
    group.add_argument("--learning-rate", type=positive_number, default=1e-3, help="Adam's learning rate")
    group.add_argument(
        "--patience",
        type=non_negative_int,
        default=10,
        help="early stopping: epochs without a better validation score (--monitor)",
    )
    group.add_argument(
        "--min-steps",
        type=non_negative_int,
        default=10,
        help="optimizer steps per epoch at least (a small training set is passed over several times)",
    )
    group.add_argument(
        "--class-weighting",
        choices=("sqrt", "balanced", "none"),
        default="none",
        help="when classes are imbalanced (largest/smallest > 2): weigh by 1/sqrt(windows), 1/windows or "
        "not; on real HAPT, weighting cost 2-3 points of accuracy and macro-F1",
    )
    group.add_argument(
        "--monitor",
        choices=("val_accuracy", "val_loss"),
        default="val_accuracy",
        help="what early stopping watches and keeps the best epoch of",
    )
    group.add_argument(
        "--schedule", choices=("cosine", "constant"), default="cosine", help="learning-rate schedule"
    )
    group.add_argument(
        "--clip-norm",
        type=positive_number,
        help="clip each weight's gradient to this norm (on real HAPT the lstm trains with 1.0 at "
        "--learning-rate 0.003)",
    )
    group.add_argument(
        "--augment",
        default="none",
        help="training-window augmentation: none or a +-list of scale, rotate, jitter (on real HAPT it "
        "did not help dense or cnn)",
    )
    group.add_argument("--seed", type=seed, default=0, help="seed of the split, the weights and the shuffle")
    group.add_argument("--no-progress", action="store_true", help="no progress bar")


def refuse_existing(path: Path, overwrite: bool, inputs: tuple[Path, ...] = ()) -> None:
    """Fail before any work is done when the output exists and --overwrite is not given, or when it is
    one of ``inputs`` or a folder holding one (replacing it would delete the input)."""
    from har_edge.fsutil import refuse_replacing_inputs

    refuse_replacing_inputs(path, inputs)
    if path.exists() and not overwrite:
        from har_edge.errors import OutputExistsError

        raise OutputExistsError(path)


def label_list(text: str, option: str) -> tuple[str, ...]:
    labels = tuple(label.strip() for label in text.split(",") if label.strip())
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise InputError(f"{option} {text!r}: need at least 2 distinct labels")
    return labels


def load_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.subjects is not None:
        if not args.data.startswith("synthetic"):
            raise InputError("--subjects applies only to synthetic data")
        options["subjects"] = args.subjects
    if args.format == "csv":
        columns = {}
        for item in args.column:
            channel, sep, column = item.partition("=")
            if not sep or not channel or not column:
                raise InputError(f"--column {item!r}: expected CHANNEL=COLUMN, e.g. acc_x=ax")
            columns[channel] = column
        if not columns:
            raise InputError("--format csv needs at least one --column CHANNEL=COLUMN")
        options.update(columns=columns, label_column=args.label_column, subject_column=args.subject_column)
        if args.time_column:
            options["time_column"] = args.time_column
        elif args.source_rate is None:
            raise InputError("--format csv without --time-column needs --source-rate HZ (the file's rate)")
    elif args.column or args.label_column or args.subject_column or args.time_column:
        raise InputError("--column, --label-column, --subject-column and --time-column apply to --format csv")
    if args.source_rate is not None:
        if args.format not in ("csv", "uea"):
            raise InputError(
                "--source-rate applies to --format csv and uea (the other formats know their rate)"
            )
        options["rate_hz"] = args.source_rate
    for item in args.format_option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--format-option {item!r}: expected KEY=VALUE, e.g. imu=chest")
        options[key] = option_value(value)
    return options


def option_value(text: str) -> Any:
    """'true'/'false' -> bool, numbers -> int/float, 'a,b,c' -> a list, anything else stays a string."""
    if "," in text:
        return [part.strip() for part in text.split(",")]
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def _channels(spec: str | None) -> tuple[str, ...] | None | str:
    from har_edge.data.plan import parse_channels

    return "default" if spec is None else parse_channels(spec)


@dataclass(frozen=True)
class WindowRequest:
    """The window options as given (None: not given); ``for_dataset`` fills in the data set's defaults."""

    rate_hz: float | None = None
    window: int | None = None
    hop: int | None = None
    labeling: str = "majority"
    channels: str | None = None
    train_hop: int | None = None

    def for_dataset(self, dataset):
        from har_edge.data.plan import window_config_for

        return window_config_for(
            dataset,
            rate_hz=self.rate_hz,
            window=self.window,
            hop=self.hop,
            labeling=self.labeling,
            channels=_channels(self.channels),
            train_hop=self.train_hop,
        )


def window_config(args: argparse.Namespace) -> WindowRequest:
    return WindowRequest(args.rate, args.window, args.hop, args.labeling, args.channels, args.train_hop)


def train_config(args: argparse.Namespace):
    from har_edge.train import TrainConfig

    return TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        patience=args.patience,
        seed=args.seed,
        min_steps_per_epoch=args.min_steps,
        class_weighting=args.class_weighting,
        schedule=args.schedule,
        monitor=args.monitor,
        augment=args.augment,
        clipnorm=args.clip_norm,
    )


def runtime_dataset(args: argparse.Namespace):
    return load_noted(args.data, args.format, load_options(args))


def load_noted(spec: str, fmt: str | None, options: dict[str, Any]):
    """``load_dataset`` that prints the loader's notes (assumed rates, repairs, skipped lines) on stderr."""
    import sys

    from har_edge.data import load_dataset

    dataset = load_dataset(spec, fmt, **options)
    for note in dataset.notes:
        print(f"note: {note}", file=sys.stderr)
    return dataset


def manifest_windows(dataset, manifest, *, keep_unlabelled: bool = False):
    """Windows at the bundle's rate, length, hop and channels."""
    from har_edge.data.windows import WindowConfig, make_windows

    config = WindowConfig(
        rate_hz=manifest.rate_hz, window=manifest.window, hop=manifest.hop, channels=manifest.channels
    )
    return make_windows(dataset, config, keep_unlabelled=keep_unlabelled)[0]


BUNDLE_ZIP_FILES = frozenset({"manifest.json", "base.tflite", "base_mcu.tflite", "head.tflite"})
MAX_ZIP_MEMBER_BYTES = 256 << 20  # one bundle file, uncompressed
MAX_ZIP_BYTES = 512 << 20  # all of them


@contextmanager
def bundle_folder(path: Path) -> Iterator[Path]:
    """``path`` itself when it is a folder; a bundle ``.zip`` (``optimize --zip``) unpacked into a
    temporary folder for the block. The zip holds the bundle's own file names, flat or all in one
    folder (never two folders' files mixed), each at most ``MAX_ZIP_MEMBER_BYTES`` and together at
    most ``MAX_ZIP_BYTES`` uncompressed, checked before and while inflating."""
    import tempfile
    import zipfile

    if not (path.is_file() and zipfile.is_zipfile(path)):
        yield path
        return
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{path}: unreadable zip ({exc})") from exc
    with archive, tempfile.TemporaryDirectory(prefix="har-edge-bundle-") as folder:
        members = _bundle_members(path, archive.infolist())
        for name, info in members.items():
            (Path(folder) / name).write_bytes(_bounded_member(path, archive, info))
        yield Path(folder)


def _bundle_members(path: Path, infos) -> dict:
    files = [info for info in infos if not info.filename.endswith("/")]
    folders = {PurePosixPath(info.filename).parent for info in files}
    names = [PurePosixPath(info.filename).name for info in files]
    unknown = sorted(
        info.filename for info, name in zip(files, names, strict=True) if name not in BUNDLE_ZIP_FILES
    )
    if unknown or "manifest.json" not in names or len(folders) != 1 or len(set(names)) != len(names):
        raise InputError(
            f"{path}: not a bundle zip (expected {', '.join(sorted(BUNDLE_ZIP_FILES))}, flat or in one "
            f"folder; found {sorted(info.filename for info in files)})"
        )
    if len(next(iter(folders)).parts) > 1 or ".." in next(iter(folders)).parts:
        raise InputError(f"{path}: bundle files nested in {next(iter(folders))}; expected at most one folder")
    declared = sum(info.file_size for info in files)
    if declared > MAX_ZIP_BYTES or any(info.file_size > MAX_ZIP_MEMBER_BYTES for info in files):
        raise InputError(
            f"{path}: inflates to {declared:,} bytes; the limit is {MAX_ZIP_MEMBER_BYTES:,} per file and "
            f"{MAX_ZIP_BYTES:,} in all"
        )
    return dict(zip(names, files, strict=True))


def _bounded_member(path: Path, archive, info) -> bytes:
    """The member's bytes, never more than its declared size (a lying header is refused, not followed)."""
    import zipfile

    try:
        with archive.open(info) as member:
            data = member.read(info.file_size + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise InputError(f"{path}: member {info.filename} is unreadable ({exc})") from exc
    if len(data) != info.file_size:
        raise InputError(f"{path}: member {info.filename} inflates to more or less than its declared size")
    return data


def open_classifier(bundle: Path, checkpoint: Path | None = None):
    """A ``Classifier`` of ``bundle``, with the personalized head of ``checkpoint`` (its labels) if given."""
    from har_edge.runtime.classifier import Classifier
    from har_edge.runtime.personalize import apply_checkpoint

    classifier = Classifier(bundle)
    return apply_checkpoint(classifier, checkpoint) if checkpoint is not None else classifier
