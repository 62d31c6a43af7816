"""How far the float32 kernels that call the C library (TANH, LOGISTIC, SOFTMAX: ``tanhf``/``expf``) are
from LiteRT's reference kernels, on the host build (glibc on both sides) and on the emulated Cortex-M4F
(newlib's single-precision functions): per op, the share of output values that differ, the largest
difference in ulps and the largest relative difference (normal results). This is the measurement behind
``har_edge.codegen.verify_float.FLOAT_TOLERANCE``; the float kernels without a libm call are bit-exact
(``tests/test_firmware_float.py``).

Usage: python benchmarks/float_libm.py [--values 262144] [--seed 0] [--boards host,mps2-an386]
Each op is a one-op float32 model; its inputs cover the ranges the kernels see (TANH [-10, 10],
LOGISTIC [-17, 10], where it calls expf, SOFTMAX rows of 16 normal values x 4). Needs gcc, and for
mps2-an386 gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm; takes about a minute.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

WIDTH = 1024  # values per inference


def op_model(name: str) -> bytes:
    from har_edge.tfcompat import keras, tensorflow

    tf, k = tensorflow(), keras()
    if name == "SOFTMAX":
        inputs = k.Input(shape=(WIDTH // 16, 16), batch_size=1)
        outputs = k.layers.Softmax()(inputs)
    else:
        inputs = k.Input(shape=(WIDTH,), batch_size=1)
        outputs = k.layers.Activation({"TANH": "tanh", "LOGISTIC": "sigmoid"}[name])(inputs)
    return bytes(tf.lite.TFLiteConverter.from_keras_model(k.Model(inputs, outputs)).convert())


def op_inputs(name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if name == "TANH":
        values = rng.uniform(-10, 10, (n, WIDTH))
    elif name == "LOGISTIC":
        values = rng.uniform(-17, 10, (n, WIDTH))
    else:
        values = rng.normal(0, 4, (n, WIDTH))
    return values.astype(np.float32)


def compare(expected: np.ndarray, actual: np.ndarray) -> dict:
    e, a = expected.view(np.float32).ravel(), actual.view(np.float32).ravel()
    ulps = np.abs(e.view(np.int32).astype(np.int64) - a.view(np.int32).astype(np.int64))
    normal = np.abs(e) >= np.finfo(np.float32).tiny
    relative = np.abs(e[normal].astype(np.float64) - a[normal]) / np.abs(e[normal].astype(np.float64))
    return {
        "values": int(e.size),
        "differ": int(np.count_nonzero(ulps)),
        "max_ulp": int(ulps.max()),
        "max_relative": float(relative.max()) if relative.size else 0.0,
        "max_abs": float(np.max(np.abs(e.astype(np.float64) - a))),
    }


def measure(name: str, board: str, n: int, seed: int, folder: Path) -> dict:
    from har_edge.codegen.project import write_project
    from har_edge.codegen.verify import reference_run
    from har_edge.firmware.build import build, run

    model = op_model(name)
    inputs = op_inputs(name, n, np.random.default_rng(seed))
    info = write_project(model, folder / f"{name}-{board}", board, "op")
    result = run(build(info.path, board), board, inputs, info.output_bytes, timeout_s=1800)
    expected, _ = reference_run(model, inputs)
    return {"op": name, "board": board, **compare(expected, result.outputs)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--values", type=int, default=1 << 18, help="output values per op (default 2^18)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--boards", default="host,mps2-an386")
    args = parser.parse_args(argv)
    n = max(1, args.values // WIDTH)
    lines = [
        "| op | board | values | differ | max ulp | max relative (normal) | max abs |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    with tempfile.TemporaryDirectory(prefix="har-float-libm-") as tmp:
        for board in args.boards.split(","):
            for name in ("TANH", "LOGISTIC", "SOFTMAX"):
                r = measure(name, board, n, args.seed, Path(tmp))
                lines.append(
                    f"| {r['op']} | {r['board']} | {r['values']:,} | {r['differ']:,} "
                    f"({100 * r['differ'] / r['values']:.2f} %) | {r['max_ulp']} | {r['max_relative']:.2e} | "
                    f"{r['max_abs']:.2e} |"
                )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
