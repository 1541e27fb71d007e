"""A catalogue of plausible wrong answers for every exercise of lessons 01-08, with the hint each must get.

Each entry is ``(what, answer, fragment)``: ``check(exercise_id, answer)`` must FAIL and its hint must
contain ``fragment`` (case-insensitive). The classes come from issue 18 and issue 15.1: wrong dtype,
mutated inputs, Python loops, probabilities instead of logits, answers right only for the lesson's
shapes, architecture details, floating-point edges, pipeline order, hangs, and delegation to the
library (a plain call, importlib, sys.modules, SciPy, the references inside medlearn.checks).

``tests/test_checks_catalogue.py`` runs them. Print the table of tested/rejected per exercise with::

    MEDLEARN_FAST=1 TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python tests/wrong_answers.py

One answer per line where it is a lambda (the integrity check reads a lambda's source line).
"""
from __future__ import annotations

import importlib
import sys

import numpy as np
import scipy.special

import medlearn.scratch as S

CATALOGUE: dict = {}


def entry(exercise_id, what, fragment):
    def register(answer):
        CATALOGUE.setdefault(exercise_id, []).append((what, answer, fragment))
        return answer
    return register


def add(exercise_id, what, answer, fragment):
    CATALOGUE.setdefault(exercise_id, []).append((what, answer, fragment))


# ------------------------------------------------------------------ shared correct pieces (the student's own)
def _sig(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _softmax(Z):
    e = np.exp(Z - Z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _log_softmax(Z):
    shifted = Z - Z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


# ------------------------------------------------------------------ lesson 01
SIG = "scratch.sigmoid"
add(SIG, "float32 result", lambda z: _sig(z).astype(np.float32), "float32")
add(SIG, "plain call to the library", lambda z: S.sigmoid(z), "you called medlearn.scratch.sigmoid")
add(SIG, "scipy one-liner", lambda z: scipy.special.expit(z), "scipy.special.expit")
add(SIG, "importlib with a computed name", lambda z: importlib.import_module("medlearn." + "scratch").sigmoid(z), "importlib")
add(SIG, "through sys.modules", lambda z: sys.modules["medlearn" + ".scratch"].sigmoid(z), "sys.modules")
add(SIG, "the answer is the library function", scipy.special.expit, "scipy.special.expit")


@entry(SIG, "overwrites its input", "in place")
def _sigmoid_in_place(z):
    np.negative(z, out=z)
    np.exp(z, out=z)
    z += 1.0
    return 1.0 / z


@entry(SIG, "loop over the samples", "once per sample")
def _sigmoid_loop(z):
    out = np.empty_like(z)
    for i, v in enumerate(z.ravel()):
        out.ravel()[i] = _sig(np.array(v))
    return out


@entry(SIG, "hidden exec of library code", "exec")
def _sigmoid_exec(z):
    scope = {}
    exec("from medlearn.scratch import sigmoid as s", scope)
    return scope["s"](z)


GRAD = "scratch.sigmoid_grad"
add(GRAD, "float32 result", lambda z: (_sig(z) * (1 - _sig(z))).astype(np.float32), "float32")
add(GRAD, "plain call to the library", lambda z: S.sigmoid_grad(z), "medlearn.scratch.sigmoid_grad")
add(GRAD, "scipy expit inside", lambda z: scipy.special.expit(z) * (1 - scipy.special.expit(z)), "scipy.special.expit")
add(GRAD, "loop over the samples", lambda z: np.array([_sig(v) * (1 - _sig(v)) for v in z.ravel()]).reshape(z.shape), "once per sample")
add(GRAD, "derivative at z", lambda z: z * (1 - z), "pre-activation")

SOFT = "scratch.softmax"
add(SOFT, "float32 result", lambda Z: _softmax(Z).astype(np.float32), "float32")
add(SOFT, "scipy one-liner", lambda Z: scipy.special.softmax(Z, axis=1), "scipy.special.softmax")
add(SOFT, "plain call to the library", lambda Z: S.softmax(Z, axis=1), "medlearn.scratch.softmax")
add(SOFT, "loop over the rows", lambda Z: np.array([_softmax(row[None])[0] for row in Z]), "once per sample")
add(SOFT, "no max subtracted", lambda Z: np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True), "overflow")


@entry(SOFT, "subtracts the max in place", "in place")
def _softmax_in_place(Z):
    Z -= Z.max(axis=1, keepdims=True)
    e = np.exp(Z)
    return e / e.sum(axis=1, keepdims=True)


BCE = "scratch.binary_cross_entropy"


def _bce(z, y):
    return float(np.mean(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)))


add(BCE, "sum / len(y): right for 1-D only", lambda z, y: np.sum(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)) / len(y), "len(y)")
add(BCE, "float32 result", lambda z, y: np.float32(_bce(z, y)), "float32")
add(BCE, "log of sigmoid probabilities", lambda z, y: -np.mean(y * np.log(_sig(z)) + (1 - y) * np.log(1 - _sig(z))), "logaddexp")
add(BCE, "clipped probabilities", lambda z, y: -np.mean(y * np.log(np.clip(_sig(z), 1e-7, 1 - 1e-7)) + (1 - y) * np.log(np.clip(1 - _sig(z), 1e-7, 1))), "clipping")
add(BCE, "plain call to the library", lambda z, y: S.binary_cross_entropy(z, y), "medlearn.scratch.binary_cross_entropy")
add(BCE, "sklearn one-liner", lambda z, y: __import__("sklearn.metrics").metrics.log_loss(y.ravel(), _sig(z).ravel()), "__import__")
add(BCE, "loop over the samples", lambda z, y: np.mean([_bce(a, b) for a, b in zip(z.ravel(), y.ravel())]), "once per sample")


# ------------------------------------------------------------------ lesson 02
GD = "scratch.gd_step"


def _gd(w, b, X, y, lr):
    r = X @ w + b - y
    return w - lr * 2 / len(y) * (X.T @ r), b - lr * 2 / len(y) * r.sum()


add(GD, "float32 result", lambda w, b, X, y, lr: tuple(np.float32(v) if np.ndim(v) == 0 else v.astype(np.float32) for v in _gd(w, b, X, y, lr)), "float32")
add(GD, "dynamic import", lambda w, b, X, y, lr: (__import__("medlearn.scratch"), _gd(w, b, X, y, lr))[1], "__import__")


@entry(GD, "updates w in place", "in place")
def _gd_in_place(w, b, X, y, lr):
    r = X @ w + b - y
    w -= lr * 2 / len(y) * (X.T @ r)
    return w, b - lr * 2 / len(y) * r.sum()


@entry(GD, "loop over the samples", "once per sample")
def _gd_loop(w, b, X, y, lr):
    dw, db = np.zeros_like(w), 0.0
    for xi, yi in zip(X, y):
        r = xi @ w + b - yi
        dw += 2 * r * xi / len(y)
        db += 2 * r / len(y)
    return w - lr * dw, b - lr * db


MOM = "scratch.momentum_step"


@entry(MOM, "updates w and v in place", "in place")
def _momentum_in_place(w, v, dw, lr, momentum):
    v *= momentum
    v -= lr * dw
    w += v
    return w, v


add(MOM, "float32 result", lambda w, v, dw, lr, m: ((w + m * v - lr * dw).astype(np.float32), (m * v - lr * dw).astype(np.float32)), "float32")


@entry(MOM, "the library's optimiser does the step", "medlearn.scratch.SGD")
def _momentum_library(w, v, dw, lr, momentum):
    opt = S.SGD(learning_rate=lr, momentum=momentum)
    params = {"w": w.copy()}
    opt.step(params, {"w": dw})
    return params["w"], params["w"] - w


CLIP = "scratch.clip_by_global_norm"


@entry(CLIP, "rescales the caller's arrays in place", "in place")
def _clip_in_place(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g * g) for g in grads))
    for g in grads:
        g *= min(1.0, max_norm / norm)
    return grads


add(CLIP, "float32 result", lambda grads, m: [(g * min(1.0, m / np.sqrt(sum(np.sum(h * h) for h in grads)))).astype(np.float32) for g in grads], "float32")
add(CLIP, "plain call to the library", lambda grads, m: S.clip_by_global_norm(grads, m)[0], "medlearn.scratch.clip_by_global_norm")
add(CLIP, "np.clip per entry", lambda grads, m: [np.clip(g, -m, m) for g in grads], "np.clip")


# ------------------------------------------------------------------ lesson 03
NG = "scratch.numerical_gradient"


@entry(NG, "float32 gradient", "float32")
def _ng_float32(f, x, eps=1e-6):
    grad = np.zeros(x.shape, dtype=np.float32)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        plus = f(x)
        x[idx] = old - eps
        minus = f(x)
        x[idx] = old
        grad[idx] = (plus - minus) / (2 * eps)
    return grad


@entry(NG, "leaves x perturbed", "put each entry back")
def _ng_no_restore(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        x[idx] += eps
        plus = f(x)
        x[idx] -= 2 * eps
        grad[idx] = (plus - f(x)) / (2 * eps)
    return grad


add(NG, "plain call to the library", lambda f, x, eps=1e-6: S.numerical_gradient(f, x, eps), "medlearn.scratch.numerical_gradient")
add(NG, "scipy one-liner", lambda f, x, eps=1e-6: __import__("scipy.optimize").optimize.approx_fprime(x.ravel(), lambda v: f(v.reshape(x.shape)), eps).reshape(x.shape), "__import__")
add(NG, "one-sided difference", lambda f, x, eps=1e-6: np.array([(f(x + eps * np.eye(x.size)[i].reshape(x.shape)) - f(x)) / eps for i in range(x.size)]).reshape(x.shape), "one-sided")

NET_KEYS = ("dW1", "db1", "dW2", "db2")


def _backward(X, Y, W1, b1, W2, b2, *, dtype=None, relu_prob=False):
    n = X.shape[0]
    z1 = X @ W1 + b1
    a1 = _sig(z1)
    dlogits = (_softmax(a1 @ W2 + b2) - Y) / n
    dz1 = dlogits @ W2.T * a1 * (1 - a1)
    grads = {"dW1": X.T @ dz1, "db1": dz1.sum(axis=0), "dW2": a1.T @ dlogits, "db2": dlogits.sum(axis=0)}
    return {k: v.astype(dtype) for k, v in grads.items()} if dtype else grads


BACK = "scratch.two_layer_backward"
add(BACK, "float32 gradients", lambda *a: _backward(*a, dtype=np.float32), "float32")
add(BACK, "the reference inside medlearn.checks", lambda *a: importlib.import_module("medlearn.checks.scratch.backprop").reference(dict(zip(("X", "Y", "W1", "b1", "W2", "b2"), a)))[1], "importlib")
add(BACK, "the library's log_softmax is not allowed here", lambda X, Y, W1, b1, W2, b2: (S.log_softmax(X @ W1), _backward(X, Y, W1, b1, W2, b2))[1], "medlearn.scratch.log_softmax")


@entry(BACK, "loop over the samples", "once per sample")
def _backward_loop(X, Y, W1, b1, W2, b2):
    grads = {k: 0.0 for k in NET_KEYS}
    for i in range(X.shape[0]):
        g = _backward(X[i:i + 1], Y[i:i + 1], W1, b1, W2, b2)
        grads = {k: grads[k] + g[k] / X.shape[0] for k in NET_KEYS}
    return grads


FIX = "scratch.fix_broken"


def _fixed(X, Y, W1, b1, W2, b2, *, loss_from_probs=False, dtype=None):
    logits = _sig(X @ W1 + b1) @ W2 + b2
    if loss_from_probs:
        loss = -np.mean(np.sum(Y * np.log(_softmax(logits)), axis=1))
    else:
        loss = -np.mean(np.sum(Y * _log_softmax(logits), axis=1))
    grads = _backward(X, Y, W1, b1, W2, b2, dtype=dtype)
    return (np.float32(loss) if dtype else loss), grads


add(FIX, "log of softmax probabilities", lambda *a: _fixed(*a, loss_from_probs=True), "from the logits")
add(FIX, "float32 result", lambda *a: _fixed(*a, dtype=np.float32), "float32")
add(FIX, "the reference inside medlearn.checks", lambda *a: sys.modules["medlearn.checks.scratch.backprop"].reference(dict(zip(("X", "Y", "W1", "b1", "W2", "b2"), a))), "sys.modules")


# ------------------------------------------------------------------ lesson 04
def _tf():
    import tensorflow as tf

    return tf


TAPE = "keras.tape_gradients"


def _tape(W1, b1, W2, b2, X, y, *, probs=False, clip=False, dtype=None):
    tf = _tf()
    ws = [tf.Variable(w if dtype is None else w.astype(dtype)) for w in (W1, b1, W2, b2)]
    X = X if dtype is None else X.astype(dtype)
    y = y if dtype is None else y.astype(dtype)
    with tf.GradientTape() as tape:
        logits = tf.nn.relu(X @ ws[0] + ws[1]) @ ws[2] + ws[3]
        if probs:
            p = tf.sigmoid(logits)
            if clip:
                p = tf.clip_by_value(p, 1e-7, 1 - 1e-7)
            loss = -tf.reduce_mean(y * tf.math.log(p) + (1 - y) * tf.math.log(1 - p))
        else:
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
    return loss, tape.gradient(loss, ws)


add(TAPE, "log(sigmoid) from probabilities", lambda *a: _tape(*a, probs=True), "from the logits")
add(TAPE, "clipped probabilities", lambda *a: _tape(*a, probs=True, clip=True), "from the logits")
add(TAPE, "float32 computation", lambda *a: _tape(*a, dtype=np.float32), "float32")
add(TAPE, "the reference inside medlearn.checks", lambda *a: importlib.import_module("medlearn.checks.keras_ex").mlp_loss_and_gradients(*a), "importlib")

STEP = "keras.train_step"


def _step(variables, X, y, learning_rate, *, as_float=False):
    tf = _tf()
    W1, b1, W2, b2 = variables
    with tf.GradientTape() as tape:
        logits = tf.nn.relu(X @ W1 + b1) @ W2 + b2
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
    for v, g in zip(variables, tape.gradient(loss, variables)):
        v.assign_sub(learning_rate * g)
    return float(loss) if as_float else loss


add(STEP, "returns a Python float", lambda *a: _step(*a, as_float=True), "tf.function")
add(STEP, "returns loss.numpy()", lambda *a: _step(*a).numpy(), "tf.function")


@entry(STEP, "the reference does the step", "medlearn.checks")
def _step_reference(variables, X, y, learning_rate):
    from medlearn.checks.keras_ex.autodiff import mlp_loss_and_gradients

    loss, grads = mlp_loss_and_gradients(*(v.numpy() for v in variables), X.numpy(), y.numpy())
    for v, g in zip(variables, grads):
        v.assign_sub(learning_rate * g)
    return loss


# ------------------------------------------------------------------ lesson 05
def _layers():
    import keras

    return keras, keras.layers


RES = "keras.residual_block"


def _block(x, units, *, relu_before_add=False, relu_projection=False, always_project=False, relu_after=True):
    keras, layers = _layers()
    main = layers.Dense(units, activation="relu")(x)
    main = layers.Dense(units, activation="relu" if relu_before_add else None)(main)
    if x.shape[-1] == units and not always_project:
        shortcut = x
    else:
        shortcut = layers.Dense(units, activation="relu" if relu_projection else None)(x)
    out = layers.Add()([main, shortcut])
    return layers.Activation("relu")(out) if relu_after else out


add(RES, "ReLU before the add", lambda x, u: _block(x, u, relu_before_add=True), "before the add")
add(RES, "ReLU'd projection shortcut", lambda x, u: _block(x, u, relu_projection=True), "stay linear")
add(RES, "always a projection", lambda x, u: _block(x, u, always_project=True), "identity shortcut")
add(RES, "no ReLU after the add", lambda x, u: _block(x, u, relu_after=False), "after adding")


@entry(RES, "a Lambda layer", "Lambda")
def _block_lambda(x, units):
    keras, layers = _layers()
    main = layers.Dense(units)(layers.Dense(units, activation="relu")(x))
    shortcut = x if x.shape[-1] == units else layers.Dense(units)(x)
    return layers.Lambda(lambda t: keras.ops.relu(t[0] + t[1]))([main, shortcut])


HEAD = "keras.output_head"


def _head(n_features, n_classes, *, hidden=(16, "relu"), optimizer="adam", loss=None, out_act=None):
    keras, layers = _layers()
    binary = n_classes == 2
    model = keras.Sequential([keras.Input((n_features,)), layers.Dense(hidden[0], activation=hidden[1]),
                              layers.Dense(1 if binary else n_classes,
                                           activation=out_act or ("sigmoid" if binary else "softmax"))])
    model.compile(optimizer=optimizer,
                  loss=loss or ("binary_crossentropy" if binary else "sparse_categorical_crossentropy"))
    return model


add(HEAD, "64-unit tanh hidden layer", lambda f, k: _head(f, k, hidden=(64, "tanh")), "dense(16")
add(HEAD, "SGD instead of Adam", lambda f, k: _head(f, k, optimizer="sgd"), "optimizer='adam'")
add(HEAD, "categorical_crossentropy on integer labels", lambda f, k: _head(f, k, loss=None if k == 2 else "categorical_crossentropy"), "one-hot")
add(HEAD, "softmax over one unit", lambda f, k: _head(f, k, out_act="softmax"), "always 1")
add(HEAD, "not compiled", lambda f, k: _layers()[0].Sequential([_layers()[0].Input((f,)), _layers()[1].Dense(16, activation="relu"), _layers()[1].Dense(1 if k == 2 else k, activation="sigmoid" if k == 2 else "softmax")]), "compiled")


@entry(HEAD, "the library compiles it", "medlearn.models")
def _head_library(n_features, n_classes):
    from medlearn.models import heads

    model = _head(n_features, n_classes)
    return heads.compile_model(model, "binary-class" if n_classes == 2 else "multi-class", n_classes)


# ------------------------------------------------------------------ lesson 06
CONV = "keras.conv2d"


def _conv(image, kernel):
    windows = np.lib.stride_tricks.sliding_window_view(image, kernel.shape)
    return np.einsum("ijrc,rc->ij", windows, kernel)


@entry(CONV, "double loop over the pixels", "once per pixel")
def _conv_loops(image, kernel):
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i:i + kh, j:j + kw] * kernel)
    return out


add(CONV, "float32 result", lambda im, k: _conv(im, k).astype(np.float32), "float32")
add(CONV, "scipy one-liner", lambda im, k: __import__("scipy.signal").signal.correlate2d(im, k, mode="valid"), "__import__")
add(CONV, "the reference inside medlearn.checks", lambda im, k: importlib.import_module("medlearn.checks.keras_ex").cross_correlate2d(im, k), "importlib")
add(CONV, "flipped kernel", lambda im, k: _conv(im, k[::-1, ::-1]), "flipped")

POOL = "keras.max_pool"


@entry(POOL, "crops only the rows", "only one axis")
def _pool_rows_only(image, size):
    h = image.shape[0] // size
    rows = image[:h * size].reshape(h, size, image.shape[1]).max(axis=1)
    return np.maximum.reduceat(rows, np.arange(0, image.shape[1], size), axis=1)


@entry(POOL, "double loop over the output pixels", "once per pixel")
def _pool_loops(image, size):
    h, w = image.shape[0] // size, image.shape[1] // size
    out = np.empty((h, w))
    for i in range(h):
        for j in range(w):
            out[i, j] = image[i * size:(i + 1) * size, j * size:(j + 1) * size].max()
    return out


add(POOL, "float32 result", lambda im, s: im[:im.shape[0] // s * s, :im.shape[1] // s * s].reshape(im.shape[0] // s, s, im.shape[1] // s, s).max(axis=(1, 3)).astype(np.float32), "float32")
add(POOL, "the reference inside medlearn.checks", lambda im, s: sys.modules["medlearn.checks.keras_ex"].pool2d(im, s), "sys.modules")


# ------------------------------------------------------------------ lesson 07
RATES = "keras.clinical_metrics"


@entry(RATES, "replaces zeros in the caller's matrix", "in place")
def _rates_in_place(cm):
    cm[cm == 0] = 1
    (tn, fp), (fn, tp) = cm
    return {"sensitivity": tp / (tp + fn), "specificity": tn / (tn + fp), "ppv": tp / (tp + fp), "npv": tn / (tn + fn)}


add(RATES, "the reference inside medlearn.checks", lambda cm: importlib.import_module("medlearn.checks.keras_ex").confusion_rates(cm), "importlib")
add(RATES, "transposed matrix", lambda cm: {"sensitivity": cm[1, 1] / cm[:, 1].sum(), "specificity": cm[0, 0] / cm[:, 0].sum(), "ppv": cm[1, 1] / cm[1].sum(), "npv": cm[0, 0] / cm[0].sum()}, "transposed")

THR = "keras.threshold_for_sensitivity"


@entry(THR, "ceil(target * n) without a tolerance", "floating point")
def _thr_ceil(y_true, scores, target):
    positives = np.sort(scores[y_true == 1])[::-1]
    k = int(np.ceil(target * len(positives)))
    return float(positives[max(k, 1) - 1])


@entry(THR, "sorts the caller's scores in place", "in place")
def _thr_sort_in_place(y_true, scores, target):
    order = np.argsort(-scores, kind="stable")
    y_true[:] = y_true[order]
    scores[:] = scores[order]
    positives = scores[y_true == 1]
    k = int(np.ceil(target * len(positives) - 1e-9))
    return float(positives[max(k, 1) - 1])


add(THR, "the library's function", lambda y, s, t: importlib.import_module("medlearn.metrics").threshold_for_sensitivity(y, s, t), "importlib")


# ------------------------------------------------------------------ lesson 08
PIPE = "pipeline.make_pipeline"


def _pipeline(images, labels, *, training, batch_size, preprocess, augment, steps):
    tf = _tf()
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    for step in steps:
        if step == "pre":
            ds = ds.map(preprocess)
        elif step == "cache":
            ds = ds.cache()
        elif step == "shuffle" and training:
            ds = ds.shuffle(len(images))
        elif step == "aug" and training:
            ds = ds.map(augment)
        elif step == "batch":
            ds = ds.batch(batch_size)
        elif step == "prefetch":
            ds = ds.prefetch(tf.data.AUTOTUNE)
        elif step == "repeat":
            ds = ds.repeat()
    return ds


add(PIPE, "no cache()", lambda im, lab, **kw: _pipeline(im, lab, **kw, steps=("pre", "shuffle", "aug", "batch", "prefetch")), "no cache()")
add(PIPE, "preprocessing after batch()", lambda im, lab, **kw: _pipeline(im, lab, **kw, steps=("cache", "shuffle", "aug", "batch", "pre", "prefetch")), "after batch()")
add(PIPE, "ends with .repeat() (would hang)", lambda im, lab, **kw: _pipeline(im, lab, **kw, steps=("pre", "cache", "shuffle", "aug", "batch", "prefetch", "repeat")), "never ends")
add(PIPE, "shuffles after batching", lambda im, lab, **kw: _pipeline(im, lab, **kw, steps=("pre", "cache", "batch", "shuffle", "aug", "prefetch")), "after batching")


@entry(PIPE, "the library's dataset builder", "medlearn.datasets")
def _pipeline_library(images, labels, *, training, batch_size, preprocess, augment):
    from medlearn.datasets import keras_io

    return keras_io.make_tf_dataset(images, batch_size=batch_size, shuffle=training)


TPUT = "pipeline.throughput"


@entry(TPUT, "zeroes the warm-up in the caller's array", "in place")
def _throughput_in_place(step_s, wait_s, *, batch_size, warmup):
    step_s[:warmup] = 0.0
    wait_s[:warmup] = 0.0
    n = len(step_s) - warmup
    return batch_size * n / step_s.sum(), wait_s.sum() / step_s.sum()


add(TPUT, "mean of per-step rates", lambda s, w, *, batch_size, warmup: (float(np.mean(batch_size / s[warmup:])), w[warmup:].sum() / s[warmup:].sum()), "over-weights")


# ------------------------------------------------------------------ the table
def run_all(exercise_ids=None, skip=""):
    """``{exercise_id: (tested, rejected, rejected_with_the_expected_hint, rows)}``; rows are
    ``(what, rejected, hint_ok, hint)``."""
    from medlearn.checks import check

    table = {}
    for exercise_id, entries in CATALOGUE.items():
        if exercise_ids and exercise_id not in exercise_ids:
            continue
        rows = []
        for what, answer, fragment in entries:
            if skip and skip in what:
                continue
            result = check(exercise_id, answer, quiet=True)
            rows.append((what, not result.passed, (not result.passed) and fragment.lower() in result.hint.lower(),
                         result.hint))
        table[exercise_id] = (len(rows), sum(r[1] for r in rows), sum(r[2] for r in rows), rows)
    return table


if __name__ == "__main__":
    import json

    import os

    # WRONG_ANSWERS_SKIP=hang leaves out answers that make an old check hang (to compare with old versions)
    table = run_all(sys.argv[1:] or None, skip=os.environ.get("WRONG_ANSWERS_SKIP", ""))
    print(f"{'exercise':36s} tested rejected with-expected-hint")
    for exercise_id, (tested, rejected, hinted, rows) in table.items():
        print(f"{exercise_id:36s} {tested:6d} {rejected:8d} {hinted:8d}")
        for what, failed, ok, hint in rows:
            if not ok:
                print(f"    {'PASSED' if not failed else 'other hint'}: {what}: {hint[:110]}")
    total = [sum(row[i] for row in table.values()) for i in range(3)]
    print(f"{'total':36s} {total[0]:6d} {total[1]:8d} {total[2]:8d}")
    print(json.dumps({k: v[:3] for k, v in table.items()}))
