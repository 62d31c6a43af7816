import json
import subprocess
import sys

LIGHT_MODULES = (
    "har_edge",
    "har_edge.cli",
    "har_edge.data",
    "har_edge.data.formats",
    "har_edge.data.synthetic",
    "har_edge.data.windows",
    "har_edge.baseline",
    "har_edge.metrics",
    "har_edge.runtime",
    "har_edge.runtime.bundle",
    "har_edge.runtime.stream",
    "har_edge.tflite_info",
    "har_edge.tflite_verify",
    "har_edge.runtime.inputs",
    "har_edge.runtime.model_checks",
    "har_edge.runtime.probe",
    "har_edge.runtime.schemas",
    "har_edge.runtime.head",
    "har_edge.gate",
    "har_edge.runtime.benchmark",
    "har_edge.targets",
    "har_edge.targets.desktop",
    "har_edge.targets.pi",
    "har_edge.targets.mcu",
    "har_edge.targets.remote",
    "har_edge.bench.results",
    "har_edge.bench.report",
    "har_edge.bench.plots",
    "har_edge.bench.measure",
    "har_edge.bench.run",
    "har_edge.bench.sweep",
    "har_edge.bench.variants",
)

HEAVY_MODULES = ("tensorflow", "tf_keras", "pandas", "matplotlib", "ray", "jsonschema")


def loaded_after_importing(modules: tuple[str, ...], watched: tuple[str, ...]) -> list[str]:
    """The ``watched`` modules that a fresh interpreter has loaded after importing ``modules``."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in {watched!r} if m in sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def test_package_data_stage_runtime_and_cli_import_without_tensorflow_pandas_or_matplotlib():
    assert loaded_after_importing(LIGHT_MODULES, HEAVY_MODULES) == []


RUNTIME_MODULES = (
    "har_edge.runtime",
    "har_edge.runtime.head",
    "har_edge.runtime.benchmark",
    "har_edge.runtime.stream",
)
TF_BUILDING_MODULES = ("har_edge.tfcompat", "har_edge.export", "har_edge.export.head", "har_edge.models")


def test_the_runtime_imports_no_module_that_builds_tensorflow_graphs():
    assert loaded_after_importing(RUNTIME_MODULES, TF_BUILDING_MODULES) == []
