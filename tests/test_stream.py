from pathlib import Path

import numpy as np
import pytest

from har_edge.errors import InputError
from har_edge.runtime.bundle import Manifest, open_bundle
from har_edge.runtime.stream import (
    ActivityEvent,
    EventRule,
    ExponentialAverage,
    MajorityVote,
    StreamingClassifier,
)

LABELS = ("WALKING", "SITTING", "LAYING")
CHANNELS = ("acc_x", "acc_y", "acc_z")
GOLDEN = Path(__file__).parent / "golden" / "dense_int8"


def make_manifest(window: int = 1, hop: int = 1) -> Manifest:
    return Manifest(
        class_labels=LABELS,
        window=window,
        hop=hop,
        rate_hz=50.0,
        channels=CHANNELS,
        normalization={"mean": [0.0] * 3, "std": [1.0] * 3},
        input_layout="sequence",
        architecture="test",
        split_layer="test",
        base_precision="float32",
        feature_shape=(1,),
        base_input_quantization=None,
        base_output_quantization=None,
        head_hidden=None,
        files={},
        tools={},
        created_utc="",
    )


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class RecordingClassifier:
    """Deterministic: softmax of a fixed linear map of each window's channel means and first sample.
    Keeps every batch it was given."""

    MIXING = np.array([[1.0, -0.5, 0.2], [0.3, 0.8, -1.0], [-0.7, 0.1, 0.9]], np.float32)

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.batches: list[np.ndarray] = []

    def predict_proba(self, windows: np.ndarray) -> np.ndarray:
        self.batches.append(windows.copy())
        return softmax((windows.mean(axis=1) + windows[:, 0]) @ self.MIXING)


class ScriptedClassifier:
    """Returns the given probability rows in order, one per window, whatever the windows hold."""

    def __init__(self, rows: list[list[float]]) -> None:
        self.manifest = make_manifest()
        self._rows = np.asarray(rows, np.float32)
        self._next = 0

    def predict_proba(self, windows: np.ndarray) -> np.ndarray:
        rows = self._rows[self._next : self._next + len(windows)]
        self._next += len(windows)
        return rows


def offline_windows(samples: np.ndarray, window: int, hop: int) -> np.ndarray:
    views = np.lib.stride_tricks.sliding_window_view(samples, window, axis=0)[::hop]
    return views.transpose(0, 2, 1)


def random_chunks(samples: np.ndarray, window: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Chunks of 0, 1, a few, and more than one window's worth of samples, in random order."""
    chunks, start = [], 0
    while start < len(samples):
        size = int(
            rng.choice([0, 1, int(rng.integers(2, window)), int(rng.integers(window + 1, 4 * window))])
        )
        chunks.append(samples[start : start + size])
        start += size
    return chunks


def walking_rows(walking_probabilities: list[float]) -> list[list[float]]:
    return [[p, 1.0 - p, 0.0] for p in walking_probabilities]


def feed_scripted(rows: list[list[float]], **options) -> list:
    """Feed one sample per scripted row to a window=1, hop=1 stream; every feed emits one prediction."""
    stream = StreamingClassifier(ScriptedClassifier(rows), **options)
    return [stream.feed(np.zeros((1, 3), np.float32)) for _ in rows]


# ------------------------------------------------------------------------------ windowing equivalence


@pytest.mark.parametrize(
    ("window", "hop"),
    [(20, 5), (20, 7), (20, 20), (8, 13)],
    ids=["hop<window", "uneven", "hop=window", "hop>window"],
)
@pytest.mark.parametrize("seed", range(4))
def test_streaming_emits_exactly_the_offline_windows_whatever_the_chunking(window, hop, seed):
    rng = np.random.default_rng(seed)
    samples = rng.normal(size=(int(rng.integers(window, 12 * window)), 3)).astype(np.float32)
    classifier = RecordingClassifier(make_manifest(window, hop))
    stream = StreamingClassifier(classifier)
    predictions = [p for chunk in random_chunks(samples, window, rng) for p in stream.feed(chunk).predictions]
    expected = offline_windows(samples, window, hop)
    np.testing.assert_array_equal(np.concatenate(classifier.batches), expected)
    assert [p.index for p in predictions] == list(range(len(expected)))
    assert [(p.start_sample, p.end_sample) for p in predictions] == [
        (i * hop, i * hop + window) for i in range(len(expected))
    ]
    reference = RecordingClassifier(make_manifest(window, hop)).predict_proba(expected)
    np.testing.assert_allclose(np.stack([p.probabilities for p in predictions]), reference, rtol=1e-6)


@pytest.mark.parametrize(("window", "hop"), [(20, 5), (20, 20), (8, 13)])
def test_buffer_stays_below_one_window_between_feeds_whatever_the_chunk_size(window, hop, rng):
    stream = StreamingClassifier(RecordingClassifier(make_manifest(window, hop)))
    for chunk in random_chunks(rng.normal(size=(50 * window, 3)), window, rng):
        stream.feed(chunk)
        assert stream.buffered_samples < window


def test_all_windows_a_chunk_completes_go_to_the_classifier_in_one_call(rng):
    classifier = RecordingClassifier(make_manifest(window=10, hop=5))
    stream = StreamingClassifier(classifier)
    assert stream.feed(rng.normal(size=(7, 3))).predictions == ()
    assert stream.feed(np.zeros((0, 3))).predictions == ()
    assert classifier.batches == []
    update = stream.feed(rng.normal(size=(100, 3)))
    assert len(update.predictions) == (107 - 10) // 5 + 1
    assert [batch.shape for batch in classifier.batches] == [(20, 10, 3)]


def test_reset_forgets_samples_smoothing_and_events_and_counts_from_zero_again(rng):
    samples = rng.normal(size=(60, 3))
    rule = EventRule("WALKING", enter_probability=0.3, exit_probability=0.2)
    stream = StreamingClassifier(
        RecordingClassifier(make_manifest(10, 5)), smoothing=ExponentialAverage(0.3), events=(rule,)
    )
    first = stream.feed(samples)
    stream.feed(samples[:7])
    stream.reset()
    assert stream.buffered_samples == 0
    again = stream.feed(samples)
    assert [p.index for p in again.predictions] == [p.index for p in first.predictions]
    np.testing.assert_array_equal(
        [p.smoothed for p in again.predictions], [p.smoothed for p in first.predictions]
    )
    assert again.events == first.events


# ---------------------------------------------------------------------------------------- smoothing


def test_without_smoothing_the_label_is_the_top_raw_probability():
    rows = [[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]]
    predictions = [u.predictions[0] for u in feed_scripted(rows)]
    np.testing.assert_array_equal([p.smoothed for p in predictions], np.float32(rows))
    assert [p.label for p in predictions] == ["SITTING", "WALKING"]


def test_exponential_average_starts_at_the_first_window_and_blends_with_alpha():
    rows = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]
    predictions = [u.predictions[0] for u in feed_scripted(rows, smoothing=ExponentialAverage(0.4))]
    expected = [[1.0, 0.0, 0.0], [0.6, 0.4, 0.0], [0.36, 0.64, 0.0]]
    np.testing.assert_allclose([p.smoothed for p in predictions], expected, atol=1e-6)
    np.testing.assert_array_equal([p.probabilities for p in predictions], np.float32(rows))
    assert [p.label for p in predictions] == ["WALKING", "WALKING", "SITTING"]


def test_majority_vote_counts_the_last_k_labels_and_breaks_ties_towards_the_latest():
    top = dict(zip(LABELS, [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]], strict=True))
    sequence = ["WALKING", "SITTING", "SITTING", "WALKING", "WALKING", "LAYING", "SITTING"]
    updates = feed_scripted([top[label] for label in sequence], smoothing=MajorityVote(3))
    predictions = [u.predictions[0] for u in updates]
    voted = ["WALKING", "SITTING", "SITTING", "SITTING", "WALKING", "WALKING", "SITTING"]
    assert [p.label for p in predictions] == voted
    np.testing.assert_allclose(predictions[2].smoothed, [1 / 3, 2 / 3, 0.0])
    np.testing.assert_allclose(predictions[6].smoothed, [1 / 3, 1 / 3, 1 / 3])


# ------------------------------------------------------------------------------------------- events


def events_of(updates) -> list[tuple[str, int]]:
    return [(e.kind, e.window_index) for u in updates for e in u.events]


def test_enter_fires_only_after_k_consecutive_windows_above_the_enter_probability():
    rule = EventRule("WALKING", enter_probability=0.8, exit_probability=0.6, windows=3)
    updates = feed_scripted(walking_rows([0.9, 0.9, 0.7, 0.9, 0.8, 0.9, 0.9, 0.9]), events=(rule,))
    assert events_of(updates) == [("enter", 7)]
    (event,) = updates[7].events
    assert event == ActivityEvent("enter", "WALKING", 7, 8, pytest.approx(0.9))


def test_exit_needs_k_consecutive_windows_below_the_exit_probability_and_enter_can_fire_again():
    rule = EventRule("WALKING", enter_probability=0.8, exit_probability=0.6, windows=2)
    walking = [0.9, 0.9, 0.5, 0.7, 0.5, 0.5, 0.9, 0.9]
    assert events_of(feed_scripted(walking_rows(walking), events=(rule,))) == [
        ("enter", 1),
        ("exit", 5),
        ("enter", 7),
    ]


def test_a_probability_wobbling_between_the_thresholds_does_not_flap():
    rule = EventRule("WALKING", enter_probability=0.8, exit_probability=0.6, windows=1)
    assert events_of(feed_scripted(walking_rows([0.85, 0.7] * 10), events=(rule,))) == [("enter", 0)]


def test_a_probability_alternating_around_the_enter_threshold_never_enters_with_k_of_2():
    rule = EventRule("WALKING", enter_probability=0.8, exit_probability=0.6, windows=2)
    assert events_of(feed_scripted(walking_rows([0.85, 0.75] * 10), events=(rule,))) == []


def test_events_follow_the_smoothed_probability_not_the_raw_one():
    rule = EventRule("WALKING", enter_probability=0.8, exit_probability=0.6)
    updates = feed_scripted(
        walking_rows([0.0, 1.0, 1.0, 1.0]), smoothing=ExponentialAverage(0.5), events=(rule,)
    )
    assert events_of(updates) == [("enter", 3)]  # smoothed: 0, 0.5, 0.75, 0.875


def test_several_rules_fire_in_rule_order_within_a_window():
    rules = (
        EventRule("SITTING", enter_probability=0.5, exit_probability=0.5),
        EventRule("WALKING", enter_probability=0.5, exit_probability=0.5),
    )
    (update,) = feed_scripted([[0.6, 0.6, 0.0]], events=rules)
    assert [(e.label, e.kind) for e in update.events] == [("SITTING", "enter"), ("WALKING", "enter")]


# ---------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "chunk",
    [np.zeros((5, 2)), np.zeros((5, 4)), np.zeros(3), np.zeros((2, 5, 3)), np.zeros(0)],
    ids=["2 channels", "4 channels", "1-D", "3-D", "empty 1-D"],
)
def test_a_chunk_of_the_wrong_shape_is_refused(chunk):
    stream = StreamingClassifier(RecordingClassifier(make_manifest(4, 2)))
    with pytest.raises(InputError, match=r"shape \(samples, 3\)"):
        stream.feed(chunk)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_a_non_finite_sample_is_refused_naming_its_row_and_the_stream_is_unchanged(bad_value, rng):
    samples = rng.normal(size=(30, 3))
    stream = StreamingClassifier(RecordingClassifier(make_manifest(4, 2)))
    stream.feed(samples[:10])
    bad = samples[10:].copy()
    bad[4, 1] = bad_value
    with pytest.raises(InputError, match=r"sample row 4 of the chunk \(stream sample 14\)"):
        stream.feed(bad)
    fresh = StreamingClassifier(RecordingClassifier(make_manifest(4, 2)))
    fresh.feed(samples[:10])
    assert [p.index for p in stream.feed(samples[10:]).predictions] == [
        p.index for p in fresh.feed(samples[10:]).predictions
    ]


def test_non_numeric_samples_are_refused():
    stream = StreamingClassifier(RecordingClassifier(make_manifest(4, 2)))
    with pytest.raises(InputError, match="numeric"):
        stream.feed([["a", "b", "c"]])


def test_a_classifier_returning_the_wrong_number_of_classes_is_reported():
    stream = StreamingClassifier(ScriptedClassifier([[0.5, 0.5]]))
    with pytest.raises(InputError, match=r"shape \(1, 2\) for 1 windows; the model has 3 class labels"):
        stream.feed(np.zeros((1, 3)))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: EventRule("WALKING", enter_probability=0.5, exit_probability=0.6),
            "exit_probability <= enter",
        ),
        (lambda: EventRule("WALKING", enter_probability=1.5, exit_probability=0.6), "enter_probability <= 1"),
        (lambda: EventRule("WALKING", 0.8, 0.6, windows=0), "windows must be an integer >= 1"),
        (lambda: MajorityVote(0), "windows must be an integer >= 1"),
        (lambda: ExponentialAverage(0.0), r"alpha must be in \(0, 1\]"),
        (lambda: ExponentialAverage(1.5), r"alpha must be in \(0, 1\]"),
        (
            lambda: StreamingClassifier(ScriptedClassifier([]), events=(EventRule("RUNNING", 0.8, 0.6),)),
            "'RUNNING' is not a class of the model",
        ),
    ],
)
def test_invalid_smoothing_and_event_settings_are_refused(make, message):
    with pytest.raises(InputError, match=message):
        make()


# ---------------------------------------------------------------------------- with the real Classifier


def test_the_real_classifier_streams_the_golden_windows_to_their_reference_probabilities():
    try:
        from har_edge.runtime.classifier import Classifier
    except ImportError:
        pytest.skip("har_edge.runtime.classifier.Classifier is not there yet")
    expected = np.load(GOLDEN / "expected.npz")
    raw = expected["raw_windows"]  # window 50, hop 25: every other streamed window is a golden one
    stream = StreamingClassifier(Classifier(open_bundle(GOLDEN)))
    predictions = [p for sample in np.split(raw.reshape(-1, 3), 30) for p in stream.feed(sample).predictions]
    assert len(predictions) == 2 * len(raw) - 1
    golden = np.stack([p.probabilities for p in predictions[::2]])
    np.testing.assert_allclose(golden, expected["probabilities"], atol=0.02)


def test_the_real_classifier_streams_bit_identical_probabilities_to_predict_proba_on_the_same_windows():
    from har_edge.runtime.classifier import Classifier

    raw = np.load(GOLDEN / "expected.npz")["raw_windows"]
    classifier = Classifier(open_bundle(GOLDEN))
    m = classifier.manifest
    samples = raw.reshape(-1, len(m.channels))
    stream = StreamingClassifier(classifier)
    chunks = np.split(samples, [7, 60, 61, 200, 333])  # growing, shrinking and one-sample chunks
    predictions = [p for chunk in chunks for p in stream.feed(chunk).predictions]
    offline = offline_windows(samples, m.window, m.hop)
    assert len(predictions) == len(offline)
    np.testing.assert_array_equal(
        np.stack([p.probabilities for p in predictions]), classifier.predict_proba(offline)
    )
    checked = classifier.predict_proba_checked(np.ascontiguousarray(offline))
    np.testing.assert_array_equal(checked, classifier.predict_proba(offline))


def test_the_windows_a_classifier_sees_are_read_only(rng):
    seen = []

    class Keeping(RecordingClassifier):
        def predict_proba(self, windows):
            seen.append(windows.flags.writeable)
            return super().predict_proba(windows)

    stream = StreamingClassifier(Keeping(make_manifest(window=10, hop=5)))
    stream.feed(rng.normal(size=(10, 3)))  # one window: the sliced view
    stream.feed(rng.normal(size=(40, 3)))  # several: the strided view
    assert seen == [False, False]


@pytest.mark.parametrize(
    "windows",
    [
        np.zeros((1, 50, 3), np.float64),
        np.zeros((0, 50, 3), np.float32),
        np.zeros((1, 49, 3), np.float32),
        [[0.0]],
    ],
    ids=["float64", "empty", "short", "list"],
)
def test_predict_proba_checked_refuses_windows_of_another_type_or_shape(windows):
    from har_edge.errors import InputError
    from har_edge.runtime.classifier import Classifier

    classifier = Classifier(open_bundle(GOLDEN))
    assert classifier.manifest.window == 50
    with pytest.raises(InputError, match="predict_proba_checked: expected float32 windows"):
        classifier.predict_proba_checked(windows)
