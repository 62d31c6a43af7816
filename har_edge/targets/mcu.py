"""Microcontroller targets: an artifact's int8 or float32 batch-1 model (``mcu_bytes``) run in TensorFlow
Lite for Microcontrollers, against a device profile from ``mcu_profiles.toml``.

What each figure is: ``ram_bytes`` is the smallest TFLM tensor arena that works, **measured** by running
the model in TFLM's host interpreter, plus the profile's stated overhead outside the arena; ``flash_bytes``
is the .tflite size plus an assumed TFLM core size (**estimated**); the latency of an int8 model is MACs
over the profile's int8 throughput (**estimated**, with the profile's source in ``details``; a float32
model gets none). ``tflm_arena_bytes`` is the arena alone. A variant without a batch-1 model (float16,
dynamic range) is a *not applicable* row. ``fits`` and the margins
compare RAM and flash with the profile's; a negative margin is the shortfall. ``details`` also holds
per-op TFLM support (the static op list and whether the real interpreter rejected the op) and the
outputs' parity with LiteRT on the artifact's sample windows.

Running the model goes through an ``McuRunner``. The default, ``TflmHostRunner``, runs TFLM on this host
in a child process (``har_edge.targets.tflm_child``): TFLM segfaults on some models it does not
support, and a crash or a timeout becomes the figures' ``error``, never an exception that stops a
benchmark. ``FirmwareRunner`` (``har_edge.targets.firmware_runner``) is the other runner: generated C
built for and run on an emulated board (int8 and float32 models alike), with flash, RAM and instructions
measured; a profile with a ``firmware_board`` uses it by default when the board's tools are installed; a
bundle's row there is its
int8 base + its trainable float head (``har_edge.firmware.head_cost``), both measured.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from har_edge.errors import DataFormatError, HarEdgeError
from har_edge.runtime.interpreter import interpreter_backend, run_model
from har_edge.targets.base import Artifact, Provenance, TargetFigures, fit_fields, shortfalls
from har_edge.targets.profiles import load_profile_table
from har_edge.targets.tflm_runner import McuRun, McuRunner, TflmHostRunner
from har_edge.tflite_info import TFLM_BUILTIN_OPS, inspect_tflite

__all__ = ["McuProfile", "McuRun", "McuRunner", "McuTarget", "TflmHostRunner", "mcu_profiles"]

PROFILES_FILE = "mcu_profiles.toml"
MAX_WINDOWS = 16  # of the artifact's sample, run through TFLM and LiteRT for parity

_PROFILE_FIELDS: dict[str, type] = {
    "core": str,
    "clock_hz": int,
    "ram_bytes": int,
    "flash_bytes": int,
    "macs_per_cycle": float,
    "tflm_core_flash_bytes": int,
    "ram_overhead_bytes": int,
    "source": str,
    "note": str,
}
# Optional: the emulated board whose generated-C firmware measures this profile's int8 variants, and the
# factor that turns its instruction count into cycles (with its source).
_OPTIONAL_FIELDS: dict[str, type] = {
    "firmware_board": str,
    "cycles_per_instruction": float,
    "cpi_source": str,
    "head_batch": int,  # the trainable head's mini-batch on the device (its RAM grows with it)
}
_POSITIVE_FIELDS = ("clock_hz", "ram_bytes", "flash_bytes", "macs_per_cycle")
_NON_NEGATIVE_FIELDS = ("tflm_core_flash_bytes", "ram_overhead_bytes")

# How TFLM names an op it cannot run ("Didn't find op for builtin opcode 'REDUCE_PROD'", "Failed to get
# registration from op code REDUCE_PROD", "Node FULLY_CONNECTED (number 1) failed to prepare ...").
_REJECTED_OP_PATTERNS = (
    re.compile(r"Didn't find op for (?:builtin|custom) opcode '([^']+)'"),
    re.compile(r"Failed to get registration from op code (\w+)"),
    re.compile(r"Node (\w+) \(number \d+\) failed to (?:prepare|invoke)"),
)
# A node also fails to prepare when the arena is too small; that is not a rejection of its op.
_ALLOCATION_FAILURE = re.compile(r"Failed to (?:allocate|resize)")


@dataclass(frozen=True)
class McuProfile:
    """A device class: clock, memory, an int8 throughput estimate, and the TFLM footprint assumptions
    (see the comments in ``mcu_profiles.toml`` for what is measured and what is assumed)."""

    name: str
    core: str
    clock_hz: int
    ram_bytes: int
    flash_bytes: int
    macs_per_cycle: float
    tflm_core_flash_bytes: int
    ram_overhead_bytes: int
    source: str
    note: str
    firmware_board: str | None = None
    cycles_per_instruction: float | None = None
    cpi_source: str | None = None
    head_batch: int | None = None


def mcu_profiles() -> dict[str, McuProfile]:
    """The profiles shipped in ``mcu_profiles.toml``, by name. A missing, mistyped, unknown or
    non-positive field is a ``DataFormatError`` naming the file, the profile and the field."""
    table = load_profile_table(PROFILES_FILE, _PROFILE_FIELDS)
    return {name: _profile(name, fields) for name, fields in table.items()}


def _profile(name: str, fields: dict[str, Any]) -> McuProfile:
    unknown = sorted(set(fields) - set(_PROFILE_FIELDS) - set(_OPTIONAL_FIELDS))
    if unknown:
        raise DataFormatError(
            PROFILES_FILE,
            f"profile {name!r} has unknown field(s) {', '.join(unknown)}",
            expected=f"only {', '.join([*_PROFILE_FIELDS, *_OPTIONAL_FIELDS])}",
        )
    _check_firmware_fields(name, fields)
    bounds = [(key, fields[key] > 0, "a number > 0") for key in _POSITIVE_FIELDS]
    bounds += [(key, fields[key] >= 0, "a number >= 0") for key in _NON_NEGATIVE_FIELDS]
    for key, within, expected in bounds:
        if not within:
            raise DataFormatError(
                PROFILES_FILE, f"profile {name!r}: {fields[key]!r}", field=key, expected=expected
            )
    floats = {
        key: float(fields[key]) for key in ("macs_per_cycle", "cycles_per_instruction") if key in fields
    }
    return McuProfile(name=name, **{**fields, **floats})


def _check_firmware_fields(name: str, fields: dict[str, Any]) -> None:
    """The optional firmware fields: right types, and a board always comes with a positive
    cycles-per-instruction factor and its source."""
    for key, kind in _OPTIONAL_FIELDS.items():
        value = fields.get(key)
        accepted = (int, float) if kind is float else kind
        if value is not None and (not isinstance(value, accepted) or isinstance(value, bool)):
            raise DataFormatError(
                PROFILES_FILE, f"profile {name!r}", field=key, expected=f"a {kind.__name__}"
            )
    if fields.get("head_batch", 1) < 1:
        raise DataFormatError(
            PROFILES_FILE, f"profile {name!r}", field="head_batch", expected="an integer >= 1"
        )
    if "firmware_board" in fields:
        for key in ("cycles_per_instruction", "cpi_source"):
            if key not in fields:
                raise DataFormatError(
                    PROFILES_FILE, f"profile {name!r} names a firmware_board", field=key, expected="a value"
                )
        if fields["cycles_per_instruction"] <= 0:
            raise DataFormatError(
                PROFILES_FILE, f"profile {name!r}", field="cycles_per_instruction", expected="a number > 0"
            )


class McuTarget:
    """One microcontroller profile (see the module docstring for what each figure means). Without a
    ``runner``, a profile with a ``firmware_board`` whose tools are installed gets the firmware runner
    (generated C, built and run under emulation); otherwise TFLM on the host, and ``fallback`` says why."""

    def __init__(self, profile: McuProfile, runner: McuRunner | None = None) -> None:
        self.profile = profile
        self.name = profile.name
        self.fallback: str | None = None
        if runner is None:
            from har_edge.targets.firmware_runner import default_runner

            runner, self.fallback = default_runner(profile)
        self.runner = runner

    def measure(self, artifact: Artifact) -> TargetFigures:
        """Figures for ``artifact.mcu_bytes`` on this profile; a model TFLM cannot run is a row with
        ``error`` set, a variant without ``mcu_bytes`` (float16, dynamic range) a not-applicable row.
        Unparsable ``mcu_bytes``, or a model the generator's checks refuse (``codegen.checks``: shapes
        its kernels would read or write past), are an ``InputError``."""
        if artifact.mcu_bytes is None:
            return TargetFigures(
                target=self.name,
                applicable=False,
                error=f"not applicable: a {artifact.precision} variant has no batch-1 model for a "
                "microcontroller (TFLM and the firmware generator run int8 and float32 ones)",
            )
        from har_edge.codegen.checks import check_model

        inputs = np.asarray(artifact.sample[:MAX_WINDOWS], dtype=np.float32)
        source = f"{artifact.variant}: mcu_bytes"
        check_model(artifact.mcu_bytes, source)  # shapes TFLM would trust: refused before a board runs them
        op_counts = inspect_tflite(artifact.mcu_bytes, source=source).op_counts
        run = self.runner.run(artifact.mcu_bytes, inputs)
        details: dict[str, Any] = {
            "profile": {
                k: v for k, v in asdict(self.profile).items() if k not in ("source", "note", "cpi_source")
            },
            "runner": type(self.runner).__name__,
            "ops": _op_rows(op_counts, run),
            "windows": len(inputs),
        }
        if run.error is not None:
            return TargetFigures(target=self.name, error=run.error, details={**details, "log": run.log})
        if "firmware" in run.details:
            from har_edge.targets.firmware_runner import firmware_figures, measure_head

            head = measure_head(self.runner, artifact, self.profile.head_batch)
            return firmware_figures(self.profile, artifact, run, details, head)
        return self._figures(artifact, run, inputs, details)

    def _figures(self, artifact: Artifact, run: McuRun, inputs: np.ndarray, details: dict) -> TargetFigures:
        p = self.profile
        ram = run.arena_bytes + p.ram_overhead_bytes
        flash = len(artifact.mcu_bytes) + p.tflm_core_flash_bytes
        int8 = artifact.precision == "int8"
        latency_us = artifact.macs / (p.macs_per_cycle * p.clock_hz) * 1e6 if int8 else None
        fits = fit_fields(p, latency_us, ram, flash)
        parity = _parity(artifact.mcu_bytes, inputs, run)
        details = {
            **details,
            "arena_bytes": run.arena_bytes,
            **run.details,
            "ram": {
                "arena_bytes": run.arena_bytes,
                "overhead_bytes": p.ram_overhead_bytes,
                "caveat": "arena measured by TFLM on a 64-bit host (a 32-bit MCU needs slightly less); "
                "overhead stated in the profile; stack and application buffers not included",
            },
            "flash": {"model_bytes": len(artifact.mcu_bytes), "tflm_core_bytes": p.tflm_core_flash_bytes},
            "latency": {"macs": artifact.macs, "macs_per_cycle": p.macs_per_cycle, "clock_hz": p.clock_hz},
            "source": p.source,
            "parity": parity,
        }
        latency_note = (
            f"latency estimated from {artifact.macs:,} MACs at {p.macs_per_cycle:g} MACs/cycle and "
            f"{p.clock_hz / 1e6:g} MHz"
            if int8
            else f"no latency: the profile's {p.macs_per_cycle:g} MACs/cycle is an int8 figure, "
            f"not {artifact.precision}"
        )
        refused = run.details.get("firmware_not_used")
        notes = [
            *([self.fallback] if self.fallback else []),
            *(
                [f"figures from TFLM: the firmware generator did not take the model ({refused})"]
                if refused
                else []
            ),
            f"{latency_note}; flash estimated (model + {p.tflm_core_flash_bytes:,} B assumed for the "
            "TFLM core)",
            *shortfalls(p, fits),
            *_parity_notes(parity),
        ]
        if artifact.head_bytes is not None:
            notes.append(
                f"the trainable head ({len(artifact.head_bytes):,} B .tflite) is not counted: TFLM cannot "
                "run it; its MACs are in the latency estimate"
            )
        return TargetFigures(
            target=self.name,
            **fits,
            tflm_arena_bytes=run.arena_bytes,
            provenance={
                "ram": Provenance.MEASURED.value,
                "flash": Provenance.ESTIMATED.value,
                **({"latency": Provenance.ESTIMATED.value} if int8 else {}),
            },
            details=details,
            notes=tuple(notes),
        )


def _op_rows(op_counts: dict[str, int], run: McuRun) -> list[dict[str, Any]]:
    """Per op: count, in TFLM's static op list, and whether the interpreter rejected it: True when its
    diagnostics name the op, False when the model ran, None when it failed without naming the op."""
    rejected = _rejected_ops(f"{run.error}\n{run.log}") if run.error is not None else set()
    return [
        {
            "op": op,
            "count": count,
            "tflm_supported": op in TFLM_BUILTIN_OPS,
            "tflm_rejected": True if op in rejected else (False if run.error is None else None),
        }
        for op, count in op_counts.items()
    ]


def _rejected_ops(text: str) -> set[str]:
    patterns = _REJECTED_OP_PATTERNS
    if _ALLOCATION_FAILURE.search(text):
        patterns = patterns[:2]
    return {name for pattern in patterns for name in pattern.findall(text)}


def _parity(model_bytes: bytes, inputs: np.ndarray, run: McuRun) -> dict[str, Any]:
    """TFLM's outputs against LiteRT's on the same windows: max |difference| (dequantized), top-1
    agreement (argmax of each window's flattened output) and, for an integer output, the largest
    difference in quantization steps."""
    try:
        # builtin kernels: TFLM matches them bit for bit on the golden dense base (0 steps), while the
        # default XNNPACK delegate rounds int8 differently (up to 2 steps there)
        reference = run_model(model_bytes, inputs, default_delegates=False).reshape(len(inputs), -1)
    except (HarEdgeError, ValueError, RuntimeError) as exc:
        return {"error": f"LiteRT could not run the model for the parity check: {exc}"}
    ours = run.outputs.reshape(len(inputs), -1)
    if ours.shape != reference.shape:
        return {"error": f"output shapes differ: TFLM {list(ours.shape)}, LiteRT {list(reference.shape)}"}
    difference = float(np.abs(ours - reference).max())
    return {
        "reference": f"{interpreter_backend()}, builtin kernels without the XNNPACK delegate",
        "windows": len(inputs),
        "max_abs_diff": difference,
        "top1_agreement": float(np.mean(ours.argmax(axis=1) == reference.argmax(axis=1))),
        "max_diff_steps": round(difference / run.output_scale) if run.output_scale else None,
    }


def _parity_notes(parity: dict[str, Any]) -> list[str]:
    if "error" in parity:
        return [f"parity not checked: {parity['error']}"]
    if parity["top1_agreement"] < 1.0 or (parity["max_diff_steps"] or 0) > 1:
        return [
            f"TFLM and LiteRT differ: top-1 agreement {parity['top1_agreement']:.0%}, "
            f"max difference {parity['max_abs_diff']:.4g} ({parity['max_diff_steps']} quantization steps)"
        ]
    return []
