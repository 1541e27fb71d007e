"""The NumPy engine against oracles: finite differences (float64), closed forms, and training."""
import numpy as np
import pytest

from medlearn.scratch import (
    MLP, MSE, SGD, BinaryCrossEntropy, Dense, ReLU, ScratchError, Sequential, Sigmoid, Softmax,
    SoftmaxCrossEntropy, Tanh, accuracy, binary_cross_entropy, check_model_gradients,
    clip_by_global_norm, fit, global_norm, gradient_check, interpret_relative_error, log_sigmoid,
    log_softmax, minibatches, mse, numerical_gradient, relative_error, relu_grad, sigmoid,
    sigmoid_grad, softmax, softmax_cross_entropy, tanh_grad,
)

RNG = np.random.default_rng(0)


def _away_from_zero(shape, rng):
    """Inputs at least 0.1 away from ReLU's kink, so central differences are exact enough."""
    z = rng.normal(size=shape)
    return np.where(np.abs(z) < 0.1, np.sign(z + 1e-12) * 0.1 + z, z)


# ---------------------------------------------------------------- activations
@pytest.mark.parametrize("fn, grad", [(sigmoid, sigmoid_grad), (np.tanh, tanh_grad)])
def test_activation_derivatives_match_finite_differences(fn, grad):
    z = RNG.normal(size=(7, 5)) * 3
    eps = 1e-6
    numeric = (fn(z + eps) - fn(z - eps)) / (2 * eps)
    assert relative_error(grad(z), numeric) < 1e-7


def test_relu_grad_is_a_step():
    z = np.array([-2.0, -1e-9, 0.0, 1e-9, 3.0])
    np.testing.assert_array_equal(relu_grad(z), [0, 0, 0, 1, 1])


def test_sigmoid_is_stable_and_exact_in_both_tails():
    z = np.array([-1000.0, -745.0, -30.0, 0.0, 30.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow at all
        s = sigmoid(z)
    assert np.all(np.isfinite(s)) and s[3] == 0.5 and s[-1] == 1.0 and s[0] == 0.0
    np.testing.assert_allclose(s[2], np.exp(-30.0) / (1 + np.exp(-30.0)), rtol=1e-12)
    assert sigmoid(np.float32(2.0)).dtype == np.float32


def test_log_sigmoid_and_log_softmax_never_give_minus_inf():
    z = np.array([-1000.0, 0.0, 1000.0])
    np.testing.assert_allclose(log_sigmoid(z), [-1000.0, -np.log(2), 0.0], atol=1e-12)
    ls = log_softmax(np.array([[1000.0, 0.0], [0.0, 0.0]]))
    np.testing.assert_allclose(ls, [[0.0, -1000.0], [-np.log(2), -np.log(2)]], atol=1e-12)


def test_softmax_rows_sum_to_one_and_resist_overflow():
    z = RNG.normal(size=(6, 4)) * 500
    p = softmax(z)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(softmax(z[:, :1] * 0 + np.array([[1.0, 2.0]])),
                               np.exp([1, 2]) / np.exp([1, 2]).sum() * np.ones((6, 1)))


# ---------------------------------------------------------------- layers
def _check_layer(layer, x, params=()):
    """Gradient of sum(out * G) w.r.t. x and params, with a random upstream G."""
    out = layer.forward(x)
    G = RNG.normal(size=out.shape)
    dx = layer.backward(G)

    def f(_=None):
        return float(np.sum(layer.forward(x) * G))

    assert relative_error(dx, numerical_gradient(f, x)) < 1e-7
    for name in params:
        numeric = numerical_gradient(f, getattr(layer, name))
        layer.forward(x)
        layer.backward(G)
        assert relative_error(getattr(layer, "d" + name), numeric) < 1e-7, name


@pytest.mark.parametrize("layer", [Sigmoid(), Tanh(), ReLU(), Softmax()], ids=lambda l: type(l).__name__)
def test_activation_layers_backward(layer):
    _check_layer(layer, _away_from_zero((5, 4), RNG) * 2)


def test_dense_backward_and_shapes():
    layer = Dense(4, 3, seed=1)
    _check_layer(layer, RNG.normal(size=(6, 4)), params=("W", "b"))
    assert layer.dW.shape == (4, 3) and layer.db.shape == (3,)


def test_dense_refuses_wrong_inputs_with_clear_messages():
    with pytest.raises(ScratchError, match=r"n_out must be a positive int. Received: n_out=0"):
        Dense(3, 0)
    with pytest.raises(ScratchError, match="init must be"):
        Dense(3, 2, init="xavier")
    with pytest.raises(ScratchError, match=r"expects 3 input features. Received: x.shape=\(5, 4\)"):
        Dense(3, 2).forward(np.ones((5, 4)))
    with pytest.raises(ScratchError, match="before forward"):
        Dense(3, 2).backward(np.ones((5, 2)))


# ---------------------------------------------------------------- losses
def _loss_grad_check(loss, pred, y):
    loss.forward(pred, y)
    dpred = loss.backward()
    numeric = numerical_gradient(lambda p: loss.forward(p, y), pred)
    assert relative_error(dpred, numeric) < 1e-7


def test_mse_value_and_gradient():
    pred, y = RNG.normal(size=(8, 2)), RNG.normal(size=(8, 2))
    assert mse(pred, y) == pytest.approx(np.mean((pred - y) ** 2))
    _loss_grad_check(MSE(), pred, y)


def test_mse_refuses_silent_broadcasting():
    with pytest.raises(ScratchError, match=r"y must have the same shape as pred.*y.reshape"):
        mse(np.ones((5, 1)), np.ones(5))


def test_binary_cross_entropy_value_gradient_and_stability():
    z, y = RNG.normal(size=(9, 1)) * 3, RNG.integers(0, 2, size=(9, 1)).astype(float)
    p = 1 / (1 + np.exp(-z))
    naive = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert binary_cross_entropy(z, y) == pytest.approx(naive, rel=1e-12)
    _loss_grad_check(BinaryCrossEntropy(), z, y)
    big = binary_cross_entropy(np.array([1000.0, -1000.0, 1000.0]), np.array([0.0, 1.0, 1.0]))
    assert big == pytest.approx(2000.0 / 3)  # finite, where log(sigmoid) gives inf


def test_softmax_cross_entropy_value_gradient_and_label_forms():
    z, labels = RNG.normal(size=(7, 3)) * 2, RNG.integers(0, 3, size=7)
    Y = np.eye(3)[labels]
    expected = -np.mean(np.log(np.exp(z)[np.arange(7), labels] / np.exp(z).sum(axis=1)))
    assert softmax_cross_entropy(z, labels) == pytest.approx(expected, rel=1e-12)
    assert softmax_cross_entropy(z, Y) == pytest.approx(expected, rel=1e-12)
    _loss_grad_check(SoftmaxCrossEntropy(), z, labels)
    assert np.isfinite(softmax_cross_entropy(np.array([[1000.0, -1000.0]]), [1]))
    with pytest.raises(ScratchError, match="Class labels must lie in 0..2"):
        softmax_cross_entropy(z, labels + 3)


def test_two_class_softmax_equals_binary_cross_entropy():
    z = RNG.normal(size=(10, 1))
    y = RNG.integers(0, 2, size=10)
    two = np.hstack([np.zeros_like(z), z])  # softmax([0, z])[1] == sigmoid(z)
    assert softmax_cross_entropy(two, y) == pytest.approx(binary_cross_entropy(z, y[:, None].astype(float)))


# ---------------------------------------------------------------- the MLP and the gradient check
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("loss, n_out, make_y", [
    (BinaryCrossEntropy(), 1, lambda rng, n: rng.integers(0, 2, size=(n, 1)).astype(float)),
    (SoftmaxCrossEntropy(), 3, lambda rng, n: rng.integers(0, 3, size=n)),
    (MSE(), 2, lambda rng, n: rng.normal(size=(n, 2))),
], ids=["bce", "softmax_ce", "mse"])
def test_mlp_gradients_match_finite_differences(activation, loss, n_out, make_y):
    rng = np.random.default_rng(3)
    net = MLP([5, 7, 4, n_out], activation=activation, seed=1)
    X = rng.normal(size=(6, 5))
    report = check_model_gradients(net, loss, X, make_y(rng, 6), check_input=True)
    assert report.ok, report
    assert set(report.errors) == {"dW1", "db1", "dW2", "db2", "dW3", "db3", "dX"}


def test_gradient_check_flags_a_wrong_gradient_and_a_wrong_shape():
    W = RNG.normal(size=(3, 2))
    b = RNG.normal(size=2)
    X = RNG.normal(size=(4, 3))

    def f():
        return float(np.sum((X @ W + b) ** 2))

    dZ = 2 * (X @ W + b)
    good = gradient_check(f, {"W": W, "b": b}, {"dW": X.T @ dZ, "db": dZ.sum(axis=0)})
    assert good.ok and good.max_error < 1e-7
    bad = gradient_check(f, {"W": W, "b": b}, {"dW": -X.T @ dZ, "db": dZ.sum(axis=1)})
    assert not bad.ok
    assert bad.errors["dW"] == pytest.approx(1.0) and bad.errors["db"] == np.inf
    assert "wrong" in repr(bad)


def test_interpretation_thresholds():
    assert [interpret_relative_error(e) for e in (1e-9, 1e-5, 0.5)] == ["correct", "suspicious", "wrong"]


def test_numerical_gradient_restores_x_and_needs_float64():
    x = RNG.normal(size=(3, 2))
    before = x.copy()
    g = numerical_gradient(lambda v: float(np.sum(v ** 3)), x)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(g, 3 * x ** 2, rtol=1e-8)
    with pytest.raises(ScratchError, match="float64"):
        numerical_gradient(lambda v: 0.0, x.astype(np.float32))


def test_parameters_are_named_like_the_maths_and_settable():
    net = MLP([3, 4, 2], seed=0)
    assert list(net.parameters()) == ["W1", "b1", "W2", "b2"]
    net.forward(np.ones((2, 3)))
    net.backward(np.ones((2, 2)))
    assert list(net.gradients()) == ["dW1", "db1", "dW2", "db2"]
    new = {k: np.full_like(v, 0.5) for k, v in net.parameters().items()}
    net.set_parameters(new)
    assert np.all(net.layers[0].W == 0.5)
    with pytest.raises(ScratchError, match=r"params\['W1'\] must have shape \(3, 4\)"):
        net.set_parameters({**new, "W1": np.ones((4, 3))})
    with pytest.raises(ScratchError, match="non-empty list"):
        Sequential([])


# ---------------------------------------------------------------- optimisation
def test_sgd_momentum_matches_the_closed_form():
    p = np.array([1.0, -2.0])
    opt = SGD(learning_rate=0.1, momentum=0.9)
    g = np.array([0.5, 1.0])
    opt.step({"w": p}, {"dw": g})
    np.testing.assert_allclose(p, [1.0 - 0.05, -2.0 - 0.1])
    opt.step({"w": p}, {"dw": g})  # v = 0.9 * (-0.1 g) - 0.1 g = -0.19 g
    np.testing.assert_allclose(p, [1.0 - 0.05 - 0.095, -2.0 - 0.1 - 0.19])


def test_sgd_rejects_bad_settings_and_missing_gradients():
    with pytest.raises(ScratchError, match="learning_rate must be > 0"):
        SGD(learning_rate=0)
    with pytest.raises(ScratchError, match="momentum must be in"):
        SGD(momentum=1.0)
    with pytest.raises(ScratchError, match=r"missing \['dW1'\]"):
        SGD().step({"W1": np.ones(2)}, {})


def test_clip_by_global_norm_keeps_direction_and_only_shrinks():
    grads = {"dW": np.array([[3.0, 0.0]]), "db": np.array([4.0])}
    clipped, norm = clip_by_global_norm(grads, 1.0)
    assert norm == pytest.approx(5.0)
    assert global_norm(clipped) == pytest.approx(1.0)
    np.testing.assert_allclose(clipped["dW"], [[0.6, 0.0]])
    same, _ = clip_by_global_norm(grads, 10.0)
    np.testing.assert_array_equal(same["db"], grads["db"])
    with pytest.raises(ScratchError, match="max_norm must be a positive number"):
        clip_by_global_norm(grads, 0)
    opt = SGD(learning_rate=1.0, clipnorm=1.0)
    p = np.zeros(2)
    opt.step({"w": p}, {"dw": np.array([30.0, 40.0])})
    np.testing.assert_allclose(p, [-0.6, -0.8])
    assert opt.last_norm == pytest.approx(50.0)


def test_minibatches_cover_every_sample_once():
    X = np.arange(10)[:, None]
    y = np.arange(10)
    batches = list(minibatches(X, y, batch_size=4, seed=0))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    seen = np.concatenate([b[1] for b in batches])
    assert sorted(seen) == list(range(10)) and not np.array_equal(seen, np.arange(10))
    assert all(np.array_equal(xb[:, 0], yb) for xb, yb in batches)
    assert len(list(minibatches(X, y, batch_size=None))) == 1
    assert len(list(minibatches(X, y, batch_size=1))) == 10
    with pytest.raises(ScratchError, match="batch_size must be an int >= 1"):
        list(minibatches(X, y, batch_size=0))
    with pytest.raises(ScratchError, match="same number of rows"):
        list(minibatches(X, y[:3]))


def _breast_cancer_split():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    X, y = load_breast_cancer(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    mean, std = X_tr.mean(axis=0), X_tr.std(axis=0)
    return (X_tr - mean) / std, (X_te - mean) / std, y_tr, y_te


@pytest.mark.parametrize("loss, n_out", [(BinaryCrossEntropy(), 1), (SoftmaxCrossEntropy(), 2)])
def test_two_layer_mlp_reaches_95_percent_on_breast_cancer(loss, n_out):
    X_tr, X_te, y_tr, y_te = _breast_cancer_split()
    target = y_tr[:, None].astype(float) if n_out == 1 else y_tr
    net = MLP([30, 16, n_out], activation="relu", seed=0)
    history = fit(net, loss, SGD(0.01, momentum=0.9), X_tr, target, epochs=40, batch_size=32, seed=0)
    assert history["loss"][-1] < history["loss"][0] / 3
    assert accuracy(net.forward(X_te), y_te) >= 0.95


def test_accuracy_reads_binary_and_multiclass_logits():
    assert accuracy(np.array([[2.0], [-1.0]]), np.array([1, 1])) == 0.5
    assert accuracy(np.array([[0.1, 0.9], [2.0, 0.0]]), np.eye(2)[[1, 0]]) == 1.0


def test_every_engine_object_prints_its_structure():
    from medlearn.scratch.layers import ACTIVATIONS, Dense, ReLU
    from medlearn.scratch.losses import MSE, BinaryCrossEntropy, SoftmaxCrossEntropy
    from medlearn.scratch.optim import SGD

    for cls in (*ACTIVATIONS.values(), MSE, BinaryCrossEntropy, SoftmaxCrossEntropy):
        assert repr(cls()) == f"{cls.__name__}()"
    assert repr(Dense(3, 2, seed=0)) == "Dense(3, 2)"
    assert repr(SGD(0.1, momentum=0.9)) == "SGD(learning_rate=0.1, momentum=0.9)"
    assert " object at 0x" not in repr([ReLU(), SGD(0.1, clipnorm=1.0)])


@pytest.mark.parametrize("loss_name", ["MSE", "BinaryCrossEntropy", "SoftmaxCrossEntropy"])
def test_loss_backward_before_forward_says_what_to_do(loss_name):
    from medlearn.scratch import losses
    from medlearn.scratch._validate import ScratchError

    with pytest.raises(ScratchError, match=f"{loss_name}.backward\\(\\) was called before forward\\(\\)"):
        getattr(losses, loss_name)().backward()
