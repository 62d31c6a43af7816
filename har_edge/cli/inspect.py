"""``har-edge inspect``: ops, shapes, signatures and sizes of a .tflite file or a bundle."""

from __future__ import annotations

import argparse
from pathlib import Path

from har_edge.cli.common import EXIT_OK, Verb, bundle_folder
from har_edge.errors import InputError

INSPECT_EXAMPLE = """examples:
  har-edge inspect runs/bundle
  har-edge inspect runs/bundle/base.tflite
  har-edge inspect runs/bundle.zip
"""


def run_inspect(args: argparse.Namespace) -> int:
    with bundle_folder(args.path) as path:
        return _inspect(args, path)


def _inspect(args: argparse.Namespace, path: Path) -> int:
    from har_edge.codegen.checks import check_model
    from har_edge.fsutil import read_bounded
    from har_edge.runtime.bundle import MCU_BASE_FILE, open_bundle
    from har_edge.tflite_info import inspect_tflite, render
    from har_edge.tflite_verify import MAX_FILE_BYTES

    if path.is_dir():
        bundle = open_bundle(path)
        if MCU_BASE_FILE in bundle.files:  # what firmware and bench would build: checked like they check it
            check_model(bundle.files[MCU_BASE_FILE], f"{args.path}/{MCU_BASE_FILE}")
        manifest = bundle.manifest
        print(
            f"bundle {args.path}: {manifest.architecture} split at {manifest.split_layer!r}, "
            f"base {manifest.base_precision}, labels {', '.join(manifest.class_labels)}; hashes verified"
        )
        reports = [(name, data) for name, data in sorted(bundle.files.items())]
    elif args.path.is_file():
        reports = [(str(args.path), read_bounded(args.path, MAX_FILE_BYTES, ".tflite model"))]
    else:
        raise InputError(f"{args.path}: no such file or bundle folder")
    for name, data in reports:
        print(render(inspect_tflite(data, name), name))
    return EXIT_OK


def add_inspect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="a .tflite file, a bundle folder or a bundle .zip")


VERB = Verb(
    "inspect",
    "ops, shapes, signatures, sizes and op support of a .tflite file or a bundle",
    INSPECT_EXAMPLE,
    add_inspect_arguments,
    run_inspect,
)
