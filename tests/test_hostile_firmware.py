"""The code generator's input is untrusted: crafted models whose shapes or parameters disagree with what
the kernels read and write (each once built with exit 0 into a program that wrote out of bounds, or
ended in a traceback) are refused with a typed error naming the op, before any file is written; the
bundle's ``base_mcu.tflite`` goes through the same verified reader as every bundle file, on every
path; and ``--out`` never replaces the model it reads."""

from __future__ import annotations

import os
import shutil
import zipfile

import pytest

from har_edge.cli import main
from har_edge.codegen.emit import generate
from har_edge.codegen.graph import UnsupportedModelError
from har_edge.errors import InputError
from tests import crafted_models as cm
from tests.hostile_support import GOLDEN, golden_copy, manifest_of, replace_file, write_manifest

MCU = "base_mcu.tflite"


def firmware(capsys, *argv) -> tuple[int, str]:
    code = main(["firmware", *map(str, argv), "--board", "host"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("case", sorted(cm.CRAFTED))
def test_a_crafted_model_is_refused_naming_the_problem_and_nothing_is_written(tmp_path, capsys, case):
    data, words = cm.CRAFTED[case]
    with pytest.raises(InputError, match=words):
        generate(data)
    model = tmp_path / "model.tflite"
    model.write_bytes(data)
    code, err = firmware(capsys, model, "--out", tmp_path / "fw")
    assert code == 2 and words in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tflite"]


@pytest.mark.parametrize(
    "data",
    [
        cm.unary("RELU", (1, 600), (1, 600)),
        cm.concat_model((1, 4600)),
        cm.add_model((1, 8), (1, 1), (1, 8), cm.int8_values((1, 1))),
        cm.mean_model((1, 4)),
        cm.pool_model((1, 9, 1, 4)),
        cm.conv_model((1, 8, 1, 4)),
        cm.conv_model((1, 8, 1, 4), (1, 3, 1, 4), depthwise=True),
        cm.pad_model((1, 14, 3)),
        cm.fc_model(),
        cm.relu_chain(1024),
    ],
    ids=["relu", "concat", "add", "mean", "pool", "conv", "depthwise", "pad", "fc", "1024 ops"],
)
def test_the_same_models_with_consistent_shapes_are_generated(data):
    assert generate(data).layers


def test_an_unsupported_model_error_names_the_op_and_its_index():
    with pytest.raises(UnsupportedModelError) as caught:
        generate(cm.CRAFTED["concatenation output smaller than its inputs"][0])
    assert (caught.value.op, caught.value.index) == ("CONCATENATION", 0)


def test_a_replaced_base_mcu_in_a_bundle_is_refused_by_firmware(tmp_path, capsys):
    bundle = golden_copy(tmp_path)
    (bundle / MCU).write_bytes(cm.concat_model((1, 8)))  # the manifest's hash no longer matches
    code, err = firmware(capsys, bundle, "--out", tmp_path / "fw")
    assert code == 2 and "corrupted or replaced" in err and not (tmp_path / "fw").exists()


def test_a_correctly_hashed_hostile_base_mcu_is_refused_by_firmware_and_by_the_bundle_probe(tmp_path, capsys):
    bundle = golden_copy(tmp_path)
    replace_file(bundle, MCU, cm.concat_model((1, 8)))
    code, err = firmware(capsys, bundle, "--out", tmp_path / "fw")
    assert code == 2 and str(bundle / MCU) in err and not (tmp_path / "fw").exists()


def test_a_base_mcu_symlinked_out_of_the_bundle_is_refused(tmp_path, capsys):
    bundle = golden_copy(tmp_path)
    outside = tmp_path / "foreign.tflite"
    outside.write_bytes((GOLDEN / MCU).read_bytes())
    (bundle / MCU).unlink()
    os.symlink(outside, bundle / MCU)
    code, err = firmware(capsys, bundle, "--out", tmp_path / "fw")
    assert code == 2 and "outside the bundle" in err


def test_a_base_mcu_the_manifest_does_not_list_is_not_used(tmp_path, capsys):
    bundle = golden_copy(tmp_path)
    manifest = manifest_of(bundle)
    del manifest["files"][MCU]
    write_manifest(bundle, manifest)
    code, err = firmware(capsys, bundle, "--out", tmp_path / "fw")
    assert code == 2 and f"does not list {MCU}" in err
    from har_edge.bench.variants import bundle_artifact

    assert bundle_artifact(bundle).mcu_bytes is None  # bench compiles nothing the manifest does not list


def _zip(path, members: dict) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_firmware_takes_a_bundle_zip_like_every_other_verb(tmp_path, capsys):
    members = {f"bundle/{p.name}": p.read_bytes() for p in golden_copy(tmp_path).iterdir()}
    _zip(tmp_path / "b.zip", members)
    code, err = firmware(capsys, tmp_path / "b.zip", "--out", tmp_path / "fw")
    assert code == 0, err
    assert (tmp_path / "fw" / "model").is_dir()


def test_a_zip_mixing_two_folders_is_refused_rather_than_flattened(tmp_path, capsys):
    members = {f"good/{p.name}": p.read_bytes() for p in golden_copy(tmp_path).iterdir()}
    evil = manifest_of(GOLDEN)
    evil["class_labels"] = ["evil", "labels", "here"]
    del members["good/manifest.json"]
    members["evil/manifest.json"] = str(evil).encode()
    _zip(tmp_path / "b.zip", members)
    code = main(["inspect", str(tmp_path / "b.zip")])
    assert code == 2 and "one folder" in capsys.readouterr().err


def test_a_zip_member_larger_than_the_limit_is_refused_before_it_is_inflated(tmp_path, capsys, monkeypatch):
    from har_edge.cli import common

    monkeypatch.setattr(common, "MAX_ZIP_MEMBER_BYTES", 1 << 16)
    members = {p.name: p.read_bytes() for p in golden_copy(tmp_path).iterdir()}
    members["base.tflite"] = bytes(1 << 20)  # deflates to ~1 kB
    _zip(tmp_path / "b.zip", members)
    code = main(["inspect", str(tmp_path / "b.zip")])
    assert code == 2 and "the limit is 65,536 per file" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["the model itself", "the folder holding it"])
def test_firmware_overwrite_never_replaces_the_model_it_reads(tmp_path, capsys, where):
    model = tmp_path / "m.tflite"
    model.write_bytes((GOLDEN / MCU).read_bytes())
    out = model if where == "the model itself" else tmp_path
    code, err = firmware(capsys, model, "--out", out, "--overwrite")
    assert code == 2 and "delete the input" in err
    assert model.read_bytes() == (GOLDEN / MCU).read_bytes()


def test_bench_overwrite_never_replaces_the_folder_holding_its_bundle(tmp_path, capsys):
    bundle = golden_copy(tmp_path / "runs", "b3")
    sibling = golden_copy(tmp_path / "runs", "b4")
    code = main(["bench", str(bundle), "--out", str(tmp_path / "runs"), "--overwrite"])
    assert code == 2 and "delete the input" in capsys.readouterr().err
    assert (bundle / "manifest.json").is_file() and (sibling / "manifest.json").is_file()


def test_optimize_zip_never_replaces_an_unrelated_zip(tmp_path, capsys):
    unrelated = tmp_path / "x.zip"
    unrelated.write_bytes(b"someone else's archive")
    code = main(["optimize", str(tmp_path / "model"), "--out", str(tmp_path / "x"), "--zip"])
    assert code == 2 and "x.zip" in capsys.readouterr().err
    assert unrelated.read_bytes() == b"someone else's archive"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_or_a_device_as_the_model_is_refused_without_blocking(tmp_path, capsys):
    fifo = tmp_path / "m.tflite"
    os.mkfifo(fifo)
    for source in (fifo, "/dev/zero"):
        code, err = firmware(capsys, source, "--out", tmp_path / "fw")
        assert code == 2 and "not a regular file" in err


def test_firmware_verify_of_a_model_litert_refuses_is_a_typed_error(tmp_path, capsys):
    if shutil.which("gcc") is None or shutil.which("make") is None:
        pytest.skip("host gcc/make missing")
    model = tmp_path / "m.tflite"  # LiteRT's int8 LOGISTIC needs output scale 1/256; the generator does not
    model.write_bytes(cm.build([cm.T((1, 8)), cm.T((1, 8), scale=0.05)], [cm.Op("LOGISTIC", (0,), (1,))]))
    code, err = firmware(capsys, model, "--out", tmp_path / "fw", "--verify", "2")
    assert code == 2 and "LiteRT's reference kernels cannot run the model" in err


def test_out_as_the_current_folder_is_refused_even_with_overwrite(tmp_path, capsys, monkeypatch):
    model = tmp_path / "m.tflite"
    model.write_bytes((GOLDEN / MCU).read_bytes())
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    code, err = firmware(capsys, model, "--out", ".", "--overwrite")
    assert code == 2 and "current folder" in err and (tmp_path / "work").is_dir()


def test_an_out_path_under_a_file_is_a_typed_error_naming_it(tmp_path, capsys):
    model = tmp_path / "m.tflite"
    model.write_bytes((GOLDEN / MCU).read_bytes())
    code, err = firmware(capsys, model, "--out", model / "fw")
    assert code == 2 and "Traceback" not in err and str(tmp_path) in err


def test_bench_mcu_path_refuses_a_correctly_hashed_hostile_base_mcu_before_a_board_runs_it(tmp_path):
    from har_edge.bench.variants import bundle_artifact
    from har_edge.targets import resolve_targets

    bundle = golden_copy(tmp_path)
    replace_file(bundle, MCU, cm.concat_model((1, 8)))  # once: 4,600 bytes written into an 8-byte buffer
    (target,) = resolve_targets(["cortex-m4f-80mhz"])
    with pytest.raises(InputError, match=r"mcu_bytes: op 0 \(CONCATENATION\): output shape \[1, 8\]"):
        target.measure(bundle_artifact(bundle))


def test_inspect_no_longer_calls_a_bundle_with_a_hostile_base_mcu_verified(tmp_path, capsys):
    bundle = golden_copy(tmp_path)
    replace_file(bundle, MCU, cm.concat_model((1, 8)))
    assert main(["inspect", str(bundle)]) == 2
    captured = capsys.readouterr()
    assert "hashes verified" not in captured.out and f"{MCU}: op 0 (CONCATENATION)" in captured.err
