"""The generated firmware on models other people made: the five MLPerf Tiny reference models
(``../shared/models/mlperf-tiny/``, as published: dynamic batch, int8 in and out) beside the project's
own dense and cnn MCU bases (``benchmarks/firmware_report.py``'s: 200 x 3 windows, 12 classes, seeded,
untrained) and the dense one converted as a user would without the MCU options (float32 input and
output around the int8 graph, a dynamic batch whose shape arithmetic the generator folds), each
generated, built and run on the host and on the emulated Cortex-M4F (mps2-an386 under
``qemu-system-arm -icount shift=0``), every output byte compared with LiteRT's reference kernels.

Per model: MACs; instructions per inference (median over the board inputs) and per MAC; flash = weights
+ code (generated glue + kernels; harness apart); RAM = arena + kernel statics + one inference's stack;
the layer with the most instructions and its share; host and emulated verification (bit-exact or not,
over how many seeded random inputs of the model's input type).

Usage: python benchmarks/firmware_zoo.py [--host-inputs 20] [--board-inputs 3] [--json out.json]
       [--models DIR] [--no-own] [--cache DIR]
Needs gcc, gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm; takes a few minutes (the
builds dominate; a vww inference is ~30 M instructions, well under a second of QEMU).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MLPERF_TINY = Path(os.environ.get("HAR_EDGE_SHARED") or REPO.parent / "shared") / "models" / "mlperf-tiny"
OWN = ("dense", "cnn")


def models(folder: Path, own: bool, seed: int) -> dict[str, bytes]:
    found = {path.stem: path.read_bytes() for path in sorted(folder.glob("*.tflite"))}
    if not found:
        print(f"note: no .tflite in {folder}; MLPerf Tiny rows skipped", file=sys.stderr)
    if own:
        from firmware_report import mcu_model, windows  # this folder's study of the project's models

        splits = windows(seed)
        found.update({f"har_edge {name}": mcu_model(name, splits, seed) for name in OWN})
        # as a user converts it without the MCU options: float32 in and out, a dynamic batch
        found["har_edge dense, float I/O, dynamic batch"] = mcu_model(
            "dense", splits, seed, int8_io=False, fixed_batch=False
        )
    return found


def measure(name: str, model: bytes, host_inputs: int, board_inputs: int, seed: int, cache: Path) -> dict:
    from har_edge.codegen.verify import random_inputs
    from har_edge.errors import InputError
    from har_edge.firmware.flow import build_cached, run_built

    row: dict = {"model": name, "tflite_bytes": len(model)}
    try:
        host = run_built(
            build_cached(model, "host", cache_dir=cache), random_inputs(model, host_inputs, seed)
        )
        board = run_built(
            build_cached(model, "mps2-an386", cache_dir=cache), random_inputs(model, board_inputs, seed + 1)
        )
    except InputError as exc:  # an unsupported model, a missing toolchain: a row that says why
        return {**row, "error": str(exc)}
    f = board.figures
    memory = f["memory"]
    largest = max(f["layers"], key=lambda layer: layer["instructions"] or 0)
    return {
        **row,
        "macs": f["macs"],
        "instructions_per_inference": f["instructions_per_inference"],
        "instructions_per_mac": f["instructions_per_mac"],
        "weights_bytes": memory["weights_bytes"],
        "code_bytes": memory["code_bytes"],
        "flash_bytes": memory["model_flash_bytes"],
        "arena_bytes": memory["arena_bytes"],
        "kernel_ram_bytes": memory["kernel_ram_bytes"],
        "inference_stack_bytes": f["inference_stack_bytes"],
        "ram_bytes": f["model_ram_bytes"],
        "largest_layer": largest["name"],
        "largest_layer_share": largest["instructions"] / f["instructions_per_inference"],
        "host_verify": {"bit_exact": bool(host.cross_check), "inputs": host.cross_check.inputs},
        "board_verify": {"bit_exact": bool(board.cross_check), "inputs": board.cross_check.inputs},
        "layers": f["layers"],
    }


def _verdict(v: dict) -> str:
    return f"{'bit-exact' if v['bit_exact'] else 'MISMATCH'} ({v['inputs']})"


def markdown(rows: list[dict]) -> str:
    lines = [
        "| model | MACs | instructions | instr/MAC | flash B (weights + code) | RAM B (arena + kernels + "
        "stack) | largest layer | host verify | mps2-an386 verify |",
        "|---|--:|--:|--:|--:|--:|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | refused: {r['error'].splitlines()[0]} |||||||| ")
            continue
        lines.append(
            f"| {r['model']} | {r['macs']:,} | {r['instructions_per_inference']:,} | "
            f"{r['instructions_per_mac']:.2f} | {r['flash_bytes']:,} ({r['weights_bytes']:,} + "
            f"{r['code_bytes']:,}) | {r['ram_bytes']:,} ({r['arena_bytes']:,} + {r['kernel_ram_bytes']:,} + "
            f"{r['inference_stack_bytes']:,}) | {r['largest_layer']} ({r['largest_layer_share']:.0%}) | "
            f"{_verdict(r['host_verify'])} | {_verdict(r['board_verify'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, default=MLPERF_TINY, help="a folder of int8 .tflite files")
    parser.add_argument("--no-own", action="store_true", help="leave out the project's dense and cnn bases")
    parser.add_argument("--host-inputs", type=int, default=20, help="random inputs verified on the host")
    parser.add_argument("--board-inputs", type=int, default=3, help="random inputs run on mps2-an386")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the rows (with per-layer figures) as JSON")
    parser.add_argument(
        "--cache", type=Path, help="keep the built projects here (default: a temporary folder)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="har-zoo-") as tmp:
        cache = args.cache or Path(tmp)
        rows = [
            measure(name, model, args.host_inputs, args.board_inputs, args.seed, cache)
            for name, model in models(args.models, not args.no_own, args.seed).items()
        ]
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps({"schema_version": 1, "rows": rows}, indent=2) + "\n")
    verified = all(
        "error" not in r and r["host_verify"]["bit_exact"] and r["board_verify"]["bit_exact"] for r in rows
    )
    return 0 if verified else 1


if __name__ == "__main__":
    sys.exit(main())
