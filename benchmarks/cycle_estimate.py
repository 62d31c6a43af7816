"""A Cortex-M4 cycle estimate from the instruction mix of one emulated inference.

QEMU counts instructions, not cycles: ``-icount shift=0`` makes every instruction one nanosecond,
whatever it is. This module runs an mps2-an386 image (har_edge's or the TFLM peer's: both harnesses
bracket each inference with ``har_board_instructions()``) under ``qemu-system-arm -d
in_asm,exec,nochain``: ``in_asm`` logs each translated block's instructions once, ``exec`` (with
chaining off) logs every execution of a block, so the executed mix is exact. The window is the
instructions between the last two entries of ``har_board_instructions`` (the last inference, after
any warm-up); its instruction count is checked against the harness's SysTick count.

Each instruction class costs the cycles of the Cortex-M4 Technical Reference Manual (r0p1, table 3-1,
zero wait states), as (low, typical, high):
- data processing, MUL/MLA/MLS, long multiplies, SMLAD/SMLABB/SMUAD…, saturation, extend, IT: 1
  (IT: 0 when folded, the low bound);
- LDR/LDRB/LDRH/VLDR: 2, or 1 when it follows another single load/store (pipelined; high: never);
  STR with an immediate offset: 1; other single stores: 2 (1 pipelined);
- LDM/STM/PUSH/POP/VLDM/VSTM/VPUSH/VPOP: 1 + N (N registers; + P when PC is loaded); LDRD/STRD: 1 + 2;
- branches: taken 1 + P, not taken 1 (the next executed block tells which), TBB/TBH 2 + P; P, the
  pipeline refill, is 1..3 cycles (typical 2);
- SDIV/UDIV: 2..12 (typical 7: the TRM gives only the range, it depends on the operands);
- VADD/VSUB/VMUL/VCVT/VMOV/VCMP: 1; VMLA/VMLS/VFMA…: 3; VDIV/VSQRT: 14.
Not modelled: flash wait states, bus contention, interrupts, the write buffer stalls: a real board
with a slow flash costs more. These are estimates; the instruction counts are what is measured.

``validate()`` runs micro-benchmarks (``cycle_micro.c``: loops of one instruction class each, bracketed
like an inference) and checks the estimator's class counts and cycles against the TRM arithmetic for
each loop, computed by hand in ``MICRO_EXPECTED``. It validates the trace accounting and the
classification, not the TRM's timings themselves (there is no hardware here).

Usage: python benchmarks/cycle_estimate.py ELF INPUTS.bin [--inputs 2]   |   --validate
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

BRACKET = "har_board_instructions"
P_RANGE = (1, 2, 3)  # pipeline refill: low, typical, high
DIV_RANGE = (2, 7, 12)
CONDITIONS = {
    "eq",
    "ne",
    "cs",
    "hs",
    "cc",
    "lo",
    "mi",
    "pl",
    "vs",
    "vc",
    "hi",
    "ls",
    "ge",
    "lt",
    "gt",
    "le",
    "al",
}
CLASSES = {
    "alu": "mov mvn movw movt add adc sub sbc rsb adr and orr eor bic orn lsl lsr asr ror rrx cmp cmn tst "
    "teq sxtb sxth uxtb uxth sxtab sxtah uxtab uxtah sxtb16 uxtb16 ubfx sbfx bfi bfc clz rbit rev rev16 "
    "revsh ssat usat ssat16 usat16 qadd qsub qdadd qdsub sadd16 ssub16 sadd8 ssub8 uadd8 usub8 uadd16 usub16 "
    "qadd16 qsub16 qadd8 qsub8 shadd16 shsub16 uqadd8 uqsub8 sel pkhbt pkhtb nop mrs msr cpsid cpsie "
    "dmb dsb isb sev wfi wfe bkpt svc pld neg",
    "mul": "mul mla mls smull umull smlal umlal umaal smulbb smulbt smultb smultt smlabb smlabt smlatb "
    "smlatt smulwb smulwt smlawb smlawt smlad smladx smlsd smlsdx smuad smuadx smusd smusdx smlald smlaldx "
    "smlsld smlsldx smmul smmulr smmla smmlar smmls smmlsr smlalbb smlalbt smlaltb smlaltt",
    "div": "sdiv udiv",
    "load": "ldr ldrb ldrh ldrsb ldrsh ldrex ldrexb ldrexh ldrt ldrbt ldrht vldr",
    "store": "str strb strh strex strexb strexh strt vstr",
    "dual": "ldrd strd",
    "multiple": "ldm ldmia ldmfd ldmdb stm stmia stmea stmdb stmfd push pop vldm vldmia vldmdb vstm vstmia "
    "vstmdb vpush vpop",
    "branch": "b bl bx blx cbz cbnz",
    "table_branch": "tbb tbh",
    "it": "it itt ite ittt itte itet itee itttt ittte ittet ittee itett itete iteet iteee",
    "fp": "vadd vsub vmul vnmul vneg vabs vcvt vcvtr vcvtb vcvtt vcmp vcmpe vmov vmrs vmsr",
    "fp_mac": "vmla vmls vnmla vnmls vfma vfms vfnma vfnms",
    "fp_div": "vdiv vsqrt",
}
CLASS_OF = {m: c for c, names in CLASSES.items() for m in names.split()}
_IN = re.compile(r"^0x([0-9a-f]+):\s+([0-9a-f]{4}(?: [0-9a-f]{4})?)\s+(\S+)\s*(.*)$")
_REGISTER_OFFSET = re.compile(r",\s*(r\d+|ip|lr|sb|sl|fp)\b")
_TRACE = re.compile(r"^Trace \d+: (0x[0-9a-f]+) \[[0-9a-f]+/([0-9a-f]+)/")


@dataclass(frozen=True)
class Insn:
    address: int
    size: int
    cls: str
    operands: str


@dataclass
class Mix:
    """Executed instructions by class, and the cycles they cost (low, typical, high)."""

    instructions: int = 0
    classes: Counter = field(default_factory=Counter)
    branches_taken: int = 0
    branches_not_taken: int = 0
    cycles: list = field(default_factory=lambda: [0, 0, 0])
    harness_instructions: int | None = None  # the SysTick count of the same inference

    def to_dict(self) -> dict:
        low, typical, high = self.cycles
        return {
            "instructions": self.instructions,
            "harness_instructions": self.harness_instructions,
            "classes": dict(self.classes.most_common()),
            "branches_taken": self.branches_taken,
            "branches_not_taken": self.branches_not_taken,
            "cycles_low": low,
            "cycles_typical": typical,
            "cycles_high": high,
            "cycles_per_instruction_typical": typical / self.instructions if self.instructions else None,
        }


def classify(mnemonic: str) -> str:
    """The class of a disassembled mnemonic (condition codes, ``s`` and ``.w``/``.f32`` suffixes
    dropped); ``other`` when unknown (costed 1 cycle, reported)."""
    m = mnemonic.lower().split(".")[0]
    cond = m[:-2] if len(m) > 2 and m[-2:] in CONDITIONS else m
    for candidate in (m, cond, m[:-1] if m.endswith("s") else m, cond[:-1] if cond.endswith("s") else cond):
        if candidate in CLASS_OF:
            return CLASS_OF[candidate]
    return "other"


def _registers(operands: str) -> int:
    inside = operands[operands.find("{") + 1 : operands.find("}")]
    count = 0
    for part in inside.split(","):
        a, _, b = part.strip().partition("-")
        count += (
            int(b.strip()[1:]) - int(a[1:]) + 1 if b and a[1:].isdigit() and b.strip()[1:].isdigit() else 1
        )
    return count


def _writes_pc(insn: Insn) -> bool:
    first = insn.operands.split(",")[0].strip()
    return first == "pc" or ("{" in insn.operands and "pc" in insn.operands.split("{")[1])


def cost(insn: Insn, previous_memory: bool, taken: bool | None) -> tuple[int, int, int]:
    """Cycles (low, typical, high) of one executed instruction (see the module docstring)."""
    cls, refill = insn.cls, P_RANGE
    if cls in ("load", "store"):
        register_offset = _REGISTER_OFFSET.search(insn.operands.partition("[")[2])
        base = 1 if cls == "store" and not register_offset else 2  # STR Rx,[Ry,#imm] is always 1
        low = 1 if previous_memory else base
        cycles = (low, low, base)
    elif cls == "dual":
        cycles = (3, 3, 3)
    elif cls == "multiple":
        n = 1 + _registers(insn.operands)
        cycles = (n, n, n)
    elif cls == "div":
        cycles = DIV_RANGE
    elif cls == "fp_mac":
        cycles = (3, 3, 3)
    elif cls == "fp_div":
        cycles = (14, 14, 14)
    elif cls == "it":
        cycles = (0, 1, 1)
    elif cls == "table_branch":
        return tuple(2 + p for p in refill)
    elif cls == "branch":
        return tuple(1 + p for p in refill) if taken or taken is None else (1, 1, 1)
    else:
        cycles = (1, 1, 1)
    if _writes_pc(insn):
        return tuple(c + p for c, p in zip(cycles, refill, strict=True))
    return cycles


def parse_block(lines: list[str]) -> list[Insn]:
    block = []
    for line in lines:
        m = _IN.match(line)
        if m:
            size = 4 if " " in m.group(2) else 2
            block.append(Insn(int(m.group(1), 16), size, classify(m.group(3)), m.group(4)))
    return block


def executed_blocks(log: Path):
    """(pc, block) of every executed translation block, in order, from an in_asm,exec,nochain log."""
    blocks_by_host: dict[str, list[Insn]] = {}
    blocks_by_pc: dict[int, list[Insn]] = {}
    pending: list[Insn] | None = None
    current: list[str] | None = None
    with open(log, errors="replace") as stream:
        for line in stream:
            if line.startswith("IN:"):
                current = []
            elif current is not None and line.startswith("0x"):
                current.append(line)
            elif line.startswith("Trace"):
                if current is not None:
                    pending, current = parse_block(current), None
                m = _TRACE.match(line)
                if not m:
                    continue
                host, pc = m.group(1), int(m.group(2), 16)
                if pending is not None:
                    blocks_by_host[host] = blocks_by_pc[pc] = pending
                    pending = None
                yield pc, blocks_by_host.get(host) or blocks_by_pc.get(pc) or []


def window_mix(log: Path, start_pc: int) -> Mix:
    """The mix between the last two executions of the block at ``start_pc`` (the bracket function)."""
    entries = [i for i, (pc, _) in enumerate(executed_blocks(log)) if pc == start_pc]
    if len(entries) < 2:
        raise RuntimeError(f"{log}: fewer than two {BRACKET} calls traced")
    first, last = entries[-2], entries[-1]
    mix, previous, previous_memory = Mix(), None, False
    for i, (pc, block) in enumerate(executed_blocks(log)):
        if i > last:
            break
        if previous is not None:
            mix, previous_memory = _account(mix, previous, pc, previous_memory)
        previous = block if i >= first else None
    return mix


def _account(mix: Mix, block: list[Insn], next_pc: int, previous_memory: bool) -> tuple[Mix, bool]:
    for j, insn in enumerate(block):
        taken = None
        if j == len(block) - 1 and insn.cls == "branch":
            taken = next_pc != insn.address + insn.size
            mix.branches_taken += taken
            mix.branches_not_taken += not taken
        mix.cycles = [a + b for a, b in zip(mix.cycles, cost(insn, previous_memory, taken), strict=True)]
        mix.classes[insn.cls] += 1
        mix.instructions += 1
        previous_memory = insn.cls in ("load", "store")
    return mix, previous_memory


def symbol_address(elf: Path, name: str) -> int:
    out = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16) & ~1
    raise RuntimeError(f"{elf}: no symbol {name}")


def trace(elf: Path, input_bytes: bytes, workdir: Path, timeout_s: float = 1800) -> tuple[Path, str]:
    """Run ``elf`` over ``input_bytes`` with the execution log on: (log path, the harness's stdout)."""
    (workdir / "har_in.bin").write_bytes(input_bytes)
    log = workdir / "trace.log"
    command = ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none", "-semihosting"]
    command += [
        "-icount",
        "shift=0",
        "-d",
        "in_asm,exec,nochain",
        "-D",
        str(log),
        "-kernel",
        str(elf.resolve()),
    ]
    done = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{elf}: QEMU exit {done.returncode}: {done.stdout[-500:]}{done.stderr[-500:]}")
    return log, done.stdout


def estimate_image(elf: Path, input_bytes: bytes) -> Mix:
    """The mix and cycles of the last inference of ``elf`` over ``input_bytes`` (give two inputs: a
    warm-up and the counted one), with the harness's SysTick count of it."""
    with tempfile.TemporaryDirectory(prefix="har-cycles-") as tmp:
        log, stdout = trace(elf, input_bytes, Path(tmp))
        mix = window_mix(log, symbol_address(elf, BRACKET))
    counted = [int(line.split()[-1]) for line in stdout.splitlines() if line.startswith("HAR inference ")]
    mix.harness_instructions = counted[-1] if counted else None
    return mix


MICRO_SOURCE = Path(__file__).with_name("cycle_micro.c")
MICRO_ITERATIONS = (1000, 2000)
# Cycles per loop iteration (low, typical, high) by the TRM, by hand: the body + SUBS (1) + a taken BNE
# (1 + P, P = 1..3, typical 2). The difference between the 2000- and the 1000-iteration images is 1000
# iterations exactly (the setup, the call and the final not-taken branch cancel out).
MICRO_EXPECTED = {
    "ALU": ({"alu": 9, "branch": 1}, (8 + 1 + 2, 8 + 1 + 3, 8 + 1 + 4)),  # ADD: 1 each
    "SMLAD": ({"mul": 8, "alu": 1, "branch": 1}, (11, 12, 13)),  # SMLAD: 1 each
    # LDR: 2, 1 when it follows a load/store (the first follows BNE); high: no pipelining, 2 each
    "LDR": ({"load": 4, "alu": 1, "branch": 1}, (2 + 3 + 1 + 2, 2 + 3 + 1 + 3, 8 + 1 + 4)),
    "STR": ({"store": 4, "alu": 1, "branch": 1}, (4 + 1 + 2, 4 + 1 + 3, 4 + 1 + 4)),  # STR #imm: 1
    "UDIV": ({"div": 4, "alu": 1, "branch": 1}, (8 + 3, 28 + 4, 48 + 5)),  # UDIV: 2..12
    "LDM": ({"multiple": 2, "alu": 1, "branch": 1}, (10 + 3, 10 + 4, 10 + 5)),  # LDM 4 registers: 1 + 4
    "VMLA": ({"fp_mac": 4, "alu": 1, "branch": 1}, (12 + 3, 12 + 4, 12 + 5)),  # VMLA.F32: 3
}


def _micro_image(board: Path, harness: Path, name: str, iterations: int, work: Path) -> Path:
    import shutil

    folder = work / f"{name}-{iterations}"
    shutil.copytree(board, folder)
    (folder / "harness").mkdir()
    shutil.copy(harness, folder / "harness" / "har_board.h")
    shutil.copy(MICRO_SOURCE, folder / "main.c")
    extra = f"CFLAGS_EXTRA=-DMICRO_{name} -DITER={iterations}"
    subprocess.run(["make", "-s", extra], cwd=folder, check=True, capture_output=True, text=True)
    return folder / "app.elf"


def validate(names: tuple[str, ...] = tuple(MICRO_EXPECTED)) -> list[dict]:
    """Each micro-benchmark's (``names``) measured difference (1000 iterations) against
    ``MICRO_EXPECTED``."""
    from har_edge.firmware.sources import firmware_root

    firmware = firmware_root()
    results = []
    with tempfile.TemporaryDirectory(prefix="har-micro-") as tmp:
        for name in names:
            classes, per_iteration = MICRO_EXPECTED[name]
            mixes = []
            for n in MICRO_ITERATIONS:
                elf = _micro_image(
                    firmware / "mps2-an386", firmware / "harness" / "har_board.h", name, n, Path(tmp)
                )
                mixes.append(estimate_image(elf, b""))
            iterations = MICRO_ITERATIONS[1] - MICRO_ITERATIONS[0]
            got_cycles = [b - a for a, b in zip(mixes[0].cycles, mixes[1].cycles, strict=True)]
            got_classes = {
                k: (mixes[1].classes[k] - mixes[0].classes[k]) // iterations for k in mixes[1].classes
            }
            want_cycles = [c * iterations for c in per_iteration]
            harness = mixes[1].harness_instructions - mixes[0].harness_instructions
            results.append(
                {
                    "micro": name,
                    "cycles_trm": want_cycles,
                    "cycles_estimated": got_cycles,
                    "classes_per_iteration": {k: v for k, v in got_classes.items() if v},
                    "instructions_traced": mixes[1].instructions - mixes[0].instructions,
                    "instructions_systick": harness,
                    "ok": got_cycles == want_cycles
                    and {k: v for k, v in got_classes.items() if v} == classes,
                }
            )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("elf", nargs="?", type=Path)
    parser.add_argument("inputs", nargs="?", type=Path, help="int8 inputs back to back (first two used)")
    parser.add_argument("--input-bytes", type=int, help="bytes of one input (default: the file's half)")
    parser.add_argument("--validate", action="store_true", help="run the micro-benchmarks instead")
    args = parser.parse_args(argv)
    if args.validate:
        results = validate()
        print(json.dumps(results, indent=1))
        return 0 if all(r["ok"] for r in results) else 1
    if args.elf is None or args.inputs is None:
        parser.error("give ELF and INPUTS, or --validate")
    data = args.inputs.read_bytes()
    size = args.input_bytes or len(data) // 2
    print(json.dumps(estimate_image(args.elf, data[: 2 * size]).to_dict(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
