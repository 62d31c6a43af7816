"""How a data set is windowed and split unless the user says otherwise.

``window_config_for`` fills in what the user left open: recordings get 50 Hz, 200-sample windows and a
100-sample hop, with training windows cut every quarter hop (``TRAIN_HOP_DIVISOR``); labelled cases
(``Dataset.cases``, a UEA/UCR file) get one window per case at the file's own rate (a longer case of
an unequal-length file gives its first samples). Channels default to the accelerometer when the data
has ``acc_x/y/z``, else to every channel.

``split_windows`` is the one entry every stage uses (train, optimize, bench rebuild the same splits):
recordings are split by subject (``splits.split_by_subject``); labelled cases (``Dataset.cases``, a
UEA/UCR file, whose "subjects" are only case numbers) are split by case, stratified by class.
``test_fraction=0`` holds no test split out (the test data is given separately). Data that cannot be
split raises ``InputError`` saying why and what to do. ``split_for_training`` then re-cuts the
training split of recordings at the config's ``train_hop`` (``splits.densify_train``): a model whose
layers depend on the position in the window (``dense``'s Flatten) needs to see activities at every
phase, and a single subject's hundred-odd windows become four times as many.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from har_edge.data.splits import Splits, densify_train, split_by_subject
from har_edge.data.windows import Labeling, WindowConfig, WindowSet, make_windows
from har_edge.errors import InputError
from har_edge.types import ACC_CHANNELS, GYRO_CHANNELS, Dataset

RECORDING_DEFAULTS = {"rate_hz": 50.0, "window": 200, "hop": 100}
TRAIN_HOP_DIVISOR = 4


def parse_channels(spec: str) -> tuple[str, ...] | None:
    """``acc``, ``acc+gyro``, ``all`` (None: every channel) or a comma list of channel names."""
    named = {"acc": ACC_CHANNELS, "acc+gyro": ACC_CHANNELS + GYRO_CHANNELS, "all": None}
    if spec in named:
        return named[spec]
    return tuple(c.strip() for c in spec.split(",") if c.strip())


def window_config_for(
    dataset: Dataset,
    *,
    rate_hz: float | None = None,
    window: int | None = None,
    hop: int | None = None,
    labeling: Labeling = "majority",
    channels: tuple[str, ...] | None | str = "default",
    train_hop: int | None = None,
) -> WindowConfig:
    """The window geometry for ``dataset``: given values win, the rest default as the module says.
    ``channels="default"`` picks acc_x/y/z when present, else all; None means all."""
    if dataset.cases and dataset.recordings:
        native = dataset.recordings[0].nominal_rate_hz
        rate_hz = rate_hz or native
        lengths = [int(np.floor((len(r) - 1) * rate_hz / native + 1e-9)) + 1 for r in dataset.recordings]
        window = window or min(lengths)
        hop = hop or max(max(lengths), window)
        train_hop = None
    else:
        rate_hz = rate_hz or RECORDING_DEFAULTS["rate_hz"]
        window = window or RECORDING_DEFAULTS["window"]
        hop = hop or RECORDING_DEFAULTS["hop"]
        train_hop = min(train_hop or max(1, hop // TRAIN_HOP_DIVISOR), hop)
    if channels == "default":
        channels = ACC_CHANNELS if set(ACC_CHANNELS) <= set(dataset.channels) else None
    return WindowConfig(
        rate_hz=rate_hz, window=window, hop=hop, labeling=labeling, channels=channels, train_hop=train_hop
    )


def split_windows(
    windows: WindowSet, *, cases: bool, val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0
) -> Splits:
    """Train/validation(/test) splits of ``windows``: by case when ``cases``, else subject-disjoint."""
    _require_splittable(windows)
    if cases:
        return split_by_case(windows, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    return split_by_subject(windows, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)


def split_for_training(
    dataset: Dataset,
    windows: WindowSet,
    config: WindowConfig,
    *,
    cases: bool,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Splits:
    """``split_windows`` of ``windows`` (``dataset`` cut with ``config``), its training split re-cut
    every ``config.train_hop`` samples when that is shorter than the hop (recordings only)."""
    splits = split_windows(windows, cases=cases, test_fraction=test_fraction, seed=seed)
    if cases or config.train_hop is None or config.train_hop >= config.hop:
        return splits
    dense, _ = make_windows(dataset, replace(config, hop=config.train_hop))
    return densify_train(splits, dense)


def split_by_case(
    windows: WindowSet, *, val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0
) -> Splits:
    """Each window (one case) goes to one split; per class, the given fractions of its cases, rounded
    (a class with fewer than 3 cases trains only)."""
    rng = np.random.default_rng(seed)
    split_of = np.zeros(len(windows), dtype=np.int64)
    for cls in np.unique(windows.y):
        members = np.flatnonzero(windows.y == cls)
        members = members[rng.permutation(len(members))]
        n_test = int(round(len(members) * test_fraction)) if len(members) >= 3 else 0
        n_val = max(1, int(round(len(members) * val_fraction))) if len(members) >= 3 else 0
        split_of[members[:n_test]] = 2
        split_of[members[n_test : n_test + n_val]] = 1
    parts = [windows.take(np.flatnonzero(split_of == k)) for k in range(3)]
    return Splits(parts[0], parts[1], parts[2], "case")


def describe_split(splits: Splits) -> str:
    """One line: what was split how, and the sizes."""
    how = {
        "subject": "by subject (no subject in two splits)",
        "occurrence": "by activity occurrence (one subject)",
        "case": "by case, stratified by class (the data names no subjects)",
    }[splits.grouping]
    if splits.val_grouping == "occurrence":
        how += (
            "; validation by activity occurrence of the training subjects (the validation subjects "
            "lacked classes)"
        )
    sizes = " / ".join(f"{name} {n:,}" for name, n in splits.sizes().items())
    return f"split {how}: {sizes} windows"


def _require_splittable(windows: WindowSet) -> None:
    if len(windows) == 0:
        raise InputError(
            "no labelled windows to split: every window was unlabelled, mixed or too short; check the label "
            "column and --window/--rate against the recordings' length"
        )
    present = np.flatnonzero(windows.class_counts())
    if len(present) < 2:
        name = windows.class_names[present[0]]
        raise InputError(
            f"only one class ({name!r}) has windows: a classifier needs at least 2; check the label column, "
            "or add recordings of other activities"
        )
