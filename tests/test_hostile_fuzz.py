"""A short seeded slice of the fault-injection campaign (``tools/fuzz.py``; the long run is
``python tools/fuzz.py --cases 10000 --seed 1``): every surface gets hostile inputs, and none of them
crashes, hangs, escapes as an untyped exception or is accepted with a wrong answer."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.hostile_support import REPO

SLICE_CASES = 140
BAD = ("other exception", "crash", "hang", "sanitizer report", "lost file", "silent wrong answer")


def test_a_seeded_fuzz_slice_has_no_crash_hang_untyped_error_or_silent_wrong_answer(tmp_path):
    out = tmp_path / "fuzz.json"
    command = [sys.executable, "tools/fuzz.py", "--cases", str(SLICE_CASES), "--seed", "20261201"]
    command += ["--timeout", "30", "--json", str(out)]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    counts = json.loads(out.read_text())["counts"]
    bad = {surface: {o: c[o] for o in BAD if c.get(o)} for surface, c in counts.items()}
    assert {surface: found for surface, found in bad.items() if found} == {}, result.stdout[-3000:]
    assert result.returncode == 0
    assert sum(sum(c.values()) for c in counts.values()) == SLICE_CASES
    assert all(c.get("typed error", 0) > 0 for c in counts.values())  # the mutations reach the checks
