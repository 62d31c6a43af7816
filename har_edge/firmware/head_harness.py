"""Build and drive ``firmware/head/head_harness.c``: the C head on the host (gcc) or the emulated board.

``HeadCommands`` encodes a command stream (the opcodes in head_harness.c's header comment) and
decodes the replies in order; ``HeadFirmware`` writes the head project for a board, builds it once and
runs command streams against a checkpoint storage image, returning the replies, the storage as the
firmware left it, and the instruction count of every ``train`` command and ``infer`` window (0 on the
host build).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from har_edge.codegen.head import HeadSpec, write_head
from har_edge.errors import InputError
from har_edge.firmware.sources import firmware_root
from har_edge.runtime.head import HeadWeights, parameter_names

SET_WEIGHTS, GET_WEIGHTS, INFER, TRAIN, SAVE, LOAD, COUNTERS, INIT = range(1, 9)
NO_TEAR = 0xFFFFFFFF
ERASED = 0xFF
HOST_FLAGS = ("-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic")  # as the boards build
_TRAIN_LINE = re.compile(r"^HAR train (\d+) batch (\d+) instructions (\d+)$", re.MULTILINE)
_INFER_LINE = re.compile(r"^HAR infer instructions (\d+)$", re.MULTILINE)
_RAM_LINE = re.compile(r"^HAR ram head_bytes (\d+) batch_cache_bytes (\d+)$", re.MULTILINE)


@dataclass(frozen=True)
class TrainReply:
    loss: float
    status: int  # head_step_status: 0 applied, 1 rolled back, 2 bad batch


@dataclass(frozen=True)
class SlotReply:
    """A SAVE or LOAD reply: status (head_ckpt_status), the active slot (-1 none) and its sequence;
    LOAD adds every slot's status."""

    status: int
    active_slot: int
    sequence: int
    slot_status: tuple[int, ...] = ()


class HeadCommands:
    """A command stream for one harness run, and the decoder of its replies."""

    def __init__(self, spec: HeadSpec) -> None:
        self.spec = spec
        self._chunks: list[bytes] = []
        self._replies: list[tuple[str, int]] = []  # (kind, size in bytes)

    def _add(self, opcode: int, *parts: bytes, reply: tuple[str, int] | None = None) -> None:
        self._chunks.append(np.uint32(opcode).tobytes() + b"".join(parts))
        if reply is not None:
            self._replies.append(reply)

    def set_weights(self, weights: HeadWeights) -> None:
        flat = np.concatenate([a.ravel() for layer in weights.layers for a in layer]).astype("<f4")
        self._add(SET_WEIGHTS, flat.tobytes())

    def get_weights(self) -> None:
        self._add(GET_WEIGHTS, reply=("weights", 4 * self.spec.n_parameters))

    def infer(self, features: np.ndarray) -> None:
        x = np.ascontiguousarray(features, "<f4")
        self._add(
            INFER,
            np.uint32(len(x)).tobytes(),
            x.tobytes(),
            reply=("infer", 4 * len(x) * self.spec.weights.n_classes),
        )

    def train(self, features: np.ndarray, onehot: np.ndarray, rate: float) -> None:
        x, y = np.ascontiguousarray(features, "<f4"), np.ascontiguousarray(onehot, "<f4")
        header = np.uint32(len(x)).tobytes() + np.float32(rate).tobytes()
        self._add(TRAIN, header, x.tobytes(), y.tobytes(), reply=("train", 8))

    def save(self, tear_after: int | None = None) -> None:
        """Checkpoint; ``tear_after`` bytes: the storage accepts only that many (a power loss)."""
        self._add(
            SAVE, np.uint32(NO_TEAR if tear_after is None else tear_after).tobytes(), reply=("save", 12)
        )

    def load(self) -> None:
        self._add(LOAD, reply=("load", 20))

    def counters(self) -> None:
        self._add(COUNTERS, reply=("counters", 4))

    def init(self) -> None:
        self._add(INIT)

    def encode(self) -> bytes:
        return b"".join(self._chunks)

    def decode(self, data: bytes) -> list:
        """The replies in command order: weights dicts, probability arrays, replies, counters."""
        expected = sum(size for _, size in self._replies)
        if len(data) != expected:
            raise InputError(f"head harness replied {len(data)} bytes, the commands expect {expected}")
        results, offset = [], 0
        for kind, size in self._replies:
            chunk = data[offset : offset + size]
            offset += size
            results.append(self._decode_one(kind, chunk))
        return results

    def _decode_one(self, kind: str, chunk: bytes):
        if kind == "weights":
            return unflatten(self.spec.weights, np.frombuffer(chunk, "<f4"))
        if kind == "infer":
            return np.frombuffer(chunk, "<f4").reshape(-1, self.spec.weights.n_classes).copy()
        words = np.frombuffer(chunk, "<u4")
        if kind == "train":
            return TrainReply(float(np.frombuffer(chunk[:4], "<f4")[0]), int(words[1]))
        if kind == "counters":
            return int(words[0])
        slot = int(np.int32(words[1]))
        return SlotReply(int(words[0]), slot, int(words[2]), tuple(int(w) for w in words[3:]))


def unflatten(like: HeadWeights, flat: np.ndarray) -> dict[str, np.ndarray]:
    """``{w0, b0, ...}`` from the flat parameter order, shaped like ``like`` (unchecked: may be NaN)."""
    shapes = [a.shape for layer in like.layers for a in layer]
    ends = np.cumsum([int(np.prod(s)) for s in shapes])
    arrays = [
        flat[end - int(np.prod(s)) : end].reshape(s).astype(np.float32)
        for s, end in zip(shapes, ends, strict=True)
    ]
    return dict(zip(parameter_names(len(like.layers)), arrays, strict=True))


@dataclass(frozen=True)
class HarnessRun:
    results: list
    storage: bytes
    train_instructions: tuple[int, ...]
    infer_instructions: tuple[int, ...]  # per INFER window (0 on the host build)
    ram_bytes: int
    batch_cache_bytes: int
    stdout: str


class HeadFirmware:
    """The head harness for ``spec`` built for ``board`` in ``workdir`` (if None, a temporary folder
    removed with the object)."""

    def __init__(self, spec: HeadSpec, board: str = "host", workdir: str | Path | None = None) -> None:
        self.spec, self.board = spec, board
        self._scratch = None if workdir else tempfile.TemporaryDirectory(prefix="har_edge_head_")
        self.workdir = Path(workdir or self._scratch.name)
        self.binary = self._build()

    def _build(self) -> Path:
        project = self.workdir / "project"
        write_head(self.spec, project / "head", harness="head_harness.c")
        return build_project(project, self.board)

    def run(self, commands: HeadCommands, storage: bytes | None = None) -> HarnessRun:
        """Run ``commands``; ``storage`` is the two-slot image (default: erased flash)."""
        size = 2 * self.spec.slot_bytes
        storage = bytes([ERASED]) * size if storage is None else storage
        if len(storage) != size:
            raise InputError(f"storage image has {len(storage)} bytes; this head's two slots need {size}")
        run_dir = Path(tempfile.mkdtemp(prefix="run_", dir=self.workdir))
        try:
            (run_dir / "har_head_in.bin").write_bytes(commands.encode())
            (run_dir / "har_ckpt.bin").write_bytes(storage)
            stdout = run_binary(self.binary, self.board, run_dir)
            replies = (run_dir / "har_head_out.bin").read_bytes()
            image = (run_dir / "har_ckpt.bin").read_bytes()
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)
        ram = _RAM_LINE.search(stdout)
        return HarnessRun(
            results=commands.decode(replies),
            storage=image,
            train_instructions=tuple(int(m.group(3)) for m in _TRAIN_LINE.finditer(stdout)),
            infer_instructions=tuple(int(n) for n in _INFER_LINE.findall(stdout)),
            ram_bytes=int(ram.group(1)) if ram else 0,
            batch_cache_bytes=int(ram.group(2)) if ram else 0,
            stdout=stdout,
        )


def build_project(project: Path, board: str, defines: dict[str, int] | None = None) -> Path:
    """Build every ``*/*.c`` of ``project`` for ``board`` (gcc on the host; the board's Makefile
    otherwise) with ``-D`` ``defines``; returns the executable or image. A missing tool is a
    ``ToolchainMissingError`` naming the Debian packages."""
    from har_edge.firmware.build import require_toolchain

    spec = require_toolchain(board)
    flags = ["-ffp-contract=off", *(f"-D{name}={value}" for name, value in (defines or {}).items())]
    _add_board_files(project, spec.name)
    if spec.name == "host":
        includes = sorted({path.parent for path in project.glob("*/*.h")})
        return compile_host(sorted(project.glob("*/*.c")), includes, project / spec.binary, flags)
    command = ["make", "-C", str(project), f"CFLAGS_EXTRA={' '.join(flags)}"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise InputError(f"make for {board} failed:\n{done.stdout[-4000:]}{done.stderr[-4000:]}")
    return project / spec.binary


def run_binary(binary: Path, board: str, run_dir: Path) -> str:
    """Run a built harness (the board's command, ``run_dir`` as the working directory, the board's
    timeout); its stdout. A nonzero exit or a timeout is an ``InputError`` showing the output's end."""
    from har_edge.firmware.boards import get_board

    spec = get_board(board)
    try:
        done = subprocess.run(
            spec.command(binary),
            cwd=run_dir,
            capture_output=True,
            text=True,
            timeout=spec.timeout_s,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise InputError(f"{binary.name} on {board} ran past {spec.timeout_s:.0f} s") from exc
    if done.returncode != 0:
        raise InputError(f"{binary.name} on {board} exited with {done.returncode}:\n{done.stdout[-2000:]}")
    return done.stdout


def compile_host(sources: list[Path], includes: list[Path], output: Path, flags: list[str]) -> Path:
    """gcc with the project's warning flags; a compiler error is an ``InputError`` with its text."""
    command = [
        "gcc",
        *HOST_FLAGS,
        *flags,
        *(f"-I{d}" for d in includes),
        *map(str, sources),
        "-lm",
        "-o",
        str(output),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise InputError(f"gcc failed:\n{done.stderr}")
    return output


def _add_board_files(project: Path, board: str) -> None:
    """The board interface (harness/har_board.h) and the board's own files, where a project lacks them."""
    (project / "harness").mkdir(exist_ok=True)
    if not (project / "harness" / "har_board.h").exists():
        shutil.copyfile(firmware_root() / "harness" / "har_board.h", project / "harness" / "har_board.h")
    if board == "host":
        (project / "host").mkdir(exist_ok=True)
        if not (project / "host" / "board_host.c").exists():
            shutil.copyfile(firmware_root() / "host" / "board_host.c", project / "host" / "board_host.c")
        return
    from har_edge.firmware import mps2

    (project / "board").mkdir(exist_ok=True)
    for name in mps2.BOARD_FILES:
        if not (project / "board" / name).exists():
            shutil.copyfile(mps2.SOURCE_DIR / name, project / "board" / name)
    shutil.copyfile(mps2.SOURCE_DIR / mps2.MAKEFILE, project / mps2.MAKEFILE)
