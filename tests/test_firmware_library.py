"""The C library ``har-edge firmware BUNDLE --name NAME`` writes (``har_edge.codegen.library``): raw
windows classified in C as the Python ``Classifier`` does, the int16-counts variant, the streaming ring
buffer with the ``StreamingClassifier``'s smoothing and events (host build through CMake, and the
board Makefile under QEMU), two libraries in one program, and the exact input tables."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from har_edge.codegen.library import input_thresholds, write_library
from har_edge.data.synthetic import SyntheticConfig, generate
from har_edge.data.windows import WindowConfig, make_windows
from har_edge.firmware.personalize import mcu_base_bundle
from har_edge.runtime.bundle import open_bundle
from har_edge.runtime.classifier import Classifier
from har_edge.runtime.encode import WindowEncoder
from har_edge.types import ACC_CHANNELS
from tests.arm_tools import require_arm_tools
from tests.sshd import require_toolchains

GOLDEN = Path(__file__).parent / "golden" / "dense_int8"
DRIVER = Path(__file__).parent / "firmware_library" / "classify_main.c"
CLASSES = ("WALKING", "SITTING", "STANDING", "LAYING")
PROBABILITY_TOLERANCE = 1e-5  # C float head (sums in another order, expf) vs LiteRT's float head


def require_host_tools(*tools: str) -> None:
    missing = [tool for tool in ("gcc", "make", *tools) if shutil.which(tool) is None]
    if missing:
        message = f"host tools missing: {', '.join(missing)}"
        if require_toolchains():
            pytest.fail(message)
        pytest.skip(message)


@functools.cache
def windows() -> np.ndarray:
    """Windows the golden bundle never saw: two new waist-phone wearers (another seed)."""
    config = SyntheticConfig(
        subjects=2,
        seconds_per_activity=30,
        seed=5,
        classes=CLASSES,
        gyroscope=False,
    )
    made, _ = make_windows(generate(config), WindowConfig(window=50, hop=25, channels=ACC_CHANNELS))
    return made.x.astype(np.float32)


@functools.cache
def built_library(root: Path, name: str = "lib") -> Path:
    """The golden bundle's library, built with CMake (warnings are errors), plus the classify driver."""
    folder = root / name
    write_library(open_bundle(GOLDEN), folder, name)
    build = folder / "build"
    subprocess.run(
        ["cmake", "-S", folder, "-B", build, "-DCMAKE_C_FLAGS=-Werror"], check=True, capture_output=True
    )
    subprocess.run(["cmake", "--build", build, "--parallel", "2"], check=True, capture_output=True)
    if name == "lib":
        sources = [str(p) for p in sorted((folder / "src").glob("*.c"))]
        command = ["gcc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off"]
        command += ["-I", str(folder / "src"), "-o", str(build / "classify"), str(DRIVER), *sources, "-lm"]
        subprocess.run(command, check=True, capture_output=True)
    return folder


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    require_host_tools("cmake")
    return built_library(tmp_path_factory.mktemp("library"))


def classify_in_c(library: Path, data: np.ndarray, *extra: str) -> tuple[np.ndarray, np.ndarray]:
    """(status per window, probabilities) from the C driver."""
    source, result = library / "build" / "in.bin", library / "build" / "out.bin"
    source.write_bytes(np.ascontiguousarray(data).tobytes())
    mode = "counts" if data.dtype == np.int16 else "float"
    subprocess.run([library / "build" / "classify", mode, source, result, *extra], check=True)
    rows = np.frombuffer(result.read_bytes(), np.float32).reshape(len(data), 1 + len(CLASSES))
    return rows[:, 0].copy().view(np.int32), rows[:, 1:]


def test_classify_in_c_gives_the_python_classifiers_labels_and_probabilities(library):
    x = windows()
    status, probabilities = classify_in_c(library, x)
    python = Classifier(mcu_base_bundle(open_bundle(GOLDEN))).predict_proba(x)
    assert len(x) >= 300
    np.testing.assert_array_equal(status, python.argmax(axis=1))
    assert np.abs(probabilities - python).max() <= PROBABILITY_TOLERANCE
    assert len(set(status.tolist())) >= 3  # not a constant answer


def test_a_head_installed_with_use_head_classifies_as_the_python_classifier_with_those_weights(library):
    from har_edge.runtime.head import HeadWeights

    bundle = open_bundle(GOLDEN)
    weights = HeadWeights.random(bundle.manifest.n_features, len(CLASSES), None, seed=3)
    params = np.concatenate([array.ravel() for layer in weights.layers for array in layer]).astype(np.float32)
    (library / "build" / "head.bin").write_bytes(params.tobytes())
    x = windows()[:100]
    status, probabilities = classify_in_c(library, x, "1", str(library / "build" / "head.bin"))
    classifier = Classifier(mcu_base_bundle(bundle))
    classifier.set_head_weights(weights)
    python = classifier.predict_proba(x)
    np.testing.assert_array_equal(status, python.argmax(axis=1))
    assert np.abs(probabilities - python).max() <= PROBABILITY_TOLERANCE


def test_classify_refuses_a_window_with_a_nan_sample(library):
    x = windows()[:3].copy()
    x[1, 7, 2] = np.nan
    x[2, 0, 0] = np.inf
    status, _ = classify_in_c(library, x)
    assert status[0] >= 0 and status[1] == status[2] == -1


def test_int16_counts_times_the_scale_classify_as_those_samples(library):
    scale = np.float32(2.0**-9)
    counts = np.clip(np.round(windows()[:64] / scale), -32768, 32767).astype(np.int16)
    status, probabilities = classify_in_c(library, counts, repr(float(scale)))
    python = Classifier(mcu_base_bundle(open_bundle(GOLDEN))).predict_proba(counts.astype(np.float32) * scale)
    np.testing.assert_array_equal(status, python.argmax(axis=1))
    assert np.abs(probabilities - python).max() <= PROBABILITY_TOLERANCE


def test_the_input_tables_quantize_every_float_as_the_host_encoder_does(rng):
    manifest = open_bundle(GOLDEN).manifest
    thresholds = input_thresholds(manifest)
    q = manifest.base_input_quantization
    encoder = WindowEncoder(
        np.asarray(manifest.normalization["mean"]),
        np.asarray(manifest.normalization["std"]),
        (1, 3),
        {"dtype": np.int8, "quantization": (q.scale, q.zero_point)},
    )
    finite = thresholds[np.isfinite(thresholds)]
    edges = np.concatenate([finite, np.nextafter(finite, -np.inf), np.nextafter(finite, np.inf)])
    samples = np.concatenate([rng.normal(0, 30, 30_000), edges, [0.0, -1e30, 1e30]]).astype(np.float32)
    samples = np.resize(samples, (len(samples) // 3 * 3,)).reshape(-1, 1, 3)
    expected = np.empty(samples.shape, np.int8)
    encoder.encode_into(samples, expected)
    levels = np.stack(
        [np.searchsorted(thresholds[c], samples[:, 0, c], side="right") - 128 for c in range(3)]
    )
    np.testing.assert_array_equal(levels.T, expected[:, 0, :])


def python_stream_lines(library_samples: np.ndarray, rate: int) -> list[str]:
    """What predict --stream --ema 0.5 --event LABEL,0.8,0.6,3 (every label) computes, printed as the
    example prints it."""
    from har_edge.codegen.library import EXAMPLE, stream_lines_as_printed

    assert (EXAMPLE["alpha"], EXAMPLE["enter"], EXAMPLE["exit"], EXAMPLE["windows"]) == (0.5, 0.8, 0.6, 3)
    return stream_lines_as_printed(Classifier(mcu_base_bundle(open_bundle(GOLDEN))), library_samples, rate)


def example_lines(stdout: str) -> list[str]:
    """The example's window and event lines without the probabilities."""
    keep = {"window": 4, "event": 5}
    return [
        " ".join(line.split()[: keep[line.split()[0]]])
        for line in stdout.splitlines()
        if line.split()[0] in keep
    ]


@functools.cache
def expected_stream(folder: Path) -> list[str]:
    from har_edge.codegen.library import example_recording

    counts, scale = example_recording(open_bundle(GOLDEN).manifest)
    return python_stream_lines(counts.astype(np.float32) * np.float32(scale), 50)


def test_the_cmake_example_streams_the_python_streams_labels_and_events(library):
    done = subprocess.run([library / "build" / "lib_example"], capture_output=True, text=True, check=True)
    lines = example_lines(done.stdout)
    assert lines == expected_stream(library)
    assert sum(line.startswith("event") for line in lines) >= 4  # events happen: enter and exit
    assert done.stdout.splitlines()[-1] == f"done {sum(line.startswith('window') for line in lines)} " + str(
        sum(line.startswith("event") for line in lines)
    )


BOARDS = [("mps2-an386", "m4"), ("mps2-an385", "m3"), ("mps2-an500", "m7"), ("mps2-an505", "m33")]


@pytest.fixture(scope="module")
def board_library(library, tmp_path_factory) -> Path:
    require_arm_tools()
    folder = tmp_path_factory.mktemp("board") / "lib"
    shutil.copytree(library, folder, ignore=shutil.ignore_patterns("build"))
    return folder


def make(folder: Path, *argv: str) -> subprocess.CompletedProcess:
    command = ["make", "-s", "-j2", "-f", "boards/mps2-an386/Makefile", *argv]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(("machine", "core"), BOARDS)
def test_the_board_makefile_example_under_qemu_streams_as_the_host_on_every_core(
    board_library, library, machine, core
):
    done = make(board_library, "run", f"MACHINE={machine}", f"CORE={core}")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    host = subprocess.run([library / "build" / "lib_example"], capture_output=True, text=True, check=True)
    assert example_lines(done.stdout) == expected_stream(library)
    assert [line for line in done.stdout.splitlines() if not line.startswith(("stack_", "stream_"))] == (
        host.stdout.splitlines()  # the printed probabilities too: the same float32 results
    )
    assert "stack_bytes" in done.stdout


def test_the_library_compiles_without_warnings_for_a_cortex_m0plus(board_library):
    done = make(board_library, "library", "CORE=m0plus")
    assert done.returncode == 0, done.stderr
    assert len(list(board_library.glob("build/mps2-an386-m0plus/src/*.o"))) == len(
        list(board_library.glob("src/*.c"))
    )


def test_two_libraries_with_different_names_link_into_one_cpp_program(tmp_path):
    require_host_tools("cmake", "g++")
    for name in ("walk", "har"):
        write_library(open_bundle(GOLDEN), tmp_path / name, name)
    (tmp_path / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(both C CXX)\n"
        "add_subdirectory(walk)\nadd_subdirectory(har)\n"
        "add_executable(both main.cpp)\ntarget_link_libraries(both PRIVATE walk har)\n"
    )
    (tmp_path / "main.cpp").write_text(
        '#include <cstdio>\n#include "walk.h"\n#include "har.h"\n#include "har_nn.h"\n'
        "static float raw[WALK_WINDOW * WALK_CHANNELS];\n"
        "int main() {\n  float a[WALK_CLASSES], b[HAR_CLASSES];\n"
        "  for (int i = 0; i < WALK_WINDOW * WALK_CHANNELS; ++i)\n"
        "    raw[i] = (i % 3 == 0) ? 9.81f : 0.1f * (i % 7);\n"
        '  std::printf("%s %s\\n", walk_labels[walk_classify(raw, a)], har_labels[har_classify(raw, b)]);\n'
        "  return 0;\n}\n"
    )
    subprocess.run(["cmake", "-S", tmp_path, "-B", tmp_path / "build"], check=True, capture_output=True)
    subprocess.run(
        ["cmake", "--build", tmp_path / "build", "--parallel", "2"], check=True, capture_output=True
    )
    first, second = subprocess.run(
        [tmp_path / "build" / "both"], capture_output=True, text=True
    ).stdout.split()
    assert first == second and first in CLASSES


def test_firmware_of_a_bundle_writes_its_library_under_the_name_and_refuses_a_clashing_name(tmp_path, capsys):
    from har_edge.cli import main

    assert main(["firmware", str(GOLDEN), "--name", "har", "--out", str(tmp_path / "fw")]) == 0
    assert (
        f"C library (raw samples -> labels and events): {tmp_path / 'fw' / 'har'}" in capsys.readouterr().out
    )
    library = tmp_path / "fw" / "har"
    expected = {"CMakeLists.txt", "README.md", "library.json", "library.properties", "zephyr/module.yml"}
    expected |= {"src/har.h", "src/har_config.h", "src/har_model.h", "examples/stream/main.c"}
    assert expected <= {p.relative_to(library).as_posix() for p in library.rglob("*") if p.is_file()}
    assert (tmp_path / "fw" / "model" / "har_model.c").is_file()  # the verification project's model
    config = (library / "src" / "har_config.h").read_text()
    assert "#define HAR_WINDOW 50" in config and 'extern "C"' in config
    assert '{"WALKING", "SITTING", "STANDING", "LAYING"}' in (library / "src" / "har_config.c").read_text()
    code = main(["firmware", str(GOLDEN), "--name", "runtime", "--out", str(tmp_path / "clash")])
    assert code == 2 and "clashes with the project's runtime/" in capsys.readouterr().err
    assert not (tmp_path / "clash").exists()
