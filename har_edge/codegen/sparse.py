"""Block-sparse weights for FULLY_CONNECTED and CONV_2D, and the generator's choice per layer.

The dense kernels read weights interleaved by 4 output channels x 4 inputs (``ops_conv.interleave``,
``har_dot.h``): one 16-byte block is one DSP step (one input word, two 8-byte weight loads, 8 SMLADs).
A block whose 16 weights are all zero adds nothing, so the block-sparse form stores only the other
blocks, in the same order, with per block the offset of its 4 inputs (``int16``) and per group of 4
channels where its blocks start (``int16``); ``har_sparse.h`` runs the same step on each stored block.
The sums are those of the dense kernel minus zero terms: the bytes cannot change.

Magnitude pruning at random leaves almost no all-zero 4x4 block (at 75 % sparsity 0.75^16 = 1 %);
block pruning (``optimize --structure block``) zeroes whole blocks, and whole-channel zeros (unit
pruning, all-zero channels) empty whole groups, whose outputs the kernels requantize once and copy.
The choice compares the expected DSP instructions of both forms per output position (constants fitted
to the per-layer counts of ``firmware --run`` on the emulated Cortex-M4F; CONV_2D's own in
``ops_conv``); the sparse form is taken when it is expected to save at least ``MIN_GAIN`` of the layer's
instructions and stores fewer weight bytes. ``expected_instruction_ratio`` is that estimate, not a
measurement.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from har_edge.codegen.lower import CArray

BLOCK = 4  # channels and inputs per block: the 4x4 step of har_dot4
# Expected DSP instructions per output position (FULLY_CONNECTED: per row), fitted to the per-layer
# counts of the dense and block-pruned (50, 75, 90 %) seed models on the emulated Cortex-M4F (within
# ~15 % but for single-row layers, whose call overhead they leave out):
DENSE_GROUP = 55  # per group of 4 channels: accumulator setup, 4 requantizations, stores, loop
DENSE_BLOCK = 28  # per 4x4 block in har_dot4's DSP loop
SPARSE_GROUP = 80  # per group with kept blocks (more live values: the triplets spill)
SPARSE_BLOCK = 28  # per kept block: the offset load replaces the dense loop's address step
EMPTY_GROUP = 3  # per group without kept blocks: a copy of its constant outputs
MIN_GAIN = 0.1
# CONV_2D's block-sparse kernel (conv_sparse.c) sign-extends one group's kept blocks into records in its
# scratch (an int32 input offset, then the block's 16 weights as int16), followed by what its assembly
# position loop reads (conv_sparse.c's sparse_tail: biases, pointers and steps, the group's 4 triplets)
RECORD_BYTES = 4 + 32
TAIL_BYTES = 88
MAX_INDEX = np.iinfo(np.int16).max  # block offsets and group starts are int16


@dataclass(frozen=True)
class KernelChoice:
    """What the generator chose for one layer's weights and why: its blocks (4 channels x 4 inputs),
    how many are not all zero, the weight bytes of each form and the expected instructions of the
    chosen form over the dense one (1.0 for dense)."""

    format: str  # "dense" | "block_sparse" | "wide" (FULLY_CONNECTED's int16 weights: codegen.fc_wide)
    blocks: int
    nonzero_blocks: int
    dense_weight_bytes: int
    sparse_weight_bytes: int
    expected_instruction_ratio: float

    @property
    def weight_bytes(self) -> int:
        if self.format == "wide":
            return 2 * self.dense_weight_bytes
        return self.sparse_weight_bytes if self.format == "block_sparse" else self.dense_weight_bytes

    def to_dict(self) -> dict:
        return {**asdict(self), "weight_bytes": self.weight_bytes}


def nonzero_blocks(interleaved: np.ndarray) -> np.ndarray:
    """(groups, blocks) bool: which 16-byte blocks of ``ops_conv.interleave``'s output hold a non-zero."""
    return interleaved.reshape(-1, 16).any(axis=1)


def max_group_blocks(interleaved: np.ndarray, groups: int) -> int:
    """The most kept blocks of one group of 4 channels (the block-sparse CONV_2D's records at a time)."""
    return int(nonzero_blocks(interleaved).reshape(groups, -1).sum(axis=1).max())


def choose(
    interleaved: np.ndarray,
    groups: int,
    dense_costs: tuple[float, float] = (DENSE_GROUP, DENSE_BLOCK),
    sparse_costs: tuple[float, float, float] = (SPARSE_GROUP, SPARSE_BLOCK, EMPTY_GROUP),
) -> KernelChoice:
    """The form expected to run faster on the Cortex-M4F for weights interleaved in ``groups``
    (``dense_costs``: the dense kernel's expected instructions per group and per block, when it is not
    har_dot4's; ``sparse_costs``: the sparse kernel's per group with kept blocks, per kept block and per
    group without, when it is not FULLY_CONNECTED's), provided it also stores fewer weight bytes (weights
    with hardly a zero block stay dense)."""
    mask = nonzero_blocks(interleaved).reshape(groups, -1)
    blocks, nonzero, live = mask.size, int(mask.sum()), int(mask.any(axis=1).sum())
    dense = groups * dense_costs[0] + blocks * dense_costs[1]
    sparse = live * sparse_costs[0] + nonzero * sparse_costs[1] + (groups - live) * sparse_costs[2]
    ratio = sparse / dense
    sparse_bytes = 16 * nonzero + 2 * nonzero + 2 * (groups + 1)
    fits = mask.shape[1] * BLOCK <= MAX_INDEX and nonzero <= MAX_INDEX and sparse_bytes < interleaved.size
    chosen = "block_sparse" if fits and ratio <= 1 - MIN_GAIN else "dense"
    return KernelChoice(
        format=chosen,
        blocks=blocks,
        nonzero_blocks=nonzero,
        dense_weight_bytes=interleaved.size,
        sparse_weight_bytes=sparse_bytes,
        expected_instruction_ratio=round(ratio, 3) if chosen == "block_sparse" else 1.0,
    )


def compress(interleaved: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(kept blocks as int8 bytes, int16 start of each group's blocks (groups + 1 entries), int16
    input offset of each kept block): the block-sparse form of ``har_sparse.h``."""
    blocks = interleaved.reshape(groups, -1, 16)
    mask = blocks.any(axis=2)
    starts = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int16)
    offsets = (np.nonzero(mask)[1] * BLOCK).astype(np.int16)
    return blocks[mask].ravel().astype(np.int8), starts, offsets


def weight_arrays(
    prefix: str,
    interleaved: np.ndarray,
    groups: int,
    dense_costs: tuple[float, float] = (DENSE_GROUP, DENSE_BLOCK),
    sparse_costs: tuple[float, float, float] = (SPARSE_GROUP, SPARSE_BLOCK, EMPTY_GROUP),
) -> tuple[list[CArray], str, KernelChoice]:
    """The weight arrays of the chosen form, the params fields that name them, and the choice."""
    choice = choose(interleaved, groups, dense_costs, sparse_costs)
    if choice.format == "dense":
        return [CArray(f"{prefix}_weights", "int8_t", interleaved)], f".weights = {prefix}_weights, ", choice
    kept, starts, offsets = compress(interleaved, groups)
    arrays = [
        CArray(f"{prefix}_weights", "int8_t", kept),
        CArray(f"{prefix}_block_starts", "int16_t", starts),
        CArray(f"{prefix}_block_offsets", "int16_t", offsets),
    ]
    fields = (
        f".weights = {prefix}_weights, .block_starts = {prefix}_block_starts, "
        f".block_offsets = {prefix}_block_offsets, "
    )
    return arrays, fields, choice
