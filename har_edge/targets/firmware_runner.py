"""The generated-C firmware as an ``McuRunner``: per model it generates C (``har_edge.codegen``), builds it
for an emulated board (cached by the hash of the model and of the firmware sources), runs the windows
under QEMU with a timeout, and measures flash, RAM and instructions (``har_edge.firmware.measure``).

What the row then says: flash = the model's weights + code (generated glue + int8 kernels + the libc
they call) from the linked ELF, the harness (startup, semihosting, printf) apart in ``details``; RAM = the
model's arena + the kernels' statics + the measured peak stack of one inference; instructions per
inference counted by the board (resolution 40 instructions); latency = instructions x the profile's
``cycles_per_instruction`` / clock, provenance ``derived`` (a stated factor on a measured count). Parity:
the firmware's output bytes against LiteRT's reference kernels (BUILTIN_REF) on the same inputs.
TFLM's host arena for the same model stays as the ``tflm_arena_bytes`` comparison column.
A bundle (e.g. the ``personalized`` variant) adds its trainable float head, generated and measured on the
same board (``har_edge.firmware.head_cost``): its weights and code to flash, its parameters, step
scratch and mini-batch cache to RAM, one head inference to the instructions; the instructions of one SGD
step at batch 1 and 32 are in the note and ``details["head"]``.

A float32 model runs through the float kernels: its parity is bit-exact or within the float tolerance
(``har_edge.codegen.verify_float``: expf/tanhf of newlib and glibc differ in the last bits), stated in
``details["parity"]``. A model the generator refuses gets TFLM's figures, with the reason in the notes.
``default_runner`` picks this runner only when the board's tools are installed, and otherwise says once
on stderr that the estimates are used.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from har_edge.errors import HarEdgeError
from har_edge.targets.base import Artifact, Provenance, TargetFigures, fit_fields, shortfalls

CACHE_ENV = "HAR_EDGE_FIRMWARE_CACHE"
DEFAULT_TIMEOUT_S = 300.0
PARITY_TEXT_LINES = 12
_said_fallback: set[str] = set()


def cache_root() -> Path:
    """Where built firmware is kept: ``$HAR_EDGE_FIRMWARE_CACHE``, else ``$XDG_CACHE_HOME/har_edge/
    firmware`` (default ``~/.cache``)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "har_edge" / "firmware"


def default_runner(profile) -> tuple[Any, str | None]:
    """(runner, fallback note) for ``profile``: the firmware runner when the profile names a board
    whose tools are all installed, else TFLM on the host; the note (and one stderr line per board and
    process) says why the estimates are used."""
    from har_edge.firmware import mps2
    from har_edge.targets.mcu import TflmHostRunner

    board = profile.firmware_board
    if not board:
        return TflmHostRunner(), None
    missing = mps2.missing_tools()
    if not missing:
        return FirmwareRunner(board=board), None
    note = (
        f"estimated: the {board} firmware toolchain is missing ({', '.join(missing)}; apt-get install "
        f"{' '.join(mps2.DEBIAN_PACKAGES)}), so flash and latency are estimates and RAM is TFLM's host arena"
    )
    if board not in _said_fallback:
        _said_fallback.add(board)
        print(f"har-edge: {profile.name}: {note}", file=sys.stderr, flush=True)
    return TflmHostRunner(), note


class FirmwareRunner:
    """Generated C on an emulated board (see the module docstring). ``tflm`` measures the comparison
    arena (and runs the models the generator does not take); ``cache_dir`` defaults to ``cache_root()``."""

    def __init__(
        self,
        *,
        board: str = "mps2-an386",
        cache_dir: Path | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        tflm=None,
    ) -> None:
        from har_edge.targets.mcu import TflmHostRunner

        self.board = board
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.timeout_s = timeout_s
        self.tflm = tflm if tflm is not None else TflmHostRunner()

    def run(self, model_bytes: bytes, inputs: np.ndarray):
        from har_edge.codegen.graph import UnsupportedModelError
        from har_edge.firmware.flow import build_cached, quantized_inputs, run_built
        from har_edge.runtime.interpreter import dequantize
        from har_edge.targets.mcu import McuRun

        reference = self.tflm.run(model_bytes, inputs)
        try:
            built = build_cached(model_bytes, self.board, cache_dir=self.cache_dir or cache_root())
        except UnsupportedModelError as exc:  # an op or dtype the generator has no kernel for
            return replace(reference, details={**reference.details, "firmware_not_used": str(exc)})
        except HarEdgeError as exc:
            return McuRun(None, None, error=f"firmware build for {self.board} failed: {exc}")
        windows, _, output_detail = quantized_inputs(model_bytes, inputs)
        try:
            measured = run_built(built, windows, timeout_s=self.timeout_s)
        except HarEdgeError as exc:
            return McuRun(None, None, error=f"firmware run on {self.board} failed: {exc}")
        outputs = measured.outputs.view(output_detail["dtype"])  # int8 or float32 values
        return McuRun(
            arena_bytes=reference.arena_bytes,
            outputs=dequantize(outputs, output_detail).reshape(len(inputs), -1),
            output_scale=float(output_detail["quantization"][0]) or None,
            log=reference.log,
            details={
                "firmware": measured.figures,
                "tflm_arena_bytes": reference.arena_bytes,
                "tflm_error": reference.error,
            },
        )


def firmware_figures(profile, artifact: Artifact, run, details: dict[str, Any], head=None) -> TargetFigures:
    """The row of a model measured on the emulated board (``run.details["firmware"]``); with ``head``
    (a ``HeadCost``, or the text of why the head could not be measured) a bundle's row is base + head."""
    measured = run.details["firmware"]
    memory, parity = measured["memory"], measured["parity"]
    measured_head = head if head is not None and not isinstance(head, str) else None
    added = _head_additions(measured_head)
    flash = memory["model_flash_bytes"] + added["flash"]
    ram = measured["model_ram_bytes"] + added["ram"]
    instructions = measured["instructions_per_inference"] + added["instructions"]
    latency_us = instructions * profile.cycles_per_instruction / profile.clock_hz * 1e6
    fits = fit_fields(profile, latency_us, ram, flash)
    notes = [
        f"measured on the emulated {measured['board']}: {instructions:,} instructions per inference; "
        f"latency derived at {profile.cycles_per_instruction:g} cycles/instruction and "
        f"{profile.clock_hz / 1e6:g} MHz (see cpi_source)",
    ]
    if not parity["within_tolerance"]:
        notes.append(f"firmware differs from LiteRT's reference kernels: {parity['summary']}")
    elif not parity["bit_exact"]:
        notes.append(
            f"float32 within {parity['tolerance']:g} x max(1, |reference|) of LiteRT's reference kernels "
            f"(max |difference| {parity['max_abs_difference']:.2g}: the C library's expf/tanhf, "
            "see har_edge/codegen/verify_float.py)"
        )
    if measured_head is not None:
        notes.append(head_note(measured_head))
    elif artifact.head_bytes is not None:
        notes.append(
            f"base only: the trainable head ({len(artifact.head_bytes):,} B .tflite) is not in the "
            "firmware's flash, RAM or instructions" + (f" ({head})" if head else "")
        )
    if run.details.get("tflm_error"):
        notes.append(f"no TFLM arena for comparison: {run.details['tflm_error']}")
    notes += shortfalls(profile, fits)
    macs = measured["macs"]
    return TargetFigures(
        target=profile.name,
        **fits,
        tflm_arena_bytes=run.details.get("tflm_arena_bytes"),
        instructions_per_inference=instructions,
        instructions_per_mac=instructions / (macs + added["macs"]) if macs else None,
        flash_weights_bytes=memory["weights_bytes"] + added["weights"],
        flash_code_bytes=memory["code_bytes"] + added["code"],
        provenance={
            "ram": Provenance.MEASURED.value,
            "flash": Provenance.MEASURED.value,
            "latency": Provenance.DERIVED.value,
        },
        details={
            **details,
            "firmware": measured,
            **({"head": measured_head.to_dict()} if measured_head else {}),
            "parity": parity,
            "cycles_per_instruction": profile.cycles_per_instruction,
            "cpi_source": profile.cpi_source,
            "source": profile.source,
        },
        notes=tuple(notes),
    )


def measure_head(runner, artifact: Artifact, max_batch: int | None = None):
    """The ``HeadCost`` of a bundle artifact's head on the firmware runner's board with a mini-batch of
    ``max_batch`` windows (None: ``DEFAULT_MAX_BATCH``), the reason it could not be measured (text), or
    None for an artifact without a head."""
    from har_edge.codegen.head import DEFAULT_MAX_BATCH
    from har_edge.firmware.head_cost import head_cost

    if artifact.head_bytes is None:
        return None
    if artifact.bundle_path is None:
        return "no bundle folder to generate the head from"
    try:
        return head_cost(artifact.bundle_path, runner.board, max_batch or DEFAULT_MAX_BATCH)
    except HarEdgeError as exc:
        return f"the head's firmware failed: {exc}"


def _head_additions(head) -> dict[str, int]:
    """What the head adds to the base's figures (all zero without one)."""
    if head is None:
        return dict.fromkeys(("flash", "weights", "code", "ram", "instructions", "macs"), 0)
    return {
        "flash": head.flash_bytes,
        "weights": head.weights_bytes,
        "code": head.code_bytes,
        "ram": head.total_ram_bytes,
        "instructions": head.infer_instructions,
        "macs": head.macs,
    }


def head_note(head) -> str:
    """The row's note on what the head adds and its SGD step's instructions."""
    steps = ", ".join(f"batch {b}: {n:,}" for b, n in sorted(head.step_instructions.items()))
    return (
        f"base + trainable head, both measured on the emulated {head.board}: the head adds "
        f"{head.flash_bytes:,} B flash (weights {head.weights_bytes:,}, code {head.code_bytes:,}), "
        f"{head.ram_bytes:,} B RAM + a {head.batch_cache_bytes:,} B mini-batch cache "
        f"(batch {head.max_batch}) and {head.infer_instructions:,} instructions per inference; "
        f"instructions per SGD step: {steps}; "
        f"checkpoint slots ({head.checkpoint_storage_bytes:,} B of flash storage) not counted"
    )
