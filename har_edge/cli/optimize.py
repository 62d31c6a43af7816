"""``har-edge optimize``: prune, quantize and split a trained model into a bundle."""

from __future__ import annotations

import argparse
from pathlib import Path

from har_edge.cli.argtypes import non_negative_int, positive_int, seed, sparsity
from har_edge.cli.common import EXIT_OK, Verb, label_list, refuse_existing
from har_edge.errors import InputError
from har_edge.optimize.structure import STRUCTURES

OPTIMIZE_EXAMPLE = """examples:
  har-edge optimize runs/dense/model --prune 0.5 --quantize int8 --split-at headlayer --out runs/bundle
  har-edge optimize runs/dense/model --prune 0.75 --structure block --fine-tune-epochs 12 --out runs/mcu
  har-edge optimize runs/dense/model --quantize int8 --head-labels walk,sit,stand,lie --out runs/personal
  har-edge optimize runs/dense/model --head-classes 3 --out runs/three
  har-edge optimize runs/cnn/model --qat --quantize int8 --split-at pool --out runs/cnn-bundle --zip
"""


def run_optimize(args: argparse.Namespace) -> int:
    from har_edge.export import bundle_request, export_bundle
    from har_edge.optimize.pipeline import OptimizeOptions, load_for_optimize, optimize_model
    from har_edge.optimize.quantize import Precision
    from har_edge.tflite_info import inspect_tflite, render

    refuse_existing(args.out, args.overwrite, (args.model,))
    if args.zip:  # the bundle's zip goes next to it: an unrelated file there is not replaced silently
        refuse_existing(args.out.with_suffix(".zip"), args.overwrite, (args.model,))
    options = OptimizeOptions(
        sparsity=args.prune,
        schedule=args.schedule,
        structure=args.structure,
        precision=Precision(args.quantize),
        qat=args.qat,
        split_at=args.split_at,
        head_labels=_head_labels(args),
        head_hidden=args.head_hidden,
        fine_tune_epochs=args.fine_tune_epochs,
        mcu_variant=not args.no_mcu,
        seed=args.seed,
    )
    model, card, splits = load_for_optimize(args.model)
    optimized = optimize_model(model, card, splits, options, progress=True)
    bundle = export_bundle(
        bundle_request(optimized, card, splits, options), args.out, overwrite=args.overwrite, zip_too=args.zip
    )
    for name, data in bundle.files.items():
        print(render(inspect_tflite(data, name), name))
    print(f"wrote {args.out}/ ({', '.join(sorted(bundle.files))}, manifest.json)")
    if options.head_labels:
        labels = ",".join(options.head_labels)
        print(
            f"warning: the new head ({labels}) is untrained: its predictions mean nothing until it is "
            f"personalized, e.g. har-edge personalize {args.out} DATA --labels {labels} "
            "--checkpoint me.ckpt, "
            f"then har-edge predict {args.out} DATA --checkpoint me.ckpt"
        )
    else:
        print(_bundle_accuracy(args.out, card, splits))
    return EXIT_OK


def _bundle_accuracy(bundle: Path, card, splits) -> str:
    """The exported bundle's accuracy on the test windows the model was evaluated on, in words."""
    import numpy as np

    from har_edge.bench.variants import test_windows_description
    from har_edge.data.splits import Normalizer
    from har_edge.runtime.classifier import Classifier

    test = splits.test
    if len(test) == 0:
        return "accuracy: not measured (no test windows)"
    normalizer = Normalizer.from_dict(card.normalization)
    raw = (test.x * np.asarray(normalizer.std) + np.asarray(normalizer.mean)).astype(np.float32)
    predicted = Classifier(bundle).predict(raw)
    accuracy = float(np.mean(np.asarray(predicted) == np.asarray(test.class_names)[test.y]))
    return f"bundle accuracy {accuracy:.3f} on {test_windows_description(card, splits)}"


def _head_labels(args: argparse.Namespace) -> tuple[str, ...] | None:
    if args.head_labels:
        return label_list(args.head_labels, "--head-labels")
    if args.head_classes is not None:
        if args.head_classes < 2:
            raise InputError(f"--head-classes {args.head_classes}: need at least 2")
        return tuple(f"class{i}" for i in range(args.head_classes))
    return None


def add_optimize_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="a model folder written by 'har-edge train'")
    parser.add_argument("--prune", type=sparsity, default=0.0, metavar="SPARSITY", help="target in [0, 1)")
    parser.add_argument(
        "--schedule", choices=("constant", "polynomial"), default="polynomial", help="pruning schedule"
    )
    parser.add_argument(
        "--structure",
        choices=STRUCTURES,
        default="unstructured",
        help="what pruning removes: single weights (default), 4x4 blocks the MCU kernels skip (block), "
        "2:4 patterns (m:n), or whole units/channels, shrinking the model (unit)",
    )
    parser.add_argument(
        "--quantize", choices=("float32", "float16", "dynamic", "int8"), default="int8", help="base precision"
    )
    parser.add_argument("--qat", action="store_true", help="quantization-aware fine-tuning first")
    parser.add_argument("--split-at", metavar="LAYER", help="default: the model's last split point")
    heads = parser.add_mutually_exclusive_group()
    heads.add_argument(
        "--head-classes",
        type=positive_int,
        metavar="N",
        help="a new, untrained head with N classes named class0..classN-1 (personalize names them)",
    )
    heads.add_argument("--head-labels", metavar="A,B,C", help="a new, untrained head with these class labels")
    parser.add_argument("--head-hidden", type=positive_int, metavar="H", help="new head: dense(H)-relu-dense")
    parser.add_argument(
        "--fine-tune-epochs", type=non_negative_int, default=6, help="pruning/QAT fine-tune epochs"
    )
    parser.add_argument("--no-mcu", action="store_true", help="skip the batch-1 int8 base for MCUs")
    parser.add_argument(
        "--seed", type=seed, default=0, help="seed of fine-tuning, calibration and a new head"
    )
    parser.add_argument("--out", required=True, type=Path, help="bundle folder")
    parser.add_argument("--zip", action="store_true", help="also write BUNDLE.zip")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing bundle")


VERB = Verb(
    "optimize",
    "prune, quantize and split a trained model into a deployable bundle",
    OPTIMIZE_EXAMPLE,
    add_optimize_arguments,
    run_optimize,
)
