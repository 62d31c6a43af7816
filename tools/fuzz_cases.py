"""The fuzz campaign's surfaces: seed files, their mutations, and the code each mutated file is fed to.

Every surface is a function ``(rng, seeds, case_dir) -> Verdict`` run in a child process by
``tools/fuzz.py``. It mutates one seed, feeds it to har_edge the way a user would, and returns what
happened: ``accepted`` (with ``silent`` when the answer is detectably wrong: non-finite outputs, a
file read from outside a bundle, a value the contract says must be refused), or it raises. A
``HarEdgeError`` counts as a typed error, any other exception as untyped.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden" / "dense_int8"
MODEL_FILES = ("base.tflite", "head.tflite", "base_mcu.tflite")
WINDOWS = np.random.default_rng(0).normal(0, 3, (4, 50, 3))


@dataclass(frozen=True)
class Verdict:
    """``silent`` is the reason an accepted input gave a wrong answer, ``sanitizer`` what a generated
    program built with AddressSanitizer/UBSan reported, ``lost`` which user file went missing; or empty."""

    silent: str = ""
    sanitizer: str = ""
    lost: str = ""


# ------------------------------------------------------------------------------------------ mutations

INTERESTING_INTS = (0, 1, -1, 2, 7, 255, 256, 65535, 2**31 - 1, -(2**31), 2**32 - 1, 10**6)
HOSTILE_NUMBERS = ("inf", "-inf", "nan", "1e39", "-1e39", "1e400", "1_000", "١٢٣", "１２", "0x10", "", "--1")
HOSTILE_JSON = (
    None, "7", "", [], {}, True, -1, 0, 2**70, "../../etc/hostname", "/etc/hostname", "x" * 10_000,
    [None], {"a": None}, 1e-320,
)  # fmt: skip
NON_FINITE_TOKENS = ("NaN", "Infinity", "-Infinity", "1e400", "-1e400")


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """Byte-level damage: flips, zeroed runs, 32-bit field overwrites, truncation, splices."""
    b = bytearray(data)
    kind = rng.randrange(6)
    if kind == 0:
        for _ in range(rng.choice((1, 2, 4, 8))):
            b[rng.randrange(len(b))] = rng.choice((0, 255, rng.randrange(256)))
    elif kind == 1:
        start = rng.randrange(len(b))
        b[start : start + rng.choice((2, 4, 16))] = bytes(len(b[start : start + 4]))
    elif kind == 2:
        pos = rng.randrange(0, len(b) - 4) & ~3
        value = rng.choice(INTERESTING_INTS + (len(b), len(b) // 2, rng.randrange(1 << 32)))
        b[pos : pos + 4] = (value % (1 << 32)).to_bytes(4, "little")
    elif kind == 3:
        del b[rng.randrange(len(b)) :]
    elif kind == 4:
        start = rng.randrange(len(b))
        b[start:start] = b[rng.randrange(len(b)) :][: rng.randrange(1, 64)]
    else:
        pos = rng.randrange(len(b))
        b[pos] ^= 1 << rng.randrange(8)
    return bytes(b)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*prefix, i))


def mutate_json(rng: random.Random, data: dict) -> tuple[bytes, bool]:
    """A structurally hostile variant of ``data`` and whether it is one the reader must refuse
    (non-finite numbers, numbers too long, deep nesting, a BOM or UTF-16)."""
    data = json.loads(json.dumps(data))
    kind = rng.randrange(8)
    paths = [p for p in _paths(data) if p]
    path = rng.choice(paths)
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    must_refuse = False
    if kind <= 2:
        parent[path[-1]] = rng.choice(HOSTILE_JSON)
    elif kind == 3 and isinstance(parent, dict):
        del parent[path[-1]]
    elif kind == 4:
        parent[path[-1]] = "@@TOKEN@@"
    text = json.dumps(data, indent=1)
    if kind == 4:
        token = rng.choice(NON_FINITE_TOKENS + ("9" * 5000, "[" * 50_000 + "]" * 50_000))
        text, must_refuse = text.replace('"@@TOKEN@@"', token), True
    elif kind == 5:
        return ("\ufeff" + text).encode() if rng.random() < 0.5 else text.encode("utf-16"), True
    elif kind == 6:
        return mutate_bytes(rng, text.encode()), False
    elif kind == 7:
        text = text.replace("{", '{"dup": 1, "dup": 2, ', 1)
        must_refuse = True
    return text.encode(), must_refuse


NUMBER = re.compile(rb"(?<![\w.])-?\d+(?:\.\d+)?(?:e-?\d+)?(?![\w.])")


NOT_NUMBERS = ("1_000", "١٢٣", "１２", "0x10", "--1")


def mutate_text_numbers(rng: random.Random, data: bytes) -> tuple[bytes, bool]:
    """Replace a number with a hostile token, or damage lines. ``must_refuse``: the token is no number
    (infinities may be refused or become gaps; the caller checks no infinity gets through)."""
    kind = rng.randrange(5)
    matches = list(NUMBER.finditer(data))
    if kind <= 2 and matches:
        match = rng.choice(matches)
        token = rng.choice(HOSTILE_NUMBERS)
        return data[: match.start()] + token.encode() + data[match.end() :], token in NOT_NUMBERS
    lines = data.split(b"\n")
    if kind == 3:
        i = rng.randrange(len(lines))
        damaged = (b"", lines[i] * 3, lines[i][: len(lines[i]) // 2], b"x" * 200_000, b"\x00\xff")
        lines[i] = rng.choice(damaged)
        return b"\n".join(lines), False
    return mutate_bytes(rng, data), False


# -------------------------------------------------------------------------------------------- helpers


def copy_bundle(case_dir: Path) -> Path:
    bundle = case_dir / "bundle"
    shutil.copytree(GOLDEN, bundle, ignore=shutil.ignore_patterns("expected.npz"))
    return bundle


def rehash(bundle: Path, name: str) -> None:
    """Make the manifest agree with the file's new bytes (the attacker controls the whole bundle)."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    data = (bundle / name).read_bytes()
    manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data)}
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def check_predictions(classifier) -> Verdict:
    probabilities = classifier.predict_proba(WINDOWS)
    labels = classifier.predict(WINDOWS)
    if not np.isfinite(probabilities).all():
        return Verdict("non-finite probabilities returned")
    if not np.allclose(probabilities.sum(axis=1), 1, atol=1e-3):
        return Verdict("probabilities do not sum to 1")
    if not set(labels.tolist()) <= set(classifier.labels):
        return Verdict("a label outside the classifier's labels")
    return Verdict()


# ------------------------------------------------------------------------------------------- surfaces


def surface_tflite(rng: random.Random, seeds: dict, case_dir: Path) -> Verdict:
    from har_edge.runtime.classifier import Classifier
    from har_edge.tflite_info import count_macs, inspect_tflite

    name = rng.choice(MODEL_FILES)
    data = mutate_bytes(rng, (GOLDEN / name).read_bytes())
    if name == "base_mcu.tflite" or rng.random() < 0.3:
        inspect_tflite(data, name)
        count_macs(data, name)
        return Verdict()
    bundle = copy_bundle(case_dir)
    (bundle / name).write_bytes(data)
    rehash(bundle, name)
    return check_predictions(Classifier(bundle))


def surface_manifest(rng: random.Random, seeds: dict, case_dir: Path) -> Verdict:
    from har_edge.runtime.classifier import Classifier

    bundle = copy_bundle(case_dir)
    manifest = json.loads((bundle / "manifest.json").read_text())
    outside = case_dir / "outside.tflite"
    shutil.copy(GOLDEN / "base.tflite", outside)
    escaping = False
    if rng.random() < 0.25:  # path traversal: the file exists outside, with the right hash and size
        entry = manifest["files"].pop("base.tflite")
        target = rng.choice((str(outside), "../outside.tflite", "sub/../../outside.tflite", "link.tflite"))
        if target == "link.tflite":
            (bundle / target).symlink_to(outside)
        manifest["files"][target] = entry
        (bundle / "manifest.json").write_text(json.dumps(manifest))
        escaping = True
        raw, must_refuse = (bundle / "manifest.json").read_bytes(), True
    else:
        raw, must_refuse = mutate_json(rng, manifest)
    (bundle / "manifest.json").write_bytes(raw)
    verdict = check_predictions(Classifier(bundle))
    if escaping:
        return Verdict("a manifest naming a file outside the bundle was accepted")
    if must_refuse:
        return Verdict("a manifest that must be refused was accepted")
    return verdict


def surface_checkpoint(rng: random.Random, seeds: dict, case_dir: Path) -> Verdict:
    from har_edge.runtime.checkpoint import CHECKPOINT_MAGIC, CHECKSUM_BYTES
    from har_edge.runtime.classifier import Classifier
    from har_edge.runtime.personalize import Personalizer

    data = seeds["checkpoint"].read_bytes()
    header_line, _, rest = data[len(CHECKPOINT_MAGIC) :].partition(b"\n")
    payload = rest[:-CHECKSUM_BYTES]
    must_refuse = False
    kind = rng.randrange(4)
    if kind == 0:  # a forged header with a valid checksum
        raw, must_refuse = mutate_json(rng, json.loads(header_line))
        header_line = raw.replace(b"\n", b" ")
    elif kind == 1:  # forged weights with a valid checksum
        weights = np.frombuffer(payload, "<f4").copy()
        weights[rng.randrange(len(weights))] = rng.choice((np.nan, np.inf, -np.inf, 3e7, -1e30))
        payload, must_refuse = weights.tobytes(), True
    elif kind == 2:
        payload = mutate_bytes(rng, payload)
    body = CHECKPOINT_MAGIC + header_line + b"\n" + payload
    forged = body + hashlib.sha256(body).digest()
    if kind == 3:
        forged = mutate_bytes(rng, data)
    path = case_dir / "me.ckpt"
    path.write_bytes(forged)
    classifier = Classifier(GOLDEN)
    Personalizer(classifier).restore(path)
    verdict = check_predictions(classifier)
    return Verdict("a forged checkpoint was restored") if must_refuse else verdict


def surface_report(rng: random.Random, seeds: dict, case_dir: Path) -> Verdict:
    report = json.loads(seeds["report"].read_text())
    if rng.random() < 0.15:
        report["results"].append(report["results"][0])
        raw, must_refuse = json.dumps(report).encode(), True
    else:
        raw, must_refuse = mutate_json(rng, report)
    (case_dir / "report.json").write_bytes(raw)
    return _gate(case_dir / "report.json", seeds["budgets"], must_refuse)


BUDGET_VALUES = ("10**400", "9" * 5000, "nan", "inf", "-inf", "-1", '"100"', "1e400", "[1]", "{a = 1}")


def surface_budgets(rng: random.Random, seeds: dict, case_dir: Path) -> Verdict:
    text = seeds["budgets"].read_text()
    must_refuse = False
    kind = rng.randrange(4)
    if kind == 0:
        lines = [i for i, line in enumerate(text.splitlines()) if "=" in line]
        rows = text.splitlines()
        i = rng.choice(lines)
        value = rng.choice(BUDGET_VALUES)
        rows[i] = rows[i].split("=")[0] + "= " + value
        text, must_refuse = "\n".join(rows) + "\n", value in ("nan", "inf", "-inf")
    elif kind == 1:
        text, must_refuse = "\ufeff" + text, True
    elif kind == 2:
        depth = rng.choice((10, 1000, 100_000))
        text += "\nx = " + "[" * depth + "]" * depth + "\n"
    raw = text.encode() if kind != 3 else mutate_bytes(rng, text.encode())
    (case_dir / "budgets.toml").write_bytes(raw)
    return _gate(seeds["report"], case_dir / "budgets.toml", must_refuse)


def _gate(report: Path, budgets: Path, must_refuse: bool) -> Verdict:
    from har_edge.cli import main

    code = main(["gate", str(report), "--budgets", str(budgets)])
    if code == 2:
        raise TypedExit()
    return Verdict("the gate accepted input it must refuse" if must_refuse else "")


class TypedExit(Exception):
    """The CLI returned exit 2 with a message: a typed error."""


DATA_FORMATS = {  # format -> (load options, whether every number in the seed is read)
    "hapt": ({}, True),
    "hhar": ({}, False),
    "wisdm": ({}, False),  # broken records are skipped with a note, by design
    "pamap2": ({}, False),
    "uea": ({}, True),
    "csv": ({"columns": {"acc_x": "ax", "acc_y": "ay", "acc_z": "az"}, "time_column": "t_ms"}, True),
}


def surface_data(rng: random.Random, seeds: dict, case_dir: Path) -> Verdict:
    from har_edge.data.formats import load

    fmt = rng.choice(sorted(DATA_FORMATS))
    options, every_number_read = DATA_FORMATS[fmt]
    seed = seeds[fmt]
    if seed.is_dir():
        target = case_dir / seed.name
        shutil.copytree(seed, target)
        victim = rng.choice(sorted(p for p in target.iterdir() if p.is_file()))
    else:
        target = victim = case_dir / seed.name
        shutil.copy(seed, target)
    if fmt == "uea" and rng.random() < 0.2:
        raw = re.sub(rb"@dimensions \d+", b"@dimensions 123456789012345678", victim.read_bytes())
        victim.write_bytes(raw)
        must_refuse = True
    else:
        raw, must_refuse = mutate_text_numbers(rng, victim.read_bytes())
        victim.write_bytes(raw)
        must_refuse = must_refuse and every_number_read
    dataset = load(str(target), fmt, **options)
    for recording in dataset.recordings:
        if np.isinf(recording.samples).any():
            return Verdict(f"{fmt}: infinite samples accepted")
    return Verdict(f"{fmt}: a hostile number was accepted as data" if must_refuse else "")


def hostile_input(rng: random.Random, *, stream: bool):
    """A runtime input that must be refused: a batch of windows, or for ``stream`` a chunk of samples."""
    window = WINDOWS[:2]
    choices = [
        lambda: window.astype(bool),
        lambda: window.astype(complex),
        lambda: window.astype(str),
        lambda: window.astype("S8"),
        lambda: np.zeros(window.shape, "datetime64[s]"),
        lambda: window.astype(object),
        lambda: np.full(window.shape, 1e39),
        lambda: np.full(window.shape, -3.5e38),
        lambda: np.where(np.arange(window.size).reshape(window.shape) == 5, np.nan, window),
        lambda: [[[2**70, 0, 0]] * 50],
        lambda: [[[1.0, 2.0, 3.0], [1.0, 2.0]]],
        lambda: "abc",
        lambda: b"\x00" * 600,
        lambda: None,
        lambda: np.float64(1.0),
    ]
    if not stream:  # shapes a stream takes as chunks
        choices += [lambda: np.zeros((0, 50, 3)), lambda: np.zeros((2, 49, 3))]
    value = rng.choice(choices)()
    if stream and isinstance(value, np.ndarray) and value.ndim == 3:
        return value.reshape(-1, 3)
    if stream and isinstance(value, list):
        return value[0]
    return value


def surface_inputs(rng: random.Random, seeds: dict, case_dir: Path) -> Verdict:
    from har_edge.runtime.classifier import Classifier
    from har_edge.runtime.stream import StreamingClassifier

    classifier = Classifier(GOLDEN)
    if rng.random() < 0.5:
        classifier.predict_proba(hostile_input(rng, stream=False))
    else:
        StreamingClassifier(classifier).feed(hostile_input(rng, stream=True))
    return Verdict("a hostile runtime input was accepted")


from fuzz_firmware import surface_firmware  # noqa: E402 - needs Verdict and TypedExit defined above

SURFACES = {
    "firmware": surface_firmware,
    "tflite": surface_tflite,
    "manifest": surface_manifest,
    "checkpoint": surface_checkpoint,
    "report": surface_report,
    "budgets": surface_budgets,
    "data": surface_data,
    "inputs": surface_inputs,
}
