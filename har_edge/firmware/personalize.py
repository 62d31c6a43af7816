"""Personalization ON the microcontroller, emulated: ``personalize_on_board`` builds the bundle's int8
base (generated C) and float head (C SGD) with ``firmware/head/personalize_harness.c``, feeds the
wearer's windows over semihosting, and reads back accuracy before/after, the history, instructions,
RAM and the checkpoint slots the firmware wrote.

The schedule is the host ``Personalizer.fit``'s, computed here and sent to the firmware as a plan:
the same seeded holdout split, the same per-epoch shuffling (one ``rng.permutation`` per epoch), the
same batches, learning rates (``scheduled_rate``; ``auto_learning_rate`` on the host's features when no
rate is given), best-held-out-epoch selection and patience, and the same starting head (the bundle's,
or for another label set the Personalizer's seeded Glorot head). What differs from the host: the
features come from the bundle's MCU base (base_mcu.tflite, the C being bit-exact with it), which is not
the same integer model as base.tflite that the host runs (``mcu_base_bundle`` says how; on the same
features the runs agree, see ``personalize_on_host(..., mcu_base=True)``); float32 sums run in another
order (~1e-7 relative per step); the divergence guard rejects the offending step itself (weights
unchanged) where the host restores the weights before the previous step; the best epoch's weights are
kept in the checkpoint slots (flash) instead of a RAM copy; and the holdout loss is summed in float32.
The windows are normalized and quantized here with the manifest's statistics and the base's input
quantization, as the host runtime does; the firmware receives int8 windows.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from har_edge.codegen.head import DEFAULT_MAX_BATCH, HeadSpec, head_spec, write_head
from har_edge.errors import InputError
from har_edge.firmware.checkpoint import SlotStorage, host_checkpoint
from har_edge.firmware.head_harness import ERASED, build_project, run_binary, unflatten
from har_edge.runtime.bundle import BASE_FILE, MCU_BASE_FILE, Bundle, open_bundle
from har_edge.runtime.checkpoint import Checkpoint
from har_edge.runtime.head import HeadWeights
from har_edge.runtime.interpreter import quantize
from har_edge.runtime.personalize import _check_fit_arguments
from har_edge.runtime.training import auto_learning_rate, batch_slices, scheduled_rate, split_holdout

NO_PATIENCE = 0xFFFFFFFF
BASE_NAME = "base"
FEATURE_CACHE_LIMIT_BYTES = 64 * 1024  # int8 base outputs kept in RAM when they fit in this
_STEP = re.compile(r"^HAR step batch (\d+) instructions (\d+)$", re.MULTILINE)
_NUMBERS = {"base": r"^HAR base instructions (\d+)$", "stack": r"^HAR stack_bytes (\d+)$"}
_RAM = re.compile(
    r"^HAR ram head_bytes (\d+) batch_cache_bytes (\d+) feature_cache_bytes (\d+)$", re.MULTILINE
)


@dataclass(frozen=True)
class Schedule:
    """What ``Personalizer.fit`` takes, in one place."""

    epochs: int = 60
    batch_size: int = 32
    learning_rate: float | None = None
    schedule: str = "constant"
    holdout: float = 0.2
    patience: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class Plan:
    """The host's holdout split, per-epoch orders and rates for ``n`` windows."""

    held: np.ndarray
    orders: tuple[np.ndarray, ...]  # per epoch: the training indices in batch order
    rates: tuple[float, ...]
    schedule: Schedule

    @classmethod
    def of(cls, n: int, schedule: Schedule, learning_rate: float) -> Plan:
        s = schedule
        rng = np.random.default_rng(s.seed)
        train, held = split_holdout(n, s.holdout, rng)
        orders = tuple(
            np.concatenate(batch_slices(rng.permutation(train), s.batch_size)) for _ in range(s.epochs)
        )
        rates = tuple(scheduled_rate(s.schedule, learning_rate, epoch, s.epochs) for epoch in range(s.epochs))
        return cls(held, orders, rates, s)

    def to_bytes(self, labels: np.ndarray, eval_labels: np.ndarray) -> bytes:
        s = self.schedule
        n_train = len(self.orders[0])
        header = [len(labels), len(eval_labels), s.epochs, s.batch_size]
        header += [NO_PATIENCE if s.patience is None else s.patience, len(self.held), n_train]
        parts = [
            np.asarray(header, "<u4"),
            labels.astype("<u4"),
            eval_labels.astype("<u4"),
            self.held.astype("<u4"),
        ]
        for rate, order in zip(self.rates, self.orders, strict=True):
            parts += [np.asarray([rate], "<f4"), order.astype("<u4")]
        return b"".join(part.tobytes() for part in parts)


@dataclass(frozen=True, eq=False)
class BoardPersonalization:
    """What the firmware did and measured."""

    board: str
    accuracy_before: float
    accuracy_after: float
    train_loss: tuple[float, ...]
    holdout_loss: tuple[float, ...]
    holdout_accuracy: tuple[float, ...]
    best_epoch: int
    rolled_back_steps: int
    weights: dict[str, np.ndarray]
    storage: bytes  # the two checkpoint slots as the firmware left them
    learning_rate: float
    step_instructions: dict[int, int]  # batch size -> instructions of one SGD step (rate-0 probes; 0 on host)
    base_instructions: int  # one window through the int8 base
    ram_bytes: dict[str, int]  # head (parameters + scratch), batch_cache, feature_cache
    stack_bytes: int
    stdout: str
    spec: HeadSpec  # the head the firmware was generated with (labels, shapes, identity)

    @property
    def epochs_run(self) -> int:
        return len(self.train_loss)

    def host_checkpoint(self) -> Checkpoint:
        """The newest checkpoint slot the firmware wrote, as the host ``Personalizer`` restores it."""
        return host_checkpoint(self.storage, self.spec, f"{self.board} checkpoint slots")

    def summary(self) -> list[str]:
        """What the CLI prints: accuracy, instructions per SGD step, RAM, the checkpoint."""
        index, slot = SlotStorage(self.storage, self.spec.slot_bytes).newest()
        steps = ", ".join(f"batch {b}: {n:,}" for b, n in sorted(self.step_instructions.items()))
        ram = ", ".join(f"{name} {value:,} B" for name, value in self.ram_bytes.items())
        return [
            f"on {self.board}: accuracy {self.accuracy_before:.3f} -> {self.accuracy_after:.3f} after "
            f"{self.epochs_run} epochs (best epoch {self.best_epoch}, "
            f"{self.rolled_back_steps} steps rolled back)",
            f"instructions per SGD step: {steps}; int8 base per window: {self.base_instructions:,}",
            f"RAM: {ram}; stack {self.stack_bytes:,} B",
            f"checkpoint: slot {index}, sequence {slot.sequence} ({self.spec.slot_bytes:,} B per slot)",
        ]


def board_inputs(bundle: Bundle, windows: np.ndarray) -> np.ndarray:
    """Raw windows (n, window, channels) -> the MCU base's int8 inputs, normalized and quantized as the
    host runtime does (manifest statistics, the base's input scale and zero point)."""
    m = bundle.manifest
    x = np.asarray(windows)
    if x.ndim != 3 or x.shape[1:] != (m.window, len(m.channels)) or not np.isfinite(x).all():
        raise InputError(
            f"windows: expected finite numbers of shape (n, {m.window}, {len(m.channels)}), got {x.shape}"
        )
    mean, std = (np.asarray(m.normalization[k], np.float64) for k in ("mean", "std"))
    normalized = ((x - mean) / std).astype(np.float32).reshape(len(x), -1)
    q = m.base_input_quantization
    if q is None:
        raise InputError("the bundle's base has a float input; the firmware runs an int8 base")
    return quantize(normalized, {"dtype": np.int8, "quantization": (q.scale, q.zero_point)})


def label_indices(known: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    known = list(known)
    unknown = sorted(set(labels) - set(known))
    if unknown:
        raise InputError(f"unknown label(s) {unknown}; the head learns {known}")
    return np.array([known.index(label) for label in labels], np.int64)


def board_head(
    bundle: Bundle,
    head_labels: Sequence[str] | None,
    start: HeadWeights | None,
    seed: int,
    max_batch: int = DEFAULT_MAX_BATCH,
) -> HeadSpec:
    """The head the firmware starts from, as ``Personalizer`` chooses it: the bundle's head for its own
    labels, a Glorot head seeded with ``seed`` for other label names (as many as the head has
    outputs); ``start`` (e.g. a resumed checkpoint's weights) overrides the weights. ``max_batch`` is
    the C head's batch capacity (its RAM: ``HeadSpec.ram_bytes`` + ``batch_cache_bytes``)."""
    from har_edge.runtime.classifier import checked_labels

    exported = head_spec(bundle, max_batch=max_batch)
    labels = checked_labels(
        exported.labels if head_labels is None else head_labels, exported.weights.n_classes
    )
    if start is None and labels != exported.labels:
        w = exported.weights
        start = HeadWeights.random(w.n_features, w.n_classes, w.hidden, seed)
    return head_spec(bundle, weights=start, labels=labels, max_batch=max_batch)


def write_personalization_project(
    bundle: Bundle, spec: HeadSpec, out_dir: Path, board: str, n_pool: int, n_eval: int
) -> dict[str, int]:
    """The project folder (int8 base as ``base``, head, personalize harness) for ``n_pool`` training
    and held-out windows and ``n_eval`` evaluation windows; returns its -D values."""
    from har_edge.codegen.project import write_project

    base = mcu_base_bundle(bundle).base  # refuses a bundle without an MCU base
    info = write_project(base, out_dir, board, BASE_NAME)
    (out_dir / "harness" / "harness.c").unlink()  # personalize_harness.c has the main()
    write_head(spec, out_dir / "head", harness="personalize_harness.c")
    cached = n_pool if n_pool * info.output_bytes <= FEATURE_CACHE_LIMIT_BYTES else 0
    return {"PERSONALIZE_MAX_WINDOWS": n_pool + n_eval, "PERSONALIZE_CACHED_WINDOWS": cached}


def personalize_on_board(
    bundle_path: str | Path,
    windows: np.ndarray,
    labels: Sequence[str],
    eval_windows: np.ndarray,
    eval_labels: Sequence[str],
    *,
    board: str = "mps2-an386",
    schedule: Schedule = Schedule(),
    head_labels: Sequence[str] | None = None,
    start: HeadWeights | None = None,
    workdir: str | Path | None = None,
) -> BoardPersonalization:
    """Personalize the bundle's head inside the firmware on ``board`` (see the module docstring);
    ``head_labels`` and ``start`` as ``board_head`` takes them."""
    bundle = open_bundle(bundle_path)
    spec = board_head(bundle, head_labels, start, schedule.seed, max_batch=schedule.batch_size)
    y, y_eval = label_indices(spec.labels, list(labels)), label_indices(spec.labels, list(eval_labels))
    if len(y) != len(windows) or len(y_eval) != len(eval_windows):
        raise InputError(f"{len(y)} labels for {len(windows)} windows, {len(y_eval)} for {len(eval_windows)}")
    rate = schedule.learning_rate
    if rate is None:
        from har_edge.runtime.classifier import Classifier

        rate = auto_learning_rate(Classifier(bundle).features(windows))
    _check_fit_arguments(
        schedule.epochs, schedule.batch_size, rate, schedule.schedule, schedule.holdout, schedule.patience
    )
    plan = Plan.of(len(y), schedule, rate)
    inputs = np.concatenate([board_inputs(bundle, windows), board_inputs(bundle, eval_windows)])
    with tempfile.TemporaryDirectory(prefix="har_edge_personalize_") as scratch:
        workdir = Path(workdir or scratch)  # a given workdir keeps the project and the run files
        project, run_dir = workdir / "project", workdir / "run"
        defines = write_personalization_project(bundle, spec, project, board, len(y), len(y_eval))
        binary = build_project(project, board, defines)
        run_dir.mkdir(exist_ok=True)
        (run_dir / "har_in.bin").write_bytes(inputs.tobytes())
        (run_dir / "har_plan.bin").write_bytes(plan.to_bytes(y, y_eval))
        (run_dir / "har_ckpt.bin").write_bytes(bytes([ERASED]) * (2 * spec.slot_bytes))
        stdout = run_binary(binary, board, run_dir)
        out, storage = (run_dir / "har_out.bin").read_bytes(), (run_dir / "har_ckpt.bin").read_bytes()
    return _result(board, spec, y_eval, out, storage, rate, stdout)


def _result(
    board, spec, y_eval, out: bytes, storage: bytes, rate: float, stdout: str
) -> BoardPersonalization:
    n_eval, n_parameters = len(y_eval), spec.n_parameters
    fixed = 4 * (2 * n_eval + 3 + n_parameters)
    if len(out) < fixed or (len(out) - fixed) % 12:
        raise InputError(f"har_out.bin has {len(out)} bytes; not what the personalize harness writes")
    epochs = (len(out) - fixed) // 12
    words = np.frombuffer(out, "<u4")
    before = words[:n_eval]
    history = np.frombuffer(out, "<f4", count=3 * epochs, offset=4 * n_eval).reshape(epochs, 3)
    after_at = n_eval + 3 * epochs
    after = words[after_at : after_at + n_eval]
    epochs_run, best_epoch, rolled_back = (int(v) for v in words[after_at + n_eval : after_at + n_eval + 3])
    if epochs_run != epochs:
        raise InputError(f"the firmware reports {epochs_run} epochs but wrote {epochs} epoch records")
    params = np.frombuffer(out, "<f4", offset=4 * (after_at + n_eval + 3))
    steps: dict[int, int] = {}
    for batch, count in _STEP.findall(stdout):
        steps.setdefault(int(batch), int(count))
    ram = _RAM.search(stdout)
    numbers = {k: re.search(p, stdout, re.MULTILINE) for k, p in _NUMBERS.items()}
    return BoardPersonalization(
        board=board,
        accuracy_before=float(np.mean(before == y_eval)),
        accuracy_after=float(np.mean(after == y_eval)),
        train_loss=tuple(float(v) for v in history[:, 0]),
        holdout_loss=tuple(float(v) for v in history[:, 1]),
        holdout_accuracy=tuple(float(v) for v in history[:, 2]),
        best_epoch=best_epoch,
        rolled_back_steps=rolled_back,
        weights=unflatten(spec.weights, params),
        storage=storage,
        learning_rate=rate,
        step_instructions=steps,
        base_instructions=int(numbers["base"].group(1)) if numbers["base"] else 0,
        ram_bytes=dict(zip(("head", "batch_cache", "feature_cache"), map(int, ram.groups()), strict=True))
        if ram
        else {},
        stack_bytes=int(numbers["stack"].group(1)) if numbers["stack"] else 0,
        stdout=stdout,
        spec=spec,
    )


def mcu_base_bundle(bundle: Bundle) -> Bundle:
    """``bundle`` with its MCU base in the place of base.tflite (the manifest, hence the checkpoint
    identity, unchanged): a host ``Classifier`` on it computes exactly the firmware's features.

    Needed because an exported bundle's base.tflite (dynamic batch: FULLY_CONNECTED + a separate ADD)
    and base_mcu.tflite (batch 1: the bias fused into FULLY_CONNECTED) are not the same integer model:
    on the golden dense bundle their features differ by up to 6 quantization steps on half the outputs.
    """
    if MCU_BASE_FILE not in bundle.files:
        raise InputError(
            f"{bundle.path}: no {MCU_BASE_FILE}; export the bundle with its MCU base (mcu_variant)"
        )
    return dataclasses.replace(bundle, files={**bundle.files, BASE_FILE: bundle.files[MCU_BASE_FILE]})


@dataclass(frozen=True, eq=False)
class HostPersonalization:
    accuracy_before: float
    accuracy_after: float
    history: object  # FitHistory
    weights: dict[str, np.ndarray]


def personalize_on_host(
    bundle_path: str | Path,
    windows: np.ndarray,
    labels: Sequence[str],
    eval_windows: np.ndarray,
    eval_labels: Sequence[str],
    *,
    schedule: Schedule = Schedule(),
    learning_rate: float | None = None,
    mcu_base: bool = False,
    head_labels: Sequence[str] | None = None,
) -> HostPersonalization:
    """The same run through the host ``Personalizer`` (LiteRT), for comparison; ``mcu_base``: on the
    features of the bundle's MCU base (the firmware's) instead of base.tflite's."""
    from har_edge.runtime.classifier import Classifier
    from har_edge.runtime.personalize import Personalizer

    bundle = open_bundle(bundle_path)
    classifier = Classifier(mcu_base_bundle(bundle) if mcu_base else bundle)
    personalizer = Personalizer(classifier, labels=head_labels, seed=schedule.seed)
    personalizer.add(windows, list(labels))
    before = personalizer.evaluate(eval_windows, list(eval_labels)).accuracy
    history = personalizer.fit(
        epochs=schedule.epochs,
        batch_size=schedule.batch_size,
        learning_rate=learning_rate or schedule.learning_rate,
        schedule=schedule.schedule,
        holdout=schedule.holdout,
        patience=schedule.patience,
    )
    after = personalizer.evaluate(eval_windows, list(eval_labels)).accuracy
    return HostPersonalization(before, after, history, personalizer.weights().named())
