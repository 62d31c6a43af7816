"""Fault-injection campaign: mutated models, manifests, checkpoints, reports, budgets, data files and
runtime inputs, each case in its own child process with a timeout; prints the outcome table.

    python tools/fuzz.py --cases 10000 --seed 1            # the long campaign (minutes on 2 cores)
    python tools/fuzz.py --cases 300 --seed 7 --json out.json
    python tools/fuzz.py --replay manifest:42 --seed 1     # one case in this process, with its traceback

Outcomes: ``typed error`` (a ``HarEdgeError``, or CLI exit 2), ``other exception`` (any other
exception: a bug), ``crash`` (the child died of a signal), ``hang`` (killed after ``--timeout``),
``accepted`` and ``silent wrong answer`` (accepted, but the answer is detectably wrong: NaN outputs,
a file read from outside the bundle, a value that must be refused). The goal is 0 in the middle four.

Speed: a fork server. The parent imports har_edge and numpy, writes the seed files and test-runs the
golden models once (``har_edge.runtime.probe`` remembers them), then forks one child per case, so a
case costs milliseconds (a mutated model that passes verification adds its own test-run child).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

import fuzz_cases  # noqa: E402 - after the path set-up above
import fuzz_seeds  # noqa: E402

OUTCOMES = (
    "typed error",
    "other exception",
    "crash",
    "hang",
    "sanitizer report",
    "lost file",
    "accepted",
    "silent wrong answer",
)
BAD = ("other exception", "crash", "hang", "sanitizer report", "lost file", "silent wrong answer")
MEMORY_LIMIT_BYTES = 6 << 30  # a runaway allocation becomes a MemoryError, not a machine out of memory
EXAMPLES_PER_OUTCOME = 3
PROGRESS_EVERY = 500  # cases between progress lines on stderr


def run_case(surface: str, seed: int, index: int, seeds: dict, case_dir: Path) -> tuple[str, str]:
    """(outcome, detail) of one case, run in this process."""
    from har_edge.errors import HarEdgeError

    rng = random.Random(f"{seed}:{surface}:{index}")
    try:
        verdict = fuzz_cases.SURFACES[surface](rng, seeds, case_dir)
    except (HarEdgeError, fuzz_cases.TypedExit):
        return "typed error", ""
    except BaseException as exc:  # noqa: BLE001 - classifying every exception is the point
        where = traceback.extract_tb(exc.__traceback__)[-1]
        detail = f"{type(exc).__name__}: {str(exc)[:200]} at {Path(where.filename).name}:{where.lineno}"
        return "other exception", detail
    for outcome, detail in (
        ("sanitizer report", verdict.sanitizer),
        ("lost file", verdict.lost),
        ("silent wrong answer", verdict.silent),
    ):
        if detail:
            return outcome, detail
    return "accepted", ""


def _child(surface: str, seed: int, index: int, seeds: dict, case_dir: Path, result_fd: int) -> None:
    os.setpgid(0, 0)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, resource.RLIM_INFINITY))
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    case_dir.mkdir(parents=True)
    outcome = run_case(surface, seed, index, seeds, case_dir)
    os.write(result_fd, json.dumps(outcome).encode())
    os._exit(0)


def _prepare(workdir: Path) -> dict:
    """Seeds, warm imports, and the golden models' test runs remembered in this (the parent) process."""
    from har_edge.bench import report  # noqa: F401 - warm imports the children share
    from har_edge.data import formats  # noqa: F401
    from har_edge.runtime import classifier, personalize, probe, stream  # noqa: F401

    probe.START_METHOD = "fork"  # the harness and its children are single-threaded
    seeds = fuzz_seeds.build_seeds(workdir / "seeds")
    pid = os.fork()
    if pid == 0:
        fuzz_seeds.write_checkpoint_seed(seeds["checkpoint"])
        os._exit(0)
    os.waitpid(pid, 0)
    probe.probe_models([((fuzz_cases.GOLDEN / name).read_bytes(), name) for name in fuzz_cases.MODEL_FILES])
    return seeds


def campaign(cases: int, seed: int, surfaces: list[str], workers: int, timeout: float, workdir: Path):
    """Run ``cases`` cases round-robin over ``surfaces``; returns {surface: Counter}, examples."""
    seeds = _prepare(workdir)
    schedule = [(surfaces[i % len(surfaces)], i // len(surfaces)) for i in range(cases)]
    counts: dict[str, Counter] = defaultdict(Counter)
    examples: dict[tuple[str, str], list[str]] = defaultdict(list)
    running: dict[int, tuple[str, int, int, float]] = {}
    next_case = reported = 0
    while next_case < len(schedule) or running:
        while next_case < len(schedule) and len(running) < workers:
            surface, index = schedule[next_case]
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read_fd)
                _child(surface, seed, index, seeds, workdir / f"case{next_case}", write_fd)
            os.close(write_fd)
            running[pid] = (surface, index, read_fd, time.monotonic())
            next_case += 1
        _reap(running, counts, examples, timeout)
        done = next_case - len(running)
        if done // PROGRESS_EVERY > reported // PROGRESS_EVERY:
            print(f"{done}/{len(schedule)} cases", file=sys.stderr, flush=True)
            reported = done
    return counts, examples


def _reap(running: dict, counts: dict, examples: dict, timeout: float) -> None:
    time.sleep(0.002)
    for pid, (_, _, read_fd, started) in list(running.items()):
        done, status = os.waitpid(pid, os.WNOHANG)
        if not done:
            if time.monotonic() - started > timeout:
                os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                _record(running.pop(pid), ("hang", f"killed after {timeout:.0f} s"), counts, examples)
            continue
        with os.fdopen(read_fd, "rb") as pipe:
            text = pipe.read()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # test-run children left behind, if any
        if os.WIFSIGNALED(status):
            outcome = ("crash", signal.Signals(os.WTERMSIG(status)).name)
        else:
            lost = ("crash", f"exit {os.WEXITSTATUS(status)}, no result")
            outcome = tuple(json.loads(text)) if text else lost
        _record(running.pop(pid), outcome, counts, examples)


def _record(case: tuple, outcome: tuple[str, str], counts: dict, examples: dict) -> None:
    surface, index = case[0], case[1]
    counts[surface][outcome[0]] += 1
    if outcome[0] in BAD and len(examples[(surface, outcome[0])]) < EXAMPLES_PER_OUTCOME:
        examples[(surface, outcome[0])].append(f"{surface}:{index}  {outcome[1]}")


def table(counts: dict) -> str:
    surfaces = sorted(counts)
    lines = ["| surface | " + " | ".join(OUTCOMES) + " | total |", "|---" * (len(OUTCOMES) + 2) + "|"]
    total = Counter()
    for surface in surfaces:
        total.update(counts[surface])
        cells = [str(counts[surface][o]) for o in OUTCOMES]
        lines.append(f"| {surface} | " + " | ".join(cells) + f" | {sum(counts[surface].values())} |")
    lines.append("| **all** | " + " | ".join(str(total[o]) for o in OUTCOMES) + f" | {sum(total.values())} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--surfaces", default=",".join(fuzz_cases.SURFACES))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per case (default 30)")
    parser.add_argument("--json", type=Path, help="also write the counts and examples here")
    parser.add_argument("--replay", help="SURFACE:INDEX: run one case in this process")
    args = parser.parse_args(argv)
    surfaces = args.surfaces.split(",")
    unknown = sorted(set(surfaces) - set(fuzz_cases.SURFACES))
    if unknown or args.cases < 1 or args.workers < 1:
        parser.error(f"unknown surfaces {unknown}; valid: {sorted(fuzz_cases.SURFACES)}; cases/workers >= 1")
    with tempfile.TemporaryDirectory(prefix="har-edge-fuzz-") as tmp:
        if args.replay:
            surface, index = args.replay.split(":")
            seeds = _prepare(Path(tmp))
            rng = random.Random(f"{args.seed}:{surface}:{int(index)}")
            (Path(tmp) / "case").mkdir()
            print(fuzz_cases.SURFACES[surface](rng, seeds, Path(tmp) / "case"))
            return 0
        started = time.monotonic()
        counts, examples = campaign(args.cases, args.seed, surfaces, args.workers, args.timeout, Path(tmp))
    elapsed = time.monotonic() - started
    print(f"{args.cases} cases, seed {args.seed}, {args.workers} workers, {elapsed:.0f} s\n")
    print(table(counts))
    for (surface, outcome), items in sorted(examples.items()):
        print(f"\n{outcome} ({surface}):\n  " + "\n  ".join(items))
    if args.json:
        document = {
            "cases": args.cases,
            "seed": args.seed,
            "seconds": round(elapsed, 1),
            "counts": {surface: dict(c) for surface, c in counts.items()},
            "examples": {f"{s}/{o}": items for (s, o), items in examples.items()},
        }
        args.json.write_text(json.dumps(document, indent=2))
    bad = sum(c[o] for c in counts.values() for o in BAD)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
