"""A bundle as a C library a firmware engineer links: raw samples -> probabilities, labels and events.

``write_library(bundle, out_dir, name)`` writes one folder (``library_files`` says what goes in it):

- ``src/``: ``<name>.h`` (the API: ``<name>_classify``, ``<name>_classify_counts``, the streaming
  ring buffer with smoothing and events), ``<name>_config.h/.c`` (labels, rate, window, hop, channels,
  units, normalization, the per-channel input tables, feature quantization, the head's weights),
  ``<name>_model.h/.c`` (the int8 base, ``<name>_invoke``), the hand-written ``<name>_classify.c`` and
  ``<name>_stream.c`` (``firmware/library/``, written with the prefix ``harlib``, renamed here)
  and every int8 kernel of ``firmware/runtime/`` (the same files in every library, so two
  libraries share one ``har_edge_runtime`` target);
- ``examples/stream/``: a ``main`` reading a simulated accelerometer ring buffer (a synthetic recording
  as int16 counts, ``<name>_recording.c``) and printing labels and events;
- ``CMakeLists.txt`` (static library ``<name>`` + the example), ``zephyr/module.yml``,
  ``library.properties`` (Arduino: ``src/`` flat), ``library.json`` (PlatformIO), the board Makefile
  ``boards/mps2-an386/Makefile`` for the example under QEMU, and ``README.md``.

The base is the bundle's ``base_mcu.tflite`` (int8, batch 1); the head is the bundle's float head.
Normalization and input quantization become ``<name>_thresholds``: per channel, the 255 smallest
float32 samples that reach each int8 level under the host runtime's own encoder (``WindowEncoder``),
so the C's int8 input equals the host's for every float32 sample.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from har_edge.codegen.emit import check_name, generate
from har_edge.codegen.head import _c_floats
from har_edge.errors import InputError
from har_edge.firmware.boards import FIRMWARE_DIR
from har_edge.runtime.bundle import MCU_BASE_FILE, Bundle, Manifest

TEMPLATE_DIR = FIRMWARE_DIR / "library"
TEMPLATE_PREFIX = "harlib"
TEMPLATES = {"harlib.h": "src", "harlib_classify.c": "src", "harlib_stream.c": "src"}
EXAMPLE_MAIN = "example_main.c"
BOARD_MAKEFILE = "mps2-an386.mk"
RUNTIME_DIR = FIRMWARE_DIR / "runtime"
MPS2_FILES = ("startup.c", "board.c", "board_internal.h", "linker.ld")
LEVELS = 255  # int8 levels -127..127 each start at one threshold
EXAMPLE = {
    "alpha": 0.5,
    "enter": 0.8,
    "exit": 0.6,
    "windows": 3,
}  # = predict --stream --ema 0.5 --event L,0.8,0.6,3
EXAMPLE_SECONDS_PER_ACTIVITY = 16.0
EXAMPLE_SEED = 7
UNITS = {"acc": "m/s^2", "gyro": "rad/s"}


def channel_unit(channel: str) -> str:
    """The unit of a channel by har_edge's convention (``har_edge.types``); "" when unknown."""
    return UNITS.get(channel.split("_", 1)[0], "")


# ----------------------------------------------------------------------------------- input thresholds


def _ordered(keys: np.ndarray) -> np.ndarray:
    """int64 keys ordered like the float32 values -> those float32 values (key 0 is +0.0)."""
    keys = np.asarray(keys, np.int64)
    bits = np.where(keys >= 0, keys, (-keys) | 0x80000000).astype(np.uint32)
    return bits.view(np.float32)


def input_thresholds(manifest: Manifest) -> np.ndarray:
    """(channels, 255) float32: ``[c][k]`` is the smallest float32 sample of channel c that the host's
    encoder (normalize, then quantize to the base's int8 input) maps to level ``k - 127`` or above
    (+inf when no float reaches it). The encoder is non-decreasing in the sample, so the level of x
    is ``-128 + #(thresholds <= x)``, exactly."""
    from har_edge.runtime.encode import WindowEncoder

    quantization = manifest.base_input_quantization
    if quantization is None:
        raise InputError("the bundle's base has no int8 input quantization; a C library needs an int8 base")
    mean = np.asarray(manifest.normalization["mean"], np.float64)
    std = np.asarray(manifest.normalization["std"], np.float64)
    channels = len(manifest.channels)
    detail = {"dtype": np.int8, "quantization": (quantization.scale, quantization.zero_point)}
    encoder = WindowEncoder(mean, std, (1, channels), detail)

    def levels(keys: np.ndarray) -> np.ndarray:  # keys (255, channels) -> int8 levels
        out = np.empty((LEVELS, 1, channels), np.int8)
        with np.errstate(over="ignore", invalid="ignore"):
            encoder.encode_into(_ordered(keys).reshape(LEVELS, 1, channels), out)
        return out.reshape(LEVELS, channels).astype(np.int32)

    largest = int(np.float32(np.finfo(np.float32).max).view(np.uint32))
    wanted = np.arange(-127, 128, dtype=np.int32)[:, None]  # level reached at or above the threshold
    low = np.full((LEVELS, channels), -largest, np.int64)
    high = np.full((LEVELS, channels), largest, np.int64)
    reachable = levels(high) >= wanted
    while np.any(low < high):  # the smallest key in [low, high] whose level >= wanted
        middle = (low + high) // 2
        above = levels(middle) >= wanted
        high = np.where(above, middle, high)
        low = np.where(above, low, middle + 1)
    thresholds = np.where(reachable, _ordered(low), np.float32(np.inf)).astype(np.float32)
    return np.ascontiguousarray(thresholds.T)


# --------------------------------------------------------------------------------------- the sources


@dataclass(frozen=True, eq=False)
class LibraryInfo:
    path: Path
    name: str
    manifest: Manifest
    recording_scale: float
    recording: np.ndarray  # (n, channels) int16 counts of the example
    model: object  # har_edge.codegen.emit.GeneratedModel

    @property
    def example_samples(self) -> np.ndarray:
        """The example's samples in the bundle's units, as the C computes them (float32 counts * scale)."""
        return self.recording.astype(np.float32) * np.float32(self.recording_scale)


def example_recording(manifest: Manifest) -> tuple[np.ndarray, float]:
    """A synthetic recording for the example (every bundle class the generator knows, 16 s each, at the
    bundle's rate and channel order; channels it does not simulate are 0) as int16 counts and the
    power-of-two scale that makes ``counts * scale`` exact."""
    from har_edge.data.synthetic import SyntheticConfig, generate
    from har_edge.data.synthetic.activities import ACTIVITIES

    known = tuple(label for label in manifest.class_labels if label in ACTIVITIES) or ("WALKING", "SITTING")
    gyroscope = any(channel.startswith("gyro") for channel in manifest.channels)
    config = SyntheticConfig(
        subjects=1,
        rate_hz=manifest.rate_hz,
        seconds_per_activity=EXAMPLE_SECONDS_PER_ACTIVITY,
        classes=known,
        gyroscope=gyroscope,
        seed=EXAMPLE_SEED,
    )
    recording = generate(config).recordings[0]
    samples = np.zeros((len(recording.samples), len(manifest.channels)), np.float32)
    for c, channel in enumerate(manifest.channels):
        if channel in recording.channels:
            samples[:, c] = np.nan_to_num(recording.samples[:, recording.channels.index(channel)])
    peak = max(float(np.abs(samples).max()), 1e-6)
    scale = 2.0 ** math.ceil(math.log2(peak / 32767))
    return np.round(samples / scale).astype(np.int16), scale


def _c_strings(values) -> str:
    return ", ".join('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values)


def config_sources(name: str, bundle: Bundle, head) -> tuple[str, str]:
    """``<name>_config.h`` and ``<name>_config.c`` of ``bundle`` (``head``: its ``HeadWeights``)."""
    m = bundle.manifest
    upper = name.upper()
    features = m.base_output_quantization
    if features is None:
        raise InputError("the bundle's base has no int8 output quantization; a C library needs an int8 base")
    thresholds = input_thresholds(m)
    params = np.concatenate([array.ravel() for layer in head.layers for array in layer])
    rows = ",\n".join("    {\n" + _c_floats(row) + "\n    }" for row in thresholds)
    header = f"""/* {name}: the bundle's facts for the C library (generated by har-edge firmware). */
#ifndef {upper}_CONFIG_H
#define {upper}_CONFIG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {{
#endif

#define {upper}_CLASSES {len(m.class_labels)}
#define {upper}_RATE_HZ {float(m.rate_hz)!r}f /* samples per second per channel */
#define {upper}_WINDOW {m.window} /* samples per window */
#define {upper}_HOP {m.hop} /* samples between window starts */
#define {upper}_CHANNELS {len(m.channels)} /* values per sample, in the order of {name}_channels */
#define {upper}_FEATURES {m.n_features} /* int8 outputs of the base */
#define {upper}_HEAD_HIDDEN {head.hidden or 0} /* 0: one dense layer */
#define {upper}_HEAD_PARAMS {params.size}
/* The base's int8 input: q = clamp(round_half_even(((x - mean) / std) / INPUT_SCALE) + INPUT_ZERO_POINT),
 * computed exactly through {name}_thresholds. */
#define {upper}_INPUT_SCALE {float(np.float32(m.base_input_quantization.scale))!r}f
#define {upper}_INPUT_ZERO_POINT ({m.base_input_quantization.zero_point})
/* The base's int8 features: value = (q - FEATURE_ZERO_POINT) * FEATURE_SCALE. */
#define {upper}_FEATURE_SCALE {float(np.float32(features.scale))!r}f
#define {upper}_FEATURE_ZERO_POINT ({features.zero_point})

extern const char *const {name}_labels[{upper}_CLASSES];
extern const char *const {name}_channels[{upper}_CHANNELS];
extern const char *const {name}_units[{upper}_CHANNELS];
extern const float {name}_mean[{upper}_CHANNELS]; /* normalization, per channel (documentation) */
extern const float {name}_std[{upper}_CHANNELS];
extern const float {name}_thresholds[{upper}_CHANNELS][255];
extern const float {name}_head_initial[{upper}_HEAD_PARAMS];

#ifdef __cplusplus
}}
#endif

#endif
"""
    source = f"""/* {name}: the bundle's facts (generated by har-edge firmware; do not edit). */
#include "{name}_config.h"

const char *const {name}_labels[{upper}_CLASSES] = {{{_c_strings(m.class_labels)}}};
const char *const {name}_channels[{upper}_CHANNELS] = {{{_c_strings(m.channels)}}};
const char *const {name}_units[{upper}_CHANNELS] = {{{_c_strings(channel_unit(c) for c in m.channels)}}};
const float {name}_mean[{upper}_CHANNELS] = {{
{_c_floats(np.asarray(m.normalization["mean"]))}
}};
const float {name}_std[{upper}_CHANNELS] = {{
{_c_floats(np.asarray(m.normalization["std"]))}
}};
/* [c][k]: the smallest sample of channel c whose int8 input level is k - 127 or more */
_Alignas(16) const float {name}_thresholds[{upper}_CHANNELS][255] = {{
{rows}
}};
/* the head's parameters as its get_weights signature orders them: w0, b0[, w1, b1] */
_Alignas(16) const float {name}_head_initial[{upper}_HEAD_PARAMS] = {{
{_c_floats(params)}
}};
"""
    return header, source.replace("inff", "INFINITY").replace(
        '#include "', '#include <math.h>\n#include "', 1
    )


def recording_sources(name: str, counts: np.ndarray, scale: float, rate_hz: float) -> tuple[str, str]:
    upper = name.upper()
    values = ", ".join(str(int(v)) for v in counts.ravel())
    header = f"""/* The example's simulated sensor: a synthetic recording as int16 counts (generated). */
#ifndef {upper}_RECORDING_H
#define {upper}_RECORDING_H
#include <stdint.h>
#define {upper}_RECORDING_SAMPLES {len(counts)}u
#define {upper}_RECORDING_SECOND {max(1, round(rate_hz))}u /* samples per sensor burst */
#define {upper}_EXAMPLE_ALPHA {EXAMPLE["alpha"]!r}
#define {upper}_EXAMPLE_ENTER {EXAMPLE["enter"]!r}f
#define {upper}_EXAMPLE_EXIT {EXAMPLE["exit"]!r}f
#define {upper}_EXAMPLE_WINDOWS {EXAMPLE["windows"]}u
#ifdef __cplusplus
extern "C" {{
#endif
extern const int16_t {name}_recording[{upper}_RECORDING_SAMPLES * {len(counts[0])}u];
extern const float {name}_recording_scale; /* units per count */
#ifdef __cplusplus
}}
#endif
#endif
"""
    source = f"""#include "{name}_recording.h"
const float {name}_recording_scale = {float(scale).hex()}f;
const int16_t {name}_recording[{upper}_RECORDING_SAMPLES * {len(counts[0])}u] = {{{values}}};
"""
    return header, source


def _renamed(text: str, name: str) -> str:
    return text.replace(TEMPLATE_PREFIX.upper(), name.upper()).replace(TEMPLATE_PREFIX, name)


def mcu_model_bytes(bundle: Bundle) -> bytes:
    if MCU_BASE_FILE not in bundle.files:
        raise InputError(
            f"{bundle.path}: a C library needs the bundle's {MCU_BASE_FILE} (int8, batch 1); re-export it "
            "with an int8 base"
        )
    return bundle.files[MCU_BASE_FILE]


AN505_MEMORY = {  # mps2-an505 (Cortex-M33, secure): code in SSRAM1's secure alias, data in SSRAM2's
    "FLASH (rx)  : ORIGIN = 0x00000000, LENGTH = 4M": "FLASH (rx)  : ORIGIN = 0x10000000, LENGTH = 4M",
    "RAM   (rwx) : ORIGIN = 0x20000000, LENGTH = 4M": "RAM   (rwx) : ORIGIN = 0x38000000, LENGTH = 2M",
}


def an505_linker_script(mps2_script: str) -> str:
    """The MPS2 linker script with the AN505's memory map."""
    for old, new in AN505_MEMORY.items():
        if old not in mps2_script:
            raise RuntimeError(f"the mps2-an386 linker script no longer has {old!r}")  # a packaging bug
        mps2_script = mps2_script.replace(old, new)
    return mps2_script


PROJECT_FOLDERS = ("model", "runtime", "harness", "host", "board", "head", "build")


def library_files(bundle: Bundle, name: str) -> tuple[dict[str, str], LibraryInfo]:
    """Every file of the library folder (relative path -> text)."""
    from har_edge.codegen.head import head_spec
    from har_edge.codegen.packaging import packaging_files

    name = check_name(name)
    if name in PROJECT_FOLDERS or (RUNTIME_DIR / f"{name}.h").exists():
        raise InputError(f"--name {name!r}: clashes with the project's {name}/ or the kernels' {name}.h")
    model = generate(mcu_model_bytes(bundle), name)
    head = head_spec(bundle).weights
    config_h, config_c = config_sources(name, bundle, head)
    counts, scale = example_recording(bundle.manifest)
    recording_h, recording_c = recording_sources(name, counts, scale, bundle.manifest.rate_hz)
    files: dict[str, str] = {
        f"src/{name}_config.h": config_h,
        f"src/{name}_config.c": config_c,
        f"src/{name}_model.h": model.header,
        f"src/{name}_model.c": model.source,
        f"examples/stream/{name}_recording.h": recording_h,
        f"examples/stream/{name}_recording.c": recording_c,
        "examples/stream/main.c": _renamed((TEMPLATE_DIR / EXAMPLE_MAIN).read_text(), name),
        "boards/mps2-an386/Makefile": (TEMPLATE_DIR / BOARD_MAKEFILE).read_text(),
        "boards/mps2-an386/har_board.h": (FIRMWARE_DIR / "harness" / "har_board.h").read_text(),
    }
    for template, folder in TEMPLATES.items():
        files[f"{folder}/{_renamed(template, name)}"] = _renamed((TEMPLATE_DIR / template).read_text(), name)
    for path in sorted(RUNTIME_DIR.iterdir()):
        if path.suffix in (".c", ".h"):
            files[f"src/{path.name}"] = path.read_text()
    for board_file in MPS2_FILES:
        files[f"boards/mps2-an386/{board_file}"] = (FIRMWARE_DIR / "mps2-an386" / board_file).read_text()
    files["boards/mps2-an386/linker_an505.ld"] = an505_linker_script(files["boards/mps2-an386/linker.ld"])
    files.update(packaging_files(name, bundle.manifest, sorted(p for p in files if p.startswith("src/"))))
    info = LibraryInfo(Path(), name, bundle.manifest, scale, counts, model)
    return files, info


def write_files(files: dict[str, str], out_dir: Path) -> None:
    for relative, text in files.items():
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def write_library(bundle: Bundle, out_dir: str | Path, name: str, *, overwrite: bool = False) -> LibraryInfo:
    """Write the library of ``bundle`` alone into ``out_dir``, atomically."""
    from har_edge.fsutil import atomic_directory

    files, info = library_files(bundle, name)
    with atomic_directory(Path(out_dir), overwrite=overwrite) as staging:
        write_files(files, staging)
    return dataclasses.replace(info, path=Path(out_dir))


def stream_lines_as_printed(classifier, samples, rate: int) -> list[str]:
    """The example's window and event lines (no probabilities) as the Python ``StreamingClassifier``
    computes them with the example's smoothing and event rule for every label, fed ``rate`` samples at a
    time: what the C example must print for the same samples."""
    from har_edge.runtime.stream import EventRule, ExponentialAverage, StreamingClassifier

    rules = tuple(
        EventRule(label, EXAMPLE["enter"], EXAMPLE["exit"], EXAMPLE["windows"]) for label in classifier.labels
    )
    stream = StreamingClassifier(classifier, smoothing=ExponentialAverage(EXAMPLE["alpha"]), events=rules)
    lines = []
    for start in range(0, len(samples), rate):
        update = stream.feed(samples[start : start + rate])
        for p in update.predictions:
            lines.append(f"window {p.index} {p.end_sample} {p.label}")
            lines += [
                f"event {e.kind} {e.label} {e.window_index} {e.end_sample}"
                for e in update.events
                if e.window_index == p.index
            ]
    return lines
