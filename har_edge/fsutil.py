"""Atomic writes: build in a temporary sibling, then rename, so no half-written output stays on disk.

The temporary file or folder gets the mode a plain ``open``/``mkdir`` would give (0666/0777 less the
umask), not tempfile's private 0600/0700, so a CI artifact or a colleague can read the output."""

from __future__ import annotations

import glob
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from har_edge.errors import InputError, OutputExistsError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


def read_bounded(path: str | Path, limit: int, what: str = "file") -> bytes:
    """The bytes of regular file ``path`` of at most ``limit`` bytes, or an ``InputError`` naming it and
    the limit: a folder, FIFO, device (``/dev/zero``) or socket is refused before any byte is read
    (opened non-blocking, so a FIFO without a writer cannot hang), and at most ``limit`` + 1 bytes are
    ever read (a file that grows meanwhile is refused, not followed)."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{path}: the {what} is not a regular file")
        if info.st_size > limit:
            raise InputError(f"{path}: the {what} has {info.st_size:,} bytes; the limit is {limit:,} bytes")
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise InputError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from exc
    if len(data) > limit:
        raise InputError(f"{path}: the {what} grew past the limit of {limit:,} bytes while it was read")
    return data


def remove_stale_staging(target: str | Path) -> list[Path]:
    """Remove the staging folders of ``atomic_directory(target)`` left by killed processes (their
    names hold the writer's pid; a folder whose writer still runs is kept). Returns what was removed."""
    target = Path(target)
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(\d+)\.[^/]+\.tmp")
    removed = []
    for path in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        match = pattern.fullmatch(path.name)
        if match and path.is_dir() and not _alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill there terminates; keep everything
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def refuse_replacing_inputs(target: str | Path, inputs=()) -> None:
    """``InputError`` when ``target`` is one of ``inputs`` or a folder holding one, or the current folder
    (or holds it): writing it (with --overwrite, by replacing it) would delete that input or folder."""
    out = Path(target).resolve()
    here = Path.cwd().resolve()
    if out == here or out in here.parents:
        raise InputError(f"output {target} is the current folder or holds it; choose another output path")
    for source in inputs:
        held = Path(source).resolve()
        if held == out or out in held.parents:
            raise InputError(
                f"output {target} is the input {source} or a folder holding it; replacing it would delete "
                "the input: choose another output path"
            )


@contextmanager
def atomic_directory(target: str | Path, *, overwrite: bool = False, protect=()) -> Iterator[Path]:
    """Yield an empty temporary folder next to ``target``; on success it replaces ``target``.

    On an exception the temporary folder is removed and ``target`` is left as it was. With
    ``overwrite`` an existing ``target`` is replaced (moved aside first, deleted after the swap), but
    never when it is one of the ``protect`` paths or holds one (``refuse_replacing_inputs``).
    """
    target = Path(target)
    refuse_replacing_inputs(target, protect)
    if target.exists() and not overwrite:
        raise OutputExistsError(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(target)
    staging = Path(
        tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    )
    staging.chmod(0o777 & ~current_umask())
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
    staging.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temp file in the same folder, fsync it, then rename over ``path``.

    The writer holds an exclusive ``flock`` on its temp file, so temp files of ``path`` that nobody
    holds are leftovers of killed writes: each successful write removes them."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _locked_temp(path)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    remove_stale_temporaries(path)


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def _locked_temp(path: Path) -> tuple[int, str]:
    """A new temp file next to ``path``, locked by this process (retried if a cleaner removed it)."""
    while True:
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
        if fcntl is None:
            return fd, tmp
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.fstat(fd).st_ino == os.lstat(tmp).st_ino:
                return fd, tmp
        except FileNotFoundError:
            pass
        os.close(fd)  # a cleaner took it between mkstemp and flock: make another


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove temp files of ``path`` left by killed ``atomic_write_bytes`` calls (no writer holds their
    lock); returns what was removed. Without ``fcntl`` (Windows) nothing is removed."""
    path = Path(path)
    removed = []
    if fcntl is None:
        return removed
    for candidate in path.parent.glob(f"{glob.escape(_temp_prefix(path))}*.tmp"):
        try:
            fd = os.open(candidate, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            candidate.unlink()
            removed.append(candidate)
        except OSError:
            pass  # a live writer holds it, or it is gone already
        finally:
            os.close(fd)
    return removed


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def current_umask() -> int:
    """The process umask, read without changing it where /proc allows (else set and restored at once)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
