"""har_edge's generated C beside TensorFlow Lite for Microcontrollers (CMSIS-NN kernels, and TFLM's
reference kernels) on the same emulated Cortex-M4F (mps2-an386 under ``qemu-system-arm -icount
shift=0``: same board files, flags, harness conventions and SysTick instruction count), model by model.

Models: the project's dense, cnn and cnn+spectrogram MCU bases (``firmware_report.py``'s: 200 x 3
windows, 12 classes, int8 in and out, batch 1, seeded and UNTRAINED: random weights are fine for
instruction counts, which depend on shapes), the lstm (a row saying so when the generator refuses it),
and the .tflite files of ``../shared/models/mlperf-tiny/`` (as published: a dynamic batch, run at 1).
Every engine runs the same seeded int8 inputs (the first is TFLM's warm-up and is not counted).

Per model (``peer_table.py`` renders the Markdown and says how each figure is counted): MACs;
instructions per inference and per MAC of har_edge, TFLM + CMSIS-NN and TFLM reference; the ratio;
flash and RAM of model + engine, harness apart; output bytes that differ from LiteRT's BUILTIN_REF
kernels (each engine) and between the engines; per-layer counts in the JSON (har_edge's profiling
build; TFLM + CMSIS-NN's MicroProfiler with ``--profile``, which compiles its library a second time);
with ``--cycles N``, a Cortex-M4 cycle estimate from the instruction mix (``cycle_estimate.py``) for
models of at most N MACs.

Usage: python benchmarks/firmware_vs_tflm.py [--tflm-tree DIR | --archive FILE] [--json out.json]
       [--only NAME ...] [--inputs 3] [--seed 0] [--profile] [--cycles MACS]
The peer's library build takes ~12 minutes per kernel set the first time (cached by the archive's
SHA-256 under ~/.cache/har_edge/peer/); needs the ARM toolchain, QEMU and the cross compiler's C++
headers (Debian libstdc++-arm-none-eabi-dev, libstdc++-arm-none-eabi-newlib).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # this folder's studies, also when imported

import peer_table  # noqa: E402
import peer_tree  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HAR_EDGE_SHARED") or REPO.parent / "shared")
OWN = ("dense", "cnn", "cnn+spectrogram", "lstm")
RANDOM_WEIGHTS = "seeded, untrained weights (counts depend on shapes)"


def own_models(seed: int) -> dict[str, tuple[bytes | None, str]]:
    """The project's architectures as int8 batch-1 MCU bases: name -> (model or None, note)."""
    from firmware_report import mcu_model, windows

    splits = windows(seed)
    found: dict[str, tuple[bytes | None, str]] = {}
    for name in OWN:
        try:
            found[name] = (mcu_model(name, splits, seed), RANDOM_WEIGHTS)
        except Exception as error:  # a conversion that fails is a row, not a failed run
            found[name] = (None, f"not converted: {type(error).__name__}: {str(error).splitlines()[0]}")
    return found


def public_models(folder: Path) -> dict[str, tuple[bytes | None, str]]:
    found = {p.stem: (p.read_bytes(), "published weights") for p in sorted(folder.glob("*.tflite"))}
    if not found:
        print(f"note: no .tflite in {folder}; MLPerf Tiny rows skipped", file=sys.stderr)
    return found


def har_side(model: bytes, inputs: np.ndarray, cache: Path) -> tuple[dict, np.ndarray | None]:
    """har_edge's generated firmware on mps2-an386 (``har-edge firmware --build --run``'s flow)."""
    from har_edge.errors import InputError
    from har_edge.firmware.flow import build_cached, run_built

    try:
        built = build_cached(model, "mps2-an386", cache_dir=cache)
    except InputError as error:
        return {"refused": str(error).splitlines()[0]}, None
    run = run_built(built, inputs)
    f = run.figures
    memory = f["memory"]
    side = {
        "instructions_per_inference": f["instructions_per_inference"],
        "flash_bytes": memory["model_flash_bytes"],
        "weights_bytes": memory["weights_bytes"],
        "code_bytes": memory["code_bytes"],
        "arena_bytes": memory["arena_bytes"],
        "static_ram_bytes": memory["kernel_ram_bytes"],
        "inference_stack_bytes": f["inference_stack_bytes"],
        "ram_bytes": f["model_ram_bytes"],
        "layers": [{k: layer[k] for k in ("name", "macs", "instructions")} for layer in f["layers"]],
        "elf": str(built.binary),
    }
    return side | {"macs": f["macs"]}, np.asarray(run.outputs, np.uint8)


def tflm_side(tree: Path, name: str, model_path: Path, inputs_path: Path, kernels: str, base: Path, profile):
    """One TFLM build of the model: (figures, output bytes as written, or None)."""
    outputs = inputs_path.with_name(f"out-{kernels}.bin")
    try:
        elf = peer_tree.build(tree, model_path, name, kernels)
        side = peer_tree.figures(peer_tree.measure(tree, elf, inputs_path, base, outputs)) | {"elf": str(elf)}
    except (RuntimeError, subprocess.TimeoutExpired) as error:  # a row says so; the run goes on
        return {"refused": str(error).strip().splitlines()[-1][:200]}, None
    if profile and kernels == "cmsis_nn":  # one more library build (LOGS=1): CMSIS-NN's only
        profiled = peer_tree.build(tree, model_path, name, kernels, profile=True)
        lines = peer_tree.measure(tree, profiled, inputs_path, base, outputs.with_suffix(".profile"))
        side["layers"] = peer_tree.profile_rows(lines.get("profile", []))
    return side, np.frombuffer(outputs.read_bytes(), np.uint8)


def compare(outputs: dict[str, np.ndarray | None], reference: np.ndarray) -> dict:
    """Differing output bytes: each engine vs BUILTIN_REF, and each pair of engines."""
    shaped = {
        k: v.reshape(reference.shape) if v is not None and v.size == reference.size else None
        for k, v in outputs.items()
    }

    def differ(a, b):
        return None if a is None or b is None else int(np.count_nonzero(a != b))

    names = list(shaped)
    result = {
        "output_bytes": int(reference.size),
        "vs_builtin_ref": {k: differ(v, reference) for k, v in shaped.items()},
    }
    result["between"] = {
        f"{a} vs {b}": differ(shaped[a], shaped[b]) for i, a in enumerate(names) for b in names[i + 1 :]
    }
    return result


def measure_model(name, model, note, tree, base, work: Path, args) -> dict:
    from har_edge.codegen.verify import random_inputs, reference_run
    from har_edge.targets.firmware_runner import cache_root

    row: dict = {"model": name, "note": note}
    if model is None:
        return row
    folder = work / name.replace("+", "_")
    folder.mkdir(parents=True, exist_ok=True)
    model_path = folder / f"{folder.name}.tflite"
    model_path.write_bytes(model)
    inputs = random_inputs(model, args.inputs, seed=args.seed)
    inputs_path = folder / "inputs.bin"
    inputs_path.write_bytes(np.ascontiguousarray(inputs).tobytes())
    row["inputs"] = {
        "n": len(inputs),
        "seed": args.seed,
        "counted": "median of inputs 2..n (TFLM), 1..n (har_edge)",
    }
    row["har_edge"], outputs = har_side(model, inputs, cache_root())
    row["macs"] = row["har_edge"].pop("macs", None)
    collected = {"har_edge": outputs}
    for kernels in peer_tree.KERNELS:
        row[f"tflm_{kernels}"], collected[f"tflm_{kernels}"] = tflm_side(
            tree, folder.name, model_path, inputs_path, kernels, base, args.profile
        )
    row["outputs"] = compare(collected, reference_run(model, inputs)[0])
    if args.cycles is not None and row["macs"] and row["macs"] <= args.cycles:
        row["cycles"] = cycles_of(row, inputs)
    return row


def cycles_of(row: dict, inputs: np.ndarray) -> dict:
    """The cycle estimate of har_edge's and TFLM + CMSIS-NN's image over the first two inputs (a
    warm-up, then the traced inference); an image the trace cannot bracket says why."""
    import cycle_estimate

    estimates = {}
    for key in ("har_edge", "tflm_cmsis_nn"):
        if "elf" in row.get(key, {}):
            try:
                mix = cycle_estimate.estimate_image(Path(row[key]["elf"]), inputs[:2].tobytes())
                estimates[key] = mix.to_dict()
            except (RuntimeError, subprocess.SubprocessError) as error:
                estimates[key] = {"error": str(error)[:200]}
    return estimates


def peer(args, cache: Path) -> Path:
    if args.tflm_tree:
        if not (args.tflm_tree / "Makefile").is_file():
            raise SystemExit(f"{args.tflm_tree}: not a TFLM peer tree (no Makefile)")
        return args.tflm_tree
    return peer_tree.unpacked_tree(args.archive, cache)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tflm-tree", type=Path, help="an unpacked (or already built) peer tree to use")
    parser.add_argument("--archive", type=Path, default=SHARED / "peers" / f"{peer_tree.TREE_NAME}.tar.xz")
    parser.add_argument(
        "--cache", type=Path, default=peer_tree.default_cache(), help="where the tree is unpacked"
    )
    parser.add_argument("--models", type=Path, default=SHARED / "models" / "mlperf-tiny")
    parser.add_argument("--only", nargs="+", help="measure only these models (names as in the table)")
    parser.add_argument(
        "--inputs", type=int, default=3, help="seeded random inputs per model (first: warm-up)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="TFLM per-operator counts (MicroProfiler)")
    parser.add_argument("--cycles", type=int, metavar="MACS", help="cycle estimates for models <= MACS")
    parser.add_argument("--json", type=Path, help="write the rows (with per-layer figures) as JSON")
    parser.add_argument("--from-json", type=Path, help="render the table of a saved --json run; no measuring")
    args = parser.parse_args(argv)
    if args.from_json:
        return render(peer_table.read_rows(args.from_json))
    if args.inputs < 2:
        parser.error("--inputs needs at least 2 (TFLM's first inference is a warm-up)")
    tree = peer(args, args.cache)
    base = peer_tree.baseline(tree)
    candidates = own_models(args.seed) | public_models(args.models)
    rows = []
    with tempfile.TemporaryDirectory(prefix="har-vs-tflm-") as tmp:
        for name, (model, note) in candidates.items():
            if args.only and name not in args.only:
                continue
            print(f"measuring {name} ...", file=sys.stderr, flush=True)
            rows.append(measure_model(name, model, note, tree, base, Path(tmp), args))
            if args.json:  # after every model: a long run keeps what it measured
                peer_table.write_json(args.json, rows, tree)
    return render(rows)


def render(rows: list[dict]) -> int:
    print(peer_table.markdown(rows))
    print()
    print(peer_table.goals_markdown(peer_table.goals(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
