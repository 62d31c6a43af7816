"""The side-by-side table of ``firmware_vs_tflm.py`` (Markdown from its measured rows) and issue 24's
goals, met or not.

How each side is counted (the same board, flags, QEMU ``-icount shift=0`` and SysTick count):
- instructions per inference: har_edge, the median over the seeded inputs; TFLM, the median over all
  but the first (its warm-up) of ``Invoke()`` alone. Instructions, NOT cycles (see ``cycle_estimate.py``).
- flash, model + engine, harness apart: har_edge, weights + generated glue + kernels (+ the libc they
  call) from the linker map; TFLM, the image minus the same board and harness without engine or model.
- RAM: har_edge, arena + kernel statics + one inference's stack; TFLM, ``arena_used_bytes()`` + the
  engine's statics (without the unused part of its static arena) + one inference's stack.
- differs: output bytes that differ from LiteRT's BUILTIN_REF reference kernels on the same inputs.
"""

from __future__ import annotations

import json
from pathlib import Path

from har_edge.fsutil import atomic_write_text

SIDES = ("har_edge", "tflm_cmsis_nn", "tflm_reference")
GOAL_RATIO, MOONSHOT_RATIO = 0.6, 0.5
GOAL_DENSE_PER_MAC, GOAL_PUBLIC_PER_MAC = 2.0, 2.0
GOAL_FLASH, GOAL_RAM = 0.5, 0.7
OWN = ("dense", "cnn", "cnn+spectrogram", "lstm")


def _measured(side: dict | None) -> bool:
    return bool(side) and side.get("instructions_per_inference") is not None


def ratio(row: dict, key: str) -> float | None:
    """har_edge's figure over TFLM + CMSIS-NN's (``key``: instructions_per_inference, flash_bytes,
    ram_bytes), or None when either side was not measured."""
    har, peer = row.get("har_edge"), row.get("tflm_cmsis_nn")
    if not (_measured(har) and _measured(peer)) or not peer.get(key):
        return None
    return har[key] / peer[key]


def _instructions(side: dict | None, macs: int | None) -> str:
    if not side:
        return "—"
    if "refused" in side:
        return "refused: " + side["refused"][:80].replace("|", "/")
    n = side["instructions_per_inference"]
    return f"{n:,} ({n / macs:.2f}/MAC)" if macs else f"{n:,}"


def _kb(side: dict | None, key: str) -> str:
    return f"{side[key] / 1024:.1f}" if _measured(side) else "—"


def _differs(row: dict) -> str:
    outputs = row.get("outputs")
    if not outputs:
        return "—"
    vs = outputs["vs_builtin_ref"]
    short = {"har_edge": "har", "tflm_cmsis_nn": "cmsis", "tflm_reference": "ref"}
    parts = [f"{short[k]} {'—' if v is None else v}" for k, v in vs.items()]
    between = outputs["between"].get("har_edge vs tflm_cmsis_nn")
    agree = "—" if between is None else ("yes" if between == 0 else f"no ({between} B)")
    return f"{' / '.join(parts)} of {outputs['output_bytes']} | {agree}"


def _cycles(row: dict) -> str:
    cycles = row.get("cycles")
    if not cycles:
        return "—"
    return " / ".join(
        f"{c['cycles_typical']:,} ({c['cycles_low']:,}–{c['cycles_high']:,})" if "error" not in c else "—"
        for c in cycles.values()
    )


def markdown(rows: list[dict]) -> str:
    """One line per model (a model no engine measured says why)."""
    lines = [
        "| model | MACs | har_edge instr | TFLM + CMSIS-NN instr | ratio | TFLM reference instr | "
        "flash KB har / TFLM+CMSIS | RAM KB har / TFLM+CMSIS | bytes differing from BUILTIN_REF "
        "(har / cmsis / ref) | har = cmsis | est. cycles har / cmsis (low–high) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|",
    ]
    for row in rows:
        if "har_edge" not in row:
            lines.append(f"| {row['model']} | {row['note'].replace('|', '/')} |||||||||| ")
            continue
        macs = row.get("macs")
        r = ratio(row, "instructions_per_inference")
        lines.append(
            f"| {row['model']} | {f'{macs:,}' if macs else '—'} | {_instructions(row['har_edge'], macs)} | "
            f"{_instructions(row.get('tflm_cmsis_nn'), macs)} | {'—' if r is None else f'{r:.2f}×'} | "
            f"{_instructions(row.get('tflm_reference'), macs)} | "
            f"{_kb(row['har_edge'], 'flash_bytes')} / {_kb(row.get('tflm_cmsis_nn'), 'flash_bytes')} | "
            f"{_kb(row['har_edge'], 'ram_bytes')} / {_kb(row.get('tflm_cmsis_nn'), 'ram_bytes')} | "
            f"{_differs(row)} | {_cycles(row)} |"
        )
    return "\n".join(lines)


def goals(rows: list[dict]) -> list[dict]:
    """Issue 24's goals over the measured rows: ``{"goal", "met", "detail"}``; a goal no row could
    be measured for is not met (``met`` None when there is nothing to judge)."""
    measured = [r for r in rows if ratio(r, "instructions_per_inference") is not None]
    unmeasured = [r["model"] for r in rows if r not in measured]

    def judge(goal: str, values: list[tuple[str, float]], limit: float, fmt: str) -> dict:
        worst = [f"{name} {fmt.format(v)}" for name, v in values if v > limit]
        detail = ", ".join(worst) if worst else ("all within" if values else "nothing measured")
        met = None if not values else not worst
        return {"goal": goal, "met": met, "detail": detail}

    per_mac = {
        r["model"]: r["har_edge"]["instructions_per_inference"] / r["macs"] for r in measured if r["macs"]
    }
    public = [(m, v) for m, v in per_mac.items() if m not in OWN]
    results = [
        judge(
            f"har_edge ≤ {GOAL_RATIO}× TFLM+CMSIS-NN instructions on every model",
            [(r["model"], ratio(r, "instructions_per_inference")) for r in measured],
            GOAL_RATIO,
            "{:.2f}×",
        ),
        judge(
            f"moonshot ≤ {MOONSHOT_RATIO}×",
            [(r["model"], ratio(r, "instructions_per_inference")) for r in measured],
            MOONSHOT_RATIO,
            "{:.2f}×",
        ),
        judge(
            f"dense ≤ {GOAL_DENSE_PER_MAC} instr/MAC",
            [(m, v) for m, v in per_mac.items() if m == "dense"],
            GOAL_DENSE_PER_MAC,
            "{:.2f}/MAC",
        ),
        judge(
            f"every MLPerf Tiny model ≤ {GOAL_PUBLIC_PER_MAC} instr/MAC",
            public,
            GOAL_PUBLIC_PER_MAC,
            "{:.2f}/MAC",
        ),
        judge(
            f"flash ≤ {GOAL_FLASH}× TFLM+CMSIS-NN",
            [(r["model"], ratio(r, "flash_bytes")) for r in measured],
            GOAL_FLASH,
            "{:.2f}×",
        ),
        judge(
            f"RAM ≤ {GOAL_RAM}× TFLM+CMSIS-NN",
            [(r["model"], ratio(r, "ram_bytes")) for r in measured],
            GOAL_RAM,
            "{:.2f}×",
        ),
    ]
    between = [
        (r["model"], r["outputs"]["between"].get("har_edge vs tflm_cmsis_nn"))
        for r in measured
        if r.get("outputs")
    ]
    results.append(
        judge(
            "outputs byte-identical between har_edge and TFLM+CMSIS-NN",
            [(m, float(v)) for m, v in between if v is not None],
            0,
            "{:.0f} B differ",
        )
    )
    if unmeasured:
        for result in results[:2]:
            result["met"] = False if result["met"] is not None else None
            result["detail"] += f"; not compared: {', '.join(unmeasured)}"
    return results


def goals_markdown(results: list[dict]) -> str:
    lines = ["| goal | met | detail |", "|---|---|---|"]
    verdict = {True: "yes", False: "**no**", None: "not judged"}
    lines += [f"| {g['goal']} | {verdict[g['met']]} | {g['detail']} |" for g in results]
    return "\n".join(lines)


def read_rows(path: Path) -> list[dict]:
    """The rows of a JSON written by ``write_json`` (to render the table again without measuring)."""
    from har_edge.errors import InputError

    try:
        return json.loads(Path(path).read_text())["rows"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(f"{path}: not a firmware_vs_tflm JSON ({error})") from error


def write_json(path: Path, rows: list[dict], tree: Path) -> None:
    document = {
        "schema_version": 1,
        "tflm_tree": str(tree),
        "counting": __doc__.split("\n\n", 1)[1],
        "rows": rows,
        "goals": goals(rows),
    }
    atomic_write_text(path, json.dumps(document, indent=1) + "\n")
