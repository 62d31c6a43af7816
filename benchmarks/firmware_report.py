"""Measured firmware figures on the emulated Cortex-M4F (mps2-an386) against issue 10's goals, for the
project's dense and cnn architectures on 200 x 3 windows with 12 classes, int8 batch 1 (the benchmark's
MCU variant, through the same ``McuTarget`` + ``FirmwareRunner`` path as ``har-edge bench``), and with
``--precision float32`` or ``both`` the float32 batch-1 variant through the float kernels (the goals
are int8 goals; float32 rows are there to compare):

- MACs (from the generator), instructions per inference (QEMU -icount, median over the windows),
  instructions/MAC (goal <= 2.0);
- RAM (arena + kernel statics + one inference's stack) vs TFLM's host arena of the same model (goal <= 0.6x);
- flash (weights + code, harness apart) vs weights (goal: weights + <= 8 KiB of code);
- the per-layer breakdown, and the largest layer.

Usage: python benchmarks/firmware_report.py [--json out.json] [--seed 0] [--windows 16]
                                           [--precision int8|float32|both]
Models are seeded and untrained (the figures depend on shapes, not on training); calibration and the
measured windows come from the synthetic generator. Needs gcc-arm-none-eabi, libnewlib-arm-none-eabi and
qemu-system-arm; takes about a minute.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

WINDOW, CHANNELS, CLASSES = 200, 3, 12
MODELS = {"dense": {}, "cnn": {}, "cnn+spectrogram": {"spectrogram": True}}
GOAL_INSTRUCTIONS_PER_MAC = 2.0
GOAL_RAM_RATIO = 0.6
GOAL_CODE_BYTES = 8 * 1024


def windows(seed: int):
    from har_edge.data.splits import normalize_splits, split_by_subject
    from har_edge.data.synthetic import SyntheticConfig, generate
    from har_edge.data.windows import WindowConfig, make_windows
    from har_edge.types import ACC_CHANNELS

    dataset = generate(SyntheticConfig(subjects=4, seconds_per_activity=20, gyroscope=False, seed=seed))
    made, _ = make_windows(dataset, WindowConfig(window=WINDOW, hop=WINDOW // 2, channels=ACC_CHANNELS))
    return normalize_splits(split_by_subject(made, seed=seed))[0]


def mcu_model(
    name: str, splits, seed: int, precision: str = "int8", *, int8_io: bool = True, fixed_batch: bool = True
) -> bytes:
    from har_edge import models
    from har_edge.optimize.quantize import Precision, convert, representative_windows

    architecture = name.split("+")[0]
    model = models.build(
        architecture, window=WINDOW, channels=CHANNELS, classes=CLASSES, seed=seed, **MODELS.get(name, {})
    )
    if precision == "float32":
        return convert(model, Precision.FLOAT32, fixed_batch=True)
    calibration = representative_windows(models.to_model_input(model, splits.train.x), seed=seed)
    return convert(
        model, Precision.INT8, representative=calibration, int8_io=int8_io, fixed_batch=fixed_batch
    )


def measure(name: str, model_bytes: bytes, sample: np.ndarray, cache: Path, precision: str = "int8") -> dict:
    from har_edge.targets.base import Artifact
    from har_edge.targets.firmware_runner import FirmwareRunner
    from har_edge.targets.mcu import McuTarget, mcu_profiles

    target = McuTarget(mcu_profiles()["cortex-m4f-80mhz"], runner=FirmwareRunner(cache_dir=cache))
    artifact = Artifact(name, model_bytes, macs=0, sample=sample, precision=precision, mcu_bytes=model_bytes)
    figures = target.measure(artifact)
    if figures.error or "firmware" not in figures.details:
        raise SystemExit(f"{name}: not measured on the board: {figures.error or figures.notes}")
    firmware = figures.details["firmware"]
    memory = firmware["memory"]
    largest = max(firmware["layers"], key=lambda layer: layer["instructions"] or 0)
    return {
        "model": name if precision == "int8" else f"{name} {precision}",
        "tflite_bytes": len(model_bytes),
        "macs": firmware["macs"],
        "instructions_per_inference": figures.instructions_per_inference,
        "instructions_range": [firmware["instructions_min"], firmware["instructions_max"]],
        "instructions_per_mac": figures.instructions_per_mac,
        "latency_us_derived": figures.latency_us_p50,
        "ram_bytes": figures.ram_bytes,
        "arena_bytes": memory["arena_bytes"],
        "inference_stack_bytes": firmware["inference_stack_bytes"],
        "tflm_arena_bytes": figures.tflm_arena_bytes,
        "ram_vs_tflm": figures.ram_bytes / figures.tflm_arena_bytes if figures.tflm_arena_bytes else None,
        "flash_bytes": figures.flash_bytes,
        "weights_bytes": memory["weights_bytes"],
        "code_bytes": memory["code_bytes"],
        "kernel_code_bytes": memory["kernel_code_bytes"],
        "harness_flash_bytes": memory["harness_flash_bytes"],
        "bit_exact": firmware["parity"]["bit_exact"],
        "max_abs_difference": firmware["parity"]["max_abs_difference"],
        "windows": firmware["parity"]["inputs"],
        "layers": firmware["layers"],
        "largest_layer": largest,
    }


def goal(met: bool) -> str:
    return "met" if met else "NOT met"


def markdown(rows: list[dict]) -> str:
    lines = [
        "| model | MACs | instructions | instr/MAC (goal <= 2.0) | RAM B | TFLM arena B "
        "| RAM/TFLM (goal <= 0.6) | weights B | code B (goal <= 8192) | flash B | bit-exact |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for r in rows:
        ratio = (
            f"{r['ram_vs_tflm']:.2f} ({goal(r['ram_vs_tflm'] <= GOAL_RAM_RATIO)})"
            if r["ram_vs_tflm"]
            else "–"
        )
        lines.append(
            f"| {r['model']} | {r['macs']:,} | {r['instructions_per_inference']:,} | "
            f"{r['instructions_per_mac']:.2f} "
            f"({goal(r['instructions_per_mac'] <= GOAL_INSTRUCTIONS_PER_MAC)}) | "
            f"{r['ram_bytes']:,} | {r['tflm_arena_bytes'] or 0:,} | {ratio} | {r['weights_bytes']:,} | "
            f"{r['code_bytes']:,} ({goal(r['code_bytes'] <= GOAL_CODE_BYTES)}) | {r['flash_bytes']:,} | "
            f"{r['bit_exact']} ({r['windows']} windows"
            + (f", max diff {r['max_abs_difference']:.1e}" if not r["bit_exact"] else "")
            + ") |"
        )
    for r in rows:
        lines += ["", f"{r['model']}: per layer (largest: {r['largest_layer']['name']})", ""]
        lines += ["| layer | MACs | instructions | instr/MAC | share |", "|---|--:|--:|--:|--:|"]
        total = sum(layer["instructions"] or 0 for layer in r["layers"]) or 1
        for layer in r["layers"]:
            per_mac = f"{layer['instructions_per_mac']:.2f}" if layer["instructions_per_mac"] else "–"
            lines.append(
                f"| {layer['name']} | {layer['macs']:,} | {layer['instructions'] or 0:,} | {per_mac} | "
                f"{100 * (layer['instructions'] or 0) / total:.1f} % |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--windows", type=int, default=16, help="measured windows per model (default 16)")
    parser.add_argument("--precision", choices=("int8", "float32", "both"), default="int8")
    args = parser.parse_args(argv)
    from har_edge.firmware import mps2

    missing = mps2.missing_tools()
    if missing:
        print(
            f"missing {', '.join(missing)}: apt-get install {' '.join(mps2.DEBIAN_PACKAGES)}", file=sys.stderr
        )
        return 2
    splits = windows(args.seed)
    sample = np.concatenate([splits.test.x, splits.val.x])[: args.windows].astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="har-fw-report-") as cache:
        precisions = ("int8", "float32") if args.precision == "both" else (args.precision,)
        rows = [
            measure(name, mcu_model(name, splits, args.seed, precision), sample, Path(cache), precision)
            for name in MODELS
            for precision in precisions
        ]
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
