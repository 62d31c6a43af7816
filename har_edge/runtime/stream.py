"""Streaming inference: sensor samples in, one prediction per complete window out, plus activity events.

``StreamingClassifier.feed(chunk)`` takes samples as they arrive, in chunks of any size, and returns a
``StreamUpdate``: the predictions of every window the chunk completed and the events they fired. The
windows are exactly those that offline windowing of all samples so far (same window and hop, starting
at sample 0) would cut; all windows completed by one chunk go to the classifier in one batch.

Predictions can be smoothed (``MajorityVote`` over the last k labels, or ``ExponentialAverage`` of the
probabilities), and ``EventRule``\\s turn the smoothed probability of one label into enter/exit events
with hysteresis, so a probability wobbling around a threshold does not make the events flap.

Caveats: samples must already be at the manifest's rate and in its channel order; the stream does
not resample or reorder, and it cannot tell a gap in the data from continuous samples.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from har_edge.errors import InputError
from har_edge.runtime.bundle import Manifest
from har_edge.runtime.inputs import checked_probabilities, checked_samples


class WindowClassifier(Protocol):
    """What the stream needs: the bundle's manifest, and raw windows (n, window, channels) float32 ->
    class probabilities (n, classes). ``har_edge.runtime.classifier.Classifier`` is one; its
    ``labels`` (which personalization may change) name the classes, else the manifest's do. The
    windows are a read-only view of the stream's buffer, valid during the call: copy them to keep them."""

    @property
    def manifest(self) -> Manifest: ...

    def predict_proba(self, windows: np.ndarray) -> np.ndarray: ...


def _predictor(classifier: WindowClassifier):
    """(function, whether its outputs are checked already): a ``Classifier``'s ``predict_proba_checked``
    (the stream validated every sample, so the window check is not repeated), else ``predict_proba``."""
    checked = getattr(classifier, "predict_proba_checked", None)
    return (checked, True) if checked is not None else (classifier.predict_proba, False)


def _require_window_count(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{what}: windows must be an integer >= 1, got {value!r}")


# ------------------------------------------------------------------------------------------- smoothing


class _Smoother(Protocol):
    def update(self, probabilities: np.ndarray) -> tuple[np.ndarray, int]:
        """The smoothed probabilities and the chosen class index after one more window."""
        ...


@dataclass(frozen=True)
class MajorityVote:
    """The most common top-1 label of the last ``windows`` windows. The smoothed probabilities are the
    vote shares; a tie goes to the tied label voted most recently."""

    windows: int

    def __post_init__(self) -> None:
        _require_window_count(self.windows, "majority vote")

    def smoother(self, n_classes: int) -> _Smoother:
        return _MajorityVoter(self.windows, n_classes)


@dataclass(frozen=True)
class ExponentialAverage:
    """``smoothed = alpha * probabilities + (1 - alpha) * previous smoothed``, starting from the first
    window's probabilities; ``alpha=1`` is no smoothing, smaller is smoother and slower to react."""

    alpha: float

    def __post_init__(self) -> None:
        if not 0 < self.alpha <= 1:
            raise InputError(f"exponential average: alpha must be in (0, 1], got {self.alpha!r}")

    def smoother(self, n_classes: int) -> _Smoother:
        return _ExponentialAverager(self.alpha)


Smoothing = MajorityVote | ExponentialAverage | None


class _RawProbabilities:
    def update(self, probabilities: np.ndarray) -> tuple[np.ndarray, int]:
        return probabilities, int(probabilities.argmax())


class _MajorityVoter:
    def __init__(self, windows: int, n_classes: int) -> None:
        self._votes: deque[int] = deque(maxlen=windows)
        self._n_classes = n_classes

    def update(self, probabilities: np.ndarray) -> tuple[np.ndarray, int]:
        self._votes.append(int(np.argmax(probabilities)))
        counts = np.bincount(list(self._votes), minlength=self._n_classes)
        tied = set(np.flatnonzero(counts == counts.max()).tolist())
        winner = next(vote for vote in reversed(self._votes) if vote in tied)
        return (counts / len(self._votes)).astype(np.float32), winner


class _ExponentialAverager:
    def __init__(self, alpha: float) -> None:
        self._alpha = alpha
        self._average: np.ndarray | None = None

    def update(self, probabilities: np.ndarray) -> tuple[np.ndarray, int]:
        if self._average is None:
            self._average = probabilities.astype(np.float32)
        else:
            blended = self._alpha * probabilities + (1 - self._alpha) * self._average
            self._average = blended.astype(np.float32)
        return self._average, int(np.argmax(self._average))


def _new_smoother(smoothing: Smoothing, n_classes: int) -> _Smoother:
    return _RawProbabilities() if smoothing is None else smoothing.smoother(n_classes)


# -------------------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class EventRule:
    """Hysteresis on the smoothed probability P of ``label``: "enter" once P > ``enter_probability``
    for ``windows`` consecutive windows, then "exit" once P < ``exit_probability`` for ``windows``
    consecutive windows, then watch for "enter" again. A window that does not cross the threshold in
    play restarts the count, so P wobbling between the two thresholds changes nothing."""

    label: str
    enter_probability: float
    exit_probability: float
    windows: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.exit_probability <= self.enter_probability <= 1:
            raise InputError(
                f"event rule {self.label!r}: need 0 <= exit_probability <= enter_probability <= 1, got "
                f"exit {self.exit_probability!r}, enter {self.enter_probability!r}"
            )
        _require_window_count(self.windows, f"event rule {self.label!r}")


@dataclass(frozen=True)
class ActivityEvent:
    """``label`` was entered or exited at window ``window_index`` (its last sample is ``end_sample - 1``);
    ``probability`` is the smoothed probability of ``label`` in that window."""

    kind: Literal["enter", "exit"]
    label: str
    window_index: int
    end_sample: int
    probability: float


class _Hysteresis:
    """The state of one ``EventRule``: whether its label is active, and for how many windows in a row
    the probability has been past the threshold that would change that."""

    def __init__(self, rule: EventRule, class_index: int) -> None:
        self._rule = rule
        self._class_index = class_index
        # compared at the probabilities' precision, so that 0.8 from the model is not above 0.8
        self._enter, self._exit = np.float32(rule.enter_probability), np.float32(rule.exit_probability)
        self._active = False
        self._run = 0

    def observe(self, prediction: WindowPrediction) -> ActivityEvent | None:
        """The event this window fires, if any."""
        probability = np.float32(prediction.smoothed[self._class_index])
        crossing = probability < self._exit if self._active else probability > self._enter
        self._run = self._run + 1 if crossing else 0
        if self._run < self._rule.windows:
            return None
        self._active, self._run = not self._active, 0
        kind = "enter" if self._active else "exit"
        return ActivityEvent(
            kind, self._rule.label, prediction.index, prediction.end_sample, float(probability)
        )


# ------------------------------------------------------------------------------------------ the stream


@dataclass(frozen=True, eq=False)
class WindowPrediction:
    """The prediction for window ``index``: samples ``start_sample`` to ``end_sample - 1`` of the stream
    (counted from construction or the last ``reset``). ``label`` comes from ``smoothed``."""

    index: int
    start_sample: int
    end_sample: int
    probabilities: np.ndarray
    smoothed: np.ndarray
    label: str


@dataclass(frozen=True)
class StreamUpdate:
    """What one ``feed`` produced, both in stream order (possibly nothing)."""

    predictions: tuple[WindowPrediction, ...]
    events: tuple[ActivityEvent, ...]


NOTHING = StreamUpdate((), ())  # a feed that completed no window


class StreamingClassifier:
    """Turns a stream of samples into one prediction per window of ``classifier.manifest``.

    Memory is bounded: between feeds fewer than ``window`` samples are kept (in a store of at most four
    windows), during a feed at most that plus the chunk. A chunk is checked whole before anything
    changes: a rejected chunk (``InputError``) or a classifier that raises leaves the stream as it was.
    Not thread-safe.
    """

    def __init__(
        self, classifier: WindowClassifier, *, smoothing: Smoothing = None, events: tuple[EventRule, ...] = ()
    ) -> None:
        manifest = classifier.manifest
        self._classifier = classifier
        self._predict, self._outputs_checked = _predictor(classifier)
        self._window, self._hop = manifest.window, manifest.hop
        self._channels = manifest.channels
        self._events = tuple(events)
        self._smoothing = smoothing
        self._labels = self._classifier_labels()
        self._rules = self._resolved_rules(self._labels)
        self.reset()

    def reset(self) -> None:
        """Forget buffered samples, smoothing history and event state; counting restarts at sample 0."""
        self._store = np.zeros((2 * self._window, len(self._channels)), np.float32)
        self._buffered = 0  # the samples kept for incomplete windows are self._store[: self._buffered]
        self._samples_seen = 0
        self._next_window = 0
        self._smoother = _new_smoother(self._smoothing, len(self._labels))
        self._hysteresis = [_Hysteresis(rule, class_index) for rule, class_index in self._rules]

    @property
    def buffered_samples(self) -> int:
        """Samples held for windows not yet complete (fewer than ``window`` between feeds)."""
        return self._buffered

    def feed(self, samples: np.ndarray) -> StreamUpdate:
        """Append a (k, channels) chunk (k may be 0) and classify every window it completes.

        Labels are the classifier's current ones: after personalization installs a head for other
        class names, predictions and event rules use those (a rule whose label is gone is an
        ``InputError``, and the stream stays as it was)."""
        chunk = checked_samples(samples, self._channels, self._samples_seen)
        self._follow_label_changes()
        combined = self._staged(chunk)
        first_position = self._samples_seen - self._buffered  # stream position of combined[0]
        samples_seen = self._samples_seen + len(chunk)
        first = self._next_window
        count = max(0, (samples_seen - self._window) // self._hop + 1 - first)  # windows completed now
        probabilities = None
        if count:
            start = first * self._hop - first_position
            probabilities = self._probabilities(self._windows(combined, start, count))
        self._samples_seen = samples_seen
        self._next_window = first + count
        self._keep(combined[min(self._next_window * self._hop - first_position, len(combined)) :])
        return NOTHING if probabilities is None else self._update(first, probabilities)

    def _staged(self, chunk: np.ndarray) -> np.ndarray:
        """The buffered samples followed by ``chunk``, as a view of the store; the store grows for a
        chunk that does not fit. The buffered samples stay as they were (a failed feed changes nothing)."""
        end = self._buffered + len(chunk)
        if end > len(self._store):
            grown = np.zeros((end + self._window, self._store.shape[1]), np.float32)
            grown[: self._buffered] = self._store[: self._buffered]
            self._store = grown
        self._store[self._buffered : end] = chunk
        return self._store[:end]

    def _keep(self, tail: np.ndarray) -> None:
        """Keep ``tail`` (a view of the store) as the buffered samples, moved to the store's start; a
        store grown past twice the window for a large chunk shrinks back."""
        if len(self._store) > 4 * self._window:
            store = np.zeros((2 * self._window, self._store.shape[1]), np.float32)
            store[: len(tail)] = tail
            self._store = store
        else:
            self._store[: len(tail)] = tail  # numpy copies through a temporary when the views overlap
        self._buffered = len(tail)

    def _windows(self, combined: np.ndarray, start: int, count: int) -> np.ndarray:
        """``count`` consecutive windows (``hop`` apart) from ``combined[start]``, as a read-only view."""
        if count == 1:  # the usual case; a slice is cheaper than as_strided
            view = combined[start : start + self._window][np.newaxis]
            view.flags.writeable = False
            return view
        rows, columns = combined.strides
        return np.lib.stride_tricks.as_strided(
            combined[start:],
            shape=(count, self._window, combined.shape[1]),
            strides=(self._hop * rows, rows, columns),
            writeable=False,
        )

    def _probabilities(self, windows: np.ndarray) -> np.ndarray:
        """One ``predict_proba`` call for all windows (at least one), its shape checked."""
        probabilities = np.asarray(self._predict(windows), dtype=np.float32)
        if probabilities.shape != (len(windows), len(self._labels)):
            raise InputError(
                f"classifier returned probabilities of shape {probabilities.shape} for {len(windows)} "
                f"windows; the model has {len(self._labels)} class labels"
            )
        return probabilities if self._outputs_checked else checked_probabilities(probabilities, "classifier")

    def _update(self, first: int, probabilities: np.ndarray) -> StreamUpdate:
        predictions, events = [], []
        for index, row in enumerate(probabilities, start=first):
            smoothed, label_index = self._smoother.update(row)
            start = index * self._hop
            prediction = WindowPrediction(
                index, start, start + self._window, row, smoothed, self._labels[label_index]
            )
            predictions.append(prediction)
            events.extend(e for state in self._hysteresis if (e := state.observe(prediction)) is not None)
        return StreamUpdate(tuple(predictions), tuple(events))

    def _classifier_labels(self) -> tuple[str, ...]:
        labels = getattr(self._classifier, "labels", None)
        return tuple(self._classifier.manifest.class_labels if labels is None else labels)

    def _resolved_rules(self, labels: tuple[str, ...]) -> tuple[tuple[EventRule, int], ...]:
        for rule in self._events:
            if rule.label not in labels:
                known = list(labels)
                raise InputError(f"event rule label {rule.label!r} is not a class of the model: {known}")
        return tuple((rule, labels.index(rule.label)) for rule in self._events)

    def _follow_label_changes(self) -> None:
        labels = self._classifier_labels()
        if labels != self._labels:
            rules = self._resolved_rules(labels)
            self._labels, self._rules = labels, rules
            self._hysteresis = [_Hysteresis(rule, class_index) for rule, class_index in rules]
