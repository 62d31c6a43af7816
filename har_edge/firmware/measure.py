"""What a linked mps2-an386 image costs: flash and RAM from the ELF and its linker map, split into the
model's weights, the code that runs the model (generated glue + int8 kernels) and the harness (board
startup, semihosting, printf, file I/O: reported apart, a product replaces it), plus instructions per
inference and per layer from the harness's counts.

How the split is made: the linker map (``app.map``, written by the board Makefile) names the object
file of every input section. Sections of ``*_model.o`` are the model: its read-only data are the
weights (minus the layer-name table and string literals, which only the harness prints), its code and
the rest are model code, its .bss/.data the arena. Sections of ``runtime/*.o`` are kernel code. A
library member (libc's memcpy, libgcc's helpers) counts as kernel code when a model or kernel object
references one of its symbols, or when such a member pulled it in; everything else is the harness.
Caveat: the map records only the *first* member that pulled a library member in, so a libc routine
that the kernels reach only through another kernel-pulled libc routine is counted correctly, but one
reached through a harness routine first and then by a kernel member is not (in practice: none).
Totals come from ``arm-none-eabi-size -A``; what the map's input sections leave over (alignment padding,
string literals merged across files) is the harness's.
"""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from har_edge.errors import DataFormatError

FLASH_SECTIONS = (".text", ".rodata", ".ARM.extab", ".ARM.exidx", ".init_array", ".data")
RAM_SECTIONS = (".data", ".bss")
MODEL_OBJECT_SUFFIX = "_model.o"
KERNEL_FOLDER = "runtime"

_OUTPUT_SECTION = re.compile(r"^(\.[^\s]+)(?:\s+0x[0-9a-f]+\s+0x[0-9a-f]+.*)?$")
_INPUT_SECTION = re.compile(r"^ (\S+)(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*))?$")
_CONTINUATION = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
_SYMBOL = re.compile(r"^\s{16}0x[0-9a-f]+\s{16}([A-Za-z_.$][\w.$]*)$")
_MEMBER_REASON = re.compile(r"^\s+(\S.*?) \((\S+)\)$")


@dataclass(frozen=True)
class MemorySplit:
    """Bytes of a linked image by owner. Flash: ``weights_bytes`` + ``model_code_bytes`` +
    ``kernel_code_bytes`` + ``harness_flash_bytes`` == ``flash_bytes`` (text + rodata + data's load
    image). RAM (static): ``arena_bytes`` (the model's buffer) + ``kernel_ram_bytes`` +
    ``harness_ram_bytes`` == ``data_bytes`` + ``bss_bytes``. The heap (newlib's stdio buffers) and
    the stack are not static and not in here."""

    flash_bytes: int
    weights_bytes: int
    model_code_bytes: int
    kernel_code_bytes: int
    harness_flash_bytes: int
    data_bytes: int
    bss_bytes: int
    arena_bytes: int
    kernel_ram_bytes: int
    harness_ram_bytes: int

    @property
    def code_bytes(self) -> int:
        """The code a product ships to run the model: generated glue + kernels (+ libc they use)."""
        return self.model_code_bytes + self.kernel_code_bytes

    @property
    def model_flash_bytes(self) -> int:
        return self.weights_bytes + self.code_bytes

    def to_dict(self) -> dict[str, int]:
        return {**asdict(self), "code_bytes": self.code_bytes, "model_flash_bytes": self.model_flash_bytes}


@dataclass(frozen=True)
class _InputSection:
    output: str
    name: str
    size: int
    origin: str  # object path, or "archive(member)"
    symbols: tuple[str, ...]


def memory_split(elf: Path, map_path: Path, object_role: Callable[[str], str] | None = None) -> MemorySplit:
    """Split ``elf``'s flash and static RAM by owner using its linker map (see the module docstring).
    ``object_role(origin)`` -> "model", "kernel", "library" or "harness" says who owns an object file
    (default: the generated model's rule above; the trainable head's project passes its own). A map that
    does not add up to the ELF's sections is a ``DataFormatError``."""
    object_role = object_role or model_object_role
    totals = section_sizes(elf)
    sections = _input_sections(map_path)
    kernel_origins = _kernel_origins(map_path, sections, object_role)
    flash: dict[str, int] = defaultdict(int)
    ram: dict[str, int] = defaultdict(int)
    for section in sections:
        owner = _owner(section, kernel_origins, object_role)
        if section.output in FLASH_SECTIONS:
            flash[_flash_role(section, owner)] += section.size
        if section.output in RAM_SECTIONS:
            ram[owner] += section.size
    split = MemorySplit(
        flash_bytes=sum(totals.get(name, 0) for name in FLASH_SECTIONS),
        weights_bytes=flash["weights"],
        model_code_bytes=flash["model"],
        kernel_code_bytes=flash["kernel"],
        harness_flash_bytes=flash["harness"],
        data_bytes=totals.get(".data", 0),
        bss_bytes=totals.get(".bss", 0),
        arena_bytes=ram["model"],
        kernel_ram_bytes=ram["kernel"],
        harness_ram_bytes=ram["harness"],
    )
    # What the map's input sections do not account for goes to the harness: padding between sections
    # (*fill*, alignment) adds to the output sections, and merged string literals (.rodata.str*, listed at
    # their size before duplicates are merged) take away from them.
    flash_rest = split.flash_bytes - split.model_flash_bytes - split.harness_flash_bytes
    ram_rest = (
        split.data_bytes
        + split.bss_bytes
        - split.arena_bytes
        - split.kernel_ram_bytes
        - split.harness_ram_bytes
    )
    harness_flash, harness_ram = split.harness_flash_bytes + flash_rest, split.harness_ram_bytes + ram_rest
    if harness_flash < 0 or harness_ram < 0:
        raise DataFormatError(
            map_path,
            f"the map's sections do not add up to the ELF's (flash {split.flash_bytes} B, RAM "
            f"{split.data_bytes + split.bss_bytes} B, {flash_rest:+} / {ram_rest:+} B unaccounted)",
            expected=f"the linker map written with {elf.name}",
        )
    return MemorySplit(
        **{**asdict(split), "harness_flash_bytes": harness_flash, "harness_ram_bytes": harness_ram}
    )


def section_sizes(elf: Path) -> dict[str, int]:
    """Section name -> size in bytes, from ``arm-none-eabi-size -A``."""
    done = subprocess.run(["arm-none-eabi-size", "-A", str(elf)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise DataFormatError(elf, f"arm-none-eabi-size failed: {done.stderr.strip()}", expected="an ARM ELF")
    sizes = {}
    for line in done.stdout.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0].startswith(".") and fields[1].isdigit():
            sizes[fields[0]] = int(fields[1])
    return sizes


def _input_sections(map_path: Path) -> list[_InputSection]:
    """Every input section of the memory map with its output section, size, origin and symbols."""
    text = map_path.read_text(errors="replace")
    _, marker, memory_map = text.partition("Linker script and memory map")
    if not marker:
        raise DataFormatError(map_path, "no 'Linker script and memory map' part", expected="a GNU ld map")
    sections: list[_InputSection] = []
    output, pending = "", None
    for line in memory_map.splitlines():
        if (found := _OUTPUT_SECTION.match(line)) and not line.startswith(" "):
            output, pending = found.group(1), None
            continue
        if pending is not None and (found := _CONTINUATION.match(line)):
            sections.append(_InputSection(output, pending, int(found.group(2), 16), found.group(3), ()))
            pending = None
            continue
        if (found := _SYMBOL.match(line)) and sections:
            last = sections[-1]
            sections[-1] = _InputSection(
                last.output, last.name, last.size, last.origin, (*last.symbols, found[1])
            )
            continue
        found = _INPUT_SECTION.match(line)
        if found and found.group(1).startswith("."):
            if found.group(2) is None:
                pending = found.group(1)
            else:
                sections.append(_InputSection(output, found[1], int(found[3], 16), found[4].strip(), ()))
    return sections


def _kernel_origins(map_path: Path, sections: list[_InputSection], object_role) -> set[str]:
    """Library members that belong to the kernels: those defining a symbol a model or kernel object
    references, and, transitively, the members those pulled in."""
    model_objects = {s.origin for s in sections if object_role(s.origin) in ("model", "kernel")}
    wanted = set().union(*(_undefined_symbols(Path(map_path).parent / path) for path in model_objects))
    kernel = {s.origin for s in sections if "(" in s.origin and wanted.intersection(s.symbols)}
    pulled_by = _archive_members(map_path)
    changed = True
    while changed:
        grown = {member for member, by in pulled_by.items() if by in kernel or by in model_objects}
        changed = not grown <= kernel
        kernel |= grown
    return kernel


def _undefined_symbols(obj: Path) -> set[str]:
    done = subprocess.run(["arm-none-eabi-nm", "-u", str(obj)], capture_output=True, text=True, check=False)
    return {line.split()[-1] for line in done.stdout.splitlines() if line.strip()}


def _archive_members(map_path: Path) -> dict[str, str]:
    """The map's 'Archive member included' part: member -> the file that first referenced it."""
    head = Path(map_path).read_text(errors="replace").partition("Linker script and memory map")[0]
    members, member = {}, None
    for line in head.splitlines():
        if line and not line.startswith(" ") and "(" in line:
            member = line.strip()
        elif member and (found := _MEMBER_REASON.match(line)):
            members[member], member = found.group(1), None
    return members


def model_object_role(origin: str) -> str:
    """The generated model's objects: ``*_model.o`` the model, ``runtime/*.o`` kernels, the rest harness."""
    if "(" in origin:  # archive(member)
        return "library"
    path = PurePosixPath(origin)
    if path.name.endswith(MODEL_OBJECT_SUFFIX):
        return "model"
    return "kernel" if KERNEL_FOLDER in path.parts[:-1] else "harness"


def _owner(section: _InputSection, kernel_origins: set[str], object_role) -> str:
    role = object_role(section.origin)
    if role == "library":
        return "kernel" if section.origin in kernel_origins else "harness"
    return role


def _flash_role(section: _InputSection, owner: str) -> str:
    """Model read-only data are weights, except the layer-name table and strings (harness output)."""
    if owner != "model":
        return owner
    data = section.output in (".rodata", ".data")
    names = "layer_names" in section.name or ".str" in section.name
    if data and not names:
        return "weights"
    return "harness" if names else "model"


def describe(split: MemorySplit) -> dict[str, Any]:
    """The split as report details, with a one-line statement of what is in each part."""
    return {
        **split.to_dict(),
        "caveat": "weights = the generated model's constant arrays; code = generated glue + int8 kernels + "
        "the libc/libgcc routines they call; harness (startup, semihosting, printf, file I/O, layer names) "
        "reported apart; static RAM excludes the heap (stdio buffers) and the stack",
    }
