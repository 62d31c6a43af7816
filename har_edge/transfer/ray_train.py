"""Data-parallel source training on Ray Train: TensorFlow ``MultiWorkerMirroredStrategy`` over
``workers`` processes (2 on this machine; a cluster's through ``address``).

Same seed semantics as ``har_edge.train.train_model``: the normalizer is fitted on the whole training
split, every worker seeds TensorFlow with the seed (so all start from the same weights), the global
batch is ``batch_size`` (each worker takes ``batch_size / workers`` of its shard, the i-th worker
windows i, i + workers, ...), the shuffling is seeded, and early stopping on the full validation split
restores the best epoch. The result is the same model family and label set, not the same bits: the
gradient sums are all-reduced in another order and the batches hold other windows.

Caveats: every worker reads the prepared ``.npz`` from the same path (one machine or a shared file
system); each worker computes on one TensorFlow thread.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

from har_edge.data.splits import Splits, normalize_splits
from har_edge.errors import InputError

WORKER_ENV = {"TF_USE_LEGACY_KERAS": "1", "TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "3"}


def train_on_ray(splits: Splits, architecture: str, config, *, workers: int = 2, address: str | None = None):
    """Train ``architecture`` on ``splits`` with Ray Train; returns a ``har_edge.train.TrainedModel``."""
    try:
        import ray
        from ray.train import RunConfig, ScalingConfig
        from ray.train.tensorflow import TensorflowTrainer
    except ImportError as exc:
        raise InputError('Ray Train is missing: pip install "har-edge[ray]"') from exc
    from dataclasses import asdict

    from har_edge.tfcompat import keras
    from har_edge.train import TrainedModel, evaluate, model_card
    from har_edge.transfer.protocol import store_splits

    if workers < 1:
        raise InputError(f"Ray Train needs >= 1 worker, got {workers}")
    from har_edge.bench.sweep.engines import start_ray

    started_here = start_ray(address, workers, WORKER_ENV)
    try:
        with tempfile.TemporaryDirectory(prefix="har-edge-ray-train-") as scratch:
            data = Path(scratch) / "splits.npz"
            store_splits(data, {"source": splits})
            trainer = TensorflowTrainer(
                train_loop_per_worker=_worker_loop,
                train_loop_config={"data": str(data), "architecture": architecture, **asdict(config)},
                scaling_config=ScalingConfig(
                    num_workers=workers, use_gpu=False, resources_per_worker={"CPU": 1}
                ),
                run_config=RunConfig(storage_path=str(Path(scratch) / "runs"), name="source"),
            )
            result = trainer.fit()
            with result.checkpoint.as_directory() as folder:
                model = keras().models.load_model(Path(folder) / "model.keras")
            history = result.metrics["history"]
    finally:
        if started_here:
            ray.shutdown()
    normalized, normalizer = normalize_splits(splits)
    card = model_card(model, architecture, {}, splits, normalizer, config)
    card.notes["trainer"] = {"ray_train_workers": workers}
    best = min(range(len(history["val_loss"])), key=history["val_loss"].__getitem__)
    test = evaluate(model, normalized.test) if len(normalized.test) else None
    return TrainedModel(model, card, normalizer, history, best, test)


def _worker_loop(config: dict[str, Any]) -> None:
    """One Ray Train worker: its shard of the training windows, MWMS all-reduce, rank 0 checkpoints."""
    import ray.train

    from har_edge import models
    from har_edge.tfcompat import keras, tensorflow
    from har_edge.transfer.protocol import load_splits

    tf, k = tensorflow(), keras()
    # One compute thread per worker; inter-op threads stay TensorFlow's default (with one, the first
    # all-reduce of MultiWorkerMirroredStrategy deadlocks: the collective waits for a free thread).
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.get_logger().setLevel("ERROR")
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    normalized, _ = normalize_splits(load_splits(config["data"], "source"))
    train, val = normalized.train, normalized.val
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    k.utils.set_random_seed(config["seed"])
    with strategy.scope():
        model = models.build(
            config["architecture"],
            window=train.window,
            channels=len(train.channels),
            classes=len(train.class_names),
            seed=config["seed"],
        )
        model.compile(
            optimizer=k.optimizers.Adam(config["learning_rate"]),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    local_batch = max(1, config["batch_size"] // world)
    off = tf.data.Options()
    off.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    shard = (models.to_model_input(model, train.x[rank::world]), train.y[rank::world])
    batches = (
        tf.data.Dataset.from_tensor_slices(shard)
        .shuffle(len(shard[1]), seed=config["seed"])
        .repeat()
        .batch(local_batch)
        .with_options(off)
    )
    held = (
        tf.data.Dataset.from_tensor_slices((models.to_model_input(model, val.x), val.y))
        .batch(local_batch)
        .with_options(off)
    )
    result = model.fit(
        batches,
        steps_per_epoch=math.ceil(len(train) / config["batch_size"]),
        validation_data=held,
        validation_steps=math.ceil(len(val) / local_batch),
        epochs=config["epochs"],
        verbose=0,
        callbacks=[k.callbacks.EarlyStopping(patience=config["patience"], restore_best_weights=True)],
    )
    history = {key: [float(v) for v in values] for key, values in result.history.items()}
    with tempfile.TemporaryDirectory() as folder:
        # every worker saves: reading the synced metric variables is an all-reduce (rank 0 alone hangs)
        model.save(Path(folder) / "model.keras")
        checkpoint = ray.train.Checkpoint.from_directory(folder) if rank == 0 else None
        ray.train.report({"history": history}, checkpoint=checkpoint)
