"""Pruning structures a microcontroller can use (``optimize --structure``).

- ``unstructured``: tfmot's magnitude pruning, weight by weight (zeros anywhere: only gzip sees them).
- ``m:n``: tfmot's 2:4 sparsity (2 zeros in every 4 consecutive inputs of a unit).
- ``block``: whole blocks of 4 output channels x 4 consecutive inputs (the step of the firmware's
  int8 dot product, ``har_dot.h``) are zeroed by their L1 norm, on the same schedule; the generator
  then stores and runs only the other blocks (``codegen/sparse.py``). tfmot's ``block_size`` takes
  2-D kernels only, so the masks here cover Dense and Conv2D alike (taps in TFLite's (k_h, k_w, in_c)
  order).
- ``unit``: whole output units/channels removed by L1 norm, once, then fine-tuned: the model itself
  shrinks, so every target runs fewer MACs. Channels joined by an ``Add`` are removed together;
  channels that feed anything this module does not know (a ``Concatenate``, a depthwise layer) and
  the model's outputs are kept. Kept counts are rounded up to multiples of 4 (the firmware's groups).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

STRUCTURES = ("unstructured", "block", "m:n", "unit")
BLOCK = 4
GROUP = 4  # unit pruning keeps a multiple of this many channels
PASS_THROUGH = {"BatchNormalization", "ReLU", "Dropout", "Activation", "GlobalAveragePooling2D", "Add"}


# ------------------------------------------------------------------------------------------- block


def _rows(kernel: np.ndarray) -> np.ndarray:
    """(out, taps) view of a Dense (in, out) or Conv2D (k_h, k_w, in, out) kernel."""
    return kernel.reshape(-1, kernel.shape[-1]).T


def block_mask(kernel: np.ndarray, sparsity: float, live_taps: np.ndarray | None = None) -> np.ndarray:
    """0/1 mask of ``kernel``'s shape zeroing the ``sparsity`` fraction of its 4x4 (channels x taps)
    blocks with the lowest L1 norm (edge blocks count as blocks); taps where ``live_taps`` is False
    (inputs whose producing channel was pruned away) count for nothing."""
    rows = np.abs(_rows(kernel))
    if live_taps is not None:
        rows = rows * live_taps[None, :]
    out, taps = rows.shape
    padded = np.zeros((-(-out // BLOCK) * BLOCK, -(-taps // BLOCK) * BLOCK), rows.dtype)
    padded[:out, :taps] = rows
    norms = padded.reshape(padded.shape[0] // BLOCK, BLOCK, -1, BLOCK).sum(axis=(1, 3))
    drop = int(math.floor(sparsity * norms.size))
    keep = np.ones(norms.size, bool)
    keep[np.argsort(norms, axis=None, kind="stable")[:drop]] = False
    mask = np.repeat(np.repeat(keep.reshape(norms.shape), BLOCK, 0), BLOCK, 1)[:out, :taps]
    return mask.T.reshape(kernel.shape).astype(kernel.dtype)


def _single_producers(model, layers) -> dict[str, str]:
    """Pruned layer -> the pruned layer whose channels are its input channels (through BN, ReLU,
    Dropout, a Flatten), when that one alone produces them (no Add joins others in)."""
    names = {layer.name for layer in layers}
    space, groups = _producers(model, lambda layer: layer.name in names)
    joined = {space[layer.name] for layer in model.layers if type(layer).__name__ == "Add"}
    producer = {}
    for layer in layers:
        (source,) = _inbound(layer)
        if type(source).__name__ == "Flatten":
            (source,) = _inbound(source)
        owners = groups.get(space[source.name], [])
        if len(owners) == 1 and space[source.name] not in joined:
            producer[layer.name] = owners[0].name
    return producer


def block_pruning_callback(model, layers, tfmot_schedule):
    """A Keras callback that re-applies 4x4 block masks to ``layers``' kernels (of ``model``, in its
    order) after every batch and recomputes them at the steps where tfmot's schedule updates masks,
    to its sparsity there. A layer's blocks that read channels its producer lost are pruned first,
    so the kept blocks stay connected."""
    from har_edge.tfcompat import keras

    producer = _single_producers(model, layers)

    def sparsity_at(step: int) -> float | None:
        update, sparsity = tfmot_schedule(step)
        return float(sparsity) if bool(update) else None

    class BlockPruning(keras().callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.step = 0
            self.masks = {layer.name: np.ones(layer.kernel.shape, np.float32) for layer in layers}

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            target = sparsity_at(self.step)
            alive: dict[str, np.ndarray] = {}  # per pruned layer, which output channels keep a block
            for layer in layers:
                kernel = layer.kernel.numpy()
                if target is not None:
                    live = None
                    if producer.get(layer.name) in alive:
                        channels = alive[producer[layer.name]]
                        live = channels[np.arange(_rows(kernel).shape[1]) % len(channels)]
                    self.masks[layer.name] = block_mask(kernel, target, live)
                    alive[layer.name] = _rows(self.masks[layer.name]).any(axis=1)
                layer.kernel.assign(kernel * self.masks[layer.name])

    return BlockPruning()


# -------------------------------------------------------------------------------------------- unit


def _inbound(layer) -> list:
    nodes = getattr(layer, "_inbound_nodes", [])
    if not nodes:
        return []
    inbound = nodes[0].inbound_layers
    return list(inbound) if isinstance(inbound, list | tuple) else [inbound]


def _producers(model, prunable: Callable) -> tuple[dict, dict]:
    """Channel spaces: for each layer, the id of the channel space of its output and the layers that
    produce that space (Dense/Conv2D that are ``prunable``), merged through ``PASS_THROUGH`` layers."""
    parent: dict[str, str] = {}

    def find(name: str) -> str:
        while parent.get(name, name) != name:
            name = parent[name]
        return name

    space: dict[str, str] = {}
    for layer in model.layers:
        kind, inbound = type(layer).__name__, _inbound(layer)
        if kind in PASS_THROUGH and inbound:
            space[layer.name] = find(space[inbound[0].name])
            for other in inbound[1:]:
                parent[find(space[other.name])] = space[layer.name]
        else:
            space[layer.name] = layer.name
    groups: dict[str, list] = {}
    for layer in model.layers:
        space[layer.name] = find(space[layer.name])
        if prunable(layer):
            groups.setdefault(space[layer.name], []).append(layer)
    return space, groups


def unit_prune(model, sparsity: float, prunable: Callable):
    """A smaller copy of ``model`` without the ``sparsity`` fraction of units of each prunable channel
    space (lowest summed L1 norm of the producers' kernels), and {space: kept count}."""
    from har_edge.tfcompat import keras

    space, groups = _producers(model, prunable)
    frozen = {space[model.layers[-1].name]}
    for layer in model.layers:  # spaces read by a layer that cannot slice its input keep every channel
        kind = type(layer).__name__
        if kind not in PASS_THROUGH and kind not in ("Dense", "Conv2D", "Flatten"):
            frozen.update(space[i.name] for i in _inbound(layer))
    kept: dict[str, np.ndarray] = {}
    for name, producers in groups.items():
        if name in frozen:
            continue
        norms = sum(np.abs(_rows(p.get_weights()[0])).sum(axis=1) for p in producers)
        count = min(len(norms), max(GROUP, -(-round((1 - sparsity) * len(norms)) // GROUP) * GROUP))
        kept[name] = np.sort(np.argsort(-norms, kind="stable")[:count])

    def clone(layer):
        config = layer.get_config()
        if type(layer).__name__ in ("Dense", "Conv2D") and space[layer.name] in kept:
            config["units" if "units" in config else "filters"] = len(kept[space[layer.name]])
        return type(layer).from_config(config)

    small = keras().models.clone_model(model, clone_function=clone)
    for old in model.layers:
        weights = old.get_weights()
        if weights:
            small.get_layer(old.name).set_weights(_sliced(old, weights, space, kept))
    return small, kept


def _input_index(layer, space: dict, kept: dict) -> np.ndarray | None:
    """Which input features of a Dense/Conv2D remain (a Flatten before it repeats them per step)."""
    (source,) = _inbound(layer)
    repeat = 1
    if type(source).__name__ == "Flatten":
        (before,) = _inbound(source)
        channels = before.output_shape[-1]
        repeat = int(np.prod(before.output_shape[1:-1]))
        source = before
    index = kept.get(space[source.name])
    if index is None:
        return None
    return (np.arange(repeat)[:, None] * channels + index[None, :]).ravel() if repeat > 1 else index


def _sliced(layer, weights: list, space: dict, kept: dict) -> list:
    kind = type(layer).__name__
    out = kept.get(space[layer.name])
    if kind in ("Dense", "Conv2D"):
        kernel, *rest = weights
        inputs = _input_index(layer, space, kept)
        if inputs is not None:
            kernel = np.take(kernel, inputs, axis=-2)
        if out is not None:
            kernel, rest = kernel[..., out], [b[out] for b in rest]
        return [kernel, *rest]
    if kind == "BatchNormalization" and out is not None:
        return [w[out] for w in weights]
    return weights
