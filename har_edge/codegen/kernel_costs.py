"""The fitted costs the code generator chooses kernels by, and the scratch its convolution kernels need.

Each cost is expected DSP instructions on the emulated Cortex-M4F (QEMU instruction counts), fitted to
measured per-layer counts; ``sparse.choose`` compares a layer's dense form with its block-sparse form
through them. They are estimates (within a few per cent on the layers they were fitted to), so a choice
near the break-even point can be the slower one."""

from __future__ import annotations

import numpy as np

from har_edge.codegen import fc_wide, sparse

# CONV_2D's dense kernel (two positions x two channels, conv.c): expected DSP instructions per output
# position, per group of 4 channels and per 4x4 block (sparse.choose), fitted to the per-layer counts
# of pointwise layers of the MLPerf Tiny models on the emulated Cortex-M4F (within ~3 %; 3x3 layers
# add ~15 % for gathering their fields)
CONV_DENSE_COSTS = (83, 17)
# CONV_2D's block-sparse kernel (conv_sparse.c): expected DSP instructions per output position, per group of 4
# channels with kept blocks, per kept block and per group without; and per call, per group with kept
# blocks and per kept block (their records and tail); fitted to the per-layer counts of the block-pruned
# (50, 75, 90 %) cnn models on the emulated Cortex-M4F (within ~4 %). A convolution that is not along
# time gathers every window for every group: per group and position, the fit of three 3x3 and 1x1
# layers adds 92 + 44 per kernel row + 0.8 per byte of the window.
SPARSE_CONV_COSTS = (44, 15, 5)
SPARSE_CONV_CALL = (170, 44)
SPARSE_CONV_GATHER = (92, 44, 0.8)
# FULLY_CONNECTED's dense kernels per row (per group of 4 units, per 4x4 block), fitted to the dense
# seed model's and ad01's layers on the emulated Cortex-M4F: the wide form (int16 weights, written-out
# loops) and the int8 rows; the sparse form must beat these, not har_dot4's C loop
FC_WIDE_COSTS = (75, 11)
FC_INT8_COSTS = (30, 20)
# the wide form's rows of one block (depth <= 4) at the whole int8 range (fully_connected.c's
# wide_one_block_rows: the input word extended once a row), fitted the same way (3->4..32 per time step:
# 37 per group and 37 per row, the row's share put on the groups)
FC_WIDE_ONE_BLOCK_COSTS = (41, 0)


def fc_costs(interleaved: np.ndarray, depth: int, full: bool) -> tuple[float, float]:
    """The expected costs of the dense form FULLY_CONNECTED's weights would take (sparse.choose)."""
    if interleaved.size > fc_wide.WIDE_MAX_BYTES:
        return FC_INT8_COSTS
    return FC_WIDE_ONE_BLOCK_COSTS if depth <= 4 and full else FC_WIDE_COSTS


def time_convolution(in_shape, out_shape, k_w: int, pad_left: int) -> bool:
    """Whether conv_sparse.c's kernel reads windows in place: a kernel as wide as the input, one
    output column (a 1-D convolution along time)."""
    return k_w == in_shape[2] and pad_left == 0 and out_shape[2] == 1


def sparse_conv_costs(in_shape, out_shape, kernel, pad_left: int) -> tuple[float, float, float]:
    """The block-sparse kernel's expected instructions per output position for ``sparse.choose``: per
    group with kept blocks, per kept block, per group without (the per-call costs spread over the
    positions)."""
    positions, (k_h, k_w) = out_shape[1] * out_shape[2], kernel
    group = SPARSE_CONV_COSTS[0] + SPARSE_CONV_CALL[0] / positions
    if not time_convolution(in_shape, out_shape, k_w, pad_left):
        base, per_row, per_byte = SPARSE_CONV_GATHER
        group += base + per_row * k_h + per_byte * k_h * k_w * in_shape[3]
    return group, SPARSE_CONV_COSTS[1] + SPARSE_CONV_CALL[1] / positions, SPARSE_CONV_COSTS[2]


def sparse_scratch_bytes(in_shape, out_shape, kernel, window, group_blocks: int) -> int:
    """Scratch bytes of conv_sparse.c's kernel: int8 receptive fields (k inputs rounded up to 4),
    then one group's ``group_blocks`` (its most) kept blocks as records (``sparse.RECORD_BYTES`` each)
    and their tail.
    A 1-D convolution along time (the kernel as wide as the input, one output column) keeps one field
    per output row whose window it does not read in place (rows whose window starts above the input or
    whose k inputs rounded up to 4 pass its end); another convolution gathers every window into one
    field. ``window`` is (stride_h, pad_top, pad_left)."""
    (_, in_h, _, in_c), (_, out_h, _, _) = in_shape, out_shape
    k_h, k_w = kernel
    stride_h, pad_top, pad_left = window
    row = k_w * in_c
    k4 = -(-k_h * row // 4) * 4
    fields = 1
    if time_convolution(in_shape, out_shape, k_w, pad_left):
        starts = [oy * stride_h - pad_top for oy in range(out_h)]
        fields = sum(1 for y0 in starts if y0 < 0 or y0 * row + k4 > in_h * row)
    return fields * k4 + sparse.RECORD_BYTES * group_blocks + sparse.TAIL_BYTES


def conv_scratch_bytes(in_shape, out_shape, kernel, window) -> int:
    """Scratch bytes of conv.c's dense kernel: it widens two fields to int16 (16 bytes per block of 4 inputs)
    (+ 4 to align them to 8 bytes) and, when some field must first be gathered as int8 (conv.c's
    ``staged``: kernel rows that are not a multiple of 4 bytes, or taps that are not while a field is
    clipped at the left or right edge), a stage of k rounded up to 4 after them. ``window`` is
    (stride_w, pad_left)."""
    (_, _, in_w, in_c), (_, _, out_w, _) = in_shape, out_shape
    k_h, k_w = kernel
    stride_w, pad_left = window
    k4 = -(-k_h * k_w * in_c // 4) * 4
    clipping = pad_left > 0 or (out_w - 1) * stride_w - pad_left + k_w > in_w
    staged = (k_w * in_c) % 4 != 0 or (clipping and in_c % 4 != 0)
    return 4 + 4 * k4 + (k4 if staged else 0)
