"""A bundle is untrusted input: corrupt .tflite files whose manifest hashes match are typed errors
naming the file (verified before any interpreter sees them, test-run in a child process), never a
crash of the caller; NaN head weights and renamed signatures are refused at load."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from har_edge.errors import InputError
from har_edge.runtime.classifier import Classifier
from har_edge.runtime.personalize import Personalizer
from har_edge.tflite_info import count_macs, inspect_tflite
from har_edge.tflite_verify import verify_tflite
from tests.hostile_support import GOLDEN, golden_copy, patched, replace_file, run_isolated

# Byte edits found by the campaign that abort or segfault LiteRT when it loads or runs the file.
CRASHING_EDITS = {
    "two zeroed bytes in a base (no subgraph left)": ("base.tflite", {15: 0, 16: 0}),
    "two zeroed bytes in a base (SIGABRT in invoke)": ("base.tflite", {8788: 0, 8789: 0}),
    "one changed byte in a head (SIGSEGV)": ("head.tflite", {13842: 206}),
    "one changed byte in a head (SIGABRT)": ("head.tflite", {12157: 45}),
}


def golden(name: str) -> bytes:
    return (GOLDEN / name).read_bytes()


@pytest.mark.parametrize("name", ["base.tflite", "head.tflite", "base_mcu.tflite"])
def test_the_golden_models_pass_verification(name):
    verify_tflite(golden(name), name)  # raises on a problem; the golden bundle loads in other tests


@pytest.mark.parametrize("case", sorted(CRASHING_EDITS))
def test_a_model_that_crashes_litert_is_an_input_error_naming_the_file_and_the_caller_survives(
    tmp_path, case
):
    name, edits = CRASHING_EDITS[case]
    bundle = golden_copy(tmp_path)
    replace_file(bundle, name, patched(golden(name), edits))
    code = (
        "import numpy as np\n"
        "from har_edge.errors import InputError\n"
        "from har_edge.runtime.classifier import Classifier\n"
        f"try:\n    Classifier({str(bundle)!r}).predict(np.zeros((1, 50, 3)))\n"
        "except InputError as exc:\n    print('refused:', exc)\n"
    )
    result = run_isolated(code)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("refused:") and str(bundle / name) in result.stdout


@pytest.mark.parametrize("case", sorted(CRASHING_EDITS))
def test_inspect_and_count_macs_of_a_crashing_model_are_input_errors(case):
    name, edits = CRASHING_EDITS[case]
    data = patched(golden(name), edits)
    with pytest.raises(InputError, match="suspect.tflite"):
        count_macs(data, "suspect.tflite")  # runs the interpreter, in a child
    try:
        inspect_tflite(data, "suspect.tflite")  # reads the verified structure only
    except InputError as exc:
        assert "suspect.tflite" in str(exc)


def _tensor_field_position(data: bytes, tensor: int, field_id: int) -> int:
    from ai_edge_litert import schema_py_generated as schema

    table = schema.Model.GetRootAs(data, 0).Subgraphs(0).Tensors(tensor)._tab
    return table.Pos + table.Offset(4 + 2 * field_id)


def test_a_tensor_naming_a_buffer_out_of_range_is_refused_by_the_verifier():
    data = bytearray(golden("base.tflite"))
    position = _tensor_field_position(bytes(data), 11, field_id=2)  # Tensor.buffer
    struct.pack_into("<I", data, position, 1_000_000)
    with pytest.raises(
        InputError, match=r"base.tflite: corrupt TFLite model: .*buffer 1000000 is out of range"
    ):
        verify_tflite(bytes(data), "base.tflite")


def test_a_constant_tensor_whose_shape_needs_more_bytes_than_its_buffer_is_refused():
    data = bytearray(golden("base.tflite"))
    shape_vector = _tensor_field_position(bytes(data), 11, field_id=0)  # the (8, 16) weights
    shape = shape_vector + struct.unpack_from("<I", data, shape_vector)[0]
    struct.pack_into("<i", data, shape + 4, 9)  # (9, 16): 144 bytes, the buffer holds 128
    with pytest.raises(InputError, match=r"holds 128 bytes, shape \[9, 16\] needs 144"):
        verify_tflite(bytes(data), "base.tflite")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d[:4] + b"XXXX" + d[8:], "no 'TFL3' identifier"),
        (lambda d: d[: len(d) // 2], "outside the file"),
        (lambda d: struct.pack("<I", len(d) + 8) + d[4:], "outside the file"),
    ],
)
def test_wrong_identifier_truncation_and_a_root_past_the_end_are_refused(edit, message):
    with pytest.raises(InputError, match=message):
        verify_tflite(edit(golden("base.tflite")), "base.tflite")


def test_an_unknown_schema_version_is_refused():
    from ai_edge_litert import schema_py_generated as schema

    data = bytearray(golden("head.tflite"))
    model = schema.Model.GetRootAs(bytes(data), 0)._tab
    struct.pack_into("<I", data, model.Pos + model.Offset(4), 4)
    with pytest.raises(InputError, match="schema version 4, this verifier knows 3"):
        verify_tflite(bytes(data), "head.tflite")


def _head_with_w0(tmp_path, value: float):
    from ai_edge_litert import schema_py_generated as schema

    data = bytearray(golden("head.tflite"))
    model = schema.Model.GetRootAs(bytes(data), 0)
    buffer = next(
        model.Buffers(i) for i in range(model.BuffersLength()) if model.Buffers(i).DataLength() == 6400
    )
    start = buffer._tab.Vector(buffer._tab.Offset(4))
    struct.pack_into("<f", data, start + 4 * 17, value)
    bundle = golden_copy(tmp_path)
    replace_file(bundle, "head.tflite", bytes(data))
    return bundle


@pytest.mark.parametrize(
    ("value", "message"), [(np.nan, "NaN or infinite"), (np.inf, "NaN or infinite"), (3e7, "over")]
)
def test_a_head_with_non_finite_or_absurd_weights_is_refused_at_load(tmp_path, value, message):
    bundle = _head_with_w0(tmp_path, value)
    with pytest.raises(InputError, match=f"head weight w0.*{message}"):
        Classifier(bundle)


def test_non_finite_probabilities_never_become_a_label():
    classifier = Classifier(GOLDEN)
    weights = classifier.head_weights()
    huge = {name: np.full_like(array, 3e38) for name, array in weights.named().items()}
    classifier.set_head_weights(huge)  # finite, so installable; the logits overflow to inf - inf = NaN
    with pytest.raises(InputError, match="NaN or infinite probabilities"):
        classifier.predict(np.ones((2, 50, 3)))


@pytest.mark.parametrize(
    ("old", "new"), [(b"probabilities", b"probabilitiez"), (b"loss", b"lost"), (b"n_assigned", b"n_assignee")]
)
def test_a_renamed_head_signature_tensor_is_refused_at_load_not_later_by_the_personalizer(tmp_path, old, new):
    bundle = golden_copy(tmp_path)
    replace_file(bundle, "head.tflite", golden("head.tflite").replace(old, new))
    with pytest.raises(InputError, match="do not follow the head contract"):
        Personalizer(Classifier(bundle))


def test_a_tensor_name_that_is_not_utf8_is_an_input_error_naming_the_file(tmp_path):
    name_at = golden("head.tflite").find(b"train_features:0")  # found by the campaign: LiteRT's
    bundle = golden_copy(tmp_path)  # get_output_details raised UnicodeDecodeError
    replace_file(bundle, "head.tflite", patched(golden("head.tflite"), {name_at + 5: 0xFF}))
    with pytest.raises(InputError, match=r"head.tflite: corrupt TFLite model: .*name.* is not UTF-8"):
        Classifier(bundle)
