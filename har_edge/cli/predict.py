"""``har-edge predict``: classify recordings with a bundle (TF-free), offline or streamed with events."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from har_edge.cli.argtypes import smoothing_factor
from har_edge.cli.common import (
    EXIT_OK,
    Verb,
    add_runtime_data_arguments,
    bundle_folder,
    manifest_windows,
    open_classifier,
    refuse_existing,
    runtime_dataset,
)
from har_edge.errors import InputError

PREDICT_EXAMPLE = """examples:
  har-edge predict demo-out/bundle synthetic:waist
  har-edge predict demo-out/bundle.zip synthetic:wrist --checkpoint me.ckpt
  har-edge predict demo-out/bundle recording.csv --format csv --column acc_x=ax --column acc_y=ay \\
      --column acc_z=az --source-rate 50 --out predictions.csv
  har-edge predict demo-out/bundle synthetic --stream --ema 0.5 --event WALKING,0.8,0.6,3 --out stream.csv
"""


def run_predict(args: argparse.Namespace) -> int:
    if not args.stream and (args.ema is not None or args.event):
        raise InputError(
            "--ema and --event apply to --stream (offline prediction has no smoothing or events)"
        )
    if args.out is not None:
        inputs = [
            Path(p)
            for p in (args.bundle, args.data, args.checkpoint)
            if p and not str(p).startswith("synthetic")
        ]
        refuse_existing(args.out, args.overwrite, tuple(inputs))
    with bundle_folder(args.bundle) as folder:
        return _predict(args, open_classifier(folder, args.checkpoint))


def _predict(args: argparse.Namespace, classifier) -> int:
    dataset = runtime_dataset(args)
    if args.stream:
        return _predict_stream(args, classifier, dataset)
    windows = manifest_windows(dataset, classifier.manifest, keep_unlabelled=True)
    probabilities = classifier.predict_proba(windows.x)
    predicted = np.asarray(classifier.labels)[probabilities.argmax(axis=1)]
    truth = np.array([windows.class_names[k] if k >= 0 else "" for k in windows.y])
    known = np.isin(truth, classifier.labels)
    counts = {label: int(np.sum(predicted == label)) for label in classifier.labels}
    print(
        f"{len(windows)} windows from {len(dataset.recordings)} recordings; predicted windows per class: "
        + ", ".join(f"{label} {n}" for label, n in counts.items() if n)
    )
    if known.any():
        for line in _accuracy_lines(args, classifier.manifest, windows.subject, known, predicted == truth):
            print(line)
    if args.out is not None:
        _write_predictions(args.out, windows, predicted, probabilities.max(axis=1), truth)
        print(f"wrote {args.out}")
    return EXIT_OK


def _accuracy_lines(
    args, manifest, subjects: np.ndarray, known: np.ndarray, correct: np.ndarray
) -> list[str]:
    """The accuracy, on which windows, and whether they include the bundle's training data (then also
    the accuracy on its held-out test subjects alone, when the bundle records them)."""
    from har_edge.cli.common import load_options
    from har_edge.runtime.provenance import same_options, same_source

    accuracy = float(np.mean(correct[known]))
    lines = [f"accuracy {accuracy:.3f} on the {int(known.sum()):,} windows whose label the bundle knows"]
    record = manifest.optimization.get("evaluation") or {}
    if not record:
        lines.append(
            "note: the bundle does not record its training data; if it was trained on this data, these "
            "windows include its training windows and the figure is optimistic"
        )
        return lines
    if not same_source(record, args.data, args.format):
        return lines
    lines.append(
        f"warning: {args.data} is the data this bundle was trained on: these windows include its training "
        "windows, so the figure is optimistic"
    )
    test_subjects = record.get("test_subjects")
    held = known & np.isin(subjects, test_subjects or [])
    if test_subjects and same_options(record, load_options(args), _loader_defaults(args.data)) and held.any():
        held_accuracy = float(np.mean(correct[held]))
        lines.append(
            f"accuracy {held_accuracy:.3f} on the {int(held.sum()):,} windows of its held-out test "
            f"subjects ({', '.join(map(str, test_subjects))}), none used in training"
        )
    else:
        lines.append("(the held-out part cannot be told apart here: other loader options or no subject list)")
    return lines


def _loader_defaults(spec: str) -> dict:
    """The synthetic generator's defaults (an option given or not is the same data); none for files."""
    import dataclasses

    from har_edge.data import SYNTHETIC

    if spec != SYNTHETIC and not spec.startswith(SYNTHETIC + ":"):
        return {}
    from har_edge.data.synthetic import SyntheticConfig

    return {
        f.name: f.default for f in dataclasses.fields(SyntheticConfig) if f.default is not dataclasses.MISSING
    }


def _predict_stream(args: argparse.Namespace, classifier, dataset) -> int:
    """Feed each recording one second at a time, as a device would, and print events."""
    from har_edge.runtime.stream import EventRule, ExponentialAverage, StreamingClassifier

    manifest = classifier.manifest
    rules = [_event_rule(text, EventRule) for text in args.event]
    smoothing = ExponentialAverage(args.ema) if args.ema is not None else None
    chunk = max(1, round(manifest.rate_hz))
    channels = [dataset.channels.index(c) for c in manifest.channels if c in dataset.channels]
    if len(channels) != len(manifest.channels):
        raise InputError(
            f"{args.data}: needs channels {list(manifest.channels)}, has {list(dataset.channels)}"
        )
    rows: list[list[object]] = []
    for recording in dataset.recordings:
        if abs(recording.nominal_rate_hz - manifest.rate_hz) > 1e-6:
            raise InputError(
                f"{recording.source}: recorded at {recording.nominal_rate_hz} Hz; streaming needs the "
                f"bundle's {manifest.rate_hz} Hz (predict without --stream resamples)"
            )
        stream = StreamingClassifier(classifier, smoothing=smoothing, events=rules)
        samples = recording.samples[:, channels]
        for start in range(0, len(samples), chunk):
            update = stream.feed(samples[start : start + chunk])
            for window in update.predictions:
                end_s = window.end_sample / manifest.rate_hz
                probability = float(window.smoothed[list(classifier.labels).index(window.label)])
                rows.append(["window", recording.subject, f"{end_s:.2f}", window.label, f"{probability:.4f}"])
            for event in update.events:
                seconds = event.end_sample / manifest.rate_hz
                rows.append(
                    [event.kind, recording.subject, f"{seconds:.2f}", event.label, f"{event.probability:.4f}"]
                )
                print(
                    f"subject {recording.subject} t={seconds:8.1f}s {event.kind:>5} {event.label} "
                    f"(p={event.probability:.2f})"
                )
    n_windows = sum(row[0] == "window" for row in rows)
    print(
        f"streamed {n_windows} windows from {len(dataset.recordings)} recordings, "
        f"{len(rows) - n_windows} events"
    )
    if args.out is not None:
        _write_csv(args.out, ["kind", "subject", "end_s", "label", "probability"], rows)
        print(f"wrote {args.out} (one row per window, kind 'window', and per event, kind 'enter'/'exit')")
    return EXIT_OK


def _event_rule(text: str, rule_type):
    parts = text.split(",")
    try:
        label, enter, exit_, k = parts
        return rule_type(
            label=label, enter_probability=float(enter), exit_probability=float(exit_), windows=int(k)
        )
    except ValueError as exc:
        raise InputError(f"--event {text!r}: expected LABEL,ENTER,EXIT,K e.g. WALKING,0.8,0.6,3") from exc


def _write_predictions(path: Path, windows, predicted, confidence, truth) -> None:
    rows = [
        [
            windows.subject[i],
            windows.recording[i],
            f"{windows.start[i] / windows.rate_hz:.2f}",
            predicted[i],
            f"{confidence[i]:.4f}",
            truth[i],
        ]
        for i in range(len(windows))
    ]
    _write_csv(path, ["subject", "recording", "start_s", "predicted", "probability", "true_label"], rows)


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    import csv
    import io

    from har_edge.fsutil import atomic_write_text

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([[_inert(cell) for cell in row] for row in rows])
    atomic_write_text(path, buffer.getvalue())


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _inert(cell: object) -> object:
    """A text cell that a spreadsheet would run as a formula (``=HYPERLINK(...)``, ``@``, ``+``, ``-``,
    from a data or manifest label or a subject id) gets a leading ``'``; numbers stay numbers."""
    if not isinstance(cell, str) or not cell.startswith(_FORMULA_START):
        return cell
    try:
        float(cell)
    except ValueError:
        return "'" + cell
    return cell


def add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    add_runtime_data_arguments(parser)
    parser.add_argument("--stream", action="store_true", help="feed samples one second at a time")
    parser.add_argument(
        "--ema", type=smoothing_factor, metavar="ALPHA", help="stream: EMA smoothing factor in (0, 1]"
    )
    parser.add_argument(
        "--event",
        action="append",
        default=[],
        metavar="LABEL,ENTER,EXIT,K",
        help="stream: event when P(LABEL) > ENTER for K windows (ends below EXIT); repeat",
    )
    parser.add_argument(
        "--checkpoint", type=Path, help="use the personalized head (and labels) of this checkpoint"
    )
    parser.add_argument(
        "--out", type=Path, help="write one CSV row per window (with --stream: and per event)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")


VERB = Verb(
    "predict",
    "classify recordings with a bundle (TF-free), offline or as a stream with events",
    PREDICT_EXAMPLE,
    add_predict_arguments,
    run_predict,
)
