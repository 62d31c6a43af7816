"""Build head.tflite: the trainable head as a float32 TFLite model with the ``infer``, ``train``,
``get_weights`` and ``set_weights`` signatures (contract: ``har_edge.runtime.head``). Needs TensorFlow.

The gradients are written out by hand because ``tf.GradientTape`` through ReLU converts to a Flex op;
``har_edge.runtime.head.reference_sgd_step`` is the same math in numpy.
"""

from __future__ import annotations

import tempfile

import numpy as np

from har_edge.runtime.head import HeadWeights, parameter_names
from har_edge.tfcompat import tensorflow


def _tf_layer_inputs(tf, variables: list, features):
    """TF twin of ``runtime.head._reference_layer_inputs``."""
    inputs = [features]
    for w, b in variables[:-1]:
        inputs.append(tf.nn.relu(tf.matmul(inputs[-1], w) + b))
    w, b = variables[-1]
    return inputs, tf.matmul(inputs[-1], w) + b


def _tf_sgd_step(tf, variables: list, features, labels, learning_rate):
    """TF twin of ``runtime.head.reference_sgd_step`` with hand-written gradients (builtin ops only).

    All gradients are computed before the first assignment; the ReLU gradient is a select on the
    activation (> 0 exactly where the pre-activation is).
    """
    inputs, logits = _tf_layer_inputs(tf, variables, features)
    log_p = tf.nn.log_softmax(logits)
    n = tf.cast(tf.shape(features)[0], tf.float32)
    loss = -tf.reduce_sum(labels * log_p) / n
    delta = (tf.exp(log_p) - labels) / n
    gradients = []
    for i in reversed(range(len(variables))):
        w, b = variables[i]
        gradients += [(w, tf.matmul(inputs[i], delta, transpose_a=True)), (b, tf.reduce_sum(delta, axis=0))]
        if i > 0:
            backprop = tf.matmul(delta, w, transpose_b=True)
            delta = tf.where(inputs[i] > 0, backprop, tf.zeros_like(backprop))
    for variable, gradient in gradients:
        variable.assign_sub(learning_rate * gradient)
    return loss


def _signature_functions(tf, weights: HeadWeights) -> tuple[object, dict]:
    """A tf.Module holding the head's variables and the concrete functions of the four signatures."""
    module = tf.Module()
    module.head_variables = [
        (tf.Variable(w, name=f"w{i}"), tf.Variable(b, name=f"b{i}"))
        for i, (w, b) in enumerate(weights.layers)
    ]
    variables = module.head_variables
    flat_variables = [v for layer in variables for v in layer]
    features = tf.TensorSpec([None, weights.n_features], tf.float32, name="features")
    labels = tf.TensorSpec([None, weights.n_classes], tf.float32, name="labels")
    learning_rate = tf.TensorSpec([], tf.float32, name="learning_rate")
    parameters = [
        tf.TensorSpec(v.shape, tf.float32, name=name)
        for v, name in zip(flat_variables, parameter_names(len(variables)), strict=True)
    ]
    n_parameters = sum(int(np.prod(v.shape)) for v in flat_variables)

    @tf.function(input_signature=[features])
    def infer(features):
        _, logits = _tf_layer_inputs(tf, variables, features)
        return {"probabilities": tf.nn.softmax(logits)}

    @tf.function(input_signature=[features, labels, learning_rate])
    def train(features, labels, learning_rate):
        return {"loss": _tf_sgd_step(tf, variables, features, labels, learning_rate)}

    @tf.function(input_signature=[])
    def get_weights():
        names = parameter_names(len(variables))
        return {name: v.read_value() for name, v in zip(names, flat_variables, strict=True)}

    @tf.function(input_signature=parameters)
    def set_weights(*arrays):
        for variable, array in zip(flat_variables, arrays, strict=True):
            variable.assign(array)
        return {"n_assigned": tf.constant(n_parameters, tf.int32)}

    functions = {"infer": infer, "train": train, "get_weights": get_weights, "set_weights": set_weights}
    return module, {name: function.get_concrete_function() for name, function in functions.items()}


def head_tflite(weights: HeadWeights) -> bytes:
    """A float32 builtin-ops-only TFLite model of the head, variables initialized to ``weights``.

    Signatures: see ``har_edge.runtime.head``. Conversion goes through a temporary SavedModel so the
    signature names are explicit; a conversion that would need a Flex op fails instead.
    """
    tf = tensorflow()
    module, signatures = _signature_functions(tf, weights)
    with tempfile.TemporaryDirectory(prefix="har_edge_head_") as saved_model_dir:
        tf.saved_model.save(module, saved_model_dir, signatures=signatures)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=list(signatures))
        converter.experimental_enable_resource_variables = True
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        return converter.convert()
