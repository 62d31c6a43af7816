"""An OpenSSH server on loopback for tests: its own config, host key and client key in a temp folder.

Caveats: it logs in as the current user (whose shell must be POSIX), it needs ``/run/sshd`` (created
here, so it needs the rights to create it: root in CI), and it refuses passwords; only the generated
client key is accepted.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")
PRIVILEGE_SEPARATION_DIR = Path("/run/sshd")
READY_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class LoopbackSshd:
    """A running server: connect as ``user`` to 127.0.0.1:``port`` with ``client_key`` and ``ssh_options``."""

    port: int
    user: str
    client_key: Path
    ssh_options: tuple[str, ...]

    @property
    def url(self) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}"


def missing_tools() -> list[str]:
    """What this machine lacks to run the fixture (empty when it has everything)."""
    missing = [] if SSHD.is_file() else [str(SSHD)]
    return missing + [tool for tool in ("ssh", "ssh-keygen") if shutil.which(tool) is None]


def free_port() -> int:
    """A loopback TCP port nothing listens on right now (another process may take it later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def loopback_sshd(folder: Path) -> Iterator[LoopbackSshd]:
    """Start ``sshd -D`` on a free loopback port, everything it needs under ``folder``; stop it on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    host_key, client_key = folder / "host_ed25519", folder / "client_ed25519"
    for key in (host_key, client_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    authorized_keys = folder / "authorized_keys"
    authorized_keys.write_text(client_key.with_suffix(".pub").read_text())
    port = free_port()
    config = folder / "sshd_config"
    config.write_text(
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {_quoted(host_key)}\n"
        f"AuthorizedKeysFile {_quoted(authorized_keys)}\n"
        f"PidFile {_quoted(folder / 'sshd.pid')}\n"
        "StrictModes no\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UsePAM no\n"
    )
    PRIVILEGE_SEPARATION_DIR.mkdir(parents=True, exist_ok=True)
    log = (folder / "sshd.log").open("wb")
    server = subprocess.Popen(
        [str(SSHD), "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        _wait_until_listening(port, server, folder / "sshd.log")
        yield LoopbackSshd(
            port=port,
            user=getpass.getuser(),
            client_key=client_key,
            ssh_options=(
                f"UserKnownHostsFile={_quoted(folder / 'known_hosts')}",
                "StrictHostKeyChecking=accept-new",
            ),
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _quoted(path: Path) -> str:
    """A path as one word of an OpenSSH config line (paths with spaces would otherwise split)."""
    if '"' in str(path):
        raise ValueError(f"OpenSSH config cannot quote a path containing a double quote: {path}")
    return f'"{path}"'


def _wait_until_listening(port: int, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"sshd exited with code {server.returncode}: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(
        f"sshd did not listen on 127.0.0.1:{port} within {READY_TIMEOUT_S} s: {log.read_text()}"
    )


def require_toolchains() -> bool:
    """True when CI asks for missing toolchains to fail the tests instead of skipping them."""
    return os.environ.get("HAR_EDGE_REQUIRE_TOOLCHAINS") == "1"
