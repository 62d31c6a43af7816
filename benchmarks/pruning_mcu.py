"""Which pruning pays on the microcontroller (issue 21): for trained dense and cnn models, every pruning
structure and sparsity as int8 batch-1 firmware on the emulated Cortex-M4F (mps2-an386, QEMU
instruction counts), against the unpruned int8 model:

- instructions per inference (median over the windows), weight flash, code flash, model RAM, bit-exact
  with LiteRT's reference kernels on every window, the kernels the generator chose (dense / block-sparse
  layers);
- desktop latency of the int8 model (LiteRT, one window per call: the lowest median over rounds that
  alternate the variants, so a loaded machine slows them alike);
- test accuracy of the int8 model and its drop vs the unpruned int8 model, in points.

Variants: ``unstructured`` (tfmot magnitude pruning), ``block`` (4x4 blocks the sparse kernels skip),
``unit`` (whole units/channels removed: a smaller model), ``m:n`` (tfmot's 2:4). Goals: pruned75
<= 0.5x instructions and weight flash of the dense int8, pruned90 <= 0.3x, unit 50 % <= 0.55x
instructions and <= 0.6x desktop latency.

Usage: python benchmarks/pruning_mcu.py MODEL_FOLDER [MODEL_FOLDER ...] [--fine-tune-epochs 10]
       [--variants block75,unit50,...] [--windows 20] [--json out.json] [--keep DIR]
       python benchmarks/pruning_mcu.py --real DIR [--seeds 0,1,2] [--models dense,cnn] [--archive PATH] ...
Model folders come from ``har-edge train`` (synthetic data: ``--data synthetic``); each variant is
pruned and fine-tuned on the folder's own training split (a few minutes per model on two cores), with
the seed the folder was trained with. ``--real DIR`` trains (once: a folder already in DIR is reused)
one model per architecture and seed on the real HAPT users 3-28 (``../shared/data``, split by user as
``har-edge train --format hapt --seed S`` splits them), then measures those. With several folders of an
architecture, a summary gives per variant the mean ratios and the accuracy drop of the int8 model
against the same seed's int8 and float models, mean ± standard deviation over the seeds. Accuracy goals:
drop <= 1 pp at 50 %, <= 2 pp at 75 %.
Needs gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

VARIANTS = {
    "unstructured50": ("unstructured", 0.5),
    "unstructured75": ("unstructured", 0.75),
    "unstructured90": ("unstructured", 0.9),
    "m:n 2:4": ("m:n", 0.5),
    "block50": ("block", 0.5),
    "block75": ("block", 0.75),
    "block90": ("block", 0.9),
    "unit50": ("unit", 0.5),
    "unit75": ("unit", 0.75),
}
GOALS = {0.5: (0.55, None), 0.75: (0.5, 0.5), 0.9: (0.3, 0.3)}  # sparsity: instructions, weight flash
MAX_DROP_PP = {0.5: 1.0, 0.75: 2.0}  # sparsity: accuracy drop vs int8, mean over seeds
REPO = Path(__file__).resolve().parent.parent
ARCHIVE = (
    Path(os.environ.get("HAR_EDGE_SHARED") or REPO.parent / "shared") / "data" / "hapt-users03-28.tar.xz"
)
DESKTOP_CALLS, DESKTOP_ROUNDS = 300, 7


def desktop_latencies_us(models: list[tuple[bytes, np.ndarray]]) -> list[float]:
    """Per model, the lowest over interleaved rounds of the median of single-window LiteRT invokes
    (default kernels): rounds alternate the models so a loaded machine slows them alike."""
    from har_edge.runtime.interpreter import load_interpreter

    interpreters = []
    for model_bytes, window in models:
        interpreter = load_interpreter(model_bytes)
        interpreter.allocate_tensors()
        (detail,) = interpreter.get_input_details()
        interpreter.set_tensor(detail["index"], window.reshape(detail["shape"]))
        for _ in range(50):
            interpreter.invoke()
        interpreters.append(interpreter)
    best = [np.inf] * len(models)
    for _ in range(DESKTOP_ROUNDS):
        for i, interpreter in enumerate(interpreters):
            times = []
            for _ in range(DESKTOP_CALLS):
                start = time.perf_counter()
                interpreter.invoke()
                times.append(time.perf_counter() - start)
            best[i] = min(best[i], 1e6 * float(np.median(times)))
    return best


def measure(name: str, keras_model, splits, windows: int, cache: Path, seed: int) -> dict:
    from har_edge import models
    from har_edge.codegen.verify import quantize_windows
    from har_edge.firmware.flow import build_cached, run_built
    from har_edge.optimize.quantize import Precision, convert, representative_windows
    from har_edge.runtime.interpreter import run_model

    calibration = representative_windows(models.to_model_input(keras_model, splits.train.x), seed=seed)
    mcu = convert(keras_model, Precision.INT8, representative=calibration, int8_io=True, fixed_batch=True)
    test_x = models.to_model_input(keras_model, splits.test.x)
    int8 = convert(keras_model, Precision.INT8, representative=calibration)
    accuracy = float(np.mean(run_model(int8, test_x).argmax(axis=1) == splits.test.y))
    float_accuracy = float(np.mean(keras_model.predict(test_x, verbose=0).argmax(axis=1) == splits.test.y))
    inputs = quantize_windows(mcu, test_x[:windows])
    run = run_built(build_cached(mcu, "mps2-an386", cache_dir=cache), inputs)
    figures = run.figures
    memory = figures["memory"]
    kernels = [layer["kernel"]["format"] for layer in figures["layers"] if layer.get("kernel")]
    return {
        "variant": name,
        "macs": figures["macs"],
        "instructions": figures["instructions_per_inference"],
        "weights_bytes": memory["weights_bytes"],
        "code_bytes": memory["code_bytes"],
        "ram_bytes": figures["model_ram_bytes"],
        "bit_exact": bool(run.cross_check),
        "windows": len(inputs),
        "sparse_layers": f"{kernels.count('block_sparse')}/{len(kernels)}",
        "mcu_model": (mcu, inputs[:1]),
        "accuracy": accuracy,
        "float_accuracy": float_accuracy,
        "layers": [
            {
                "name": layer["name"],
                "instructions": layer["instructions"],
                "kernel": (layer.get("kernel") or {}).get("format"),
                "expected_instruction_ratio": (layer.get("kernel") or {}).get("expected_instruction_ratio"),
            }
            for layer in figures["layers"]
        ],
    }


def study(
    folder: Path, names: list[str], epochs: int, windows: int, cache: Path, keep: Path | None = None
) -> list[dict]:
    """Every variant of ``names`` of the model in ``folder``, measured (``keep``: also write each
    variant's MCU model there, as ARCHITECTURE-sSEED-VARIANT.tflite)."""
    from har_edge.optimize.pipeline import OptimizeOptions, load_for_optimize, optimize_model

    model, card, splits = load_for_optimize(folder)
    seed = int(card.notes["train_config"]["seed"])  # fine-tuning and calibration: the training seed
    rows = [measure("int8", model, splits, windows, cache, seed)]
    for name in names:
        structure, sparsity = VARIANTS[name]
        options = OptimizeOptions(
            sparsity=sparsity, structure=structure, fine_tune_epochs=epochs, mcu_variant=True, seed=seed
        )
        try:
            pruned = optimize_model(model, card, splits, options).model
            rows.append(measure(name, pruned, splits, windows, cache, seed))
        except Exception as exc:  # noqa: BLE001 (one failed variant must not lose the others)
            print(f"  {card.architecture} {name}: FAILED: {exc!r}", file=sys.stderr, flush=True)
            continue
        print(f"  {card.architecture} {name}: done", file=sys.stderr, flush=True)
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
        for row in rows:
            name = f"{card.architecture}-s{seed}-{row['variant'].replace(':', '').replace(' ', '')}.tflite"
            (keep / name).write_bytes(row["mcu_model"][0])
    for row, latency in zip(rows, desktop_latencies_us([row.pop("mcu_model") for row in rows]), strict=True):
        row["desktop_us"] = latency
    base = rows[0]
    for row in rows:
        row["model"], row["seed"] = card.architecture, seed
        row["drop_vs_float_pp"] = 100 * (base["float_accuracy"] - row["accuracy"])
        row["instructions_ratio"] = row["instructions"] / base["instructions"]
        row["weights_ratio"] = row["weights_bytes"] / base["weights_bytes"]
        row["desktop_ratio"] = row["desktop_us"] / base["desktop_us"]
        row["accuracy_drop_pp"] = 100 * (base["accuracy"] - row["accuracy"])
    return rows


def _goal(row: dict) -> str:
    structure, sparsity = VARIANTS.get(row["variant"], ("", 0.0))
    if sparsity not in GOALS or structure == "m:n":
        return ""
    instructions, weights = GOALS[sparsity]
    met = row["instructions_ratio"] <= instructions and row["bit_exact"]
    if weights is not None:
        met = met and row["weights_ratio"] <= weights
    if structure == "unit" and sparsity == 0.5:
        met = met and row["desktop_ratio"] <= 0.6
    elif sparsity == 0.5:
        return ""
    return "met" if met else "NOT met"


def markdown(rows: list[dict]) -> str:
    lines = [
        "| model | variant | instructions | × int8 | weights B | × int8 | code B | RAM B | desktop µs "
        "| × int8 | accuracy | drop pp | sparse layers | bit-exact | goal |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['variant']} | {r['instructions']:,} | {r['instructions_ratio']:.2f} | "
            f"{r['weights_bytes']:,} | {r['weights_ratio']:.2f} | {r['code_bytes']:,} | {r['ram_bytes']:,} | "
            f"{r['desktop_us']:.1f} | {r['desktop_ratio']:.2f} | {100 * r['accuracy']:.1f} % | "
            f"{r['accuracy_drop_pp']:+.1f} | {r['sparse_layers']} | {r['bit_exact']} ({r['windows']}) | "
            f"{_goal(r)} |"
        )
    return "\n".join(lines)


def summary(rows: list[dict]) -> str:
    """Per architecture and variant over its seeds: mean ratios, int8 accuracy drops (mean ± sd)."""
    lines = [
        "| model | variant | seeds | instructions × int8 | weights × int8 | drop vs int8 pp | "
        "drop vs float pp | accuracy goal |",
        "|---|---|--:|--:|--:|--:|--:|---|",
    ]
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["model"], row["variant"]), []).append(row)
    for (model, variant), group in groups.items():
        drops = [r["accuracy_drop_pp"] for r in group]
        limit = MAX_DROP_PP.get(VARIANTS.get(variant, ("", 0.0))[1])
        goal = (
            "" if limit is None else f"{'met' if statistics.mean(drops) <= limit else 'NOT met'} (<= {limit})"
        )
        lines.append(
            f"| {model} | {variant} | {len(group)} | {_mean(group, 'instructions_ratio', '.3f')} | "
            f"{_mean(group, 'weights_ratio', '.3f')} | {_spread(drops)} | "
            f"{_spread([r['drop_vs_float_pp'] for r in group])} | {goal} |"
        )
    return "\n".join(lines)


def _mean(group: list[dict], key: str, spec: str) -> str:
    values = [r[key] for r in group]
    low, high = min(values), max(values)
    return format(statistics.mean(values), spec) + (f" ({low:{spec}}–{high:{spec}})" if high > low else "")


def _spread(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):+.2f} ± {sd:.2f}"


def real_folders(out: Path, archive: Path, architectures: list[str], seeds: list[int]) -> list[Path]:
    """One model folder per architecture and seed trained on the real HAPT users of ``archive`` (by
    ``har-edge train``, into ``out``; folders already there are reused)."""
    folders = []
    for seed in seeds:
        for architecture in architectures:
            folder = out / f"{architecture}-s{seed}"
            if not (folder / "model").is_dir():
                _train_real(folder, out / "data", archive, architecture, seed)
            folders.append(folder / "model")
    return folders


def _train_real(folder: Path, data: Path, archive: Path, architecture: str, seed: int) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))  # the sibling benchmark, run as a script or imported
    from real_hapt import extract_users

    from har_edge.cli import main as har_edge

    raw = data / "HAPT" / "RawData"
    if not raw.is_dir():
        extract_users(archive, data)
    argv = ["train", "--data", str(raw), "--format", "hapt", "--model", architecture, "--seed", str(seed)]
    if har_edge([*argv, "--no-progress", "--out", str(folder), "--overwrite"]):
        raise SystemExit(f"training {folder} failed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("models", type=Path, nargs="*", help="model folders written by har-edge train")
    parser.add_argument(
        "--real", type=Path, help="train on real HAPT into this folder (reused), measure those"
    )
    parser.add_argument("--seeds", default="0,1,2", help="--real: training seeds (default 0,1,2)")
    parser.add_argument(
        "--architectures", default="dense,cnn", help="--real: architectures (default dense,cnn)"
    )
    parser.add_argument(
        "--archive", type=Path, default=ARCHIVE, help=f"--real: HAPT archive (default {ARCHIVE})"
    )
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"from {', '.join(VARIANTS)}")
    parser.add_argument("--fine-tune-epochs", type=int, default=10)
    parser.add_argument("--windows", type=int, default=20, help="measured test windows per variant")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--keep", type=Path, help="also write each variant's MCU .tflite into this folder")
    args = parser.parse_args(argv)
    from har_edge.firmware import mps2

    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    missing = mps2.missing_tools()
    if bool(args.models) == bool(args.real) or (args.real and not args.archive.is_file()):
        print("give model folders or --real DIR (with the HAPT --archive present)", file=sys.stderr)
        return 2
    if unknown or missing:
        problem = f"unknown variants {unknown}" if unknown else f"missing {', '.join(missing)}"
        print(
            f"{problem} (variants: {', '.join(VARIANTS)}; tools: {' '.join(mps2.DEBIAN_PACKAGES)})",
            file=sys.stderr,
        )
        return 2
    folders = args.models
    if args.real:
        seeds = [int(seed) for seed in args.seeds.split(",")]
        folders = real_folders(args.real, args.archive, args.architectures.split(","), seeds)
    rows = []
    with tempfile.TemporaryDirectory(prefix="har-pruning-mcu-") as cache:
        for folder in folders:
            rows += study(folder, names, args.fine_tune_epochs, args.windows, Path(cache), args.keep)
            print(markdown(rows), flush=True)
            if args.json:
                args.json.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"\n{summary(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
