"""benchmarks/pruning_mcu.py's accounting over seeds (no training, no firmware): the summary's mean ±
standard deviation of the accuracy drops and the goal verdict, and ``--real`` reusing the model folders
it trained before."""

from __future__ import annotations

import statistics

from benchmarks.pruning_mcu import real_folders, summary


def _row(model: str, variant: str, seed: int, drop: float) -> dict:
    return {
        "model": model,
        "variant": variant,
        "seed": seed,
        "instructions_ratio": 0.4 + 0.01 * seed,
        "weights_ratio": 0.36,
        "accuracy_drop_pp": drop,
        "drop_vs_float_pp": drop + 0.5,
    }


def test_summary_gives_each_variants_mean_drop_with_its_spread_over_seeds_and_the_goal():
    drops = {"block50": [0.2, 1.4, 0.8], "block75": [2.5, 1.0, 3.1]}
    rows = [_row("dense", variant, seed, d) for variant, ds in drops.items() for seed, d in enumerate(ds)]
    lines = {line.split(" | ")[1]: line for line in summary(rows).splitlines()[2:]}
    for variant, ds in drops.items():
        spread = f"{statistics.mean(ds):+.2f} ± {statistics.stdev(ds):.2f}"
        assert f"| 3 | 0.410 (0.400–0.420) | 0.360 | {spread} |" in lines[variant]
    assert lines["block50"].endswith("| met (<= 1.0) |")  # mean 0.8 pp
    assert lines["block75"].endswith("| NOT met (<= 2.0) |")  # mean 2.2 pp


def test_real_run_reuses_the_model_folders_already_trained(tmp_path):
    for name in ("dense-s0", "cnn-s0", "dense-s1", "cnn-s1"):
        (tmp_path / name / "model").mkdir(parents=True)
    folders = real_folders(tmp_path, tmp_path / "absent.tar.xz", ["dense", "cnn"], [0, 1])
    assert folders == [tmp_path / n / "model" for n in ("dense-s0", "cnn-s0", "dense-s1", "cnn-s1")]
