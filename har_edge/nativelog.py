"""Native log lines (TensorFlow's absl/cudart/oneDNN start-up lines, the converter's ``fully_quantize:``
lines, LiteRT's XNNPACK INFO line) filtered out of stderr while a verb runs.

They are written by C++ straight to file descriptor 2, so Python's logging cannot silence them: for
the duration of ``filtered_stderr()`` fd 2 is a pipe whose lines a thread forwards to the real
stderr unless they match ``NOISE``. Everything else (errors, warnings, progress bars) passes through
unchanged. Standard library only, so the runtime may use it too.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

NOISE = re.compile(
    rb"^(?:[IWE]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\]"  # absl: I0000 00:00:1796.9 5164 cudart_stub.cc:31]
    rb"|WARNING: All log messages before absl::InitializeLog\(\)"
    rb"|INFO: Created TensorFlow Lite XNNPACK delegate"
    rb"|fully_quantize: "
    rb"|.*oneDNN custom operations are on"
    rb"|To enable the following instructions:"
    rb"|This TensorFlow binary is optimized)"
)
_SHORTEST_NOISE_START = 16  # native loggers write a prefix ("INFO: ") apart: hold a shorter partial line
_MAYBE_NOISE = re.compile(rb"^(?:[IWE]\d|WARNING: All|INFO: Cre|fully_q|To enable|This Tensor)")


@contextmanager
def filtered_stderr(enabled: bool = True) -> Iterator[None]:
    """Drop ``NOISE`` lines from fd 2 inside the block (a no-op when not ``enabled``)."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    real = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    pump = threading.Thread(target=_forward, args=(read_end, real), daemon=True)
    pump.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(real, 2)  # closes the pipe's write end: the pump reads to the end and stops
        pump.join(timeout=5)
        os.close(real)


def _forward(read_end: int, real: int) -> None:
    pending = b""
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        while chunk := pipe.read(65536):
            *lines, pending = (pending + chunk).split(b"\n")
            kept = [line + b"\n" for line in lines if not NOISE.match(line)]
            if len(pending) >= _SHORTEST_NOISE_START and not _MAYBE_NOISE.match(pending):  # a progress bar
                kept.append(pending)
                pending = b""
            if kept:
                os.write(real, b"".join(kept))
    if pending and not NOISE.match(pending):
        os.write(real, pending)
