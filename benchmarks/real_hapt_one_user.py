"""One real user at a time (issue 20, point 3): each HAPT user of ``--users`` alone, split by activity
occurrence in time (train / validation / test occurrences disjoint, no window shared or overlapping;
``har_edge.data.splits.split_by_occurrence``), a model trained on that user's training occurrences
(``har_edge.train``'s recipe with ``real_hapt.recipe`` and ``ONE_USER_RECIPE``) against the kNN
baseline fitted on the same windows (the better of hop 100 and the training hop, as in
``real_hapt.py``), on the user's held-out test occurrences (about 45 windows: one is about 2 points).

    python benchmarks/real_hapt_one_user.py --out runs/one-user [--users 3,4,5,6] [--model cnn]
        [--channels acc+gyro] [--archive PATH]

Writes ``one_user.json`` and ``one_user.md`` into ``--out``; also run by ``tox -e real-hapt-one-user``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmark, also when imported

from real_hapt import (  # noqa: E402
    ARCHIVE,
    CHANNEL_SETTINGS,
    extract_users,
    knn_baseline,
    recipe,
    write_results,
)

# ~600 training windows: 40 optimizer steps an epoch instead of 10 (cnn on acc+gyro, users 3-6: mean
# 0.748 -> 0.944; dense on acc: 0.801 -> 0.838), no augmentation (cnn on acc+gyro, user 5: 1.000 ->
# 0.864 with it)
ONE_USER_RECIPE = {"min_steps_per_epoch": 40, "augment": "none"}
MODELS = ("cnn", "dense", "lstm")
DEFAULT_USERS = (3, 4, 5, 6)


def one_user(raw_data: Path, model: str, channels: str, seed: int = 0) -> dict:
    """Train ``model`` on the single HAPT user in ``raw_data`` and score it and kNN on the held-out
    occurrences."""
    from har_edge.data import load_dataset
    from har_edge.data.plan import parse_channels, split_for_training, split_windows, window_config_for
    from har_edge.data.windows import make_windows
    from har_edge.train import TrainConfig, train_model

    dataset = load_dataset(str(raw_data), "hapt")
    config = window_config_for(dataset, channels=parse_channels(channels))
    windows, _ = make_windows(dataset, config)
    splits = split_for_training(dataset, windows, config, cases=False, seed=seed)
    knn = knn_baseline(splits, split_windows(windows, cases=False, seed=seed).train)
    settings = {"seed": seed, **recipe(model, channels), **ONE_USER_RECIPE}
    trained = train_model(splits, model, TrainConfig(**settings))
    metrics = trained.test_metrics
    return {
        "user": dataset.subjects[0],
        "grouping": splits.grouping,
        "sizes": splits.sizes(),
        "accuracy": metrics.accuracy,
        "macro_f1": metrics.macro_f1,
        "knn_accuracy": knn["accuracy"],
        "knn_macro_f1": knn["macro_f1"],
        "recipe": settings,
        "epochs_run": len(trained.history["loss"]),
        "win": bool(metrics.accuracy > knn["accuracy"]),
    }


def render_markdown(results: dict) -> str:
    rows = results["users"]
    lines = [
        f"One real HAPT user at a time: {results['model']} on {results['channels']}, "
        f"split by activity occurrence; wins {sum(r['win'] for r in rows)}/{len(rows)}",
        "",
        "| user | train / val / test windows | model acc | model macro-F1 | kNN acc | kNN macro-F1 | win |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        sizes = " / ".join(str(r["sizes"][k]) for k in ("train", "val", "test"))
        lines.append(
            f"| {r['user']} | {sizes} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | {r['knn_accuracy']:.3f} "
            f"| {r['knn_macro_f1']:.3f} | {_outcome(r)} |"
        )
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("accuracy", "knn_accuracy")}
    lines.append(f"| mean | | {mean['accuracy']:.3f} | | {mean['knn_accuracy']:.3f} | | |")
    return "\n".join(lines) + "\n"


def _outcome(row: dict) -> str:
    if row["win"]:
        return "yes"
    return "tie" if row["accuracy"] == row["knn_accuracy"] else "no"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--archive", type=Path, default=ARCHIVE, help=f"default {ARCHIVE}")
    parser.add_argument("--users", default=",".join(map(str, DEFAULT_USERS)), help="comma-separated")
    parser.add_argument("--model", choices=MODELS, default="cnn")
    parser.add_argument("--channels", choices=CHANNEL_SETTINGS, default="acc+gyro")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.archive.is_file():
        print(f"{args.archive}: not found (the shared HAPT users)", file=sys.stderr)
        return 2
    try:
        users = [int(u) for u in args.users.split(",")]
    except ValueError:
        print(f"--users {args.users!r}: expected comma-separated user numbers", file=sys.stderr)
        return 2
    rows = []
    for user in users:
        with tempfile.TemporaryDirectory(prefix="one-user-") as tmp:
            raw = extract_users(args.archive, Path(tmp), (user,))
            rows.append(one_user(raw, args.model, args.channels, args.seed))
        print(rows[-1], flush=True)
    results = {"model": args.model, "channels": args.channels, "seed": args.seed, "users": rows}
    write_results(args.out, "one_user", results, render_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
