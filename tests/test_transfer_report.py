"""The study's tables and findings, from summary rows written here (no training): means and spreads over
seeds, the gain over the baseline at the smallest and largest sizes, head-only against fine-tuning."""

from __future__ import annotations

import pytest

from har_edge.transfer.report import findings, render_markdown, summarize

PAIR = "synthetic:waist -> synthetic:wrist:smartwatch"


def point(strategy: str, k: int, size: int | None, seed: int, micro_f1: float) -> dict:
    n = 351 if size is None else size
    return {
        "pair": PAIR,
        "model": "cnn",
        "strategy": strategy,
        "k": k,
        "size": size,
        "seed": seed,
        "n_adapt": n,
        "micro_f1": micro_f1,
        "macro_f1": micro_f1 - 0.05,
        "accuracy": micro_f1,
    }


@pytest.fixture()
def document():
    # f1 per (strategy, k, size) for seeds 0 and 1: the mean is the first value + 0.05
    table = {
        ("baseline", 0, 20): (0.30, 0.40),
        ("baseline", 0, None): (0.60, 0.70),
        ("freeze", 4, 20): (0.50, 0.60),
        ("freeze", 4, None): (0.55, 0.65),
        ("finetune", 4, 20): (0.20, 0.30),
        ("finetune", 4, None): (0.80, 0.90),
        ("head-only", 4, 20): (0.45, 0.55),
        ("head-only", 4, None): (0.70, 0.80),
    }
    points = [point(s, k, z, seed, f1) for (s, k, z), f1s in table.items() for seed, f1 in enumerate(f1s)]
    return {
        "settings": {"name": "t", "points": len(points), "cached": 0, "engine": "serial", "workers": 1},
        "wall_seconds": 12.0,
        "domains": {
            PAIR: {
                "labels": ["WALKING", "SITTING"],
                "majority_f1": 0.5,
                "dropped_source_windows": {},
                "dropped_target_windows": {"RUNNING": 3},
            }
        },
        "sources": [
            {"key": "a", "trainer": "single", "wall_seconds": 10.0, "test_micro_f1": 0.9, "train_windows": 9},
            {"key": "b", "trainer": "single", "wall_seconds": 20.0, "test_micro_f1": 0.8, "train_windows": 9},
        ],
        "points": points,
        "summary": summarize(points),
        "failures": [],
    }


def test_the_summary_is_the_mean_and_sample_std_over_seeds(document):
    row = next(r for r in document["summary"] if r["strategy"] == "freeze" and r["size"] == 20)
    assert row["seeds"] == 2 and row["micro_f1_mean"] == pytest.approx(0.55)
    assert row["micro_f1_std"] == pytest.approx(0.0707107, rel=1e-5)


def test_findings_give_the_best_gain_at_the_smallest_and_largest_sizes_and_head_only_vs_finetune(document):
    lines = findings(document, PAIR, "cnn")
    assert lines[0].startswith("size 20 (~20 windows): best transfer freeze k=4 55.0 ± 7.1")
    assert lines[0].endswith("vs baseline 35.0 ± 7.1: +20.0 pp")
    assert lines[1].startswith("size all (~351 windows): best transfer finetune k=4 85.0")
    assert lines[1].endswith("+20.0 pp")
    assert lines[2] == "size 20: head-only 50.0 ± 7.1 vs finetune (all blocks) 25.0 ± 7.1: +25.0 pp"
    assert lines[3] == "size all: head-only 75.0 ± 7.1 vs finetune (all blocks) 85.0 ± 7.1: -10.0 pp"


def test_the_markdown_table_has_the_baseline_first_and_the_source_models_quality(document):
    markdown = render_markdown(document)
    assert "| size | n | baseline k=0 | finetune k=4 | freeze k=4 | head-only k=4 |" in markdown
    assert "| 20 | 20 | 35.0 ± 7.1 | 25.0 ± 7.1 | 55.0 ± 7.1 | 50.0 ± 7.1 |" in markdown
    assert (
        "2 source model(s): micro-F1 on the source's own test subjects 85.0 (min 80.0, max 90.0)" in markdown
    )
    assert "target {'RUNNING': 3}" in markdown


def test_strategies_at_the_majority_class_level_are_flagged_per_strategy(document):
    # majority-class F1 is 50 %: at size 20 baseline (35 %), finetune (25 %) and head-only (50 %, within
    # the 1 pp margin) learned no more than that; freeze (55 %) did.
    lines = findings(document, PAIR, "cnn")
    flagged = [line for line in lines if "majority-class level" in line]
    assert flagged == [
        "baseline k=0 is at the majority-class level (50.0 %) at size 20: it learned little beyond "
        "predicting the most common class there",
        "finetune k=4 is at the majority-class level (50.0 %) at size 20: it learned little beyond "
        "predicting the most common class there",
        "head-only k=4 is at the majority-class level (50.0 %) at size 20: it learned little beyond "
        "predicting the most common class there",
    ]


def test_the_title_names_the_domain_pair_and_only_a_chosen_study_name(document):
    assert render_markdown(document).startswith(f"# Transfer study: {PAIR} (t)\n")
    document["settings"]["name"] = "transfer"  # the CLI's default name: not repeated as a title
    assert render_markdown(document).startswith(f"# Transfer study: {PAIR}\n")
