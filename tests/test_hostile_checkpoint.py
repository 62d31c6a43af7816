"""Checkpoints are untrusted: the header follows a strict schema, forged weights (non-finite or absurd)
are refused even with a valid checksum, and temp files left by killed saves are removed by the next
save (while a save that is still running keeps its own)."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys

import numpy as np
import pytest

from har_edge.errors import InputError
from har_edge.fsutil import atomic_write_bytes
from har_edge.runtime.checkpoint import CHECKPOINT_MAGIC, CHECKSUM_BYTES
from har_edge.runtime.classifier import Classifier
from har_edge.runtime.personalize import Personalizer
from tests.hostile_support import GOLDEN, REPO


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("ckpt") / "me.ckpt"
    Personalizer(Classifier(GOLDEN)).save(path)
    return path.read_bytes()


def _parts(data: bytes) -> tuple[dict, bytes]:
    header, _, rest = data[len(CHECKPOINT_MAGIC) :].partition(b"\n")
    return json.loads(header), rest[:-CHECKSUM_BYTES]


def _forge(header: dict | bytes, payload: bytes) -> bytes:
    """A checkpoint with a valid checksum: what someone who edits the file by hand produces."""
    line = header if isinstance(header, bytes) else json.dumps(header).encode()
    body = CHECKPOINT_MAGIC + line + b"\n" + payload
    return body + hashlib.sha256(body).digest()


def _restore(tmp_path, data: bytes) -> Classifier:
    path = tmp_path / "forged.ckpt"
    path.write_bytes(data)
    classifier = Classifier(GOLDEN)
    Personalizer(classifier).restore(path)
    return classifier


def test_an_unmodified_checkpoint_restores(tmp_path, saved):
    classifier = _restore(tmp_path, saved)
    assert np.isfinite(classifier.predict_proba(np.zeros((1, 50, 3)))).all()


HEADER_EDITS = {
    "version true": (lambda h: {**h, "format_version": True}, "format version True"),
    "version 1.0": (lambda h: {**h, "format_version": 1.0}, "format version 1.0"),
    "version string": (lambda h: {**h, "format_version": "1"}, "format version '1'"),
    "negative dimension": (
        lambda h: {**h, "parameters": [["w0", [-400, 4]], ["b0", [4]]]},
        r"expected an integer",
    ),
    "string dimension": (
        lambda h: {**h, "parameters": [["w0", ["400", 4]], ["b0", [4]]]},
        "expected an integer",
    ),
    "float dimension": (
        lambda h: {**h, "parameters": [["w0", [400.0, 4]], ["b0", [4]]]},
        "expected an integer",
    ),
    "unknown parameter": (lambda h: {**h, "parameters": [["evil", [400, 4]], ["b0", [4]]]}, "must be named"),
    "nested labels": (
        lambda h: {**h, "labels": [["WALKING"], "SITTING"]},
        r"labels\[0\]: expected a non-empty",
    ),
    "nested bundle": (lambda h: {**h, "bundle": {"base.tflite": {"x": 1}}}, r"\.bundle"),
    "extra field": (lambda h: {**h, "shell": "rm -rf /"}, r"unknown \['shell'\]"),
}


@pytest.mark.parametrize("case", sorted(HEADER_EDITS))
def test_a_forged_header_with_a_valid_checksum_is_an_input_error(tmp_path, saved, case):
    edit, message = HEADER_EDITS[case]
    header, payload = _parts(saved)
    with pytest.raises(InputError, match=message):
        _restore(tmp_path, _forge(edit(header), payload))


@pytest.mark.parametrize(
    "header", [b"[" * 100_000, b'{"format_version": 1' + b"9" * 5000 + b"}", b"\xff\xfe{}"]
)
def test_a_header_that_is_no_strict_json_is_an_input_error(tmp_path, saved, header):
    _, payload = _parts(saved)
    with pytest.raises(InputError, match="corrupted or truncated checkpoint"):
        _restore(tmp_path, _forge(header, payload))


@pytest.mark.parametrize(
    ("value", "message"), [(np.nan, "NaN or infinite"), (-np.inf, "NaN or infinite"), (2e6, "over")]
)
def test_forged_non_finite_or_absurd_weights_are_refused(tmp_path, saved, value, message):
    header, payload = _parts(saved)
    weights = np.frombuffer(payload, "<f4").copy()
    weights[123] = value
    with pytest.raises(InputError, match=f"forged.ckpt: head weight w0 .*{message}"):
        _restore(tmp_path, _forge(header, weights.tobytes()))


KILLED_SAVE = """
import os, sys, time
from pathlib import Path
import har_edge.fsutil as fsutil
os.fsync = lambda fd: (print("writing", flush=True), time.sleep(600))  # stuck mid-save
fsutil.atomic_write_bytes(Path(sys.argv[1]), b"new checkpoint")
"""


def _start_stuck_save(path):
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_SAVE, str(path)], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    assert child.stdout.readline() == "writing\n"
    return child


def _temps(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_the_next_save_removes_temp_files_of_killed_saves_but_keeps_a_running_ones(tmp_path):
    path = tmp_path / "me.ckpt"
    killed = _start_stuck_save(path)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    running = _start_stuck_save(path)
    try:
        assert len(_temps(tmp_path)) == 2
        atomic_write_bytes(path, b"checkpoint")
        assert len(_temps(tmp_path)) == 1  # the running save's temp file stays
        assert path.read_bytes() == b"checkpoint"
    finally:
        running.kill()
        running.wait()
    atomic_write_bytes(path, b"checkpoint 2")
    assert _temps(tmp_path) == []


def test_personalizer_save_cleans_up_after_a_killed_save(tmp_path):
    path = tmp_path / "me.ckpt"
    killed = _start_stuck_save(path)
    killed.kill()
    killed.wait()
    Personalizer(Classifier(GOLDEN)).save(path)
    assert _temps(tmp_path) == [] and path.read_bytes().startswith(CHECKPOINT_MAGIC)
