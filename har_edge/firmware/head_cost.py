"""What the trainable float head adds to a bundle's firmware, measured on a board: ``head_cost`` builds
``firmware/head/`` for the bundle's head (``HeadFirmware``, the head harness), runs one inference and one
SGD step at batch 1 and at the stated mini-batch size, and splits the linked image (``memory_split``).

What each figure is: flash = the head's initial parameters and identity (``head_params.o``: weights) +
``head.o`` and ``checkpoint.o`` and the libm/libgcc routines they call (code); RAM = those objects'
static RAM (the parameters in RAM, the step's activations and deltas for ``max_batch`` samples) + the
mini-batch cache (features and one-hot labels of ``max_batch`` samples, the harness's buffers, as
``HEAD_BATCH_CACHE_BYTES``); instructions counted by the board around ``head_infer`` and
``head_train_step``. Caveats: see ``CAVEAT``.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from har_edge.codegen.head import DEFAULT_MAX_BATCH, head_spec
from har_edge.errors import InputError
from har_edge.firmware.head_harness import HeadCommands, HeadFirmware
from har_edge.runtime.bundle import open_bundle

HEAD_WEIGHTS_OBJECT = "head_params.o"
HEAD_CODE_OBJECTS = ("head.o", "checkpoint.o")
PROBE_RATE = 1e-3  # a small step: applied, not rolled back, on seeded random features
CAVEAT = (
    "the checkpoint slots (2 x slot_bytes of flash storage) are reported apart, not in the weights/code "
    "flash; a libm routine the int8 base also links is counted again here (an upper bound); the stack of "
    "an SGD step is not measured"
)
_measured: dict[tuple[str, str, str, int], HeadCost] = {}


@dataclass(frozen=True)
class HeadCost:
    board: str
    max_batch: int
    weights_bytes: int
    code_bytes: int
    ram_bytes: int  # parameters + step scratch (static RAM of the head's objects)
    batch_cache_bytes: int
    checkpoint_storage_bytes: int
    macs: int  # multiply-accumulates of one inference (the weights, not the biases)
    infer_instructions: int
    step_instructions: dict[int, int]  # batch size -> instructions of one SGD step

    @property
    def flash_bytes(self) -> int:
        return self.weights_bytes + self.code_bytes

    @property
    def total_ram_bytes(self) -> int:
        return self.ram_bytes + self.batch_cache_bytes

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "step_instructions": {str(b): n for b, n in self.step_instructions.items()},
            "flash_bytes": self.flash_bytes,
            "total_ram_bytes": self.total_ram_bytes,
            "caveat": CAVEAT,
        }


def head_object_role(origin: str) -> str:
    """The head project's objects for ``memory_split``: the parameters are the model, head and
    checkpoint code the kernels, the harness and its file I/O the harness."""
    if "(" in origin:
        return "library"
    path = PurePosixPath(origin)
    if path.parent.name != "head":
        return "harness"
    if path.name == HEAD_WEIGHTS_OBJECT:
        return "model"
    return "kernel" if path.name in HEAD_CODE_OBJECTS else "harness"


def head_cost(bundle_path: str | Path, board: str, max_batch: int = DEFAULT_MAX_BATCH) -> HeadCost:
    """The bundle's head measured on ``board`` (see the module docstring); kept per process by the
    base's and head's SHA-256, the board and ``max_batch``. Needs the board's tools."""
    from har_edge.firmware.measure import memory_split

    spec = head_spec(open_bundle(bundle_path), max_batch=max_batch)
    key = (spec.base_sha256, spec.head_sha256, board, max_batch)
    if key in _measured:
        return _measured[key]
    w = spec.weights
    rng = np.random.default_rng(0)
    commands = HeadCommands(spec)
    commands.infer(rng.normal(size=(1, w.n_features)))
    batches = sorted({1, max_batch})
    for batch in batches:
        onehot = np.eye(w.n_classes, dtype=np.float32)[rng.integers(0, w.n_classes, batch)]
        commands.train(rng.normal(size=(batch, w.n_features)), onehot, PROBE_RATE)
    with tempfile.TemporaryDirectory(prefix="har_edge_head_cost_") as scratch:
        firmware = HeadFirmware(spec, board, workdir=scratch)
        run = firmware.run(commands)
        split = memory_split(firmware.binary, firmware.binary.with_suffix(".map"), head_object_role)
    if len(run.infer_instructions) != 1 or len(run.train_instructions) != len(batches):
        raise InputError(f"the head harness on {board} did not report its instruction counts:\n{run.stdout}")
    cost = HeadCost(
        board=board,
        max_batch=max_batch,
        weights_bytes=split.weights_bytes,
        code_bytes=split.code_bytes,
        ram_bytes=split.arena_bytes + split.kernel_ram_bytes,
        batch_cache_bytes=run.batch_cache_bytes,
        checkpoint_storage_bytes=2 * spec.slot_bytes,
        macs=sum(weights.size for weights, _ in w.layers),
        infer_instructions=run.infer_instructions[0],
        step_instructions=dict(zip(batches, run.train_instructions, strict=True)),
    )
    _measured[key] = cost
    return cost
