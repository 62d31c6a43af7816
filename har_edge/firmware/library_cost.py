"""What the whole product costs on the emulated Cortex-M4F: a bundle's C library (raw samples ->
labels and events: input tables, int8 base, float head, streaming ring buffer, smoothing, events)
built with its example for mps2-an386 (``boards/mps2-an386/Makefile``) and run under QEMU.

Flash = every section from the library's objects (``src/*.o``: weights, tables, code) plus the libc
and libgcc routines they pull in (``expf``, float helpers); RAM = the library's statics (the model's
arena, its input and feature buffers) + one ``<name>_stream_t`` (the ring of one window, smoothing and
event state; the example's) + the deepest stack of a ``<name>_stream_push`` (painted stack, measured
around each push). The example, the board's startup, printf and semihosting are reported apart.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from har_edge.firmware.build import FirmwareError
from har_edge.firmware.measure import memory_split

BOARD_MAKEFILE = "boards/mps2-an386/Makefile"
ELF = Path("build/mps2-an386-m4/example.elf")
LIBRARY_FOLDER = "src"


@dataclass(frozen=True)
class ProductCost:
    name: str
    flash_bytes: int  # the library's code + constant data (+ the libc it calls)
    weights_bytes: int  # of which the int8 model's constant arrays
    static_ram_bytes: int  # the library's statics (arena, input and feature buffers)
    stream_bytes: int  # one stream object (ring buffer + smoothing + events)
    stack_bytes: int  # the deepest push (classification included)
    example_flash_bytes: int  # the example + board + printf/semihosting, apart
    windows: int
    events: int

    @property
    def ram_bytes(self) -> int:
        return self.static_ram_bytes + self.stream_bytes + self.stack_bytes

    def to_dict(self) -> dict:
        return {**asdict(self), "ram_bytes": self.ram_bytes}


def _role(origin: str) -> str:
    if "(" in origin:
        return "library"  # libc/libgcc member: the library's when its objects pull it in
    path = PurePosixPath(origin)
    if LIBRARY_FOLDER not in path.parts[:-1]:
        return "harness"
    return "model" if path.name.endswith("_model.o") else "kernel"


def product_cost(library_dir: str | Path, *, timeout_s: float = 600.0) -> ProductCost:
    """Build and run ``library_dir``'s example on mps2-an386 (needs its tools) and measure it."""
    library_dir = Path(library_dir)
    command = ["make", "-s", "-f", BOARD_MAKEFILE, "run"]
    done = subprocess.run(command, cwd=library_dir, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise FirmwareError(
            f"{' '.join(command)} in {library_dir} failed:\n{done.stdout[-2000:]}{done.stderr}"
        )
    numbers = dict(re.findall(r"^(stack_bytes|stream_bytes) (\d+)$", done.stdout, re.MULTILINE))
    finished = re.search(r"^done (\d+) (\d+)$", done.stdout, re.MULTILINE)
    if finished is None or set(numbers) != {"stack_bytes", "stream_bytes"}:
        raise FirmwareError(f"the example on mps2-an386 did not report its figures:\n{done.stdout[-2000:]}")
    elf = library_dir / ELF
    split = memory_split(elf, elf.with_suffix(".map"), _role)
    name = next(library_dir.glob("src/*_config.h")).name.removesuffix("_config.h")
    return ProductCost(
        name=name,
        flash_bytes=split.model_flash_bytes,
        weights_bytes=split.weights_bytes,
        static_ram_bytes=split.arena_bytes + split.kernel_ram_bytes,
        stream_bytes=int(numbers["stream_bytes"]),
        stack_bytes=int(numbers["stack_bytes"]),
        example_flash_bytes=split.harness_flash_bytes,
        windows=int(finished.group(1)),
        events=int(finished.group(2)),
    )
