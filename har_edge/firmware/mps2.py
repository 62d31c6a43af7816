"""The MPS2 AN386 board (Cortex-M4F) as ``qemu-system-arm`` emulates it: its C files, the tools that
build and run it, and how a built image runs.

Facts (checked on this machine, see tests/test_firmware_board.py): with ``-icount shift=0`` the board's
SysTick advances once per 40 guest instructions, identically on every run, so ``har_board_instructions``
is an instruction count with a resolution of 40; the image's ``main`` return code is QEMU's exit code
(newlib's semihosting ``SYS_EXIT_EXTENDED``); stdio and files go over semihosting, in QEMU's working
directory. A fault prints ``HAR fault <name>`` and exits with code 3.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from har_edge.firmware.boards import Board, register
from har_edge.firmware.sources import firmware_root

NAME = "mps2-an386"
SOURCE_DIR = firmware_root() / NAME
# Copied into a project's board folder; the Makefile goes to the project root.
BOARD_FILES = ("startup.c", "board.c", "board_internal.h", "linker.ld")
MAKEFILE = "Makefile"
ELF_NAME, MAP_NAME = "app.elf", "app.map"
INSTRUCTIONS_PER_TICK = 40
DEBIAN_PACKAGES = ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "qemu-system-arm", "make")
ARCH_FLAGS = ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard")
FAULT_EXIT_CODE = 3
_TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-size", "arm-none-eabi-nm", "qemu-system-arm", "make")


@dataclass(frozen=True)
class QemuRun:
    """One emulator run: ``returncode`` is the image's exit code (None when it did not finish within
    the timeout), ``stdout``/``stderr`` as text."""

    returncode: int | None
    stdout: str
    stderr: str

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


def missing_tools() -> list[str]:
    """What this machine lacks to build and run mps2-an386 images: tools not on PATH, and newlib's
    semihosting library (``librdimon.a``, Debian ``libnewlib-arm-none-eabi``) when the compiler is
    there but cannot find it. Empty when everything is present."""
    missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
    if "arm-none-eabi-gcc" not in missing:
        found = subprocess.run(
            ["arm-none-eabi-gcc", *ARCH_FLAGS, "-print-file-name=librdimon.a"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if not Path(found).is_absolute():
            missing.append("librdimon.a")
    return missing


def qemu_command(elf: Path, machine: str = NAME) -> list[str]:
    """The emulator command line: semihosting on, one virtual nanosecond per instruction, no display."""
    return [
        "qemu-system-arm",
        "-M",
        machine,
        "-nographic",
        "-monitor",
        "none",
        "-semihosting",
        "-icount",
        "shift=0",
        "-kernel",
        str(Path(elf).resolve()),
    ]


BOARD = register(
    Board(
        name=NAME,
        folder=NAME,
        binary=ELF_NAME,
        tools=_TOOLS,
        packages=DEBIAN_PACKAGES,
        command=qemu_command,
        timeout_s=600.0,
    )
)


# Other MPS2 images with the same memory map, SysTick and semihosting: the same project built for their
# core (the Makefile's ARCH) and run on their machine. Their newlib multilibs ship in the same package.
OTHER_CORES = {
    "mps2-an385": ("-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft"),  # Cortex-M3, no FPU
    "mps2-an500": ("-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16", "-mfloat-abi=hard"),  # Cortex-M7
}
for _machine, _arch in OTHER_CORES.items():
    register(
        Board(
            name=_machine,
            folder=NAME,
            binary=ELF_NAME,
            tools=_TOOLS,
            packages=DEBIAN_PACKAGES,
            command=lambda elf, machine=_machine: qemu_command(elf, machine),
            timeout_s=600.0,
            make_args=("ARCH=" + " ".join(_arch),),
        )
    )


def map_path(elf: Path) -> Path:
    """The linker map the board Makefile writes next to ``elf`` (``app.elf`` -> ``app.map``)."""
    return Path(elf).with_suffix(".map")


def run_image(elf: Path, workdir: Path, *, timeout_s: float) -> QemuRun:
    """Run ``elf`` under QEMU with ``workdir`` as the semihosting working directory (where it finds
    ``har_in.bin`` and writes ``har_out.bin``). A run past ``timeout_s`` is killed: ``returncode`` None."""
    try:
        done = subprocess.run(
            qemu_command(elf),
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return QemuRun(None, _text(exc.stdout), _text(exc.stderr))
    return QemuRun(done.returncode, done.stdout, done.stderr)


def _text(output: str | bytes | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""
