"""The board registry: where each board's sources live (a folder of the top-level ``firmware/``), what
it builds, which tools it needs (and the Debian packages that provide them), and how to run the binary.

Add a board with ``register(Board(...))`` from its module; ``get_board`` lists the known ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from har_edge.errors import InputError
from har_edge.firmware.sources import firmware_root

FIRMWARE_DIR = firmware_root()


@dataclass(frozen=True)
class Board:
    name: str
    folder: str  # folder of firmware/ copied into a project (sources + Makefile)
    binary: str  # what `make` builds in the project root
    tools: tuple[str, ...]  # executables the build/run needs
    packages: tuple[str, ...]  # Debian packages that provide them
    command: Callable[[Path], list[str]]  # argv that runs the binary (cwd = the run directory)
    timeout_s: float = 600.0
    extra_sources: tuple[str, ...] = field(default_factory=tuple)  # other package folders to copy
    make_args: tuple[str, ...] = ()  # variables for the board Makefile (e.g. another core's ARCH)

    @property
    def source_dir(self) -> Path:
        return FIRMWARE_DIR / self.folder


BOARDS: dict[str, Board] = {}


def register(board: Board) -> Board:
    BOARDS[board.name] = board
    return board


def get_board(name: str | Board) -> Board:
    if isinstance(name, Board):
        return name
    if name not in BOARDS:
        raise InputError(f"unknown board {name!r}; known boards: {', '.join(sorted(BOARDS))}")
    return BOARDS[name]


register(
    Board(
        name="host",
        folder="host",
        binary="app",
        tools=("gcc", "make"),
        packages=("gcc", "make"),
        command=lambda binary: [str(binary)],
        timeout_s=300.0,
    )
)

from har_edge.firmware import mps2  # noqa: E402, F401  (registers mps2-an386)
