"""The whole product (raw samples -> labels and events) on the emulated Cortex-M4F, per bundle: the C
library ``har-edge firmware BUNDLE --name NAME`` writes, built with its example for mps2-an386 and run
under QEMU (``har_edge.firmware.library_cost``). Prints a Markdown table: flash (library code, int8
weights, input tables, float head), RAM (statics + one stream + the deepest push's stack), the example's
windows and events, and whether its labels and events equal the Python ``StreamingClassifier``'s on the
same samples (through base.tflite, what ``predict --stream`` runs).

Usage: python benchmarks/library_report.py BUNDLE [BUNDLE ...] [--json out.json]
Needs gcc-arm-none-eabi, libnewlib-arm-none-eabi, qemu-system-arm, make.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def python_lines(bundle, samples) -> list[str]:
    """The example's window and event lines as the Python stream computes them."""
    from har_edge.codegen.library import stream_lines_as_printed
    from har_edge.runtime.classifier import Classifier

    return stream_lines_as_printed(Classifier(bundle), samples, max(1, round(bundle.manifest.rate_hz)))


def measure(path: Path, workdir: Path) -> dict:
    from har_edge.codegen.library import write_library
    from har_edge.firmware.library_cost import product_cost
    from har_edge.runtime.bundle import open_bundle

    bundle = open_bundle(path)
    info = write_library(bundle, workdir / "har", "har")
    cost = product_cost(info.path)
    done = subprocess.run(
        ["make", "-s", "-f", "boards/mps2-an386/Makefile", "run"],
        cwd=info.path,
        capture_output=True,
        text=True,
    )
    keep = {"window": 4, "event": 5}
    board = [
        " ".join(w[: keep[w[0]]]) for w in map(str.split, done.stdout.splitlines()) if w and w[0] in keep
    ]
    python = python_lines(bundle, info.example_samples)
    differing = sum(a != b for a, b in zip(board, python, strict=False)) + abs(len(board) - len(python))
    return {
        "bundle": str(path),
        "architecture": bundle.manifest.architecture,
        **cost.to_dict(),
        "lines_differing": differing,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundles", nargs="+", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    rows = []
    for path in args.bundles:
        with tempfile.TemporaryDirectory(prefix="har-library-") as tmp:
            rows.append(measure(path, Path(tmp)))
    header = ("bundle", "flash B", "int8 weights B", "RAM B = static + stream + stack", "windows", "events")
    print("| " + " | ".join((*header, "lines unlike predict --stream")) + " |")
    print("| --- " + "| ---: " * len(header) + "|")
    for r in rows:
        ram = f"{r['ram_bytes']:,} = {r['static_ram_bytes']:,} + {r['stream_bytes']:,} + {r['stack_bytes']:,}"
        cells = (f"{r['architecture']} ({Path(r['bundle']).name})", f"{r['flash_bytes']:,}")
        cells += (f"{r['weights_bytes']:,}", ram, r["windows"], r["events"], r["lines_differing"])
        print("| " + " | ".join(map(str, cells)) + " |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
