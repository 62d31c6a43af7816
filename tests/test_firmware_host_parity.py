"""Bit-exact parity of the generated firmware (host build) with LiteRT's reference kernels on 1,000
inputs (seeded random int8 and real test windows) for the int8 variants the benchmark builds for
``dense`` and ``cnn`` (with and without the spectrogram branch): int8, pruned + int8, QAT + int8, and
block-pruned + int8 (the block-sparse kernels), each as the MCU batch-1 file (int8 in/out). Models are
tiny configs, briefly fine-tuned where the variant needs it (pruning, QAT): bit-exactness does not
depend on accuracy."""

from __future__ import annotations

import pytest

from tests.firmware_support import INPUTS, VARIANTS, host_cross_check, parity_inputs
from tests.firmware_support import benchmark_variant as variant


@pytest.mark.parametrize(("architecture", "kind"), VARIANTS)
def test_benchmark_int8_variant_is_bit_exact_on_host(architecture, kind):
    model = variant(architecture, kind)
    inputs = parity_inputs(model)
    assert len(inputs) >= INPUTS
    check = host_cross_check(model, inputs, label=f"{architecture} {kind}")
    assert check, str(check)
    assert check.inputs == len(inputs) and all(layer.mismatches == 0 for layer in check.layers)


def test_pruned_variant_really_has_zero_weights():
    from har_edge.optimize.quantize import size_figures

    figures = size_figures(variant("dense", "pruned50+int8"))
    assert figures["zero_weights"] >= 0.4 * figures["weights"]


def test_block_pruned_variant_runs_block_sparse_kernels():
    from har_edge.codegen.emit import generate

    kernels = [layer.kernel for layer in generate(variant("cnn", "block75+int8")).layers if layer.kernel]
    sparse = [k for k in kernels if k["format"] == "block_sparse"]
    assert len(sparse) >= len(kernels) // 2
    assert sum(k["weight_bytes"] for k in kernels) < 0.5 * sum(k["dense_weight_bytes"] for k in kernels)


@pytest.mark.parametrize("architecture", ["dense", "cnn+spectrogram"])
def test_dsp_loops_are_bit_exact_on_the_benchmark_model(architecture):
    model = variant(architecture, "int8")
    check = host_cross_check(model, parity_inputs(model)[:200], dsp=True, label=f"{architecture} DSP")
    assert check, str(check)
