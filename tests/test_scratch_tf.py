"""The NumPy engine against TensorFlow's GradientTape on the same weights (skipped without TF)."""
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")

from medlearn.scratch import MLP, MSE, BinaryCrossEntropy, SoftmaxCrossEntropy  # noqa: E402

ACT = {"relu": tf.nn.relu, "tanh": tf.math.tanh, "sigmoid": tf.math.sigmoid}


def _tf_loss(name, logits, y):
    if name == "bce":
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
    if name == "softmax_ce":
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
    return tf.reduce_mean(tf.square(logits - y))


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("loss_name, n_out", [("bce", 1), ("softmax_ce", 3), ("mse", 2)])
def test_gradients_match_gradient_tape(activation, loss_name, n_out):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(16, 6))
    if loss_name == "bce":
        y = rng.integers(0, 2, size=(16, 1)).astype(np.float64)
    elif loss_name == "softmax_ce":
        y = np.eye(3)[rng.integers(0, 3, size=16)]
    else:
        y = rng.normal(size=(16, 2))
    loss = {"bce": BinaryCrossEntropy(), "softmax_ce": SoftmaxCrossEntropy(), "mse": MSE()}[loss_name]

    net = MLP([6, 8, 5, n_out], activation=activation, seed=2)
    value = loss.forward(net.forward(X), y)
    net.backward(loss.backward())
    ours = net.gradients()

    params = {k: tf.Variable(v) for k, v in net.parameters().items()}
    with tf.GradientTape() as tape:
        h = tf.constant(X)
        for k in (1, 2, 3):
            h = h @ params[f"W{k}"] + params[f"b{k}"]
            if k < 3:
                h = ACT[activation](h)
        tf_value = _tf_loss(loss_name, h, tf.constant(y))
    theirs = tape.gradient(tf_value, params)

    assert value == pytest.approx(float(tf_value), rel=1e-10)
    for name, g in theirs.items():
        np.testing.assert_allclose(ours["d" + name], g.numpy(), rtol=1e-8, atol=1e-12, err_msg=name)
