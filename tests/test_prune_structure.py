"""Pruning structures the microcontroller can use (har_edge/optimize/structure.py): 4x4 block masks
that the generator turns into block-sparse kernels, and unit pruning that physically shrinks the model."""

from __future__ import annotations

import numpy as np
import pytest

from har_edge import models
from har_edge.errors import InputError
from har_edge.optimize.prune import PruningSchedule, prune
from har_edge.optimize.structure import block_mask, unit_prune


def _zero_block_fraction(kernel: np.ndarray) -> float:
    rows = kernel.reshape(-1, kernel.shape[-1]).T
    out, taps = rows.shape
    padded = np.zeros((-(-out // 4) * 4, -(-taps // 4) * 4))
    padded[:out, :taps] = rows
    return float(np.mean(~padded.reshape(padded.shape[0] // 4, 4, -1, 4).any(axis=(1, 3))))


def test_block_mask_zeroes_the_weakest_4x4_blocks_of_dense_and_conv_kernels(rng):
    for shape in [(23, 10), (5, 1, 6, 9)]:  # Dense (in, out), Conv2D (k_h, k_w, in, out); edge blocks
        kernel = rng.normal(size=shape).astype(np.float32)
        mask = block_mask(kernel, 0.5)
        assert mask.shape == kernel.shape and set(np.unique(mask)) <= {0.0, 1.0}
        assert _zero_block_fraction(kernel * mask) == pytest.approx(0.5, abs=0.05)
        assert np.abs(kernel * mask).sum() >= 0.5 * np.abs(kernel).sum()  # the strongest half is kept


def test_block_mask_prunes_blocks_of_dead_inputs_first(rng):
    kernel = rng.normal(size=(8, 8)).astype(np.float32)  # Dense: 8 inputs, 8 units
    kernel[:4] *= 100  # the strongest inputs ...
    live = np.array([False] * 4 + [True] * 4)  # ... come from channels pruned away upstream
    mask = block_mask(kernel, 0.5, live)
    assert not mask[:4].any() and mask[4:].all()


def test_unknown_structure_is_refused_naming_the_choices():
    with pytest.raises(InputError, match="structure 'rows', expected one of unstructured, block, m:n, unit"):
        PruningSchedule(structure="rows")


def test_m_by_n_structure_defaults_to_two_of_four():
    assert PruningSchedule(structure="m:n").m_by_n == (2, 4)


def test_unit_pruning_shrinks_the_dense_model_and_equals_zeroing_those_units(dense, splits):
    from har_edge.optimize.prune import _is_prunable

    small, kept = unit_prune(dense, 0.5, _is_prunable)
    widths = {name: small.get_layer(name).units for name in ("dense32", "dense16", "headlayer")}
    assert widths == {"dense32": 16, "dense16": 8, "headlayer": 4}
    assert small.get_layer("classifier").units == 12  # the model's outputs stay
    assert small.count_params() < 0.55 * dense.count_params()
    # the removed units, zeroed in the original (ReLU of 0 is 0), give the same outputs
    from har_edge.tfcompat import keras

    zeroed = keras().models.clone_model(dense)
    zeroed.set_weights(dense.get_weights())
    for name in ("dense32", "dense16", "headlayer"):
        kernel, bias = zeroed.get_layer(name).get_weights()
        keep = np.isin(np.arange(len(bias)), kept[name])
        zeroed.get_layer(name).set_weights([kernel * keep, bias * keep])
    x = splits.test.x[:32].reshape(32, -1)
    assert np.allclose(small.predict(x, verbose=0), zeroed.predict(x, verbose=0), atol=1e-5)


def test_unit_pruning_removes_residual_channels_together():
    from har_edge.optimize.prune import _is_prunable

    cnn = models.build("cnn", window=64, channels=3, classes=5, seed=0, blocks=(8, 12), stem_multiplier=2)
    small, _ = unit_prune(cnn, 0.5, _is_prunable)
    for block, width in ((1, 4), (2, 8)):  # 8 -> 4 and 12 -> 6, rounded up to a multiple of 4
        names = (f"block{block}_conv1", f"block{block}_conv2", f"block{block}_shortcut")
        assert [small.get_layer(n).filters for n in names] == [width] * 3
    assert small.output_shape == cnn.output_shape
    x = np.random.default_rng(0).normal(size=(2, 64, 3)).astype(np.float32)
    assert np.all(np.isfinite(small.predict(x, verbose=0)))


def test_block_pruning_leaves_whole_zero_blocks_that_the_generator_skips(dense, splits):
    from har_edge.codegen.emit import generate
    from tests.firmware_support import _mcu_file

    schedule = PruningSchedule(kind="constant", target_sparsity=0.75, frequency=1, structure="block")
    result = prune(dense, splits.train, splits.val, schedule, epochs=1, seed=0)
    for name in ("dense16", "classifier"):
        assert _zero_block_fraction(result.model.get_layer(name).get_weights()[0]) >= 0.74
    live32 = result.model.get_layer("dense32").get_weights()[0].any(axis=0)
    assert not np.any(
        result.model.get_layer("dense16").get_weights()[0][~live32]
    )  # no block reads a dead unit
    model = _mcu_file(result.model)
    kernels = [layer.kernel for layer in generate(model).layers if layer.kernel]
    assert len(kernels) == 4
    # dense32's all-zero units are constants folded into dense16's biases (codegen.constant_channels):
    # both shrink; the classifier runs block-sparse
    assert kernels[0]["folding"]["folded_rows"] >= 16 and kernels[1]["folding"]["folded_columns"] >= 16
    assert kernels[3]["format"] == "block_sparse"
    unfolded = [layer.kernel for layer in generate(model, fold=False).layers if layer.kernel]
    dense_bytes = sum(k["dense_weight_bytes"] for k in unfolded)
    assert sum(k["weight_bytes"] for k in kernels) < 0.35 * dense_bytes


def test_unit_pruned_model_is_smaller_after_fine_tuning(dense, splits):
    schedule = PruningSchedule(target_sparsity=0.5, structure="unit")
    result = prune(dense, splits.train, splits.val, schedule, epochs=1, seed=0)
    assert result.model.count_params() < 0.55 * dense.count_params()
    assert set(result.pruned_layers) >= {"dense32", "dense16", "headlayer"}
