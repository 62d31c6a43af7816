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
    manifest_windows,
    refuse_existing,
    runtime_dataset,
)
from har_edge.errors import InputError

PREDICT_EXAMPLE = """examples:
  har-edge predict demo-out/bundle synthetic:waist
  har-edge predict demo-out/bundle recording.csv --format csv --column acc_x=ax --column acc_y=ay \\
      --column acc_z=az --rate 50 --out predictions.csv
  har-edge predict demo-out/bundle synthetic --stream --ema 0.5 --event WALKING,0.8,0.6,3
"""


def run_predict(args: argparse.Namespace) -> int:
    from har_edge.runtime.classifier import Classifier

    if args.out is not None:
        refuse_existing(args.out, args.overwrite)
    classifier = Classifier(args.bundle)
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
        f"{len(windows)} windows from {len(dataset.recordings)} recordings: "
        + ", ".join(f"{label} {n}" for label, n in counts.items() if n)
    )
    if known.any():
        accuracy = float(np.mean(predicted[known] == truth[known]))
        print(f"accuracy on {int(known.sum())} windows whose label the bundle knows: {accuracy:.3f}")
    if args.out is not None:
        _write_predictions(args.out, windows, predicted, probabilities.max(axis=1), truth)
        print(f"wrote {args.out}")
    return EXIT_OK


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
    windows = 0
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
            windows += len(update.predictions)
            for event in update.events:
                seconds = event.end_sample / manifest.rate_hz
                print(
                    f"subject {recording.subject} t={seconds:8.1f}s {event.kind:>5} {event.label} "
                    f"(p={event.probability:.2f})"
                )
    print(f"streamed {windows} windows from {len(dataset.recordings)} recordings")
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
    import csv
    import io

    from har_edge.fsutil import atomic_write_text

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["subject", "recording", "start_s", "predicted", "probability", "true_label"])
    for i in range(len(windows)):
        start_s = windows.start[i] / windows.rate_hz
        writer.writerow(
            [
                windows.subject[i],
                windows.recording[i],
                f"{start_s:.2f}",
                predicted[i],
                f"{confidence[i]:.4f}",
                truth[i],
            ]
        )
    atomic_write_text(path, buffer.getvalue())


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
    parser.add_argument("--out", type=Path, help="write one CSV row per window")
    parser.add_argument("--overwrite", action="store_true")


VERB = Verb(
    "predict",
    "classify recordings with a bundle (TF-free), offline or as a stream with events",
    PREDICT_EXAMPLE,
    add_predict_arguments,
    run_predict,
)
