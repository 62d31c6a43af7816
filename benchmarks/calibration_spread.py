"""How much raw, sort-normalized (schema 1) and reference-model-normalized (schema 2) latency move.

    python benchmarks/calibration_spread.py [--runs 5] [--bundle DIR] [--min-seconds 1.0]

For the demo's int8 bundle (built first unless ``--bundle`` names one; needs the ``train`` extra), each
run times ``Classifier.predict_proba`` on one window (1 thread) as the desktop target does:
``time_calibrated``, in rounds interleaved with the reference models and the numpy sort, under four
conditions: idle; a CPU-bound process pinned to the other core; this process pinned to one core
(``os.sched_setaffinity``); both. Prints every run with the 1-minute load average before it, then per
condition and over all runs: the median and the spread (±half the range, in % of the median) of raw
p50, p50 / sort ("old") and p50 / int8 reference model ("new"). Goal: new spread <= ±10 % where raw
moves more. On a shared machine "idle" is whatever the others are doing: read the load column.
A benchmark, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

METRICS = ("raw_us", "old_norm", "new_norm")
CONDITIONS = ("idle", "busy other core", "pinned", "pinned + busy other core")


def _spin() -> None:
    while True:
        pass


@contextmanager
def condition(name: str, cores: list[int]) -> Iterator[None]:
    """Run the body under ``name``: a spinning child pinned to the last core, this process pinned to
    the first, or both."""
    before = os.sched_getaffinity(0)
    busy = None
    if "busy" in name:
        busy = multiprocessing.Process(target=_spin, daemon=True)
        busy.start()
        os.sched_setaffinity(busy.pid, {cores[-1]})
    if "pinned" in name:
        os.sched_setaffinity(0, {cores[0]})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
        if busy is not None:
            busy.terminate()
            busy.join()


def one_run(bundle: Path, min_seconds: float) -> dict[str, float]:
    from har_edge.runtime.benchmark import bundle_call, time_calibrated

    load = os.getloadavg()[0]
    timing, calibration = time_calibrated(bundle_call(bundle, threads=1), threads=1, min_seconds=min_seconds)
    raw = timing.p50_us
    return {
        "load_1min": load,
        "raw_us": raw,
        "sort_us": calibration.sort_us_p50,
        "int8_ref_us": calibration.int8_us_p50,
        "old_norm": raw / calibration.sort_us_p50,
        "new_norm": raw / calibration.int8_us_p50,
    }


def spread(values: list[float]) -> tuple[float, float]:
    """(median, ± half the range in % of the median)."""
    middle = statistics.median(values)
    return middle, 100 * (max(values) - min(values)) / 2 / middle


def summary_line(label: str, runs: list[dict[str, float]]) -> str:
    cells = []
    for metric in METRICS:
        middle, plus_minus = spread([run[metric] for run in runs])
        cells.append(f"{middle:9.3f} ±{plus_minus:5.1f} %")
    loads = [run["load_1min"] for run in runs]
    return f"| {label:26s} | {min(loads):4.2f}-{max(loads):4.2f} | " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bundle", type=Path, help="an int8 bundle folder (default: build the demo's)")
    parser.add_argument(
        "--min-seconds", type=float, default=1.0, help="per run, as the desktop target (default 1.0)"
    )
    args = parser.parse_args(argv)
    cores = sorted(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="calibration_spread_") as folder:
        bundle = args.bundle
        if bundle is None:
            sys.path.insert(0, str(Path(__file__).parent))
            from demo_bundle import build_demo_bundle

            bundle = build_demo_bundle(Path(folder) / "bundle")[0].path
        results: dict[str, list[dict[str, float]]] = {}
        print(f"cores {cores}; {args.runs} runs per condition; load = 1-min load average before the run")
        print("| condition | run | load | raw p50 µs | sort µs | int8 ref µs | p50/sort | p50/ref |")
        print("|---|--:|--:|--:|--:|--:|--:|--:|")
        for name in CONDITIONS:
            with condition(name, cores):
                results[name] = [one_run(bundle, args.min_seconds) for _ in range(args.runs)]
            for k, run in enumerate(results[name], 1):
                print(
                    f"| {name} | {k} | {run['load_1min']:.2f} | {run['raw_us']:.1f} | {run['sort_us']:.1f} | "
                    f"{run['int8_ref_us']:.1f} | {run['old_norm']:.3f} | {run['new_norm']:.3f} |"
                )
    print()
    header = "| condition                  | load      |" + "".join(
        f" {label:18s} |" for label in ("raw p50 µs", "old: p50 / sort", "new: p50 / int8 ref")
    )
    print(header)
    print("|---|---|--:|--:|--:|")
    for name, runs in results.items():
        print(summary_line(name, runs))
    print(summary_line("all runs", [run for runs in results.values() for run in runs]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
