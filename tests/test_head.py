import subprocess
import sys
import textwrap

import numpy as np
import pytest

from har_edge.errors import InputError
from har_edge.export.head import head_tflite
from har_edge.runtime.head import HeadWeights, reference_forward, reference_sgd_step
from har_edge.runtime.interpreter import load_interpreter
from har_edge.tfcompat import tensorflow
from har_edge.tflite_info import inspect_tflite

F, H, C = 10, 6, 3
TOLERANCE = 1e-5


def random_weights(rng: np.random.Generator, hidden: int | None) -> HeadWeights:
    """Random weights AND biases (``HeadWeights.random`` has zero biases, which would hide bias bugs)."""
    widths = [F, C] if hidden is None else [F, hidden, C]
    return HeadWeights(
        tuple(
            (
                rng.normal(0, 0.5, (fan_in, fan_out)).astype(np.float32),
                rng.normal(0, 0.5, fan_out).astype(np.float32),
            )
            for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True)
        )
    )


def separable_batch(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Features whose first C columns are shifted up by 3 for the sample's class, and one-hot labels."""
    labels = np.arange(n) % C
    features = rng.normal(0, 1, (n, F)).astype(np.float32)
    features[np.arange(n), labels] += 3.0
    return features, np.eye(C, dtype=np.float32)[labels]


@pytest.fixture(scope="module", params=[None, H], ids=["one_layer", "two_layer"])
def head(request) -> tuple[HeadWeights, bytes]:
    weights = random_weights(np.random.default_rng(7), request.param)
    return weights, head_tflite(weights)


def fresh_runner(model: bytes):
    """A fresh interpreter (variables at their initial values) and a name -> SignatureRunner getter."""
    return load_interpreter(model).get_signature_runner


def assert_weights_close(actual: HeadWeights, expected: HeadWeights, atol: float) -> None:
    for (w, b), (w_ref, b_ref) in zip(actual.layers, expected.layers, strict=True):
        np.testing.assert_allclose(w, w_ref, atol=atol, rtol=0)
        np.testing.assert_allclose(b, b_ref, atol=atol, rtol=0)


def test_signatures_follow_the_contract(head):
    weights, model = head
    interpreter = load_interpreter(model)
    names = ["w0", "b0"] if weights.hidden is None else ["w0", "b0", "w1", "b1"]
    assert interpreter.get_signature_list() == {
        "infer": {"inputs": ["features"], "outputs": ["probabilities"]},
        "train": {"inputs": ["features", "labels", "learning_rate"], "outputs": ["loss"]},
        "get_weights": {"inputs": [], "outputs": sorted(names)},
        "set_weights": {"inputs": sorted(names), "outputs": ["n_assigned"]},
    }
    train = interpreter.get_signature_runner("train").get_input_details()
    assert list(train["features"]["shape_signature"]) == [-1, F]
    assert list(train["labels"]["shape_signature"]) == [-1, C]
    assert list(train["learning_rate"]["shape_signature"]) == []
    assert {detail["dtype"] for detail in train.values()} == {np.float32}


def test_every_op_is_a_builtin(head):
    _, model = head
    info = inspect_tflite(model)
    assert info.builtin_only
    assert "CUSTOM" not in info.op_counts and not any(name.startswith("Flex") for name in info.op_counts)


def test_builtin_only_check_detects_a_flex_op():
    tf = tensorflow()

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    def relu_grad(x):
        return tf.raw_ops.ReluGrad(gradients=x, features=x)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([relu_grad.get_concrete_function()])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    flex_model = converter.convert()
    info = inspect_tflite(flex_model)
    assert list(info.op_counts) == ["FlexReluGrad"] and info.custom_ops == ("FlexReluGrad",)
    assert not info.builtin_only


@pytest.mark.parametrize("batch", [1, 5, 32])
def test_infer_matches_reference_forward_for_any_batch(head, rng, batch):
    weights, model = head
    features, _ = separable_batch(rng, batch)
    probabilities = fresh_runner(model)("infer")(features=features)["probabilities"]
    assert probabilities.shape == (batch, C) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities, reference_forward(weights, features), atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("batch", [1, 32])
def test_one_train_step_matches_reference_sgd_step(head, rng, batch):
    weights, model = head
    features, onehot = separable_batch(rng, batch)
    runner = fresh_runner(model)
    loss = runner("train")(features=features, labels=onehot, learning_rate=np.float32(0.1))["loss"]
    expected_weights, expected_loss = reference_sgd_step(weights, features, onehot, 0.1)
    assert loss.shape == () and abs(float(loss) - expected_loss) <= TOLERANCE
    assert_weights_close(HeadWeights.from_named(runner("get_weights")()), expected_weights, TOLERANCE)


def test_repeated_train_steps_lower_the_loss(head, rng):
    _, model = head
    features, onehot = separable_batch(rng, 60)
    train = fresh_runner(model)("train")
    losses = [
        float(train(features=features, labels=onehot, learning_rate=np.float32(0.2))["loss"])
        for _ in range(30)
    ]
    assert losses[-1] < 0.5 * losses[0]
    assert np.all(np.diff(losses) <= 1e-6), losses


def test_set_weights_then_get_weights_round_trips_bit_identically(head, rng):
    weights, model = head
    replacement = random_weights(rng, weights.hidden)
    runner = fresh_runner(model)
    assigned = runner("set_weights")(**replacement.named())["n_assigned"]
    assert int(assigned) == sum(array.size for array in replacement.named().values())
    read_back = runner("get_weights")()
    for name, array in replacement.named().items():
        assert read_back[name].dtype == np.float32 and read_back[name].tobytes() == array.tobytes()
    features, _ = separable_batch(rng, 4)
    np.testing.assert_allclose(
        runner("infer")(features=features)["probabilities"],
        reference_forward(replacement, features),
        atol=TOLERANCE,
        rtol=0,
    )


CHILD_TRAINING_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    n_features, n_classes = {n_features}, {n_classes}
    rng = np.random.default_rng(0)
    labels = np.arange(60) % n_classes
    features = rng.normal(0, 1, (60, n_features)).astype(np.float32)
    features[np.arange(60), labels] += 3.0
    onehot = np.eye(n_classes, dtype=np.float32)[labels]
    train = Interpreter(model_path=sys.argv[1]).get_signature_runner("train")
    losses = [
        float(train(features=features, labels=onehot, learning_rate=np.float32(0.2))["loss"])
        for _ in range(10)
    ]
    assert losses[-1] < losses[0], losses
    print("tensorflow" in sys.modules)
    """
)


def test_trains_in_litert_in_a_process_that_never_imports_tensorflow(head, tmp_path):
    _, model = head
    path = tmp_path / "head.tflite"
    path.write_bytes(model)
    script = CHILD_TRAINING_SCRIPT.format(n_features=F, n_classes=C)
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_reference_sgd_step_follows_the_numerical_gradient(rng):
    """With learning rate 1 the step is minus the gradient; central differences along a random direction."""
    weights = random_weights(rng, H)
    features, onehot = separable_batch(rng, 8)
    before, after = weights.named(), reference_sgd_step(weights, features, onehot, 1.0)[0].named()
    step = {name: rng.normal(0, 1e-2, array.shape) for name, array in before.items()}

    def loss_at(sign: float) -> float:
        moved = {name: (array + sign * step[name]).astype(np.float32) for name, array in before.items()}
        return reference_sgd_step(HeadWeights.from_named(moved), features, onehot, 1.0)[1]

    predicted_change = sum(float(np.sum((before[name] - after[name]) * 2 * step[name])) for name in before)
    np.testing.assert_allclose(loss_at(+1.0) - loss_at(-1.0), predicted_change, rtol=1e-3)


def test_random_head_is_glorot_uniform_with_zero_biases_and_seeded():
    head = HeadWeights.random(1600, 4, hidden=32, seed=3)
    assert (head.n_features, head.hidden, head.n_classes) == (1600, 32, 4)
    (w0, b0), (w1, b1) = head.layers
    assert np.abs(w0).max() <= np.sqrt(6 / (1600 + 32)) and np.abs(w1).max() <= np.sqrt(6 / (32 + 4))
    assert not b0.any() and not b1.any()
    assert HeadWeights.random(1600, 4, hidden=32, seed=3).layers[0][0].tobytes() == w0.tobytes()
    assert HeadWeights.random(12, 5).hidden is None


def test_weights_are_read_only_copies(rng):
    w, b = rng.normal(0, 1, (F, C)).astype(np.float32), np.zeros(C, np.float32)
    head = HeadWeights(((w, b),))
    w[0, 0] = 99.0
    assert head.layers[0][0][0, 0] != 99.0
    with pytest.raises(ValueError):
        head.layers[0][0][0, 0] = 1.0


def _layer(rows: int, cols: int, fill: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    return np.full((rows, cols), fill, np.float32), np.zeros(cols, np.float32)


@pytest.mark.parametrize(
    "layers",
    [
        pytest.param((_layer(F, H), _layer(H + 1, C)), id="layers_do_not_chain"),
        pytest.param(((_layer(F, C)[0], np.zeros(C + 1, np.float32)),), id="bias_does_not_match"),
        pytest.param((_layer(F, C, np.nan),), id="nan_weights"),
        pytest.param((_layer(F, 0),), id="zero_classes"),
        pytest.param((_layer(F, 1),), id="one_class"),
        pytest.param(((_layer(F, C)[0].astype(np.float64), np.zeros(C, np.float32)),), id="float64"),
        pytest.param((_layer(F, H), _layer(H, H), _layer(H, C)), id="three_layers"),
        pytest.param((), id="no_layers"),
    ],
)
def test_invalid_weights_are_input_errors(layers):
    with pytest.raises(InputError):
        HeadWeights(layers)


def test_bad_reference_inputs_are_input_errors(rng):
    weights = random_weights(rng, None)
    features, onehot = separable_batch(rng, 4)
    with pytest.raises(InputError, match="features"):
        reference_forward(weights, features[:, :-1])
    with pytest.raises(InputError, match="rows"):
        reference_sgd_step(weights, features, onehot[:-1], 0.1)
    with pytest.raises(InputError, match="onehot"):
        reference_sgd_step(weights, features, onehot[:, :-1], 0.1)
    with pytest.raises(InputError, match="learning_rate"):
        reference_sgd_step(weights, features, onehot, float("nan"))
    with pytest.raises(InputError):
        HeadWeights.random(F, 0)
    with pytest.raises(InputError):
        HeadWeights.from_named({"w0": weights.layers[0][0]})
