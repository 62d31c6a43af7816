"""What the report tells a reader: findings for oddities it can detect, a narrow console summary, a Pareto
front of variants that fit (on flash and RAM for microcontrollers), and accuracy with its spread."""

from __future__ import annotations

import numpy as np
import pytest

from har_edge.bench.findings import findings
from har_edge.bench.report import pareto_front
from har_edge.bench.results import SCHEMA_VERSION, Report, ResultRow
from har_edge.bench.summary import WIDTH, render_summary
from har_edge.metrics import bootstrap_accuracy_interval

MCU = "cortex-m4f-80mhz"


def row(variant: str, target: str = MCU, **figures) -> ResultRow:
    defaults = {
        "size_bytes": 30_000,
        "gzip_bytes": 20_000,
        "accuracy": 0.68,
        "latency_us_p50": 8_000.0,
        "precision": "int8",
        "sparsity": 0.0,
    }
    if target == MCU:
        defaults |= {
            "ram_bytes": 6_800,
            "flash_bytes": 24_868,
            "fits": True,
            "instructions_per_inference": 512_300,
        }
    return ResultRow(variant=variant, target=target, **{**defaults, **figures})


def report(*rows: ResultRow) -> Report:
    return Report(SCHEMA_VERSION, "2026-01-01T00:00:00Z", None, {}, {}, "test", None, tuple(rows))


def demo_like_rows() -> list[ResultRow]:
    """The demo's MCU rows as a user saw them: pruned variants slower, the personalized one not fitting."""
    return [
        row("float32", precision="float32", accuracy=0.679, details={"accuracy_ci95": [0.60, 0.75]}),
        row("int8", accuracy=0.679),
        row("pruned50+int8", sparsity=0.5, instructions_per_inference=694_480, accuracy=0.651),
        row("pruned90+int8", sparsity=0.9, instructions_per_inference=826_200, accuracy=0.695),
        row("personalized", ram_bytes=291_531, fits=False, ram_margin_bytes=-29_387, accuracy=0.908),
    ]


def test_findings_explain_pruned_mcu_rows_slower_than_dense_with_their_instruction_counts():
    found = findings(report(*demo_like_rows()))
    pruning = [line for line in found if line.startswith("pruning costs instructions")]
    assert len(pruning) == 1  # one sentence per target, every slower variant in it
    assert "pruned50+int8 694,480 (+36 %), pruned90+int8 826,200 (+61 %) vs int8 512,300" in pruning[0]
    assert "store and multiply the pruned zeros" in pruning[0]


def test_no_pruning_finding_when_pruned_rows_are_cheaper_than_dense():
    rows = [row("int8"), row("pruned75+int8", sparsity=0.75, instructions_per_inference=250_000)]
    assert not [line for line in findings(report(*rows)) if "pruning" in line]


def test_findings_name_a_variant_that_does_not_fit_and_by_how_much():
    found = findings(report(*demo_like_rows()))
    assert (
        "personalized does not fit cortex-m4f-80mhz: over its RAM by 29,387 B (needs 291,531 B of RAM)"
        in found[0]
    )


def test_an_accuracy_gain_inside_float32s_interval_is_called_noise():
    found = findings(report(*demo_like_rows()))
    noise = [line for line in found if "not a gain" in line]
    # pruned90 (69.5 %) is inside float32's 60-75 % interval; personalized (90.8 %) is outside it.
    assert len(noise) == 1 and noise[0].startswith("pruned90+int8 scores +1.6 pp over float32")


def test_the_pareto_front_leaves_out_rows_that_do_not_fit():
    rows = demo_like_rows()
    front = pareto_front(rows)
    assert rows[-1] not in front  # the most accurate row, but it does not fit its 256 KiB part
    assert [r.variant for r in front] == ["pruned90+int8"]  # same footprint and latency, most accurate


def test_the_mcu_pareto_front_compares_flash_and_ram_not_the_tflite_file_size():
    small_file_big_flash = row("a", size_bytes=10_000, flash_bytes=90_000)
    big_file_small_flash = row("b", size_bytes=50_000, flash_bytes=20_000)
    assert pareto_front([small_file_big_flash, big_file_small_flash]) == [big_file_small_flash]


def test_the_console_summary_fits_the_terminal_and_ends_with_where_every_column_is():
    rows = [
        *(row(r.variant, "desktop", latency_us_p50=12.5, fits=None) for r in demo_like_rows()),
        *(
            row(r.variant, "rpi4", latency_us_p50=81.2, fits=None, provenance={"latency": "estimated"})
            for r in demo_like_rows()
        ),
        *demo_like_rows(),
    ]
    text = render_summary(report(*rows), markdown="demo-out/report/report.md")
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    assert "personalized" in text and "(no)" in text and "~81.2" in text
    assert text.splitlines()[-1].endswith("demo-out/report/report.md")


def test_bootstrap_interval_resamples_subjects_and_widens_when_they_disagree():
    rng = np.random.default_rng(0)
    subjects = np.repeat(np.arange(6), 100)
    alike = rng.random(600) < 0.7  # every subject at about 70 %
    per_subject = np.array([0.4, 0.5, 0.6, 0.8, 0.9, 1.0])[subjects]
    unalike = rng.random(600) < per_subject  # the same mean, subjects far apart
    low_a, high_a = bootstrap_accuracy_interval(alike, subjects, seed=1)
    low_u, high_u = bootstrap_accuracy_interval(unalike, subjects, seed=1)
    assert low_a < alike.mean() < high_a and low_u < unalike.mean() < high_u
    assert (high_u - low_u) > 2 * (high_a - low_a)


def test_bootstrap_interval_of_one_subject_resamples_windows_and_refuses_an_empty_set():
    correct = np.array([True] * 30 + [False] * 10)
    low, high = bootstrap_accuracy_interval(correct, np.zeros(40), seed=0)
    assert low < 0.75 < high and high - low > 0.05
    with pytest.raises(ValueError, match="empty"):
        bootstrap_accuracy_interval(np.array([], bool), np.array([]))


def test_a_variant_below_float32s_whole_interval_is_called_a_real_loss():
    # The demo's block-pruned 90 % variant scored 39.1 % where float32's interval was 55.8-83.1 %.
    rows = [
        row("float32", accuracy=0.69, details={"accuracy_ci95": [0.558, 0.831]}),
        row("p90", accuracy=0.391),
    ]
    (finding,) = findings(report(*rows))
    assert finding.startswith("p90 loses 29.9 pp against float32, below float32's 95 % bootstrap interval")
