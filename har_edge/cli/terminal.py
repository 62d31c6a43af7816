"""What the CLI prints is text for a terminal: control characters that a hostile label, tensor name or
file name could carry (ANSI/OSC escape sequences that recolour, retitle or rewrite the screen, C1
controls, BEL) are shown as ``\\xNN`` instead of being sent raw. Tab, newline and carriage return (the
progress bars') pass unchanged."""

from __future__ import annotations

import re
import sys
from contextlib import contextmanager

_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    return _CONTROLS.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


class _Printable:
    """A text stream whose ``write`` escapes control characters; anything else goes to ``stream``."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(escape_controls(text))
        return len(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


@contextmanager
def printable_streams():
    """``sys.stdout`` and ``sys.stderr`` escape control characters for the block."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Printable(saved[0]), _Printable(saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
