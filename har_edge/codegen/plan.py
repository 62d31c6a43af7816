"""The memory plan: every activation tensor gets an offset in one static arena, computed from tensor
lifetimes at generation time. Reshapes alias their input (no copy); element-wise ops may write over
an input that dies at that op (in place), and so may a per-time-step FULLY_CONNECTED whose rows are no
wider than its input rows (each row is computed into a row-sized scratch, then copied over input rows
already consumed); buffers whose lifetimes do not overlap share bytes.

Storage classes: the model input is read from the caller's buffer and the model output written to
the caller's buffer directly; everything else lives in the arena (first fit, in order of definition,
offsets aligned to ``ALIGN`` bytes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALIGN = 4


@dataclass
class Buffer:
    """One storage class: the tensors that share it (a producer and its no-copy reshapes)."""

    key: int  # the root tensor index, or a negative number for an op's scratch
    size: int
    first: int  # op index that writes it (-1: the model input)
    last: int  # last op index that reads it (len(ops): the model output)
    place: str = "arena"  # "arena", "input" or "output"
    offset: int = 0
    in_place_of: int | None = None  # key of an input buffer it may overwrite


@dataclass
class MemoryPlan:
    buffers: dict[int, Buffer]
    root: dict[int, int]  # tensor index -> buffer key
    arena_bytes: int
    scratch: dict[int, int] = field(default_factory=dict)  # op position -> scratch buffer key

    def expression(self, tensor: int) -> str:
        """The C expression of a tensor's data pointer (int8_t *)."""
        return self.buffer_expression(self.root[tensor])

    def buffer_expression(self, key: int) -> str:
        buffer = self.buffers[key]
        if buffer.place == "input":
            return "(const int8_t *)input"
        if buffer.place == "output":
            return "(int8_t *)output"
        return f"(arena + {buffer.offset})"


@dataclass(frozen=True)
class Usage:
    """What the planner needs to know of one op."""

    reads: tuple[int, ...]
    writes: tuple[int, ...]
    alias: bool = False  # output is the input, reinterpreted (RESHAPE, SQUEEZE, EXPAND_DIMS)
    in_place: bool = False  # output may overwrite an input at least as large that dies here
    scratch: int = 0  # bytes of scratch the kernel needs during this op
    in_place_scratch: int = 0  # bytes of scratch it needs only when it is planned in place


def plan_memory(
    usages: list[Usage], sizes: dict[int, int], model_input: int, model_output: int
) -> MemoryPlan:
    """Offsets for every tensor in ``usages`` (``sizes`` in bytes)."""
    root: dict[int, int] = {}
    for usage in usages:
        for t in usage.reads + usage.writes:
            root.setdefault(t, t)
        if usage.alias:
            root[usage.writes[0]] = root[usage.reads[0]]
    buffers: dict[int, Buffer] = {}
    end = len(usages)
    for key in root.values():
        buffers.setdefault(key, Buffer(key, sizes[key], first=end, last=-1))
    buffers[root[model_input]].first = -1
    for i, usage in enumerate(usages):
        for t in usage.writes:
            b = buffers[root[t]]
            b.first = min(b.first, i)
        for t in usage.reads:
            b = buffers[root[t]]
            b.last = max(b.last, i)
    buffers[root[model_output]].last = end
    buffers[root[model_input]].place = "input"
    if root[model_output] != root[model_input]:
        buffers[root[model_output]].place = "output"
    scratch = {}
    for i, usage in enumerate(usages):
        if usage.scratch:
            key = -(i + 1)
            buffers[key] = Buffer(key, usage.scratch, first=i, last=i)
            scratch[i] = key
        if usage.in_place and not usage.alias:
            out = buffers[root[usage.writes[0]]]
            for t in usage.reads:
                candidate = buffers[root[t]]
                if candidate.last == i and candidate.size >= out.size and candidate.place == "arena":
                    out.in_place_of = candidate.key
                    if usage.in_place_scratch and not usage.scratch:
                        key = -(i + 1)
                        buffers[key] = Buffer(key, usage.in_place_scratch, first=i, last=i)
                        scratch[i] = key
                    break
    arena = _first_fit([b for b in buffers.values() if b.place == "arena"], buffers)
    return MemoryPlan(buffers, root, arena, scratch)


def _overlaps(a: Buffer, b: Buffer) -> bool:
    return a.first <= b.last and b.first <= a.last


def _first_fit(pending: list[Buffer], everything: dict[int, Buffer]) -> int:
    placed: list[Buffer] = []
    top = 0
    for buffer in sorted(pending, key=lambda b: (b.first, -b.size, b.key)):
        partner = everything.get(buffer.in_place_of) if buffer.in_place_of is not None else None
        conflicts = [p for p in placed if _overlaps(p, buffer)]
        others = [p for p in conflicts if p is not partner]
        ends = sorted({0, *(_aligned(p.offset + p.size) for p in conflicts)})
        # the partner's own offset is the only place allowed to overlap it: anywhere else, a kernel
        # writing ahead of its reads would clobber input it has not consumed yet
        candidates = [(partner.offset, others)] if partner is not None else []
        for offset, against in candidates + [(end, conflicts) for end in ends]:
            if all(offset + buffer.size <= p.offset or p.offset + p.size <= offset for p in against):
                buffer.offset = offset
                break
        placed.append(buffer)
        top = max(top, buffer.offset + buffer.size)
    return _aligned(top)


def _aligned(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN
