"""Write a self-contained C project for a board: the generated model, the runtime sources it calls,
the harness and the board folder, with the board's Makefile at the root.

Layout: ``model/<name>_model.{c,h}`` + ``model/har_harness_model.h`` (the harness's view of the model),
``runtime/`` (headers + the kernel files the model calls), ``harness/``, the board's files in
``host/`` or ``board/``, ``Makefile``; ``head/`` when a trainable head is included. Everything is
generated (and refused, for unsupported models) before the folder is written, atomically.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from har_edge.codegen.emit import GeneratedModel, generate
from har_edge.codegen.ops_float import KERNEL_FILES as FLOAT_KERNEL_FILES
from har_edge.firmware.boards import FIRMWARE_DIR, Board, get_board
from har_edge.fsutil import atomic_directory

RUNTIME_DIR = FIRMWARE_DIR / "runtime"
KERNEL_FILES = {
    "har_fc_s8": "fully_connected.c",
    "har_fc_sparse_s8": "fully_connected.c",
    "har_fc_wide_s8": "fully_connected.c",
    "har_conv_s8": "conv.c",
    "har_conv_sparse_s8": "conv_sparse.c",
    "har_depthwise_s8": "depthwise.c",
    "har_max_pool_s8": "pool.c",
    "har_avg_pool_s8": "pool.c",
    "har_mean_s8": "pool.c",
    "har_add_s8": "elementwise.c",
    "har_mul_s8": "elementwise.c",
    "har_lookup_s8": "elementwise.c",
    "har_softmax_s8": "softmax.c",
    "har_concat_s8": "shape.c",
    "har_pad_s8": "shape.c",
    "har_quantize_f32": "quantize.c",
    "har_dequantize_s8": "quantize.c",
    "har_lstm_s8": "lstm.c",
    "har_slice_s8": "slice.c",
}


@dataclass(frozen=True)
class ProjectInfo:
    path: Path
    board: str
    name: str
    model: GeneratedModel
    runtime_files: tuple[str, ...]

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(layer.name for layer in self.model.layers)

    @property
    def layer_macs(self) -> tuple[int, ...]:
        """MACs per layer, in the order and with the indices of HAR_LAYER_BEGIN."""
        return tuple(layer.macs for layer in self.model.layers)

    @property
    def macs(self) -> int:
        return self.model.macs

    @property
    def input_bytes(self) -> int:
        return self.model.graph.tensor(self.model.graph.inputs[0]).nbytes

    @property
    def output_bytes(self) -> int:
        return self.model.graph.tensor(self.model.graph.outputs[0]).nbytes


def runtime_files_for(source: str) -> tuple[str, ...]:
    """The kernel .c files whose functions the generated source calls."""
    called = set(re.findall(r"\b(har_[a-z0-9_]+)\(", source))
    files = {**KERNEL_FILES, **FLOAT_KERNEL_FILES}
    return tuple(sorted({files[f] for f in called if f in files}))


def write_project(
    model_bytes: bytes,
    out_dir: str | Path,
    board: str | Board = "host",
    name: str = "har",
    with_head=None,
    *,
    overwrite: bool = False,
    library=None,
    protect=(),
) -> ProjectInfo:
    """Generate ``model_bytes`` (an int8 .tflite) as ``name`` and write the project to ``out_dir``.
    ``with_head`` is a head spec (``har_edge.codegen.head.head_spec``) whose C goes to ``head/``;
    ``library`` a bundle whose C library (``har_edge.codegen.library``) goes to ``<name>/``;
    ``protect``: input paths that ``out_dir`` must neither be nor hold."""
    board = get_board(board)
    model = generate(model_bytes, name)
    library_files = None
    if library is not None:
        from har_edge.codegen.library import library_files as make_library

        library_files = make_library(library, name)[0]  # refused (InputError) before anything is written
    files = runtime_files_for(model.source)
    out_dir = Path(out_dir)
    with atomic_directory(out_dir, overwrite=overwrite, protect=protect) as staging:
        (staging / "model").mkdir()
        (staging / "model" / f"{name}_model.h").write_text(model.header)
        (staging / "model" / f"{name}_model.c").write_text(model.source)
        (staging / "model" / "har_harness_model.h").write_text(_harness_view(name))
        (staging / "runtime").mkdir()
        for path in sorted(RUNTIME_DIR.glob("*.h")):
            shutil.copy(path, staging / "runtime" / path.name)
        for file in files:
            shutil.copy(RUNTIME_DIR / file, staging / "runtime" / file)
        shutil.copytree(FIRMWARE_DIR / "harness", staging / "harness")
        _copy_board(board, staging)
        if with_head is not None:
            from har_edge.codegen.head import write_head

            write_head(with_head, staging / "head")
        if library_files is not None:
            from har_edge.codegen.library import write_files

            write_files(library_files, staging / name)
    return ProjectInfo(out_dir, board.name, name, model, files)


def _copy_board(board: Board, staging: Path) -> None:
    folder = "host" if board.name == "host" else "board"
    target = staging / folder
    target.mkdir()
    for path in sorted(board.source_dir.iterdir()):
        if path.name == "Makefile":
            shutil.copy(path, staging / "Makefile")
        elif path.is_file() and path.suffix in (".c", ".h", ".ld", ".s", ".S"):
            shutil.copy(path, target / path.name)


def _harness_view(name: str) -> str:
    upper = name.upper()
    return "\n".join(
        [
            "/* The harness's names for the generated model. */",
            "#ifndef HAR_HARNESS_MODEL_H",
            "#define HAR_HARNESS_MODEL_H",
            f'#include "{name}_model.h"',
            f"#define HAR_MODEL_INPUT_SIZE {upper}_INPUT_SIZE",
            f"#define HAR_MODEL_OUTPUT_SIZE {upper}_OUTPUT_SIZE",
            f"#define HAR_MODEL_LAYER_COUNT {upper}_LAYER_COUNT",
            f"#define har_model_invoke {name}_invoke",
            f"#define har_model_layer_names {name}_layer_names",
            "#endif",
            "",
        ]
    )
