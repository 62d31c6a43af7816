"""The whole product's cost on the emulated Cortex-M4F (``har_edge.firmware.library_cost``): the C
library's flash and RAM apart from the example's, and the example's run under QEMU."""

from __future__ import annotations

from pathlib import Path

from har_edge.codegen.library import write_library
from har_edge.firmware.library_cost import product_cost
from har_edge.runtime.bundle import open_bundle
from tests.arm_tools import require_arm_tools

GOLDEN = Path(__file__).parent / "golden" / "dense_int8"


def test_the_products_flash_holds_weights_tables_and_head_and_its_ram_the_stream_and_a_push(tmp_path):
    require_arm_tools()
    bundle = open_bundle(GOLDEN)
    info = write_library(bundle, tmp_path / "har", "har")
    cost = product_cost(tmp_path / "har")
    m = bundle.manifest
    tables = 4 * 255 * len(m.channels)
    head = 4 * (m.n_features + 1) * len(m.class_labels)
    assert cost.weights_bytes >= info.model.weight_bytes  # + the layers' parameter structs
    assert cost.flash_bytes > cost.weights_bytes + tables + head
    ring = 4 * m.window * len(m.channels)
    assert ring < cost.stream_bytes < ring + 512
    assert cost.static_ram_bytes >= info.model.arena_bytes + m.window * len(m.channels) + m.n_features
    assert 0 < cost.stack_bytes < 2048
    assert cost.example_flash_bytes > 0 and cost.windows == (len(info.recording) - m.window) // m.hop + 1
