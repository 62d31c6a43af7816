"""Bundle manifests are untrusted: file names stay inside the bundle folder (no absolute paths, ``..``
or escaping symlinks, nothing read or leaked), the manifest follows its schema, and runtime inputs take
one validation path for ``Classifier`` and ``StreamingClassifier``."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from har_edge.errors import InputError
from har_edge.runtime.bundle import open_bundle
from har_edge.runtime.classifier import Classifier
from har_edge.runtime.personalize import Personalizer
from har_edge.runtime.stream import EventRule, StreamingClassifier
from tests.hostile_support import GOLDEN, golden_copy, manifest_of, write_manifest

SECRET = b"host secret: do not read me\n"


@pytest.fixture
def outside(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_bytes(SECRET)
    return path


def _point_base_at(bundle, name: str, data: bytes, *, right_hash: bool = True) -> None:
    manifest = manifest_of(bundle)
    del manifest["files"]["base.tflite"]
    digest = hashlib.sha256(data).hexdigest() if right_hash else "0" * 64
    manifest["files"][name] = {"sha256": digest, "size_bytes": len(data)}
    write_manifest(bundle, manifest)


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "folder"])
def test_a_manifest_naming_a_file_outside_the_bundle_is_refused_without_reading_it(tmp_path, outside, kind):
    bundle = golden_copy(tmp_path)
    name = {"absolute": str(outside), "dotdot": "../secret.txt", "folder": "sub/../../secret.txt"}[kind]
    _point_base_at(bundle, name, SECRET, right_hash=False)
    with pytest.raises(InputError, match="not a plain file name inside the bundle") as info:
        open_bundle(bundle)
    assert str(len(SECRET)) not in str(info.value).replace(str(tmp_path), "")
    assert hashlib.sha256(SECRET).hexdigest()[:12] not in str(info.value)


def test_a_symlink_leaving_the_bundle_is_refused_even_with_the_right_hash(tmp_path, outside):
    bundle = golden_copy(tmp_path)
    (bundle / "base.tflite").unlink()
    (bundle / "base.tflite").symlink_to(outside)
    _point_base_at(bundle, "base.tflite", SECRET)
    with pytest.raises(InputError, match="leads outside the bundle folder"):
        Classifier(bundle)


def test_a_file_of_the_wrong_size_is_refused_before_it_is_read_and_its_hash_is_not_shown(tmp_path):
    bundle = golden_copy(tmp_path)
    (bundle / "head.tflite").write_bytes(b"\0" * 10)
    with pytest.raises(InputError, match="10 bytes, expected 14240 bytes") as info:
        open_bundle(bundle)
    assert hashlib.sha256(b"\0" * 10).hexdigest()[:12] not in str(info.value)


def _set(path: tuple, value):
    def edit(manifest: dict) -> dict:
        target = manifest
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return manifest

    return edit


MANIFEST_EDITS = {
    "null window": (_set(("window",), None), r"\.window: expected an integer"),
    "string window": (_set(("window",), "50"), r"\.window: expected an integer"),
    "boolean hop": (_set(("hop",), True), r"\.hop: expected an integer"),
    "zero hop": (_set(("hop",), 0), r"\.hop: expected an integer in \[1,"),
    "negative rate": (_set(("rate_hz",), -50.0), r"\.rate_hz: expected a number > 0"),
    "zero std": (_set(("normalization", "std", 1), 0.0), r"\.normalization\.std\[1\]: expected a number > 0"),
    "duplicate labels": (_set(("class_labels", 1), "WALKING"), r"\.class_labels: names must be unique"),
    "empty label": (_set(("class_labels", 2), ""), r"\.class_labels\[2\]: expected a non-empty string"),
    "zero feature dim": (_set(("feature_shape", 0), 0), r"\.feature_shape\[0\]: expected an integer in \[1,"),
    "feature shape of another head": (
        _set(("feature_shape",), [40, 8]),
        "lies about the base output features",
    ),
    "missing channels": (
        lambda m: {k: v for k, v in m.items() if k != "channels"},
        r"missing \['channels'\]",
    ),
    "unknown field": (_set(("surprise",), 1), r"unknown \['surprise'\]"),
    "nested forgery": (
        _set(("files", "head.tflite", "size_bytes"), {"n": 1}),
        r"size_bytes: expected an integer",
    ),
}


@pytest.mark.parametrize("case", sorted(MANIFEST_EDITS))
def test_a_manifest_violating_its_schema_is_an_input_error_naming_the_field(tmp_path, case):
    edit, message = MANIFEST_EDITS[case]
    bundle = golden_copy(tmp_path)
    write_manifest(bundle, edit(manifest_of(bundle)))
    with pytest.raises(InputError, match=message) as info:
        Classifier(bundle)
    assert "manifest.json" in str(info.value) or "lies about" in str(info.value)


def _text_with(token: str) -> bytes:
    text = (GOLDEN / "manifest.json").read_text()
    return text.replace('"window": 50', f'"window": {token}').encode()


MANIFEST_TEXTS = {
    "UTF-16": ((GOLDEN / "manifest.json").read_text().encode("utf-16"), "byte-order mark"),
    "UTF-8 BOM": (b"\xef\xbb\xbf" + (GOLDEN / "manifest.json").read_bytes(), "byte-order mark"),
    "Latin-1 bytes": (_text_with('50, "x": "\xe9"').decode().encode("latin-1"), "not UTF-8"),
    "NaN": (_text_with("NaN"), "NaN is not a number JSON allows"),
    "Infinity": (_text_with("Infinity"), "Infinity is not a number JSON allows"),
    "1e400": (_text_with("1e400"), "beyond a float's range"),
    "5,000 digits": (_text_with("9" * 5000), "a 5000-digit number"),
    "deep nesting": (_text_with("[" * 100_000 + "]" * 100_000), "nested deeper than 32 levels"),
    "duplicate key": (_text_with('50, "window": 51'), "the key 'window' appears twice"),
    "truncated": ((GOLDEN / "manifest.json").read_bytes()[:300], "not JSON"),
}


@pytest.mark.parametrize("case", sorted(MANIFEST_TEXTS))
def test_a_manifest_that_is_not_strict_utf8_json_is_an_input_error(tmp_path, case):
    raw, message = MANIFEST_TEXTS[case]
    bundle = golden_copy(tmp_path)
    write_manifest(bundle, raw)
    with pytest.raises(InputError, match=message):
        open_bundle(bundle)


def test_streaming_after_personalization_uses_the_new_labels_for_predictions_and_events():
    classifier = Classifier(GOLDEN)
    personal = ("walk", "sit", "stand", "lie")
    rng = np.random.default_rng(3)
    me = Personalizer(classifier, labels=personal, seed=1)
    windows = rng.normal(0, 3, (8, 50, 3))
    me.add(windows, [personal[i % 4] for i in range(8)])
    me.fit(epochs=2, holdout=0)
    stream = StreamingClassifier(classifier, events=[EventRule("walk", 0.0, 0.0)])
    update = stream.feed(rng.normal(0, 3, (100, 3)))
    assert len(update.predictions) == 3
    assert {p.label for p in update.predictions} <= set(personal)
    assert [e.label for e in update.events] == ["walk"]  # P > 0 in the first window


def test_a_stream_made_before_personalization_follows_the_labels_and_refuses_a_rule_whose_label_is_gone():
    classifier = Classifier(GOLDEN)
    stream = StreamingClassifier(classifier, events=[EventRule("WALKING", 0.9, 0.1)])
    weights = classifier.head_weights()
    classifier.set_head_weights(weights, labels=("a", "b", "c", "d"))
    with pytest.raises(InputError, match="event rule label 'WALKING' is not a class of the model"):
        stream.feed(np.zeros((60, 3)))
    plain = StreamingClassifier(classifier)
    assert {p.label for p in plain.feed(np.zeros((60, 3))).predictions} <= {"a", "b", "c", "d"}


WINDOW = np.random.default_rng(4).normal(0, 3, (1, 50, 3))
HOSTILE_INPUTS = {
    "bool": WINDOW.astype(bool),
    "complex": WINDOW.astype(complex),
    "str": WINDOW.astype(str),
    "bytes": WINDOW.astype("S8"),
    "datetime64": np.zeros(WINDOW.shape, "datetime64[s]"),
    "object": WINDOW.astype(object),
    "ragged list": [[[1.0, 2.0, 3.0]] * 49 + [[1.0, 2.0]]],
    "float64 beyond float32": np.full(WINDOW.shape, 1e39),
    "python int beyond int64": [[[2**70, 0, 0]] * 50],
}


@pytest.mark.parametrize("case", sorted(HOSTILE_INPUTS))
def test_classifier_and_stream_refuse_the_same_hostile_inputs_with_typed_errors(case):
    classifier = Classifier(GOLDEN)
    value = HOSTILE_INPUTS[case]
    chunk = value.reshape(-1, 3) if isinstance(value, np.ndarray) else value[0]
    with pytest.raises(InputError):
        classifier.predict_proba(value)
    with pytest.raises(InputError):
        StreamingClassifier(classifier).feed(chunk)
