import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from har_edge.errors import InputError, OutputExistsError
from har_edge.export import export_bundle
from har_edge.optimize.split import new_head
from har_edge.runtime.bundle import open_bundle
from har_edge.runtime.interpreter import run_model
from har_edge.tflite_info import inspect_tflite
from tests.support import export_request, trained_small_dense


@pytest.fixture(scope="module")
def trained():
    return trained_small_dense()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return export_bundle(export_request(), tmp_path_factory.mktemp("b") / "bundle", zip_too=True)


def test_bundle_holds_base_head_mcu_base_and_a_manifest_with_hashes(bundle):
    manifest = bundle.manifest
    assert sorted(p.name for p in bundle.path.iterdir()) == [
        "base.tflite",
        "base_mcu.tflite",
        "head.tflite",
        "manifest.json",
    ]
    assert manifest.feature_shape == (200, 8) and manifest.n_features == 1600
    assert manifest.split_layer == "headlayer" and manifest.base_precision == "int8"
    assert manifest.base_output_quantization is not None and manifest.base_output_quantization.scale > 0
    assert len(manifest.normalization["mean"]) == 3 and manifest.window == 200
    assert set(manifest.tools) >= {"tensorflow", "har-edge", "python"}
    assert all(entry.size_bytes == len(bundle.files[name]) for name, entry in manifest.files.items())


def test_every_bundle_file_uses_builtin_ops_and_the_mcu_base_fits_tflm(bundle):
    for name, data in bundle.files.items():
        assert inspect_tflite(data, name).builtin_only, name
    mcu = inspect_tflite(bundle.files["base_mcu.tflite"])
    assert mcu.inputs[0].shape == (1, 600) and mcu.inputs[0].dtype == "int8"
    assert mcu.tflm_compatible, mcu.tflm_unsupported_ops


def test_the_int8_base_is_the_mcu_base_graph_with_a_dynamic_batch_so_host_and_mcu_features_agree(
    bundle, trained
):
    from har_edge.firmware.personalize import mcu_base_bundle
    from har_edge.runtime.classifier import Classifier

    host, mcu = inspect_tflite(bundle.base), inspect_tflite(bundle.files["base_mcu.tflite"])
    assert host.op_counts == mcu.op_counts and host.inputs[0].shape == (-1, 600)
    x = trained[1].test.x
    np.testing.assert_array_equal(
        Classifier(bundle).features(x), Classifier(mcu_base_bundle(bundle)).features(x)
    )


def test_int8_base_plus_head_agrees_with_the_keras_model(bundle, trained):
    trained_model, splits = trained
    x = trained_model.normalizer.apply(splits.test.x).reshape(len(splits.test), -1)
    features = run_model(bundle.base, x).reshape(len(x), -1)
    from har_edge.runtime.interpreter import load_interpreter

    infer = load_interpreter(bundle.head).get_signature_runner("infer")
    probabilities = infer(features=features)["probabilities"]
    keras_top1 = trained_model.model.predict(x, verbose=0).argmax(axis=1)
    agreement = np.mean(probabilities.argmax(axis=1) == keras_top1)
    assert agreement >= 0.95, f"int8 base + float head agree with Keras on only {agreement:.1%}"


def test_a_tampered_file_is_refused_when_the_bundle_is_opened(bundle, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(bundle.path, copy)
    data = bytearray((copy / "head.tflite").read_bytes())
    data[-1] ^= 0xFF
    (copy / "head.tflite").write_bytes(bytes(data))
    with pytest.raises(InputError, match="head.tflite: does not match the manifest"):
        open_bundle(copy)


def test_a_manifest_of_another_schema_version_is_refused(bundle, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(bundle.path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["schema_version"] = 7
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="schema_version 7"):
        open_bundle(copy)


def test_zip_holds_the_same_files(bundle):
    with zipfile.ZipFile(bundle.path.with_suffix(".zip")) as archive:
        names = sorted(archive.namelist())
        assert names == sorted(f"bundle/{name}" for name in [*bundle.files, "manifest.json"])
        assert archive.read("bundle/head.tflite") == bundle.head


def test_export_refuses_an_existing_folder_and_a_mismatched_head_writes_nothing(trained, bundle, tmp_path):
    trained_model, splits = trained
    with pytest.raises(OutputExistsError):
        export_bundle(export_request(), bundle.path)
    wrong_head = new_head(1000, 12)
    with pytest.raises(InputError, match="head expects 1000 features"):
        export_bundle(export_request(head=wrong_head), tmp_path / "b")
    assert not (tmp_path / "b").exists() and list(tmp_path.iterdir()) == []


def test_new_head_with_personal_labels_is_exported_with_those_labels(trained, tmp_path):
    trained_model, splits = trained
    labels = ("walk", "sit", "stand", "lie")
    request = export_request(head=new_head(1600, 4, hidden=16), class_labels=labels, mcu_variant=False)
    exported = export_bundle(request, tmp_path / "personal")
    assert exported.manifest.class_labels == labels and exported.manifest.head_hidden == 16
    assert "base_mcu.tflite" not in exported.files


TF_FREE_TRAINING = """
import sys
import numpy as np
from har_edge.runtime.bundle import open_bundle
from har_edge.runtime.interpreter import interpreter_backend, load_interpreter, run_model

bundle = open_bundle(sys.argv[1])
rng = np.random.default_rng(0)
x = rng.normal(size=(32, 600)).astype(np.float32)
features = run_model(bundle.base, x).reshape(32, -1)
labels = np.eye(12, dtype=np.float32)[rng.integers(0, 12, 32)]
train = load_interpreter(bundle.head).get_signature_runner("train")
rate = np.float32(0.05)
losses = [float(train(features=features, labels=labels, learning_rate=rate)["loss"]) for _ in range(20)]
print(interpreter_backend(), losses[0] > losses[-1], "tensorflow" in sys.modules)
"""


def test_bundle_loads_and_trains_in_litert_without_tensorflow(bundle):
    result = subprocess.run(
        [sys.executable, "-c", TF_FREE_TRAINING, str(bundle.path)], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["ai_edge_litert.interpreter", "True", "False"]
