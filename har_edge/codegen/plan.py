"""The memory plan: every activation tensor gets an offset in one static arena, computed from tensor
lifetimes at generation time. Reshapes alias their input (no copy); element-wise ops may write over
an input that dies at that op (in place), and so may a per-time-step FULLY_CONNECTED whose rows are no
wider than its input rows (each row is computed into a row-sized scratch, then copied over input rows
already consumed); buffers whose lifetimes do not overlap share bytes.

Overlap: an op's output may overlap an input that dies at that op when the output starts at least a
*margin* of bytes before that input (``Usage.overlap``, from ``overlap.py``'s per-kernel rules: the
kernel writes no byte before it has read the input bytes under it). In-place ops lie exactly over
their input, as their kernels expect.

Storage classes: the model input is read from the caller's buffer and the model output written to
the caller's buffer directly; everything else lives in the arena. Offsets (aligned to ``ALIGN``
bytes) come from a few greedy placements (buffers in order of definition or by size; each at the
candidate offset that grows the arena least, ties to the lowest or the highest, or plain first fit
from 0); the smallest arena wins. Every placement is checked against every buffer live at the same
time: disjoint, or an allowed overlap.
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
    in_place_of: set[int] = field(default_factory=set)  # input buffers it may lie exactly over
    may_overlap: dict[int, int] = field(default_factory=dict)  # input buffers it may start a margin before


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
    overlap: int | None = None  # output may start this many bytes (or more) before input 0 and overlap it


def plan_memory(
    usages: list[Usage], sizes: dict[int, int], model_input: int, model_output: int, overlap: bool = True
) -> MemoryPlan:
    """Offsets for every tensor in ``usages`` (``sizes`` in bytes); ``overlap=False`` ignores the
    ``Usage.overlap`` margins (in-place ops still write over their dying inputs)."""
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
        if usage.alias:
            continue
        out = buffers[root[usage.writes[0]]]
        dying = [buffers[root[t]] for t in usage.reads]
        dying = [b for b in dying if b.last == i and b.place == "arena" and b is not out]
        if usage.in_place:
            out.in_place_of.update(b.key for b in dying if b.size >= out.size)
            if out.in_place_of and usage.in_place_scratch and not usage.scratch:
                key = -(i + 1)
                buffers[key] = Buffer(key, usage.in_place_scratch, first=i, last=i)
                scratch[i] = key
        if overlap and usage.overlap is not None and root[usage.reads[0]] in {b.key for b in dying}:
            out.may_overlap[root[usage.reads[0]]] = usage.overlap
    arena = _place([b for b in buffers.values() if b.place == "arena"])
    return MemoryPlan(buffers, root, arena, scratch)


def _overlaps(a: Buffer, b: Buffer) -> bool:
    """Whether the lifetimes of ``a`` and ``b`` share an op."""
    return a.first <= b.last and b.first <= a.last


def compatible(a: Buffer, a_offset: int, b: Buffer, b_offset: int) -> bool:
    """Whether ``a`` at ``a_offset`` and ``b`` at ``b_offset``, live at the same time, are disjoint, or
    one is an output allowed over the other (its input): in place at the same offset, or starting at
    least the margin before it."""
    if a_offset + a.size <= b_offset or b_offset + b.size <= a_offset:
        return True
    if b.key in a.in_place_of or a.key in b.in_place_of:
        return a_offset == b_offset
    if b.key in a.may_overlap:
        return a_offset + a.may_overlap[b.key] <= b_offset
    if a.key in b.may_overlap:
        return b_offset + b.may_overlap[a.key] <= a_offset
    return False


ORDERS = (
    lambda b: (b.first, -b.size, b.key),  # order of definition
    lambda b: (-b.size, b.first, b.key),  # largest first
)
CHOICES = ("first_fit", "least_growth_low", "least_growth_high")


def _place(pending: list[Buffer]) -> int:
    """Sets every buffer's offset (from 0) by the placement giving the smallest arena; its size."""
    best: tuple[int, dict[int, int]] | None = None
    for order in ORDERS:
        for choice in CHOICES:
            offsets = _greedy(sorted(pending, key=order), choice)
            low = min(offsets.values(), default=0)
            top = max((offsets[b.key] + b.size for b in pending), default=0)
            if best is None or top - low < best[0]:
                best = (top - low, {key: offset - low for key, offset in offsets.items()})
    for buffer in pending:
        buffer.offset = best[1][buffer.key]
    return _aligned(best[0])


def _greedy(order: list[Buffer], choice: str) -> dict[int, int]:
    """Offsets (possibly negative) of the buffers placed one by one in ``order``."""
    placed: list[Buffer] = []
    at: dict[int, int] = {}
    low = top = 0
    for buffer in order:
        conflicts = [p for p in placed if _overlaps(p, buffer)]
        candidates = {0}
        for p in conflicts:
            candidates |= {_aligned(at[p.key] + p.size), _aligned_down(at[p.key] - buffer.size)}
            if p.key in buffer.in_place_of or buffer.key in p.in_place_of:
                candidates.add(at[p.key])
            if p.key in buffer.may_overlap:  # buffer is the output: at least the margin before p
                candidates.add(_aligned_down(at[p.key] - buffer.may_overlap[p.key]))
            if buffer.key in p.may_overlap:  # buffer is the input: at least the margin after p
                candidates.add(_aligned(at[p.key] + p.may_overlap[buffer.key]))
        valid = [o for o in candidates if all(compatible(buffer, o, p, at[p.key]) for p in conflicts)]
        if choice == "first_fit":
            offset = min(valid, key=lambda o: (o < 0, o))
        else:
            sign = 1 if choice == "least_growth_low" else -1
            offset = min(valid, key=lambda o: (max(top, o + buffer.size) - min(low, o), sign * o))
        at[buffer.key] = offset
        low, top = min(low, offset), max(top, offset + buffer.size)
        placed.append(buffer)
    return at


def _aligned(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _aligned_down(n: int) -> int:
    return n // ALIGN * ALIGN
