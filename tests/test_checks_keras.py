"""Every keras.* exercise passes its reference solution and fails common wrong answers with the right hint."""
from __future__ import annotations

import numpy as np
import pytest

from medlearn.checks import get_exercise, list_exercises
from medlearn.checks import keras_ex
from check_helpers import assert_passes as _passes, failing_hint as _hint

IDS = ["keras.tape_gradients", "keras.train_step", "keras.residual_block", "keras.output_head",
       "keras.conv2d", "keras.max_pool", "keras.clinical_metrics", "keras.threshold_for_sensitivity"]


def test_all_registered():
    assert set(IDS) <= set(list_exercises())
    for i in IDS:
        ex = get_exercise(i)
        cases = ex.make_cases(np.random.default_rng(3))
        assert cases and all(isinstance(c, dict) for c in cases)


def test_not_implemented_is_a_fail():
    def stub(*args):
        raise NotImplementedError()

    for i in IDS:
        assert "NotImplementedError" in _hint(i, stub)


# ------------------------------------------------------------------ lesson 04 (TensorFlow)
tf = pytest.importorskip("tensorflow")


def _forward_loss(W1, b1, W2, b2, X, y, reduce=tf.reduce_mean):
    h = tf.nn.relu(X @ W1 + b1)
    logits = h @ W2 + b2
    return reduce(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))


def tape_ref(W1, b1, W2, b2, X, y, dtype=tf.float64, reduce=tf.reduce_mean, sign=1.0):
    ws = [tf.Variable(tf.cast(w, dtype)) for w in (W1, b1, W2, b2)]
    with tf.GradientTape() as tape:
        loss = sign * _forward_loss(*ws, tf.cast(X, dtype), tf.cast(y, dtype), reduce=reduce)
    return sign * loss, tape.gradient(loss, ws)


def test_tape_gradients_reference_matches_numpy_oracle():
    case = get_exercise("keras.tape_gradients").make_cases(np.random.default_rng(0))[1]
    loss, grads = tape_ref(*(case[k] for k in ("W1", "b1", "W2", "b2", "X", "y")))
    ref_loss, ref_grads = keras_ex.mlp_loss_and_gradients(*(case[k] for k in ("W1", "b1", "W2", "b2", "X", "y")))
    assert np.isclose(float(loss), ref_loss, rtol=1e-12)
    for g, r in zip(grads, ref_grads):
        np.testing.assert_allclose(g.numpy(), r, rtol=1e-10, atol=1e-14)


def test_tape_gradients():
    _passes("keras.tape_gradients", tape_ref)
    assert "float32" in _hint("keras.tape_gradients", lambda *a: tape_ref(*a, dtype=tf.float32))
    assert "summed" in _hint("keras.tape_gradients", lambda *a: tape_ref(*a, reduce=tf.reduce_sum))
    assert "sign" in _hint("keras.tape_gradients", lambda *a: tape_ref(*a, sign=-1.0))

    def forgot_watch(W1, b1, W2, b2, X, y):
        ws = [tf.constant(w) for w in (W1, b1, W2, b2)]
        with tf.GradientTape() as tape:
            loss = _forward_loss(*ws, X, y)
        return loss, tape.gradient(loss, ws)

    assert "None" in _hint("keras.tape_gradients", forgot_watch)

    def per_sample_loss(W1, b1, W2, b2, X, y):
        ws = [tf.Variable(w) for w in (W1, b1, W2, b2)]
        with tf.GradientTape() as tape:
            loss = _forward_loss(*ws, X, y, reduce=lambda t: t)   # forgot tf.reduce_mean
        return loss, tape.gradient(loss, ws)

    assert "one per sample" in _hint("keras.tape_gradients", per_sample_loss)

    def swapped(*a):
        loss, g = tape_ref(*a)
        return loss, [g[1], g[0], g[2], g[3]]

    assert "shape" in _hint("keras.tape_gradients", swapped)


def step_ref(variables, X, y, learning_rate, *, sign=1.0, which=(0, 1, 2, 3), loss_after=False, rebind=False):
    with tf.GradientTape() as tape:
        loss = _forward_loss(*variables, X, y)
    grads = tape.gradient(loss, variables)
    for i in which:
        if rebind:
            v = variables[i]
            v = v - learning_rate * grads[i]  # noqa: F841  (the classic mistake)
        else:
            variables[i].assign_sub(sign * learning_rate * grads[i])
    return _forward_loss(*variables, X, y) if loss_after else loss


def test_train_step():
    _passes("keras.train_step", step_ref)
    assert "assign_sub" in _hint("keras.train_step", lambda *a: step_ref(*a, rebind=True))
    assert "uphill" in _hint("keras.train_step", lambda *a: step_ref(*a, sign=-1.0))
    assert "biases" in _hint("keras.train_step", lambda *a: step_ref(*a, which=(0, 2)))
    assert "before the update" in _hint("keras.train_step", lambda *a: step_ref(*a, loss_after=True))


# ------------------------------------------------------------------ lesson 05 (Keras)
keras = pytest.importorskip("keras")
layers = keras.layers


def res_ref(x, units, *, project="auto", relu_after=True, skip=True):
    y = layers.Dense(units, activation="relu")(x)
    y = layers.Dense(units)(y)
    shortcut = x
    if project is True or (project == "auto" and x.shape[-1] != units):
        shortcut = layers.Dense(units)(x)
    out = layers.Add()([y, shortcut]) if skip else y
    return layers.Activation("relu")(out) if relu_after else out


def test_residual_block():
    _passes("keras.residual_block", res_ref, seeds=(0,))
    assert "no projection" in _hint("keras.residual_block", lambda x, u: res_ref(x, u, project=True))
    assert "after adding" in _hint("keras.residual_block", lambda x, u: res_ref(x, u, relu_after=False))
    assert "shortcut" in _hint("keras.residual_block", lambda x, u: res_ref(x, u, skip=False))
    assert "projection" in _hint("keras.residual_block", lambda x, u: res_ref(x, u, project=False))


def head_ref(n_features, n_classes, *, out=None, loss=None):
    binary = n_classes == 2
    model = keras.Sequential([keras.Input((n_features,)), layers.Dense(16, activation="relu"),
                              out or (layers.Dense(1, activation="sigmoid") if binary
                                      else layers.Dense(n_classes, activation="softmax"))])
    model.compile(optimizer="adam", metrics=["accuracy"],
                  loss=loss or ("binary_crossentropy" if binary else "sparse_categorical_crossentropy"))
    return model


def test_output_head():
    _passes("keras.output_head", head_ref, seeds=(0,))
    assert "always 1" in _hint("keras.output_head",
                               lambda f, k: head_ref(f, k, out=layers.Dense(1, activation="softmax")))
    assert "one output unit" in _hint("keras.output_head",
                                      lambda f, k: head_ref(f, k, out=layers.Dense(k, activation="softmax")))
    assert "compiled loss" in _hint("keras.output_head", lambda f, k: head_ref(f, k, loss="mse"))

    def sigmoid_everywhere(f, k):
        if k == 2:
            return head_ref(f, k)
        return head_ref(f, k, out=layers.Dense(k, activation="sigmoid"), loss="binary_crossentropy")

    assert "softmax" in _hint("keras.output_head", sigmoid_everywhere)


# ------------------------------------------------------------------ lesson 06 (NumPy)
def conv_ref(image, kernel):
    kh, kw = kernel.shape
    windows = np.lib.stride_tricks.sliding_window_view(image, (kh, kw))
    return (windows * kernel).sum(axis=(-2, -1))


def conv_loops(image, kernel):
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i:i + kh, j:j + kw] * kernel)
    return out


def test_conv2d_reference_matches_scipy_and_keras():
    from scipy.signal import correlate2d

    rng = np.random.default_rng(0)
    image, kernel = rng.normal(size=(9, 11)), rng.normal(size=(3, 4))
    np.testing.assert_allclose(keras_ex.cross_correlate2d(image, kernel), correlate2d(image, kernel, "valid"))
    conv = layers.Conv2D(1, kernel.shape, use_bias=False, dtype="float64")
    conv.build((1, 9, 11, 1))
    conv.set_weights([kernel[:, :, None, None]])
    got = keras.ops.convert_to_numpy(conv(image[None, :, :, None]))[0, :, :, 0]
    np.testing.assert_allclose(keras_ex.cross_correlate2d(image, kernel), got, rtol=1e-12)


def test_conv2d():
    _passes("keras.conv2d", conv_ref)
    assert "once per pixel" in _hint("keras.conv2d", conv_loops)  # the exercise says: no loop over pixels
    assert "flipped" in _hint("keras.conv2d", lambda im, k: conv_ref(im, k[::-1, ::-1]))
    assert "Off by one" in _hint("keras.conv2d", lambda im, k: conv_ref(im, k)[:-1, :-1])
    assert "'same'" in _hint("keras.conv2d", lambda im, k: np.pad(conv_ref(im, k), (
        ((k.shape[0] - 1) // 2, k.shape[0] // 2), ((k.shape[1] - 1) // 2, k.shape[1] // 2))))
    assert "transposed" in _hint("keras.conv2d", lambda im, k: conv_ref(im, k.T) if k.shape[0] == k.shape[1]
                                 else conv_ref(im, k))


def pool_ref(image, size):
    h, w = image.shape[0] // size, image.shape[1] // size
    return image[:h * size, :w * size].reshape(h, size, w, size).max(axis=(1, 3))


def test_max_pool():
    from skimage.measure import block_reduce

    rng = np.random.default_rng(0)
    image = rng.normal(size=(8, 6))
    np.testing.assert_allclose(keras_ex.pool2d(image, 2), block_reduce(image, (2, 2), np.max))
    _passes("keras.max_pool", pool_ref)
    assert "average" in _hint("keras.max_pool", lambda im, s: im[:im.shape[0] // s * s, :im.shape[1] // s * s].reshape(
        im.shape[0] // s, s, im.shape[1] // s, s).mean(axis=(1, 3)))
    assert "you called medlearn.checks" in _hint("keras.max_pool", lambda im, s: keras_ex.pool2d(im, s)).lower()
    assert "absolute" in _hint("keras.max_pool", lambda im, s: pool_ref(np.abs(im), s))
    assert "You called skimage" in _hint("keras.max_pool", lambda im, s: block_reduce(im, (s, s), np.max))
    assert "overlap" in _hint("keras.max_pool", lambda im, s: np.lib.stride_tricks.sliding_window_view(
        im, (s, s)).max(axis=(-2, -1)))


# ------------------------------------------------------------------ lesson 07 (metrics)
def rates_ref(cm):
    (tn, fp), (fn, tp) = cm
    return {"sensitivity": tp / (tp + fn), "specificity": tn / (tn + fp),
            "ppv": tp / (tp + fp), "npv": tn / (tn + fn)}


def test_clinical_metrics_reference_matches_sklearn():
    from sklearn.metrics import confusion_matrix, precision_score, recall_score

    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 2, 300), rng.integers(0, 2, 300)
    r = keras_ex.confusion_rates(confusion_matrix(y, p))
    assert np.isclose(r["sensitivity"], recall_score(y, p))
    assert np.isclose(r["specificity"], recall_score(y, p, pos_label=0))
    assert np.isclose(r["ppv"], precision_score(y, p))
    assert np.isclose(r["npv"], precision_score(y, p, pos_label=0))


def test_clinical_metrics():
    _passes("keras.clinical_metrics", rates_ref)

    def relabel(**names):
        return lambda cm: {names.get(k, k): v for k, v in rates_ref(cm).items()}

    assert "transposed" in _hint("keras.clinical_metrics", lambda cm: rates_ref(np.asarray(cm).T))
    assert "specificity are swapped" in _hint("keras.clinical_metrics",
                                              relabel(sensitivity="specificity", specificity="sensitivity"))
    assert "NPV are swapped" in _hint("keras.clinical_metrics", relabel(ppv="npv", npv="ppv"))
    assert "PPV are swapped" in _hint("keras.clinical_metrics", relabel(sensitivity="ppv", ppv="sensitivity"))

    def bad_npv(cm):
        r = rates_ref(cm)
        r["npv"] = cm[0][0] / cm.sum()
        return r

    assert "npv" in _hint("keras.clinical_metrics", bad_npv)
    assert "KeyError" in _hint("keras.clinical_metrics", lambda cm: {"sensitivity": 1.0})


def thr_ref(y_true, scores, target):
    pos = np.sort(scores[y_true == 1])[::-1]
    k = int(np.ceil(target * len(pos) - 1e-9))
    return pos[max(k, 1) - 1]


def test_threshold_for_sensitivity():
    _passes("keras.threshold_for_sensitivity", thr_ref)

    def via_roc_curve(y_true, scores, target):
        from sklearn.metrics import roc_curve

        _, tpr, thresholds = roc_curve(y_true, scores)
        return thresholds[np.argmax(tpr >= target - 1e-12)]

    _passes("keras.threshold_for_sensitivity", via_roc_curve)
    assert "below the target" in _hint("keras.threshold_for_sensitivity",
                                       lambda y, s, t: np.quantile(s[y == 1], t))  # quantile of wrong tail
    assert "below the target" in _hint("keras.threshold_for_sensitivity",  # interpolated quantile
                                       lambda y, s, t: np.quantile(s[y == 1], 1 - t))
    assert "highest threshold" in _hint("keras.threshold_for_sensitivity", lambda y, s, t: s.min())
    assert "below the target" in _hint("keras.threshold_for_sensitivity",
                                       lambda y, s, t: np.nextafter(thr_ref(y, s, t), np.inf))
