"""A model's firmware from generation to figures: write the project, build it (a plain binary, and on
a board with an instruction counter one with ``HAR_PROFILE_LAYERS`` for the per-layer counts), run
inputs, measure flash/RAM/instructions and cross-check the output bytes with LiteRT's reference kernels.

``build_cached`` keeps built projects under a cache folder keyed by the SHA-256 of the model, the board
and the firmware/generator sources (``sources_digest``), so a benchmark builds each model once. Two
processes building the same key at once may both build; the last complete one is kept.

Figures (``FirmwareRun.figures``, JSON-ready): instructions per inference is the median over the
inputs (the kernels' branches make it vary by a few tens); per-layer counts come from the profiling
build's first inference (its hooks add a few dozen instructions per layer, so the plain build's total
is the one reported); RAM of the model = its arena + the kernels' statics + the stack of one inference;
``image_ram_bytes`` = data + bss + the whole program's stack high-water (harness and stdio included).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from har_edge.firmware import mps2  # noqa: F401  (registers mps2-an386)
from har_edge.firmware.boards import Board, get_board

PROJECT_NAME = "net"  # the generated model's C name: net_model.h, net_invoke()
COMPLETE_MARKER = ".built"
SUMMARY_LINES = 8
INSTRUCTION_RESOLUTION = 40  # mps2-an386: one SysTick tick under -icount shift=0


def counts_instructions(board: Board) -> bool:
    """Whether the board's ``har_board_instructions`` counts (the host's returns 0)."""
    return board.name != "host"


def profile_binary_name(board: Board) -> str:
    """``app.elf`` -> ``app_profile.elf``: the HAR_PROFILE_LAYERS build next to the plain one."""
    binary = Path(board.binary)
    return f"{binary.stem}_profile{binary.suffix}"


@cache
def sources_digest() -> str:
    """SHA-256 over the firmware C sources and the generator's Python: a change to either rebuilds."""
    import har_edge.codegen
    import har_edge.firmware

    digest = hashlib.sha256()
    for package in (har_edge.firmware, har_edge.codegen):
        root = Path(next(iter(package.__path__)))
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class BuiltFirmware:
    """A written and built project: ``binary`` for the figures, ``profile_binary`` (None on boards
    without an instruction counter) for the per-layer counts."""

    info: Any  # har_edge.codegen.project.ProjectInfo
    model_bytes: bytes
    board: Board
    binary: Path
    profile_binary: Path | None


@dataclass(frozen=True, eq=False)
class FirmwareRun:
    outputs: np.ndarray  # (n, output bytes) uint8, as the firmware wrote them
    figures: dict[str, Any]
    cross_check: Any  # har_edge.codegen.verify.CrossCheck (truthy iff bit-exact, or within its tolerance)


def build_project(info, model_bytes: bytes, *, timeout_s: float = 300.0) -> BuiltFirmware:
    """Build a project written by ``write_project`` (``ToolchainMissingError`` naming the Debian
    packages when the board's tools are missing, ``FirmwareError`` with the compiler output when the
    build fails)."""
    from har_edge.firmware.build import build

    board = get_board(info.board)
    binary = build(info.path, board, timeout_s=timeout_s)
    profile = None
    if counts_instructions(board):
        profile = build(
            info.path,
            board,
            defines=("HAR_PROFILE_LAYERS",),
            binary=profile_binary_name(board),
            timeout_s=timeout_s,
        )
    return BuiltFirmware(info, model_bytes, board, binary, profile)


def build_cached(model_bytes: bytes, board: str | Board, *, cache_dir: Path) -> BuiltFirmware:
    """``write_project`` + ``build_project`` into ``cache_dir``, or the copy built before. The generator
    refuses an unsupported model (``UnsupportedModelError``) before anything is written."""
    from har_edge.codegen.emit import generate
    from har_edge.codegen.overlap import enabled as overlap_enabled
    from har_edge.codegen.project import ProjectInfo, runtime_files_for, write_project

    board = get_board(board)
    plan = b"overlap" if overlap_enabled() else b"no-overlap"  # HAR_EDGE_ARENA_OVERLAP changes the plan
    key = hashlib.sha256(model_bytes + board.name.encode() + sources_digest().encode() + plan).hexdigest()
    key = key[:24]
    folder = Path(cache_dir) / f"{board.name}-{key}"
    if (folder / COMPLETE_MARKER).is_file():
        model = generate(model_bytes, PROJECT_NAME)
        info = ProjectInfo(folder, board.name, PROJECT_NAME, model, runtime_files_for(model.source))
        profile = folder / profile_binary_name(board) if counts_instructions(board) else None
        return BuiltFirmware(info, model_bytes, board, folder / board.binary, profile)
    folder.parent.mkdir(parents=True, exist_ok=True)
    info = write_project(model_bytes, folder, board, PROJECT_NAME, overwrite=True)
    built = build_project(info, model_bytes)
    (folder / COMPLETE_MARKER).write_text(key + "\n")
    return built


def run_built(built: BuiltFirmware, inputs: np.ndarray, *, timeout_s: float | None = None) -> FirmwareRun:
    """Run ``inputs`` ((n, input bytes) int8) through ``built``, cross-check every output byte with
    LiteRT's BUILTIN_REF kernels, and measure (see the module docstring)."""
    from har_edge.codegen.verify import cross_check
    from har_edge.firmware.build import run

    info = built.info
    result = run(built.binary, built.board, inputs, info.output_bytes, timeout_s=timeout_s)
    check = cross_check(built.model_bytes, inputs, result.outputs, label=f"{info.name} on {built.board.name}")
    layer_counts = {}
    if built.profile_binary is not None:
        layer_counts = run(
            built.profile_binary, built.board, inputs[:1], info.output_bytes, timeout_s=timeout_s
        )
        layer_counts = layer_counts.layer_instructions
    figures = _figures(built, result, layer_counts, check)
    return FirmwareRun(result.outputs, figures, check)


def _figures(built: BuiltFirmware, result, layer_counts: dict[int, int], check) -> dict[str, Any]:
    info = built.info
    counted = counts_instructions(built.board)
    instructions = int(np.median(result.instructions)) if counted and result.instructions else None
    layers = [  # keyed by the op's index in the file (HAR_LAYER_BEGIN): folded ops leave gaps
        {
            "index": layer.index,
            "name": layer.name,
            "macs": layer.macs,
            "instructions": layer_counts.get(layer.index),
            "instructions_per_mac": layer_counts[layer.index] / layer.macs
            if layer.macs and layer.index in layer_counts
            else None,
            "kernel": layer.kernel,
        }
        for layer in info.model.layers
    ]
    figures: dict[str, Any] = {
        "board": built.board.name,
        "inputs": len(result.outputs),
        "macs": info.macs,
        "instructions_per_inference": instructions,
        "instructions_min": min(result.instructions) if counted else None,
        "instructions_max": max(result.instructions) if counted else None,
        "instructions_per_mac": instructions / info.macs if instructions and info.macs else None,
        "instruction_resolution": INSTRUCTION_RESOLUTION if counted else None,
        "layers": layers,
        "largest_layer": max(layers, key=lambda layer: layer["instructions"] or 0)["name"]
        if layer_counts
        else None,
        "stack_bytes": result.stack_bytes if counted else None,
        "inference_stack_bytes": result.inference_stack_bytes if counted else None,
        "parity": {
            "bit_exact": check.bit_exact,
            "within_tolerance": bool(check),
            "tolerance": check.tolerance,  # 0: byte for byte (codegen/verify_float.py)
            "max_abs_difference": check.max_difference,
            "inputs": check.inputs,
            "mismatched_bytes": check.mismatched_bytes,
            "summary": "\n".join(str(check).splitlines()[:SUMMARY_LINES]),
            "reference": "LiteRT BUILTIN_REF kernels",
        },
    }
    if counted:
        figures.update(_memory_figures(built.binary, result))
    return figures


def _memory_figures(elf: Path, result) -> dict[str, Any]:
    from har_edge.firmware.measure import describe, memory_split

    split = memory_split(elf, elf.with_suffix(".map"))
    return {
        "memory": describe(split),
        "model_ram_bytes": split.arena_bytes + split.kernel_ram_bytes + result.inference_stack_bytes,
        "image_ram_bytes": split.data_bytes + split.bss_bytes + result.stack_bytes,
    }


def quantized_inputs(model_bytes: bytes, windows: np.ndarray) -> tuple[np.ndarray, dict, dict]:
    """Float windows as the model's int8 input, with LiteRT's input and output tensor details (for
    dequantizing the firmware's output bytes)."""
    from har_edge.codegen.verify import quantize_windows
    from har_edge.runtime.interpreter import load_interpreter

    interpreter = load_interpreter(model_bytes, default_delegates=False)
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    return np.asarray(quantize_windows(model_bytes, windows)), inp, out
