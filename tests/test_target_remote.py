"""The remote (ssh://) target against an OpenSSH server on loopback, and the runtime wheel it ships.

The "device" is this machine: sshd from ``tests/sshd.py`` logs the current user in, and the runner
builds its venv from the ``python3`` a non-login ssh shell finds (no TensorFlow there), under a
per-session remote folder whose name has a space and a quote in it. The first measurement installs
numpy and ai-edge-litert into that venv from the package index.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from har_edge.errors import InputError
from har_edge.runtime.benchmark import CALIBRATION_METHOD
from har_edge.targets.base import Artifact
from har_edge.targets.remote import MARKER_FILE, RUNS_DIR, RemoteError, RemoteTarget
from har_edge.targets.wheel import build_runtime_wheel
from tests.sshd import LoopbackSshd, free_port, loopback_sshd, missing_tools, require_toolchains

GOLDEN = Path(__file__).parent / "golden" / "dense_int8"
PROBE_TENSORFLOW = "import importlib.util, sys; sys.exit(importlib.util.find_spec('tensorflow') is not None)"


@pytest.fixture(scope="module")
def ssh_tools() -> None:
    """Skip (or, with HAR_EDGE_REQUIRE_TOOLCHAINS=1, fail) when sshd or the ssh client is missing."""
    missing = missing_tools()
    if missing:
        message = f"OpenSSH missing ({', '.join(missing)}): apt-get install openssh-server openssh-client"
        if require_toolchains():
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def sshd(ssh_tools, tmp_path_factory) -> Iterator[LoopbackSshd]:
    with loopback_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture(scope="module")
def remote_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("remote") / "home dir" / "it's the cache"


def target_for(sshd: LoopbackSshd, remote_dir: Path, **options) -> RemoteTarget:
    return RemoteTarget.from_url(
        sshd.url,
        identity_file=str(sshd.client_key),
        ssh_options=sshd.ssh_options,
        remote_dir=str(remote_dir),
        min_seconds=0.1,
        **options,
    )


@pytest.fixture(scope="module")
def target(sshd, remote_dir) -> RemoteTarget:
    return target_for(sshd, remote_dir)


@pytest.fixture(scope="module")
def golden_artifact() -> Artifact:
    with np.load(GOLDEN / "expected.npz") as expected:
        sample = expected["raw_windows"][:2].astype(np.float32)
    return Artifact(
        variant="dense_int8",
        model_bytes=(GOLDEN / "base.tflite").read_bytes(),
        head_bytes=(GOLDEN / "head.tflite").read_bytes(),
        macs=0,
        sample=sample,
        bundle_path=GOLDEN,
    )


@pytest.fixture(scope="module")
def two_measurements(target, golden_artifact):
    """The golden bundle measured twice on a fresh remote folder, with each call's wall time."""
    results = []
    for _ in range(2):
        started = time.perf_counter()
        figures = target.measure(golden_artifact)
        results.append((figures, time.perf_counter() - started))
    return results


def record_rows(wheel: Path) -> dict[str, tuple[str, str]]:
    with zipfile.ZipFile(wheel) as archive:
        record_name = next(name for name in archive.namelist() if name.endswith(".dist-info/RECORD"))
        rows = [line.split(",") for line in archive.read(record_name).decode().splitlines()]
    return {name: (digest, size) for name, digest, size in rows}


def test_runtime_wheel_bytes_are_deterministic_and_its_record_hashes_every_file(tmp_path):
    first = build_runtime_wheel(tmp_path / "a")
    second = build_runtime_wheel(tmp_path / "b")
    assert first.name == second.name and first.read_bytes() == second.read_bytes()
    assert first.name.startswith("har_edge-") and first.name.endswith("-py3-none-any.whl")
    record = record_rows(first)
    with zipfile.ZipFile(first) as archive:
        assert sorted(archive.namelist()) == sorted(record)
        for name, (digest, size) in record.items():
            if name.endswith("/RECORD"):
                assert (digest, size) == ("", "")
                continue
            data = archive.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert (digest, int(size)) == (f"sha256={expected}", len(data))


def test_runtime_wheel_requires_numpy_only_and_ships_sources_without_byte_code(tmp_path):
    wheel = build_runtime_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")] == [
        "Requires-Dist: numpy"
    ]
    assert {
        "har_edge/runtime/benchmark.py",
        "har_edge/runtime/classifier.py",
        "har_edge/runtime/reference/calibration_int8.tflite",
        "har_edge/runtime/reference/calibration_float32.tflite",
        "har_edge/targets/wheel.py",
    } <= set(names)
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_runtime_wheel_installs_in_a_fresh_venv_whose_runtime_imports_without_tensorflow(tmp_path):
    wheel = build_runtime_wheel(tmp_path / "dist")
    venv = tmp_path / "fresh venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", str(wheel)], check=True
    )  # numpy comes as its dependency
    imported = subprocess.run(
        [python, "-c", f"import har_edge.runtime, har_edge; print(har_edge.__file__); {PROBE_TENSORFLOW}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the repository, whose har_edge would shadow the installed one
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip().startswith(str(venv))


def test_measuring_the_golden_bundle_over_ssh_gives_measured_latency_and_the_devices_machine(
    two_measurements,
):
    figures, _ = two_measurements[0]
    assert figures.error is None
    assert 0 < figures.latency_us_p50 <= figures.latency_us_p90
    assert figures.latency_n > 0 and figures.threads == 1
    assert figures.provenance == {"latency": "measured"} and figures.measurement == "measured"
    details = figures.details
    assert details["remote"] == figures.target and details["venv_reused"] is False
    calibration = details["calibration"]
    assert calibration["method"] == CALIBRATION_METHOD and calibration["threads"] == 1
    assert calibration["int8_us_p50"] > 0 and calibration["float32_us_p50"] > 0
    assert details["machine"]["interpreter"] == "ai_edge_litert.interpreter"
    assert details["machine"]["python"].startswith("3.")


def test_the_remote_venv_runs_the_shipped_wheel_and_cannot_import_tensorflow(two_measurements):
    remote_venv = Path(two_measurements[0][0].details["remote_venv"])  # on loopback, a local path
    probe = subprocess.run(
        [
            str(remote_venv / "bin" / "python"),
            "-c",
            f"import har_edge; print(har_edge.__file__); {PROBE_TENSORFLOW}",
        ],
        capture_output=True,
        text=True,
        cwd=remote_venv,  # not the repository, whose har_edge would shadow the installed one
    )
    assert probe.returncode == 0, "TensorFlow is importable in the remote venv"
    assert probe.stdout.strip().startswith(str(remote_venv))


def test_a_second_measurement_reuses_the_venv_and_is_faster(two_measurements, remote_dir):
    (first, first_seconds), (second, second_seconds) = two_measurements
    assert second.error is None and second.details["venv_reused"] is True
    assert second_seconds < first_seconds
    assert not list((remote_dir / RUNS_DIR).iterdir()), "uploads are removed after each measurement"


def test_a_changed_wheel_is_reinstalled_into_the_reused_venv(
    two_measurements, target, golden_artifact, remote_dir, tmp_path
):
    marker = remote_dir / MARKER_FILE
    venv_key, _ = marker.read_text().splitlines()
    marker.write_text(f"{venv_key}\n{'0' * 64}\n")  # as if an older wheel were installed
    figures = target.measure(golden_artifact)
    current_wheel = hashlib.sha256(build_runtime_wheel(tmp_path).read_bytes()).hexdigest()
    assert figures.error is None and figures.details["venv_reused"] is True
    assert marker.read_text().splitlines() == [venv_key, current_wheel]


def test_a_corrupt_model_gives_figures_with_the_remote_error_instead_of_raising(two_measurements, target):
    corrupt = Artifact(
        variant="corrupt", model_bytes=b"not a flatbuffer", macs=0, sample=np.zeros((1, 4), np.float32)
    )
    figures = target.measure(corrupt)
    assert figures.latency_us_p50 is None and figures.target == target.name
    assert "benchmark on" in figures.error and "TFLite" in figures.error


def test_a_failed_venv_setup_gives_figures_with_pips_error_and_leaves_no_upload(
    sshd, golden_artifact, tmp_path
):
    unavailable = target_for(
        sshd, tmp_path / "remote", requirements=("numpy==0.0.0",), pip_options=("--no-index",)
    )
    figures = unavailable.measure(golden_artifact)
    assert figures.latency_us_p50 is None
    assert "venv setup on" in figures.error and "numpy==0.0.0" in figures.error
    assert not list((tmp_path / "remote" / RUNS_DIR).iterdir())


def test_check_passes_on_a_reachable_device(target):
    target.check()


def test_check_of_a_refused_port_raises_a_remote_error_naming_host_and_port_at_once(ssh_tools):
    port = free_port()
    refused = RemoteTarget.from_url(f"ssh://nobody@127.0.0.1:{port}")
    started = time.perf_counter()
    with pytest.raises(RemoteError, match=rf"127\.0\.0\.1:{port}.*connection refused"):
        refused.check()
    assert time.perf_counter() - started < refused.connect_timeout


def test_measuring_an_unreachable_device_gives_figures_with_the_connection_error(ssh_tools, golden_artifact):
    refused = RemoteTarget.from_url(f"ssh://nobody@127.0.0.1:{free_port()}")
    figures = refused.measure(golden_artifact)
    assert figures.latency_us_p50 is None and "connection refused" in figures.error


def test_check_with_a_key_the_device_does_not_accept_is_an_authentication_error(sshd, tmp_path):
    stranger = tmp_path / "stranger_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    target = RemoteTarget.from_url(sshd.url, identity_file=str(stranger), ssh_options=sshd.ssh_options)
    with pytest.raises(RemoteError, match="authentication failed.*Permission denied"):
        target.check()


def test_check_of_a_server_that_never_answers_times_out_with_a_remote_error(ssh_tools):
    with socket.socket() as silent:  # accepts TCP connections (backlog) but never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        target = RemoteTarget.from_url(f"ssh://nobody@127.0.0.1:{port}", connect_timeout=1)
        with pytest.raises(RemoteError, match=rf"127\.0\.0\.1:{port}.*timed out"):
            target.check()


@pytest.mark.parametrize(
    "url",
    [
        "http://x",
        "ssh://",
        "ssh://pi@",
        "ssh://pi@host:notaport",
        "ssh://pi@host:0",
        "ssh://pi:secret@host",
        "ssh://pi@host/tmp",
    ],
)
def test_a_bad_url_is_an_input_error(url):
    with pytest.raises(InputError, match="remote target"):
        RemoteTarget.from_url(url)


def test_the_name_is_the_url_with_user_host_and_port():
    assert RemoteTarget.from_url("ssh://pi@rpi.local").name == "ssh://pi@rpi.local:22"
    assert RemoteTarget.from_url("ssh://[::1]:2222").name == "ssh://[::1]:2222"


def test_a_split_artifact_without_its_bundle_folder_is_an_input_error(golden_artifact):
    unbundled = Artifact(
        variant="split",
        model_bytes=golden_artifact.model_bytes,
        head_bytes=golden_artifact.head_bytes,
        macs=0,
        sample=golden_artifact.sample,
    )
    with pytest.raises(InputError, match="bundle folder"):
        RemoteTarget.from_url("ssh://pi@rpi.local").measure(unbundled)


def test_remote_figures_serialize_to_json(two_measurements):
    assert json.loads(json.dumps(two_measurements[0][0].to_dict()))["details"]["venv_reused"] is False


def test_bench_with_a_refusing_ssh_target_is_exit_2_naming_the_host_before_any_work(
    ssh_tools, tmp_path, capsys
):
    from har_edge.cli import EXIT_BAD_INPUT, main

    port = free_port()
    out = tmp_path / "report"
    argv = ["bench", str(GOLDEN), "--targets", f"desktop,ssh://nobody@127.0.0.1:{port}", "--out", str(out)]
    assert main(argv) == EXIT_BAD_INPUT
    assert f"127.0.0.1:{port}" in capsys.readouterr().err
    assert not out.exists()
