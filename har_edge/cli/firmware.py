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
    load_noted,
    load_options,
    manifest_windows,
)
from har_edge.errors import InputError

FIRMWARE_EXAMPLE = """examples:
  har-edge firmware demo-out/bundle --board host --out fw-host --verify 1000
  har-edge firmware model_int8.tflite --board mps2-an386 --out fw-m4 --build --run --json
  har-edge firmware demo-out/bundle --board mps2-an386 --out fw-m4 --verify 200 --overwrite
  har-edge firmware demo-out/bundle --board host --out fw-host --verify 100 --verify-data rec.csv \
      --format csv --column acc_x=ax --column acc_y=ay --column acc_z=az --source-rate 50

--build compiles the project (host: gcc; mps2-an386: arm-none-eabi-gcc), --run runs it once and prints
flash, RAM and instructions (mps2-an386, under qemu-system-arm -icount shift=0), --verify N runs N inputs
and compares every output byte with LiteRT's reference kernels (exit 1 on any difference): seeded random
inputs of the model's input type, or with --verify-data a bundle's own recordings (normalized and
quantized as the runtime does). A dynamic batch is generated at batch 1; a float32 input (QUANTIZE) or
output (DEQUANTIZE) makes the generated API take or return float.
"""
BUNDLE_MCU_FILE = "base_mcu.tflite"
JSON_SCHEMA_VERSION = 1


def add_firmware_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``har-edge firmware`` arguments (see ``FIRMWARE_EXAMPLE`` for the epilog)."""
    from har_edge.firmware import mps2  # noqa: F401  (registers mps2-an386)
    from har_edge.firmware.boards import BOARDS

    parser.add_argument("source", type=Path, help="a bundle folder (its base_mcu.tflite) or an int8 .tflite")
    parser.add_argument("--board", required=True, choices=sorted(BOARDS), help="the board to generate for")
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
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")


def run_firmware(args: argparse.Namespace, out=None) -> int:
    """Write (and build/run/verify) the project; see the module docstring for the exit codes.
    ``InputError`` (bad source, unsupported model, missing toolchain) propagates: exit 2 in ``main``."""
    from har_edge.codegen.project import write_project
    from har_edge.codegen.verify import random_inputs
    from har_edge.firmware.boards import get_board
    from har_edge.firmware.build import require_toolchain
    from har_edge.firmware.flow import PROJECT_NAME, build_project, run_built

    out = out or sys.stdout
    model_bytes = read_model(args.source)
    head = head_of(args.source) if args.with_head else None
    board = get_board(args.board)
    real = bundle_windows(args, model_bytes) if args.verify_data is not None else None
    wants_build = args.build or args.run or args.verify is not None or real is not None
    if wants_build:
        require_toolchain(board)  # before writing anything
    info = write_project(model_bytes, args.out, board, PROJECT_NAME, with_head=head, overwrite=args.overwrite)
    document: dict[str, Any] = {
        "schema_version": JSON_SCHEMA_VERSION,
        "source": str(args.source),
        "board": board.name,
        "project": str(info.path),
        "macs": info.macs,
        "layers": list(info.layer_names),
        "with_head": head is not None,
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


def read_model(source: Path) -> bytes:
    """The int8 model of a bundle folder (its batch-1 ``base_mcu.tflite``) or a ``.tflite`` file."""
    if source.is_dir():
        path = source / BUNDLE_MCU_FILE
        if not path.is_file():
            raise InputError(
                f"{source}: a bundle needs {BUNDLE_MCU_FILE} (the int8 batch-1 base) for firmware; "
                "re-export it with an int8 base"
            )
        return path.read_bytes()
    if not source.is_file():
        raise InputError(f"{source}: no such bundle folder or .tflite file")
    return source.read_bytes()


def head_of(source: Path):
    """The head spec of a bundle (``--with-head``); a bare .tflite has no head to take."""
    from har_edge.codegen.head import head_spec
    from har_edge.runtime.bundle import open_bundle

    if not source.is_dir():
        raise InputError(f"{source}: --with-head needs a bundle folder (the head comes from its head.tflite)")
    return head_spec(open_bundle(source))


def bundle_windows(args: argparse.Namespace, model_bytes: bytes) -> np.ndarray:
    """``--verify-data``: the recordings cut into the bundle's windows, normalized with its manifest's
    statistics (``runtime.classifier.normalized_windows``) and quantized with the model's input
    scale and zero point (``codegen.verify.quantize_windows``): what the device would be fed."""
    from har_edge.codegen.verify import quantize_windows
    from har_edge.runtime.bundle import open_bundle
    from har_edge.runtime.classifier import normalized_windows
    from har_edge.runtime.inputs import checked_windows

    if not args.source.is_dir():
        raise InputError(
            f"{args.source}: --verify-data needs a bundle folder (its manifest holds the window geometry "
            "and the normalization the recordings go through)"
        )
    manifest = open_bundle(args.source).manifest
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
                for layer in figures["layers"]
            ]
    verdict = document["verify"]
    if verdict:
        lines.append(verdict.get("text") or verdict["summary"])
    return "\n".join(lines)


VERB = Verb(
    name="firmware",
    help="generate C for an int8 model, build it for a board and verify it byte for byte",
    example=FIRMWARE_EXAMPLE,
    add_arguments=add_firmware_arguments,
    run=run_firmware,
)
