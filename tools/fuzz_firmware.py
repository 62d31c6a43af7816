"""The fuzz campaign's ``firmware`` surface: small int8 models (random single-op graphs of every kernel,
40% of them with one shape, stride, scale or option made inconsistent, and byte mutations of the
golden ``base_mcu.tflite``) go through ``har-edge firmware --board host``. A model the generator
accepts is compiled with ``-fsanitize=address,undefined`` and run on a few inputs: any sanitizer report
or abnormal exit is a ``sanitizer`` verdict, outputs that differ from LiteRT's reference kernels
(when LiteRT runs the model at all, test-run in a child first) a silent wrong answer, and the model
file missing afterwards a lost file."""

from __future__ import annotations

import random
import resource
import subprocess
from pathlib import Path

import numpy as np

from tests import crafted_models as cm

SANITIZE = "-O0 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
RUN_INPUTS = 3
INT8_OPS = ("RELU", "RELU6", "RELU_N1_TO_1", "LOGISTIC", "TANH", "SOFTMAX", "QUANTIZE")


def _dim(rng: random.Random) -> int:
    return rng.choice((1, 1, 2, 3, 4, 5, 8, 13))


def _perturb(rng: random.Random, shape: tuple[int, ...]) -> tuple[int, ...]:
    changed = list(shape)
    if changed:
        axis = rng.randrange(len(changed))
        changed[axis] = rng.choice((0, 1, changed[axis] + 1, changed[axis] * 3, max(changed[axis] - 1, 0)))
    return tuple(changed)


def random_model(rng: random.Random, bad: bool) -> bytes:
    """One op with consistent operands; ``bad``: one of them made inconsistent."""
    family = rng.choice(("unary", "binary", "mean", "pool", "conv", "depthwise", "fc", "concat", "pad"))
    shape = (1, _dim(rng), _dim(rng), _dim(rng))
    out = shape
    perturb = (lambda s: _perturb(rng, s)) if bad else (lambda s: s)
    if family == "unary":
        name = rng.choice(INT8_OPS)
        opts = cm.options("Softmax", beta=rng.choice((1.0, 0.5, 2.0))) if name == "SOFTMAX" else None
        return cm.unary(name, shape, perturb(out), opts)
    if family == "binary":
        other = tuple(d if rng.random() < 0.6 else 1 for d in shape)
        b = cm.T(perturb(other), scale=rng.choice((0.05, 0.1, 0.02)))
        if rng.random() < 0.5:
            b.data = cm.int8_values(b.shape, rng.randrange(100))
        name, opts = rng.choice((("ADD", cm.options("Add")), ("MUL", cm.options("Mul"))))
        return cm.build([cm.T(shape), b, cm.T(out, scale=0.1)], [cm.Op(name, (0, 1), (2,), opts)])
    if family == "mean":
        axes = sorted(rng.sample(range(1, 4), rng.randint(1, 2)))
        kept = tuple(1 if a in axes else d for a, d in enumerate(shape))
        tensors = [cm.T(shape), cm.T((len(axes),), "int32", None, data=np.array(axes, np.int32))]
        tensors.append(cm.T(perturb(kept)))
        return cm.build(tensors, [cm.Op("MEAN", (0, 1), (2,), cm.options("Reducer", keepDims=True))])
    stride, k = (rng.choice((1, 1, 2)), rng.choice((1, 2, 3)))
    if bad and rng.random() < 0.3:
        stride = rng.choice((0, -1, 1 << 20))
    windowed = (-(-shape[1] // max(stride, 1)), -(-shape[2] // max(stride, 1)))
    if family == "pool":
        o = cm.options("Pool2D", padding=0, strideH=stride, strideW=stride, filterHeight=k, filterWidth=k)
        name = rng.choice(("MAX_POOL_2D", "AVERAGE_POOL_2D"))
        return cm.build([cm.T(shape), cm.T(perturb((1, *windowed, shape[3])))], [cm.Op(name, (0,), (1,), o)])
    if family in ("conv", "depthwise"):
        channels = _dim(rng) if family == "conv" else shape[3] * rng.choice((1, 2))
        weights = (channels, k, k, shape[3]) if family == "conv" else (1, k, k, channels)
        weights = perturb(weights) if rng.random() < 0.5 else weights
        kind = "Conv2D" if family == "conv" else "DepthwiseConv2D"
        o = cm.options(kind, padding=0, strideH=stride, strideW=stride, dilationHFactor=1, dilationWFactor=1)
        if family == "depthwise":
            o.depthMultiplier = channels // shape[3]
        tensors = [
            cm.T(shape),
            cm.T(weights, scale=0.02, data=cm.int8_values(weights, rng.randrange(100))),
            cm.T((channels,), "int32", 0.001, data=np.arange(channels, dtype=np.int32)),
            cm.T(perturb((1, *windowed, channels))),
        ]
        name = "CONV_2D" if family == "conv" else "DEPTHWISE_CONV_2D"
        return cm.build(tensors, [cm.Op(name, (0, 1, 2), (3,), o)])
    if family == "fc":
        units, depth = _dim(rng), shape[3]
        weights = perturb((units, depth)) if rng.random() < 0.5 else (units, depth)
        tensors = [
            cm.T((1, depth)),
            cm.T(weights, scale=0.02, data=cm.int8_values(weights, rng.randrange(100))),
            cm.T((units,), "int32", 0.001, data=np.arange(units, dtype=np.int32)),
            cm.T(perturb((1, units))),
        ]
        return cm.build(tensors, [cm.Op("FULLY_CONNECTED", (0, 1, 2), (3,), cm.options("FullyConnected"))])
    if family == "concat":
        axis = rng.randrange(1, 4)
        other = tuple(_dim(rng) if a == axis else d for a, d in enumerate(shape))
        joined = tuple(d + o if a == axis else d for a, (d, o) in enumerate(zip(shape, other, strict=True)))
        const = cm.T(other, data=cm.int8_values(other, rng.randrange(100)))
        tensors = [cm.T(shape), const, cm.T(perturb(joined))]
        o = cm.options(
            "Concatenation", axis=axis if not bad or rng.random() < 0.7 else rng.choice((4, -5, 9))
        )
        return cm.build(tensors, [cm.Op("CONCATENATION", (0, 1), (2,), o)])
    widths = np.array([[0, 0]] + [[rng.randrange(3), rng.randrange(3)] for _ in range(3)], np.int32)
    padded = tuple(d + int(w.sum()) for d, w in zip(shape, widths, strict=True))
    tensors = [cm.T(shape), cm.T((4, 2), "int32", None, data=widths), cm.T(perturb(padded))]
    return cm.build(tensors, [cm.Op("PAD", (0, 1), (2,))])


def surface_firmware(rng: random.Random, seeds: dict, case_dir: Path):
    from fuzz_cases import GOLDEN, TypedExit, Verdict, mutate_bytes

    from har_edge.cli import main

    if rng.random() < 0.1:
        data = mutate_bytes(rng, (GOLDEN / "base_mcu.tflite").read_bytes())
    else:
        data = random_model(rng, bad=rng.random() < 0.4)
    model = case_dir / "model.tflite"
    model.write_bytes(data)
    out = case_dir / "fw"
    extra = []
    if rng.random() < 0.1:  # an --out that is the model, or the folder holding it
        out, extra = rng.choice((model, case_dir)), ["--overwrite"]
    code = main(["firmware", str(model), "--board", "host", "--out", str(out), *extra])
    if not model.is_file() or model.read_bytes() != data:
        return Verdict(lost=f"the model given to firmware as {model.name} was deleted or changed")
    if code == 2:
        raise TypedExit()
    return _sanitized_run(data, out, rng)


def _sanitized_run(data: bytes, project: Path, rng: random.Random):
    from fuzz_cases import Verdict

    from har_edge.codegen.graph import read_graph

    graph = read_graph(data)
    x, y = graph.tensor(graph.inputs[0]), graph.tensor(graph.outputs[0])
    build = subprocess.run(
        ["make", "-s", "APP=app", f"CFLAGS={SANITIZE}"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if build.returncode != 0:
        return Verdict(sanitizer=f"accepted model does not compile: {build.stderr[-300:]}")
    width = np.dtype(np.float32 if x.dtype == "float32" else np.int8).itemsize
    inputs = (
        np.random.default_rng(rng.randrange(1 << 30))
        .integers(-128, 128, (RUN_INPUTS, x.size))
        .astype(np.int8)
    )
    if width == 4:
        inputs = inputs.astype(np.float32) / 16
    (project / "har_in.bin").write_bytes(inputs.tobytes())
    done = subprocess.run(
        [str(project / "app")],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_no_memory_limit,
    )
    if done.returncode != 0 or "runtime error" in done.stderr or "Sanitizer" in done.stderr:
        first = next(
            (line for line in done.stderr.splitlines() if "ERROR" in line or "runtime error" in line), ""
        )
        return Verdict(sanitizer=f"exit {done.returncode}: {first[:200] or done.stdout[-200:]}")
    outputs = np.frombuffer((project / "har_out.bin").read_bytes(), np.uint8).reshape(RUN_INPUTS, y.nbytes)
    return _compare_with_litert(data, inputs, outputs)


def _no_memory_limit() -> None:
    """AddressSanitizer reserves terabytes of shadow address space: lift the campaign's soft limit."""
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def _compare_with_litert(data: bytes, inputs: np.ndarray, outputs: np.ndarray):
    from fuzz_cases import Verdict

    from har_edge.codegen.verify import reference_run
    from har_edge.errors import InputError
    from har_edge.runtime.probe import probe_model

    try:
        probe_model(data, "fuzzed model")  # LiteRT may abort on a model the generator accepted
        expected, _ = reference_run(data, inputs)
    except (InputError, ValueError, RuntimeError):
        return Verdict()  # LiteRT refuses it: nothing to compare with
    if not np.array_equal(expected, outputs):
        return Verdict(f"firmware output differs from LiteRT on {int((expected != outputs).sum())} bytes")
    return Verdict()
