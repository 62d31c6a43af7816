"""The trainable head on the microcontroller, measured on the emulated Cortex-M4F (mps2-an386, QEMU
``-icount shift=0``: instruction counts with a resolution of 40).

1. Per head shape: instructions per SGD step at batch 1 and 32, RAM (parameters + step scratch + the
   mini-batch cache at ``HEAD_MAX_BATCH`` 32), whether it fits a 256 KiB-RAM board (and the largest
   batch that does), and the worst relative difference to the head's ``train`` signature in LiteRT
   after 1 and 100 steps (alternating batches of 1 and 32, rate 0.01, seeded random features).
2. A whole personalization run (default: the golden dense bundle) for a new wearer (wrist smartwatch): the
   firmware (int8 C base + C SGD) against the host ``Personalizer`` on base.tflite and on the MCU
   base's features, with the same schedule and seed.

    python benchmarks/head_firmware_report.py [--board mps2-an386] [--epochs 60] [--bundle DIR]
        [--out report.json]

Needs TensorFlow (``head_tflite`` builds the LiteRT reference heads) and the ARM toolchain + QEMU.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from har_edge.codegen.head import HeadSpec, head_spec
from har_edge.export.head import head_tflite
from har_edge.firmware.checkpoint import SlotStorage
from har_edge.firmware.head_harness import HeadCommands, HeadFirmware
from har_edge.firmware.personalize import Schedule, personalize_on_board, personalize_on_host
from har_edge.runtime.bundle import open_bundle
from har_edge.runtime.classifier import HeadSession
from har_edge.runtime.head import HeadWeights

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden" / "dense_int8"
RAM_BUDGET = 256 * 1024
SHAPES = (  # name, features, hidden, classes
    ("cnn pooled features, 4 classes", 48, None, 4),
    ("cnn pooled features, 32 hidden, 4 classes", 48, 32, 4),
    ("golden dense bundle (400 features), 4 classes", 400, None, 4),
    ("dense seed model's 1,600 features, 4 classes", 1600, None, 4),
    ("dense seed model's 1,600 features, 12 classes", 1600, None, 12),
)
STEPS, RATE = 100, 0.01


def ram_bytes(spec: HeadSpec, max_batch: int) -> int:
    w = spec.weights
    hidden = w.hidden or 0
    return 4 * (spec.n_parameters + max_batch * (w.n_classes + 2 * hidden + w.n_features + w.n_classes))


def largest_fitting_batch(spec: HeadSpec) -> int:
    return max((b for b in range(0, 257) if ram_bytes(spec, b) <= RAM_BUDGET), default=0)


def built_sizes(project: Path, board: str) -> dict[str, int]:
    """From the built objects (``arm-none-eabi-size``): the head's RAM (.data + .bss of head.o) and flash
    (code of head.o and checkpoint.o, the initial weights in head_params.o)."""
    if board == "host":
        return {}
    sizes = {}
    for name in ("head", "checkpoint", "head_params"):
        out = (
            subprocess.run(
                ["arm-none-eabi-size", "-B", str(next(project.glob(f"build/**/head/{name}.o")))],
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.splitlines()[1]
            .split()
        )
        sizes[name] = tuple(int(v) for v in out[:3])  # text (with rodata), data, bss
    return {
        "measured_head_ram_bytes": sizes["head"][1] + sizes["head"][2],
        "measured_code_flash_bytes": sizes["head"][0] + sizes["checkpoint"][0],
        "measured_initial_weights_flash_bytes": sizes["head_params"][0],
    }


def _relative(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got.astype(np.float64) - want).max() / np.abs(want).max())


def measure_shape(name: str, f: int, hidden: int | None, c: int, board: str, workdir: Path) -> dict:
    weights = HeadWeights.random(f, c, hidden, seed=0)
    spec = HeadSpec(weights, tuple(f"class{i}" for i in range(c)), "0" * 64, "0" * 64, max_batch=32)
    session = HeadSession(head_tflite(weights), num_threads=1)
    rng = np.random.default_rng(0)
    commands, losses, after_1 = HeadCommands(spec), [], None
    for k in range(STEPS):
        n = 1 if k % 2 == 0 else 32
        x = rng.normal(0, 1, (n, f)).astype(np.float32)
        y = np.eye(c, dtype=np.float32)[rng.integers(0, c, n)]
        commands.train(x, y, RATE)
        losses.append(session.train_step(x, y, RATE))
        if k == 0:
            commands.get_weights()
            after_1 = session.named_weights()
    commands.get_weights()
    firmware = HeadFirmware(spec, board, workdir / f"shape_{f}_{hidden}_{c}")
    run = firmware.run(commands)
    trains = [r for r in run.results if hasattr(r, "loss")]
    c_after_1, c_after_100 = (r for r in run.results if isinstance(r, dict))
    after_100 = session.named_weights()
    return {
        "shape": name,
        "features": f,
        "hidden": hidden,
        "classes": c,
        "instructions_batch_1": int(np.median(run.train_instructions[0::2])),
        "instructions_batch_32": int(np.median(run.train_instructions[1::2])),
        "parameter_bytes": 4 * spec.n_parameters,
        "ram_bytes_batch_32": ram_bytes(spec, 32),
        "fits_256k_at_batch_32": ram_bytes(spec, 32) <= RAM_BUDGET,
        "largest_batch_in_256k": largest_fitting_batch(spec),
        "checkpoint_slot_bytes": spec.slot_bytes,
        **built_sizes(firmware.workdir / "project", board),
        "worst_loss_rel_diff": float(
            np.max(np.abs(np.array([r.loss for r in trains]) - losses) / np.abs(losses))
        ),
        "worst_weight_rel_diff_after_1": max(_relative(c_after_1[k], v) for k, v in after_1.items()),
        "worst_weight_rel_diff_after_100": max(_relative(c_after_100[k], v) for k, v in after_100.items()),
        "rolled_back_steps": sum(r.status != 0 for r in trains),
    }


def wearer(bundle_path: Path, seed: int = 11):
    """A new wearer (wrist smartwatch, synthetic) in the bundle's window, channels and classes: the
    first half of the recording to personalize on, the second half to evaluate on."""
    from har_edge.data.synthetic import SyntheticConfig, generate
    from har_edge.data.windows import WindowConfig, make_windows

    m = open_bundle(bundle_path).manifest
    config = SyntheticConfig(
        subjects=1,
        seconds_per_activity=40,
        position="wrist",
        device="smartwatch",
        seed=seed,
        classes=tuple(m.class_labels),
        gyroscope=any(c.startswith("gyr") for c in m.channels),
    )
    window = WindowConfig(rate_hz=m.rate_hz, window=m.window, hop=m.hop, channels=tuple(m.channels))
    windows, _ = make_windows(generate(config), window)
    labels = np.asarray(windows.class_names)[windows.y]
    first = windows.start < windows.start.max() / 2
    return windows.x[first], labels[first], windows.x[~first], labels[~first]


def measure_personalization(bundle_path: Path, board: str, epochs: int, workdir: Path) -> dict:
    data = wearer(bundle_path)
    schedule = Schedule(epochs=epochs)
    on_board = personalize_on_board(
        bundle_path, *data, board=board, schedule=schedule, workdir=workdir / "personalize"
    )
    host = personalize_on_host(bundle_path, *data, schedule=schedule, learning_rate=on_board.learning_rate)
    same_features = personalize_on_host(
        bundle_path, *data, schedule=schedule, learning_rate=on_board.learning_rate, mcu_base=True
    )
    slot_index, slot = SlotStorage(on_board.storage, head_spec(open_bundle(bundle_path)).slot_bytes).newest()
    return {
        "windows_train_pool": len(data[1]),
        "windows_eval": len(data[3]),
        "epochs": epochs,
        "learning_rate": on_board.learning_rate,
        "board": {
            "before": on_board.accuracy_before,
            "after": on_board.accuracy_after,
            "best_epoch": on_board.best_epoch,
            "rolled_back_steps": on_board.rolled_back_steps,
        },
        "host_base_tflite": {
            "before": host.accuracy_before,
            "after": host.accuracy_after,
            "best_epoch": host.history.best_epoch,
        },
        "host_mcu_base_features": {
            "before": same_features.accuracy_before,
            "after": same_features.accuracy_after,
            "best_epoch": same_features.history.best_epoch,
        },
        "worst_weight_rel_diff_vs_host_same_features": max(
            _relative(on_board.weights[k], v) for k, v in same_features.weights.items()
        ),
        "step_instructions": on_board.step_instructions,
        "base_instructions_per_window": on_board.base_instructions,
        "ram_bytes": on_board.ram_bytes,
        "stack_bytes": on_board.stack_bytes,
        "checkpoint": {"slot": slot_index, "sequence": slot.sequence, "storage_bytes": len(on_board.storage)},
    }


def markdown(shapes: list[dict], run: dict) -> str:
    lines = [
        "| head | instr/step b=1 | instr/step b=32 | params B | RAM B (b=32) | fits 256 KiB | max batch | "
        "worst rel diff 1 / 100 steps | head.o RAM B | code B |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in shapes:
        fits = "yes" if s["fits_256k_at_batch_32"] else "NO"
        cells = [
            s["shape"],
            f"{s['instructions_batch_1']:,}",
            f"{s['instructions_batch_32']:,}",
            f"{s['parameter_bytes']:,}",
            f"{s['ram_bytes_batch_32']:,}",
            fits,
            str(s["largest_batch_in_256k"]),
            f"{s['worst_weight_rel_diff_after_1']:.1e} / {s['worst_weight_rel_diff_after_100']:.1e}",
            f"{s.get('measured_head_ram_bytes', '-'):,}",
            f"{s.get('measured_code_flash_bytes', '-'):,}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    runs = (
        ("firmware", run["board"]),
        ("host Personalizer, base.tflite", run["host_base_tflite"]),
        ("host Personalizer, MCU base", run["host_mcu_base_features"]),
    )
    lines += [
        "",
        f"Personalization ({run['windows_train_pool']} windows, {run['epochs']} epochs, "
        f"rate {run['learning_rate']:.4f}):",
    ]
    lines += [
        f"- {name}: {r['before']:.1%} -> {r['after']:.1%} (best epoch {r['best_epoch']})" for name, r in runs
    ]
    lines += [
        f"- instructions per SGD step by batch size: {run['step_instructions']}; "
        f"int8 base per window: {run['base_instructions_per_window']:,}",
        f"- RAM bytes: {run['ram_bytes']}; checkpoint: {run['checkpoint']}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--board", default="mps2-an386")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument(
        "--bundle", type=Path, default=GOLDEN, help="bundle to personalize (with base_mcu.tflite)"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="head_report_") as tmp:
        workdir = Path(tmp)
        shapes = [measure_shape(*shape, args.board, workdir) for shape in SHAPES]
        run = measure_personalization(args.bundle, args.board, args.epochs, workdir)
    print(markdown(shapes, run))
    if args.out:
        args.out.write_text(
            json.dumps({"board": args.board, "shapes": shapes, "personalization": run}, indent=2)
        )


if __name__ == "__main__":
    main()
