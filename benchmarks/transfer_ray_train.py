"""Ray Train (MultiWorkerMirroredStrategy, N workers) against single-process source training on the
same prepared source data: wall time and test micro-F1, per seed.

    python benchmarks/transfer_ray_train.py --workers 2 --seeds 0,1,2 [--subjects 24] [--epochs 25]

Both use ``har_edge.train.TrainConfig`` with the same seed; the single-process run pins TensorFlow to
one thread per core it may use (``--threads``, default = workers) so both have the same CPU budget.
Ray's start-up is timed apart from training. Figures depend on what else the machine runs.
"""

from __future__ import annotations

import argparse
import json
import time

from har_edge.train import TrainConfig, train_model
from har_edge.transfer.grid import DataSettings, Domain, Pair, make_study
from har_edge.transfer.protocol import load_splits
from har_edge.transfer.run import prepare_pair


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, help="single-process TensorFlow threads (default: workers)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--subjects", type=int, default=24, help="source subjects")
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--cache", default="ray-train-bench")
    args = parser.parse_args()

    import ray

    from har_edge.bench.sweep.engines import start_ray
    from har_edge.tfcompat import tensorflow
    from har_edge.transfer.ray_train import WORKER_ENV, train_on_ray

    study = make_study(
        pairs=(Pair(Domain("synthetic:waist"), Domain("synthetic:wrist:smartwatch")),),
        data=DataSettings(source_subjects=args.subjects),
    )
    from pathlib import Path

    info = prepare_pair(study.pairs[0], study, Path(args.cache) / "cache")
    splits = load_splits(info["data"], "source")
    threads = args.threads or args.workers
    tf = tensorflow()
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    started = time.perf_counter()
    start_ray(None, args.workers, WORKER_ENV)
    ray_start_s = time.perf_counter() - started
    rows = []
    try:
        for seed in (int(s) for s in args.seeds.split(",")):
            config = TrainConfig(epochs=args.epochs, patience=6, seed=seed)
            for trainer in ("single", "ray-train"):
                started = time.perf_counter()
                if trainer == "single":
                    trained = train_model(splits, args.model, config)
                else:
                    trained = train_on_ray(splits, args.model, config, workers=args.workers)
                rows.append(
                    {
                        "seed": seed,
                        "trainer": trainer,
                        "wall_s": round(time.perf_counter() - started, 1),
                        "epochs_run": len(trained.history["val_loss"]),
                        "test_micro_f1": round(trained.test_metrics.micro_f1, 4),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    finally:
        ray.shutdown()
    print(
        json.dumps(
            {
                "train_windows": len(splits.train),
                "test_windows": len(splits.test),
                "ray_start_s": round(ray_start_s, 1),
                "workers": args.workers,
                "threads": threads,
            }
        )
    )


if __name__ == "__main__":
    main()
