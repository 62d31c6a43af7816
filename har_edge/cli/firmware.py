"""``har-edge firmware``: an int8 model (a ``.tflite`` or a bundle's ``base_mcu.tflite``) as a
self-contained C project for a board, optionally built, run and verified byte for byte against LiteRT's
reference kernels (the generation, build, run and measurement are ``har_edge.firmware.flow``'s).

Exit codes: 0 ok (and, with ``--verify``, every output byte matched), 1 a byte differed (the cross-check's
text is printed), 2 bad input, an unsupported model, or a missing toolchain (naming the Debian packages).
``--verify N`` feeds N seeded random inputs (``--seed``) of the model's input type, which cover the whole
input range (``codegen.verify.random_inputs``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from har_edge.cli.argtypes import positive_int, seed
from har_edge.cli.common import (
    EXIT_CHECK_FAILED,
    EXIT_OK,
    FORMAT_CHOICES,
    Verb,
    add_loader_arguments,
    bundle_folder,
    load_noted,
    load_options,
    manifest_windows,
)
from har_edge.errors import InputError
from har_edge.fsutil import read_bounded
from har_edge.runtime.bundle import MANIFEST_FILE, MCU_BASE_FILE

FIRMWARE_EXAMPLE = """examples:
  har-edge firmware demo-out/bundle --name har --out fw
  har-edge firmware demo-out/bundle --board host --out fw-host --verify 1000
  har-edge firmware model_int8.tflite --board mps2-an386 --out fw-m4 --build --run --json
  har-edge firmware demo-out/bundle --board mps2-an386 --out fw-m4 --verify 200 --overwrite
  har-edge firmware demo-out/bundle --board host --out fw-host --verify 100 --verify-data rec.csv \
      --format csv --column acc_x=ax --column acc_y=ay --column acc_z=az --source-rate 50

A bundle's project also holds its C library in OUT/NAME/: NAME_classify (raw window -> probabilities),
the int16-counts variant, streaming with smoothing and events, NAME_config.h, CMakeLists.txt, Zephyr,
Arduino and PlatformIO files and an example main.

--build compiles the project (host: gcc; mps2-*: arm-none-eabi-gcc), --run runs it once and prints flash,
RAM and instructions (under qemu-system-arm -icount shift=0: mps2-an386 Cortex-M4F, mps2-an385 Cortex-M3,
mps2-an500 Cortex-M7), --verify N runs N inputs and compares every output byte with LiteRT's reference
kernels (exit 1 on any difference): seeded random inputs of the model's input type, or with --verify-data
a bundle's own recordings (normalized and quantized as the runtime does). A dynamic batch is generated at
batch 1; a float32 input (QUANTIZE) or output (DEQUANTIZE) makes the generated API take or return float.
"""
JSON_SCHEMA_VERSION = 1


def add_firmware_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``har-edge firmware`` arguments (see ``FIRMWARE_EXAMPLE`` for the epilog)."""
    from har_edge.firmware import mps2  # noqa: F401  (registers mps2-an386)
    from har_edge.firmware.boards import BOARDS
    from har_edge.firmware.flow import PROJECT_NAME

    parser.add_argument(
        "source", type=Path, help="a bundle folder or .zip (its base_mcu.tflite) or an int8 .tflite"
    )
    parser.add_argument(
        "--board", default="host", choices=sorted(BOARDS), help="the board to generate for (default host)"
    )
    parser.add_argument(
        "--name",
        default=PROJECT_NAME,
        help=f"the C prefix: NAME_invoke, NAME_classify, NAME_config.h; a bundle's C library goes to "
        f"OUT/NAME/ (default {PROJECT_NAME})",
    )
    parser.add_argument("--out", required=True, type=Path, help="the project folder to write")
    parser.add_argument("--build", action="store_true", help="compile the project")
    parser.add_argument("--run", action="store_true", help="build and run it once; print its figures")
    parser.add_argument(
        "--verify",
        type=positive_int,
        metavar="N",
        help="build, run N inputs and compare every byte with LiteRT",
    )
    parser.add_argument("--seed", type=seed, default=0, help="seed of the --verify inputs (default 0)")
    data = parser.add_argument_group("real inputs for --verify (a bundle's normalization and quantization)")
    data.add_argument(
        "--verify-data",
        metavar="DATA",
        help="verify on these recordings' windows instead of random inputs (synthetic[:…] or a path); "
        "with --verify N, N windows spread over them, else all",
    )
    data.add_argument("--format", choices=FORMAT_CHOICES, help="the format of a --verify-data path")
    data.add_argument("--subjects", type=positive_int, help="synthetic: number of subjects (default 30)")
    add_loader_arguments(data)
    parser.add_argument("--json", action="store_true", help="print the figures and verdict as JSON")
    parser.add_argument(
        "--with-head", action="store_true", help="also write a bundle's trainable float head as C (head/)"
    )
    parser.add_argument(
        "--head-batch",
        type=positive_int,
        default=32,
        metavar="N",
        help="--with-head: the C head's mini-batch capacity (its RAM grows with N; default 32)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")


def run_firmware(args: argparse.Namespace, out=None) -> int:
    """Write (and build/run/verify) the project; see the module docstring for the exit codes.
    ``InputError`` (bad source, unsupported model, missing toolchain) propagates: exit 2 in ``main``."""
    from har_edge.codegen.graph import UnsupportedModelError
    from har_edge.codegen.head import head_spec
    from har_edge.codegen.project import write_project
    from har_edge.codegen.verify import random_inputs
    from har_edge.firmware.boards import get_board
    from har_edge.firmware.build import require_toolchain
    from har_edge.firmware.flow import build_project, run_built

    out = out or sys.stdout
    with bundle_folder(args.source) as source:
        model_bytes, bundle = read_model(source, args.source)
    model_name = args.source / MCU_BASE_FILE if bundle is not None else args.source
    if args.with_head and bundle is None:
        raise InputError(
            f"{args.source}: --with-head needs a bundle folder or .zip (the head comes from its head.tflite)"
        )
    head = head_spec(bundle, max_batch=args.head_batch) if args.with_head else None
    board = get_board(args.board)
    loader = ("format", "subjects", "source_rate", "label_column", "subject_column", "time_column")
    if args.verify_data is None and (
        any(getattr(args, a) for a in loader) or args.column or args.format_option
    ):
        raise InputError("--format, --subjects and the loader options apply to --verify-data DATA")
    real = bundle_windows(args, bundle, model_bytes) if args.verify_data is not None else None
    wants_build = args.build or args.run or args.verify is not None or real is not None
    if wants_build:
        require_toolchain(board)  # before writing anything
    try:
        info = write_project(
            model_bytes,
            args.out,
            board,
            args.name,
            with_head=head,
            overwrite=args.overwrite,
            library=bundle,
            protect=[args.source],
        )
    except UnsupportedModelError as exc:  # a typed refusal, named after the file it is about
        raise InputError(f"{model_name}: {exc}") from exc
    document: dict[str, Any] = {
        "schema_version": JSON_SCHEMA_VERSION,
        "source": str(args.source),
        "board": board.name,
        "project": str(info.path),
        "macs": info.macs,
        "layers": list(info.layer_names),
        "layer_kernels": [
            {"name": layer.name, **layer.kernel} for layer in info.model.layers if layer.kernel is not None
        ],
        "with_head": head is not None,
        "head_ram_bytes_by_batch": head_ram_by_batch(head) if head is not None else None,
        "library": str(info.path / args.name) if bundle is not None else None,
        "built": False,
        "figures": None,
        "verify": None,
    }
    code = EXIT_OK
    if wants_build:
        built = build_project(info, model_bytes)
        document["built"] = True
        verifying = args.verify is not None or real is not None
        if args.run or verifying:
            inputs = (
                real if real is not None else random_inputs(info.model.graph, args.verify or 1, args.seed)
            )
            measured = run_built(built, inputs)
            document["figures"] = measured.figures
            if verifying:
                origin = {"data": args.verify_data} if real is not None else {"seed": args.seed}
                document["verify"] = {"inputs": len(inputs), **origin, **measured.figures["parity"]}
                if not measured.cross_check:
                    code = EXIT_CHECK_FAILED
                    document["verify"]["text"] = _mismatch_text(info, inputs, model_bytes)
    print(json.dumps(document, indent=2) if args.json else _summary(document), file=out)
    return code


def read_model(source: Path, given: Path | None = None):
    """(model bytes, the verified ``Bundle`` or None): a bundle folder's batch-1 ``base_mcu.tflite``,
    read like every bundle file (listed in the manifest, size and sha256 checked, no symlink out of the
    folder, test-run in a child), or a ``.tflite`` file (a regular file of at most ``MAX_FILE_BYTES``)."""
    from har_edge.runtime.bundle import open_bundle
    from har_edge.runtime.model_checks import probe_bundle
    from har_edge.tflite_verify import MAX_FILE_BYTES

    given = given or source
    if source.is_dir():
        if not (source / MANIFEST_FILE).is_file():
            raise InputError(
                f"{given}: not a bundle (no {MANIFEST_FILE}); firmware needs {MCU_BASE_FILE} of a bundle, "
                "or a .tflite file"
            )
        bundle = open_bundle(source)
        if MCU_BASE_FILE not in bundle.files:
            raise InputError(
                f"{given}: the manifest does not list {MCU_BASE_FILE} (the int8 batch-1 base) that firmware "
                "needs; re-export the bundle with an int8 base"
            )
        probe_bundle(bundle)
        return bundle.files[MCU_BASE_FILE], bundle
    if not source.exists():
        raise InputError(f"{given}: no such bundle folder or .tflite file (nor a bundle .zip)")
    return read_bounded(source, MAX_FILE_BYTES, ".tflite model"), None


HEAD_BATCH_CHOICES = (1, 4, 8, 16, 32)


def head_ram_by_batch(spec) -> dict[str, int]:
    """The C head's RAM (parameters + step scratch + the caller's mini-batch cache) for each batch choice
    and ``spec``'s own."""
    import dataclasses

    choices = sorted({*HEAD_BATCH_CHOICES, spec.max_batch})
    sized = (dataclasses.replace(spec, max_batch=batch) for batch in choices)
    return {str(s.max_batch): s.ram_bytes + s.batch_cache_bytes for s in sized}


def bundle_windows(args: argparse.Namespace, bundle, model_bytes: bytes) -> np.ndarray:
    """``--verify-data``: the recordings cut into the bundle's windows, normalized with its manifest's
    statistics (``runtime.classifier.normalized_windows``) and quantized with the model's input
    scale and zero point (``codegen.verify.quantize_windows``): what the device would be fed."""
    from har_edge.codegen.verify import quantize_windows
    from har_edge.runtime.classifier import normalized_windows
    from har_edge.runtime.inputs import checked_windows

    if bundle is None:
        raise InputError(
            f"{args.source}: --verify-data needs a bundle (its manifest holds the window geometry "
            "and the normalization the recordings go through)"
        )
    manifest = bundle.manifest
    data_args = argparse.Namespace(**{**vars(args), "data": args.verify_data})
    dataset = load_noted(args.verify_data, args.format, load_options(data_args))
    windows = manifest_windows(dataset, manifest, keep_unlabelled=True).x
    if len(windows) == 0:
        raise InputError(f"{args.verify_data}: no complete window of {manifest.window} samples")
    if args.verify is not None and args.verify < len(windows):
        windows = windows[np.linspace(0, len(windows) - 1, args.verify).round().astype(int)]
    x = checked_windows(windows, manifest.window, manifest.channels)
    normalization = manifest.normalization
    x = normalized_windows(x, normalization["mean"], normalization["std"], manifest.input_layout)
    return quantize_windows(model_bytes, x)


def _mismatch_text(info, inputs: np.ndarray, model_bytes: bytes) -> str:
    """The cross-check with per-layer differences (a HAR_DUMP_LAYERS build): which layer goes wrong."""
    from har_edge.codegen.verify import verify_project

    return str(verify_project(info, inputs, model_bytes=model_bytes))


def _summary(document: dict[str, Any]) -> str:
    lines = [f"wrote {document['project']} for {document['board']} ({document['macs']:,} MACs)"]
    if document["head_ram_bytes_by_batch"]:
        ram = ", ".join(f"{batch}: {n:,} B" for batch, n in document["head_ram_bytes_by_batch"].items())
        lines.append(f"head RAM (parameters + step scratch + mini-batch cache) by --head-batch: {ram}")
    if document["library"]:
        lines.append(
            f"C library (raw samples -> labels and events): {document['library']} (see its README.md)"
        )
    figures = document["figures"]
    if figures:
        if figures.get("memory"):
            memory = figures["memory"]
            lines.append(
                f"flash: {memory['model_flash_bytes']:,} B = weights {memory['weights_bytes']:,} + code "
                f"{memory['code_bytes']:,} (harness {memory['harness_flash_bytes']:,} B apart)"
            )
            lines.append(
                f"RAM: {figures['model_ram_bytes']:,} B = arena {memory['arena_bytes']:,} + kernels "
                f"{memory['kernel_ram_bytes']:,} + inference stack {figures['inference_stack_bytes']:,}"
            )
        if figures.get("instructions_per_inference"):
            lines.append(
                f"instructions per inference: {figures['instructions_per_inference']:,} "
                f"({figures['instructions_per_mac']:.2f} per MAC)"
            )
            lines += [
                f"  {layer['name']:<28} {layer['instructions'] or 0:>10,} instr {layer['macs']:>9,} MACs"
                + _kernel_note(layer.get("kernel"))
                for layer in figures["layers"]
            ]
    verdict = document["verify"]
    if verdict:
        lines.append(verdict.get("text") or verdict["summary"])
    return "\n".join(lines)


def _kernel_note(kernel: dict | None) -> str:
    if not kernel:
        return ""
    note = ""
    if kernel["format"] == "block_sparse":
        note = (
            f"  block-sparse: {kernel['nonzero_blocks']}/{kernel['blocks']} blocks, "
            f"{kernel['weight_bytes']:,} of {kernel['dense_weight_bytes']:,} weight bytes"
        )
    folding = kernel.get("folding")
    if folding:  # codegen.constant_channels
        note += (
            f"  folded: {folding['folded_rows']} constant + {folding['unread_rows']} unread rows, "
            f"{folding['folded_columns']} input columns ({folding['macs_unfolded']:,} MACs before)"
        )
    return note


VERB = Verb(
    name="firmware",
    help="generate C for an int8 model, build it for a board and verify it byte for byte",
    example=FIRMWARE_EXAMPLE,
    add_arguments=add_firmware_arguments,
    run=run_firmware,
)
