"""A real device over SSH (``ssh://user@host[:port]``, e.g. a Raspberry Pi): latency measured there.

``measure`` copies the runtime wheel (``wheel.build_runtime_wheel``) and the artifact to
``remote_dir`` on the device, sets up a venv there (``python3 -m venv``, ``pip install numpy
ai-edge-litert``, then the wheel with ``--no-deps``) or reuses it, and runs ``python -m
har_edge.runtime.benchmark`` in it. A marker file in ``remote_dir`` holds the venv's key (interpreter
and requirements) and the installed wheel's sha256: a changed key rebuilds the venv, a changed wheel
is reinstalled alone, otherwise the venv is reused as it is. Two ssh connections per measurement.

Caveats: the system ``ssh`` client does the work with ``BatchMode=yes``, so authentication must need
no prompt (a key without passphrase, an agent, or ``identity_file``); the device's login shell must be
POSIX (sh, bash, zsh) and have ``tar``; the first measurement installs numpy and a TFLite interpreter
from the device's package index (32-bit Raspberry Pi OS needs ``requirements=("numpy<2",
"tflite-runtime")``); two processes measuring on one device with the same ``remote_dir`` at once
may race on the venv setup. A timed-out command is killed locally; the device may finish it anyway.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import shlex
import subprocess
import tarfile
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from har_edge.errors import InputError, RemoteError
from har_edge.runtime.benchmark import Calibration
from har_edge.targets.base import Artifact, Provenance, TargetFigures
from har_edge.targets.wheel import build_runtime_wheel

DEFAULT_REMOTE_DIR = "~/.cache/har_edge"
DEFAULT_REQUIREMENTS = ("numpy", "ai-edge-litert")
VENV_DIR = "venv"
MARKER_FILE = "venv.marker"
RUNS_DIR = "runs"
SSH_FAILED = 255  # ssh's own exit code for connection and authentication failures
SETUP_FAILED = 97  # the measure script's exit code when the venv setup failed
STDERR_TAIL_LINES = 3

# ssh's stderr -> what went wrong, checked in order.
CONNECTION_PROBLEMS = (
    ("connection refused", "connection refused (is sshd running and listening on that port?)"),
    ("permission denied", "authentication failed (no prompts: use a key, an agent or identity_file)"),
    ("timed out", "timed out"),
    ("could not resolve hostname", "unknown host name"),
    ("no route to host", "host unreachable"),
    ("network is unreachable", "network unreachable"),
    ("host key verification failed", "host key verification failed (is the host in known_hosts?)"),
)


@dataclass(frozen=True)
class RemoteTarget:
    """A device reached with the system ``ssh`` client. Build it with ``from_url``.

    ``connect_timeout`` bounds connecting (seconds); ``command_timeout`` bounds the copy and the
    benchmark, ``setup_timeout`` the venv setup. ``remote_dir`` (``~`` is the remote home) holds the
    venv and the uploads; ``python`` is the device's interpreter the venv is made from.
    """

    host: str
    port: int = 22
    user: str | None = None
    identity_file: str | None = None
    ssh_options: tuple[str, ...] = ()
    connect_timeout: float = 10
    python: str = "python3"
    pip_options: tuple[str, ...] = ()
    requirements: tuple[str, ...] = DEFAULT_REQUIREMENTS
    threads: int = 1
    min_seconds: float = 0.3
    remote_dir: str = DEFAULT_REMOTE_DIR
    command_timeout: float = 600
    setup_timeout: float = 1800

    def __post_init__(self) -> None:
        if not self.host:
            raise InputError("remote target: the host is empty")
        if not 0 < self.port < 65536:
            raise InputError(f"remote target {self.host}: port {self.port} is not in 1..65535")
        if self.threads < 1:
            raise InputError(f"remote target {self.host}: threads must be at least 1, got {self.threads}")
        for option in ("connect_timeout", "command_timeout", "setup_timeout", "min_seconds"):
            if not getattr(self, option) > 0:
                raise InputError(f"remote target {self.host}: {option} must be positive")
        if not self.requirements:
            raise InputError(f"remote target {self.host}: requirements must name the device's packages")

    @classmethod
    def from_url(cls, url: str, **options) -> RemoteTarget:
        """Parse ``ssh://[user@]host[:port]`` (port 22 by default); ``options`` are the other fields.
        A password in the URL is refused: ssh runs without prompts, so it could never be used."""
        parts = urlsplit(url)
        if parts.scheme != "ssh":
            raise InputError(f"remote target {url!r}: expected ssh://[user@]host[:port]")
        try:
            port = 22 if parts.port is None else parts.port
        except ValueError as exc:
            raise InputError(f"remote target {url!r}: bad port ({exc})") from None
        if not parts.hostname:
            raise InputError(f"remote target {url!r}: no host (expected ssh://[user@]host[:port])")
        if parts.password is not None:
            raise InputError(
                f"remote target {parts.hostname}: a password in the URL is not supported; use a key"
            )
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise InputError(f"remote target {url!r}: unexpected path or query after host[:port]")
        return cls(host=parts.hostname, port=port, user=parts.username or None, **options)

    @property
    def name(self) -> str:
        """``ssh://[user@]host:port``: what reports and budgets call this target."""
        return f"ssh://{self.address}"

    @property
    def address(self) -> str:
        """``[user@]host:port``, as messages name the device."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user + '@' if self.user else ''}{host}:{self.port}"

    def check(self) -> None:
        """Connect once and run ``true``; a ``RemoteError`` says why the device cannot be used."""
        self._ssh("true", timeout=self.connect_timeout + 5, what="connection check")

    def measure(self, artifact: Artifact) -> TargetFigures:
        """Latency of ``artifact`` on the device. A failure on the device (connection, setup, benchmark)
        gives figures with ``error`` set instead of raising."""
        if artifact.bundle_path is None and artifact.head_bytes is not None:
            raise InputError("a split artifact needs its bundle folder to be timed end to end")
        try:
            return self._measure(artifact)
        except RemoteError as exc:
            return TargetFigures(target=self.name, details={"remote": self.name}, error=str(exc))

    def _measure(self, artifact: Artifact) -> TargetFigures:
        with tempfile.TemporaryDirectory(prefix="har_edge_wheel_") as folder:
            wheel = build_runtime_wheel(folder)
            wheel_bytes = wheel.read_bytes()
        run = f"{RUNS_DIR}/{uuid.uuid4().hex}"
        payload, artifact_name = _upload_payload(wheel.name, wheel_bytes, artifact)
        have = tuple(self._upload(payload, run).splitlines()[:2])
        wanted = (self._venv_key(), hashlib.sha256(wheel_bytes).hexdigest())
        venv_reused = have[:1] == wanted[:1]
        setup = (
            [] if have == wanted else self._setup_commands(run, wheel.name, wanted, rebuild=not venv_reused)
        )
        result = self._run_benchmark(setup, run, f"{run}/{artifact_name}")
        timing = result["timing"]
        try:
            calibration = Calibration.from_dict(result.get("calibration"))
        except InputError as exc:
            raise RemoteError(f"benchmark on {self.address}: {exc}") from exc
        return TargetFigures(
            target=self.name,
            latency_us_p50=timing["p50_us"],
            latency_us_p90=timing["p90_us"],
            latency_n=timing["n"],
            threads=timing["threads"],
            provenance={"latency": Provenance.MEASURED.value},
            details={
                "machine": result["machine"],
                "calibration": calibration.to_dict(),
                "remote": self.name,
                "remote_venv": f"{self.remote_dir}/{VENV_DIR}",
                "venv_reused": venv_reused,
            },
        )

    def _venv_key(self) -> str:
        return json.dumps({"python": self.python, "requirements": list(self.requirements)})

    def _upload(self, payload: bytes, run: str) -> str:
        """Unpack ``payload`` (a tar) into ``remote_dir/run``; return the venv marker's text ('' when there
        is no marker or no venv)."""
        work = _remote_path(self.remote_dir)
        script = (
            f"mkdir -p {work}/{shlex.quote(run)} && cd {work} && tar -xf - -C {shlex.quote(run)} "
            f"&& {{ [ -x {VENV_DIR}/bin/python ] && cat {MARKER_FILE} 2>/dev/null || true; }}"
        )
        return self._ssh(script, timeout=self.command_timeout, what="upload", stdin=payload).stdout

    def _setup_commands(self, run: str, wheel: str, marker: tuple[str, str], *, rebuild: bool) -> list[str]:
        """Shell commands, run in ``remote_dir``, that bring the venv to ``marker`` (key, wheel sha256):
        ``rebuild`` makes a new venv with the requirements first, else only the wheel is reinstalled."""
        pip = f"{VENV_DIR}/bin/python -m pip install -q {_words(self.pip_options)}"
        commands = [
            f"rm -rf {VENV_DIR} {MARKER_FILE}",
            f"{_remote_path(self.python)} -m venv {VENV_DIR}",
            f"{pip} {_words(self.requirements)}",
        ]
        return [
            *(commands if rebuild else []),
            f"{pip} --no-deps --force-reinstall {shlex.quote(f'{run}/{wheel}')}",
            f"printf '%s\\n' {_words(marker)} > {MARKER_FILE}",
        ]

    def _run_benchmark(self, setup: list[str], run: str, artifact: str) -> dict:
        """Set up the venv (when ``setup`` has commands) and run the benchmark in one connection; the
        upload folder is removed whatever happens. Returns the benchmark's JSON figures."""
        benchmark = (
            f"{VENV_DIR}/bin/python -m har_edge.runtime.benchmark {shlex.quote(artifact)} "
            f"--threads {self.threads} --min-seconds {self.min_seconds}"
        )
        lines = [
            f"cd {_remote_path(self.remote_dir)} || exit {SETUP_FAILED}",
            f"trap 'rm -rf {shlex.quote(run)}' EXIT",
            "export PIP_DISABLE_PIP_VERSION_CHECK=1",
        ]
        if setup:
            lines.append(f"{{ {' && '.join(setup)}; }} >&2 || exit {SETUP_FAILED}")
        lines.append(benchmark)
        timeout = self.command_timeout + (self.setup_timeout if setup else 0)
        completed = self._run("\n".join(lines), timeout=timeout, what="benchmark")
        if completed.returncode == SETUP_FAILED:
            raise RemoteError(f"venv setup on {self.address} failed: {_tail(completed.stderr)}")
        output = _last_json_line(completed.stdout)
        if output is None or completed.returncode not in (0, 2):
            raise self._failure("benchmark", completed)
        if "error" in output:
            raise RemoteError(f"benchmark on {self.address}: {output['error']}")
        return output

    def _ssh(self, script: str, *, timeout: float, what: str, stdin: bytes | None = None):
        """``_run`` that also treats a non-zero exit of ``script`` as a ``RemoteError``."""
        completed = self._run(script, timeout=timeout, what=what, stdin=stdin)
        if completed.returncode != 0:
            raise self._failure(what, completed)
        return completed

    def _failure(self, what: str, completed: subprocess.CompletedProcess) -> RemoteError:
        return RemoteError(
            f"{what} on {self.address} failed (exit {completed.returncode}): {_tail(completed.stderr)}"
        )

    def _run(self, script: str, *, timeout: float, what: str, stdin: bytes | None = None):
        """Run ``script`` in the device's login shell. Connection failures and timeouts raise
        ``RemoteError``; the script's own exit code is returned."""
        try:
            completed = subprocess.run(
                [*self._ssh_command(), script],
                input=stdin or b"",  # never the caller's stdin
                capture_output=True,
                timeout=timeout,
            )
        except FileNotFoundError:
            raise RemoteError("the ssh client is not installed (no 'ssh' on PATH)") from None
        except subprocess.TimeoutExpired:
            raise RemoteError(f"{what} on {self.address} timed out after {timeout:g} s") from None
        completed = subprocess.CompletedProcess(
            completed.args,
            completed.returncode,
            completed.stdout.decode(errors="replace"),
            completed.stderr.decode(errors="replace"),
        )
        if completed.returncode == SSH_FAILED:
            last_line = _tail(completed.stderr, lines=1)
            problem = next(
                (text for needle, text in CONNECTION_PROBLEMS if needle in last_line.lower()), "ssh failed"
            )
            raise RemoteError(f"cannot use {self.address} over ssh: {problem}; ssh said: {last_line}")
        return completed

    def _ssh_command(self) -> list[str]:
        """``ssh`` without prompts and with a connect timeout, then each of ``ssh_options`` as ``-o
        OPTION`` (ssh keeps the first value it sees for an option, so ours cannot be overridden)."""
        command = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={math.ceil(self.connect_timeout)}"]
        for option in self.ssh_options:
            command += ["-o", option]
        if self.identity_file:
            command += ["-i", str(self.identity_file)]
        destination = f"{self.user}@{self.host}" if self.user else self.host
        return [*command, "-p", str(self.port), "--", destination]


def _upload_payload(wheel_name: str, wheel_bytes: bytes, artifact: Artifact) -> tuple[bytes, str]:
    """A tar of the wheel and the artifact (the bundle folder, or the model as a .tflite), and the
    artifact's name inside it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _add_bytes(tar, wheel_name, wheel_bytes)
        if artifact.bundle_path is not None:
            name = "bundle"
            tar.add(Path(artifact.bundle_path), arcname=name, recursive=True)
        else:
            name = "model.tflite"
            _add_bytes(tar, name, artifact.model_bytes)
    return buffer.getvalue(), name


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def _remote_path(path: str) -> str:
    """``path`` as one word of a POSIX shell command, with a leading ``~`` still meaning the home."""
    if path == "~":
        return '"$HOME"'
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


def _words(values) -> str:
    return " ".join(shlex.quote(value) for value in values)


def _tail(text: str, *, lines: int = STDERR_TAIL_LINES) -> str:
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(kept) or "(no output)"


def _last_json_line(stdout: str) -> dict | None:
    """The benchmark's figures: the last stdout line, if it is a JSON object."""
    lines = stdout.strip().splitlines()
    try:
        value = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
