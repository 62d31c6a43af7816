"""What the verbs share: exit codes, the parser that returns instead of exiting, the verb record, the data
and training arguments and their translation into loader options and configs."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from har_edge.cli.argtypes import non_negative_int, positive_int, positive_number, seed
from har_edge.errors import InputError
from har_edge.types import ACC_CHANNELS, GYRO_CHANNELS

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2


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
            self.name,
            help=self.help,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            epilog=self.example,
        )
        self.add_arguments(parser)


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so ``main`` returns the code."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message}")


class UsageError(Exception):
    pass


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--data", default="synthetic", help="synthetic[:position[:device]] or a path")
    group.add_argument("--format", choices=("hapt", "hhar", "wisdm", "pamap2", "uea", "csv"))
    group.add_argument("--subjects", type=positive_int, help="synthetic: number of subjects")
    group.add_argument("--channels", default="acc", help="acc, acc+gyro, all, or a comma list (default acc)")
    group.add_argument(
        "--rate", type=positive_number, default=50.0, help="resample to this rate in Hz (default 50)"
    )
    group.add_argument(
        "--window", type=positive_int, default=200, help="window length in samples (default 200)"
    )
    group.add_argument(
        "--hop", type=positive_int, default=100, help="hop between windows in samples (default 100)"
    )
    group.add_argument("--labeling", default="majority", choices=("majority", "strict"))
    group.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="CHANNEL=COLUMN",
        help="csv: map a channel to a file column (repeat)",
    )
    group.add_argument("--label-column", help="csv: the label column")
    group.add_argument("--subject-column", help="csv: the subject column")
    group.add_argument("--time-column", help="csv: the time column (seconds)")
    group.add_argument(
        "--format-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a loader option, e.g. imu=chest (pamap2) or sort_by_time=true (hhar); repeat",
    )


def add_runtime_data_arguments(parser: argparse.ArgumentParser) -> None:
    """BUNDLE and DATA positionals plus the loader options; window geometry comes from the manifest."""
    parser.add_argument("bundle", type=Path, help="a bundle folder")
    parser.add_argument("data", help="synthetic[:position[:device]] or a path")
    parser.add_argument("--format", choices=("hapt", "hhar", "wisdm", "pamap2", "uea", "csv"))
    parser.add_argument("--subjects", type=positive_int, help="synthetic: number of subjects")
    parser.add_argument(
        "--rate", type=positive_number, default=50.0, help="csv without a time column: the rate in Hz"
    )
    parser.add_argument("--column", action="append", default=[], metavar="CHANNEL=COLUMN")
    parser.add_argument("--label-column")
    parser.add_argument("--subject-column")
    parser.add_argument("--time-column")
    parser.add_argument("--format-option", action="append", default=[], metavar="KEY=VALUE")


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training")
    group.add_argument("--epochs", type=positive_int, default=30)
    group.add_argument("--batch-size", type=positive_int, default=64)
    group.add_argument("--learning-rate", type=positive_number, default=1e-3)
    group.add_argument(
        "--patience", type=non_negative_int, default=5, help="early-stopping patience in epochs"
    )
    group.add_argument("--seed", type=seed, default=0)
    group.add_argument("--no-progress", action="store_true", help="no progress bar")


def refuse_existing(path: Path, overwrite: bool) -> None:
    """Fail before any work is done when the output exists and --overwrite is not given."""
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
        else:
            options["rate_hz"] = args.rate
    elif args.column or args.label_column or args.subject_column or args.time_column:
        raise InputError("--column, --label-column, --subject-column and --time-column apply to --format csv")
    for item in args.format_option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--format-option {item!r}: expected KEY=VALUE, e.g. imu=chest")
        options[key] = _option_value(value)
    return options


def _option_value(text: str) -> Any:
    """'true'/'false' -> bool, numbers -> int/float, anything else stays a string."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def _channels(spec: str) -> tuple[str, ...] | None:
    named = {"acc": ACC_CHANNELS, "acc+gyro": ACC_CHANNELS + GYRO_CHANNELS, "all": None}
    if spec in named:
        return named[spec]
    return tuple(c.strip() for c in spec.split(",") if c.strip())


def window_config(args: argparse.Namespace):
    from har_edge.data.windows import WindowConfig

    return WindowConfig(
        rate_hz=args.rate,
        window=args.window,
        hop=args.hop,
        labeling=args.labeling,
        channels=_channels(args.channels),
    )


def train_config(args: argparse.Namespace):
    from har_edge.train import TrainConfig

    return TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        patience=args.patience,
        seed=args.seed,
    )


def runtime_dataset(args: argparse.Namespace):
    from har_edge.data import load_dataset

    return load_dataset(args.data, args.format, **load_options(args))


def manifest_windows(dataset, manifest, *, keep_unlabelled: bool = False):
    """Windows at the bundle's rate, length, hop and channels."""
    from har_edge.data.windows import WindowConfig, make_windows

    config = WindowConfig(
        rate_hz=manifest.rate_hz, window=manifest.window, hop=manifest.hop, channels=manifest.channels
    )
    return make_windows(dataset, config, keep_unlabelled=keep_unlabelled)[0]
