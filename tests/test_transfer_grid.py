"""The study definition: defaults, points, and the refused study files and flags."""

from __future__ import annotations

import pytest

from har_edge.errors import DataFormatError, InputError
from har_edge.transfer.grid import BASELINE, make_study, with_flags
from har_edge.transfer.studyfile import load_mapping, load_study

STUDY = """
[study]
subjects = 4
[[pair]]
source = "synthetic:waist"
target = "synthetic:wrist:smartwatch"
[pair.mapping]
WALKING = "WALKING"
SITTING = "SITTING"
[grid]
model = ["cnn"]
k = [0, 1, "all"]
size = [10, "all"]
strategy = ["freeze", "head-only"]
seed = [0, 1]
"""


def study_file(tmp_path, text=STUDY):
    path = tmp_path / "study.toml"
    path.write_text(text)
    return path


def test_the_default_study_is_two_synthetic_pairs_three_seeds_and_k_0_some_all():
    study = make_study()
    assert [p.name for p in study.pairs] == [
        "synthetic:waist -> synthetic:wrist:smartwatch",
        "synthetic:waist -> synthetic:waist:budget-phone",
    ]
    assert study.ks == (0, 2, "all") and study.seeds == (0, 1, 2) and study.sizes[-1] is None


def test_points_hold_the_baseline_once_and_head_only_only_with_every_block(tmp_path):
    points = load_study(study_file(tmp_path)).points()
    runs = {(p.strategy, p.k, p.size, p.seed) for p in points}
    per_cell = {(s, k) for s, k, size, seed in runs if size == 10 and seed == 0}
    assert per_cell == {(BASELINE, 0), ("freeze", 1), ("freeze", 4), ("head-only", 4)}
    assert len(points) == len(runs) == 4 * 2 * 2
    assert all(p.source is None for p in points if p.strategy == BASELINE)
    assert len({p.key() for p in points}) == len(points)


def test_the_mapping_of_a_pair_is_read(tmp_path):
    (pair,) = load_study(study_file(tmp_path)).pairs
    assert pair.mapping.to_dict() == {"WALKING": "WALKING", "SITTING": "SITTING"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("[grid]", "[grid]\nblocks = [1]"), "unknown key grid.blocks.*one of model, k, size"),
        (("[study]", "[study]\nsubject = 4"), "unknown key study.subject.*one of name, protocol"),
        (('k = [0, 1, "all"]', "k = [0, 9]"), "grid.k.*value 9.*0..4.*'all'"),
        (('size = [10, "all"]', "size = [0]"), "grid.size.*window counts >= 1"),
        (
            ('strategy = ["freeze", "head-only"]', 'strategy = ["melt"]'),
            "melt.*freeze, finetune, differential",
        ),
        (('model = ["cnn"]', 'model = ["resnet"]'), "resnet.*dense, cnn, lstm"),
        (('SITTING = "SITTING"', "SITTING = 3"), "pair\\[0\\].mapping.SITTING.*target class name"),
        (("[study]", '[study]\nprotocol = "mine"'), "study.protocol.*gjoreski2019"),
        (("[study]", "[adapt]\nepochs = 0\n[study]"), "adapt.epochs.*a number > 0"),
        (("[study]", '[source]\ntrainer = "spark"\n[study]'), "source.trainer.*single, ray-train"),
        (("subjects = 4", 'subjects = "four"'), "expected int"),
        (("subjects = 4", "subjects = 2"), "study.subjects.*an integer >= 3"),
        (("subjects = 4", "subjects = 4\nsource_subjects = 1"), "study.source_subjects.*>= 3"),
        (("[study]", "[adapt]\nmin_epoch_windows = 0\n[study]"), "adapt.min_epoch_windows.*> 0"),
    ],
)
def test_a_bad_study_file_is_refused_naming_the_field_and_the_valid_values(tmp_path, change, message):
    with pytest.raises(DataFormatError, match=message):
        load_study(study_file(tmp_path, STUDY.replace(*change)))


def test_malformed_toml_is_a_data_format_error(tmp_path):
    with pytest.raises(DataFormatError, match="not valid TOML"):
        load_study(study_file(tmp_path, "[grid\nk = "))


def test_flags_override_the_grid_and_are_checked():
    study = with_flags(None, k="0,all", size="20,all", seed="3,4,5")
    assert study.ks == (0, "all") and study.sizes == (20, None) and study.seeds == (3, 4, 5)
    with pytest.raises(InputError, match="grid.strategy"):
        with_flags(study, strategy="freeze,thaw")


def test_a_mapping_file_needs_string_targets(tmp_path):
    path = tmp_path / "map.toml"
    path.write_text('[mapping]\nWALKING = "walk"\n')
    assert load_mapping(path).to_dict() == {"WALKING": "walk"}
    path.write_text("[mapping]\nWALKING = 1\n")
    with pytest.raises(DataFormatError, match="mapping.WALKING"):
        load_mapping(path)
