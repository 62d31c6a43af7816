"""Build a generated C project for a board (``make``) and run it on inputs: the harness reads
``har_in.bin`` and writes ``har_out.bin`` in the run directory and prints ``HAR …`` lines, parsed
into a ``HarnessResult``.

A missing tool is ``ToolchainMissingError`` (an ``InputError``) naming the Debian packages; a
failed build or run is ``FirmwareError`` with the tool's output."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from har_edge.errors import HarEdgeError, InputError
from har_edge.firmware.boards import Board, get_board


class ToolchainMissingError(InputError):
    def __init__(self, board: Board, missing: list[str]) -> None:
        self.board, self.missing = board, missing
        super().__init__(
            f"board {board.name!r} needs {', '.join(missing)} (not found on PATH); install the Debian "
            f"packages: sudo apt-get install {' '.join(board.packages)}"
        )


class FirmwareError(HarEdgeError):
    """A build or a firmware run failed; the message carries the tool's output."""


def require_toolchain(board: str | Board) -> Board:
    board = get_board(board)
    missing = [tool for tool in board.tools if shutil.which(tool) is None]
    if missing:
        raise ToolchainMissingError(board, missing)
    return board


def build(
    project_dir: str | Path,
    board: str | Board,
    *,
    defines: tuple[str, ...] = (),
    binary: str | None = None,
    timeout_s: float = 300.0,
) -> Path:
    """``make`` in the project folder; returns the binary. ``defines`` become ``-D`` flags
    (e.g. ``HAR_DUMP_LAYERS``, ``HAR_PROFILE_LAYERS``); ``binary`` names the output file."""
    board = require_toolchain(board)
    project_dir = Path(project_dir)
    name = binary or board.binary
    command = ["make", "-s", f"APP={name}", "DEFS=" + " ".join(f"-D{d}" for d in defines), *board.make_args]
    try:
        done = subprocess.run(command, cwd=project_dir, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise FirmwareError(f"build in {project_dir} timed out after {timeout_s:.0f} s") from exc
    if done.returncode != 0:
        raise FirmwareError(
            f"build in {project_dir} failed ({' '.join(command)}):\n{done.stdout}{done.stderr}"
        )
    return project_dir / name


@dataclass(frozen=True)
class HarnessResult:
    outputs: np.ndarray  # (n, output bytes) uint8 view of what the firmware wrote
    instructions: tuple[int, ...]  # per inference (0 on host)
    layer_instructions: dict[int, int]  # first inference, when built with HAR_PROFILE_LAYERS
    stack_bytes: int  # whole program (stdio included)
    inference_stack_bytes: int  # the first inference alone
    stdout: str
    layer_dump: bytes = field(default=b"", repr=False)  # har_layers.bin when built with HAR_DUMP_LAYERS


_LINE = re.compile(r"^HAR (inference|layer) (\d+) instructions (\d+)$")


def parse_harness_output(stdout: str) -> tuple[tuple[int, ...], dict[int, int], dict[str, int], int | None]:
    """(instructions per inference, per-layer instructions, {"stack_bytes", "inference_stack_bytes"},
    n done or None)."""
    inferences, layers, stack, done = [], {}, {"stack_bytes": 0, "inference_stack_bytes": 0}, None
    for line in stdout.splitlines():
        match = _LINE.match(line.strip())
        if match:
            kind, index, count = match.group(1), int(match.group(2)), int(match.group(3))
            if kind == "inference":
                inferences.append(count)
            else:
                layers[index] = count
        elif line.startswith(("HAR stack_bytes ", "HAR inference_stack_bytes ")):
            stack[line.split()[1]] = int(line.split()[2])
        elif line.startswith("HAR done n="):
            done = int(line.split("=", 1)[1])
    return tuple(inferences), layers, stack, done


def run(
    binary: str | Path,
    board: str | Board,
    inputs: np.ndarray,
    output_bytes: int,
    *,
    timeout_s: float | None = None,
) -> HarnessResult:
    """Run the built firmware on ``inputs`` ((n, input bytes) of any 1-byte or float32 dtype)."""
    board = require_toolchain(board)
    data = np.ascontiguousarray(inputs)
    n = len(data)
    with tempfile.TemporaryDirectory(prefix="har-fw-run-") as tmp:
        run_dir = Path(tmp)
        (run_dir / "har_in.bin").write_bytes(data.tobytes())
        try:
            done = subprocess.run(
                board.command(Path(binary).resolve()),
                cwd=run_dir,
                capture_output=True,
                text=True,
                timeout=timeout_s or board.timeout_s,
            )
        except subprocess.TimeoutExpired as exc:
            raise FirmwareError(f"{binary} on {board.name} timed out") from exc
        inferences, layers, stack, finished = parse_harness_output(done.stdout)
        if done.returncode != 0 or finished != n:
            raise FirmwareError(
                f"{binary} on {board.name} exited {done.returncode} after {finished} of {n} "
                f"inputs:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
        outputs = np.frombuffer((run_dir / "har_out.bin").read_bytes(), np.uint8).reshape(n, output_bytes)
        dump = run_dir / "har_layers.bin"
        return HarnessResult(
            outputs.copy(),
            inferences,
            layers,
            stack["stack_bytes"],
            stack["inference_stack_bytes"],
            done.stdout,
            dump.read_bytes() if dump.exists() else b"",
        )
