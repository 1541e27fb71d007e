"""Exercises for lessons 04-07: TensorFlow autodiff, Keras models, convolution, clinical metrics.

Each exercise follows the contract of :mod:`medlearn.checks.core`:
``make_cases`` draws plain arrays, ``run`` calls the learner's answer (the only
part that imports TensorFlow/Keras, and only where the exercise is about them)
and ``judge`` recomputes the expected result with NumPy and picks a hint that
names the likely mistake without giving the answer away.

| id                                | lesson | answer signature                                        |
|-----------------------------------|--------|---------------------------------------------------------|
| ``keras.tape_gradients``          | 04 | ``loss_and_gradients(W1, b1, W2, b2, X, y) -> (loss, [dW1, db1, dW2, db2])`` |
| ``keras.train_step``              | 04 | ``train_step(variables, X, y, learning_rate) -> loss``  |
| ``keras.residual_block``          | 05 | ``residual_block(x, units) -> KerasTensor``             |
| ``keras.output_head``             | 05 | ``build_classifier(n_features, n_classes) -> compiled keras.Model`` |
| ``keras.conv2d``                  | 06 | ``conv2d(image, kernel) -> (H-kh+1, W-kw+1) array``     |
| ``keras.max_pool``                | 06 | ``max_pool2d(image, size) -> (H//size, W//size) array`` |
| ``keras.clinical_metrics``        | 07 | ``clinical_metrics(cm) -> dict(sensitivity, specificity, ppv, npv)`` |
| ``keras.threshold_for_sensitivity`` | 07 | ``threshold_for_sensitivity(y_true, scores, target) -> float`` |

Used in lessons 04, 05, 06 and 07.
"""
from __future__ import annotations

import numpy as np

from medlearn.checks.core import Exercise, Verdict, register

__all__ = ["mlp_loss_and_gradients", "cross_correlate2d", "pool2d", "confusion_rates"]

_PASS = Verdict(True)


def _close(a, b, rtol=1e-7, atol=1e-10) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


# ----------------------------------------------------------------------------- lesson 04
def mlp_loss_and_gradients(W1, b1, W2, b2, X, y):
    """Reference: mean binary cross-entropy of ``sigmoid(relu(X W1 + b1) W2 + b2)`` and its gradients.

    Args:
        W1, b1, W2, b2: float64 arrays of shapes (D, H), (H,), (H, 1), (1,).
        X: (N, D) float64 inputs. y: (N, 1) labels in {0, 1}.

    Returns:
        ``(loss, [dW1, db1, dW2, db2])`` in float64.
    """
    z1 = X @ W1 + b1
    h = np.maximum(z1, 0.0)
    z2 = h @ W2 + b2
    # log(1 + e^z) - y z, written stably; its derivative is sigmoid(z) - y
    loss = np.mean(np.logaddexp(0.0, z2) - y * z2)
    dz2 = (1.0 / (1.0 + np.exp(-z2)) - y) / len(X)
    dW2, db2 = h.T @ dz2, dz2.sum(axis=0)
    dz1 = (dz2 @ W2.T) * (z1 > 0)
    dW1, db1 = X.T @ dz1, dz1.sum(axis=0)
    return float(loss), [dW1, db1, dW2, db2]


def _mlp_case(rng, n, d, h, **extra):
    case = {
        "W1": rng.normal(0, 0.5, (d, h)), "b1": rng.normal(0, 0.1, h),
        "W2": rng.normal(0, 0.5, (h, 1)), "b2": rng.normal(0, 0.1, 1),
        "X": rng.normal(0, 1, (n, d)), "y": rng.integers(0, 2, (n, 1)).astype(np.float64),
    }
    case.update(extra)
    return case


_PARAMS = ("W1", "b1", "W2", "b2")


def _tape_cases(rng):
    return [_mlp_case(rng, 8, 3, 4), _mlp_case(rng, 20, 5, 6), _mlp_case(rng, 1, 2, 3)]


def _tape_run(answer, case):
    result = answer(*(case[k] for k in _PARAMS + ("X", "y")))
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TypeError("return a pair (loss, [dW1, db1, dW2, db2])")
    loss, grads = result
    grads = list(grads)
    if len(grads) != 4:
        raise ValueError(f"expected 4 gradients (dW1, db1, dW2, db2), got {len(grads)}")
    if any(g is None for g in grads):
        raise ValueError("a gradient is None: compute the loss inside the `with tf.GradientTape()` block "
                         "and make sure the tape watches the weights (tf.Variable or tape.watch)")
    out = {"loss": np.asarray(loss)}
    out.update({"d" + k: np.asarray(g) for k, g in zip(_PARAMS, grads)})
    return out


def _tape_judge(case, out):
    loss, grads = mlp_loss_and_gradients(*(case[k] for k in _PARAMS + ("X", "y")))
    got = [out["d" + k] for k in _PARAMS]
    for k, g, e in zip(_PARAMS, got, grads):
        if g.size != e.size:
            return Verdict(False, f"d{k} has shape {g.shape}; a gradient has the shape of its variable ({k}).")
    got = [g.reshape(e.shape) for g, e in zip(got, grads)]
    if not _close(out["loss"], loss, rtol=1e-6):
        if _close(out["loss"], loss * len(case["X"]), rtol=1e-6):
            return Verdict(False, "The loss is summed over the batch; the exercise asks for the mean.")
        return Verdict(False, "The loss value is wrong: mean binary cross-entropy of sigmoid(logits), "
                              "with a ReLU hidden layer.")
    if all(_close(g, e) for g, e in zip(got, grads)):
        if any(g.dtype != np.float64 for g in got):
            return Verdict(False, "The values are right but not float64: keep the float64 inputs as float64.")
        return _PASS
    if all(_close(g, -e) for g, e in zip(got, grads)):
        return Verdict(False, "The gradients have the wrong sign: differentiate the loss, not its negative.")
    if all(_close(g, e * len(case["X"])) for g, e in zip(got, grads)):
        return Verdict(False, "The gradients are those of the summed loss: take the gradient of the mean.")
    if all(_close(g, e, rtol=1e-4, atol=1e-6) for g, e in zip(got, grads)):
        return Verdict(False, "Close but not exact: this looks like float32 rounding. Compute in float64.")
    wrong = [f"d{k}" for k, g, e in zip(_PARAMS, got, grads) if not _close(g, e)]
    return Verdict(False, f"The loss is right but {', '.join(wrong)} is wrong: return the gradients in the "
                          "order [W1, b1, W2, b2], all taken from one tape.gradient call on that loss.")


register(Exercise(
    id="keras.tape_gradients",
    title="loss and gradients of a 2-layer MLP with tf.GradientTape",
    make_cases=_tape_cases, run=_tape_run, judge=_tape_judge,
))


def _step_cases(rng):
    return [_mlp_case(rng, 10, 3, 4, lr=0.5, steps=1), _mlp_case(rng, 16, 4, 5, lr=0.1, steps=3)]


def _step_run(answer, case):
    import tensorflow as tf

    variables = [tf.Variable(case[k]) for k in _PARAMS]
    X, y = tf.constant(case["X"]), tf.constant(case["y"])
    losses = [np.asarray(answer(variables, X, y, float(case["lr"]))) for _ in range(int(case["steps"]))]
    out = {"losses": np.array(losses, dtype=np.float64)}
    out.update({k: v.numpy() for k, v in zip(_PARAMS, variables)})
    return out


def _step_judge(case, out):
    params = [case[k].copy() for k in _PARAMS]
    losses = []
    for _ in range(int(case["steps"])):
        loss, grads = mlp_loss_and_gradients(*params, case["X"], case["y"])
        losses.append(loss)
        params = [p - case["lr"] * g for p, g in zip(params, grads)]
    got = [out[k] for k in _PARAMS]
    if all(_close(g, case[k]) for g, k in zip(got, _PARAMS)):
        return Verdict(False, "The variables did not change: update them in place with "
                              "variable.assign_sub(...); `w = w - ...` only rebinds a Python name.")
    if np.asarray(out["losses"]).shape != (len(losses),):
        return Verdict(False, "train_step must return the loss (one number).")
    first_grads = mlp_loss_and_gradients(*(case[k] for k in _PARAMS), case["X"], case["y"])[1]
    if case["steps"] == 1 and all(_close(g, case[k] + case["lr"] * d)
                                  for g, k, d in zip(got, _PARAMS, first_grads)):
        return Verdict(False, "The variables moved uphill: gradient descent subtracts learning_rate * gradient.")
    unchanged = [k for g, k in zip(got, _PARAMS) if _close(g, case[k])]
    if unchanged:
        return Verdict(False, f"{', '.join(unchanged)} never changed: update every variable, biases included.")
    if not all(_close(g, e, rtol=1e-6) for g, e in zip(got, params)):
        return Verdict(False, "The updated variables are wrong: one step is v <- v - learning_rate * dloss/dv, "
                              "with the gradients recorded on a fresh tape at every call.")
    if not _close(out["losses"], losses, rtol=1e-6):
        return Verdict(False, "The variables are right but the returned loss is not: return the loss computed "
                              "before the update.")
    return _PASS


register(Exercise(
    id="keras.train_step",
    title="one step of gradient descent with tf.GradientTape and assign_sub",
    make_cases=_step_cases, run=_step_run, judge=_step_judge,
))


# ----------------------------------------------------------------------------- lesson 05
def _res_cases(rng):
    return [{"in_dim": d, "units": u, "x": rng.normal(0, 1, (5, d)).astype(np.float32)}
            for d, u in ((8, 8), (6, 4), (3, 5))]


def _res_run(answer, case):
    import keras

    d, units = int(case["in_dim"]), int(case["units"])
    inputs = keras.Input(shape=(d,))
    try:
        outputs = answer(inputs, units)
    except ValueError as exc:
        if "shape" in str(exc) and d != units:
            raise ValueError(f"{exc} (in_dim={d} != units={units}: the shortcut needs a Dense(units) "
                             "projection to match shapes)") from None
        raise
    model = keras.Model(inputs, outputs)
    n_params = model.count_params()
    for w in model.weights:  # with every weight zero, only the shortcut can carry the input
        w.assign(np.zeros(w.shape, dtype=w.dtype))
    zero_out = keras.ops.convert_to_numpy(model(case["x"]))
    return {"out_shape": np.array(model.output_shape[1:]), "n_params": np.array(n_params),
            "zero_out": zero_out}


def _res_judge(case, out):
    d, u, x = int(case["in_dim"]), int(case["units"]), case["x"]
    main = d * u + u + u * u + u
    if tuple(out["out_shape"]) != (u,):
        return Verdict(False, f"The block should output `units` features; got shape {tuple(out['out_shape'])}.")
    n = int(out["n_params"])
    if d == u:
        if n == main + d * u + u:
            return Verdict(False, "The shapes already match here: use the identity shortcut, no projection.")
        if n != main:
            return Verdict(False, "Wrong number of parameters: the main path is Dense(units, relu) then "
                                  "Dense(units).")
        z = out["zero_out"]
        if _close(z, np.maximum(x, 0), rtol=1e-5, atol=1e-6):
            return _PASS
        if _close(z, x, rtol=1e-5, atol=1e-6):
            return Verdict(False, "Apply the ReLU after adding the shortcut.")
        if _close(z, 0 * x, atol=1e-6):
            return Verdict(False, "With all weights zero the block outputs zeros: the input never reaches the "
                                  "output. Add the shortcut to the main path.")
        return Verdict(False, "The block's output is not relu(main path + shortcut).")
    if n == main:
        return Verdict(False, "in_dim != units here: the shortcut needs a Dense(units) projection to match shapes.")
    if n != main + d * u + u:
        return Verdict(False, "Wrong number of parameters: main path Dense(units, relu) -> Dense(units), plus "
                              "one Dense(units) projection on the shortcut when shapes differ.")
    return _PASS


register(Exercise(
    id="keras.residual_block",
    title="a Functional residual block (identity or projection shortcut)",
    make_cases=_res_cases, run=_res_run, judge=_res_judge,
))


def _head_cases(rng):
    cases = []
    for n_features, n_classes in ((6, 2), (4, 3), (5, 5)):
        cases.append({"n_features": n_features, "n_classes": n_classes,
                      "x": rng.normal(0, 1, (12, n_features)).astype(np.float32),
                      "y": np.arange(12) % n_classes})
    return cases


def _head_run(answer, case):
    model = answer(int(case["n_features"]), int(case["n_classes"]))
    pred = np.asarray(model.predict(case["x"], verbose=0))
    try:  # judged after the output shape, which names the mistake better than Keras' message
        result = model.evaluate(case["x"], case["y"], verbose=0)
        loss = result[0] if isinstance(result, (list, tuple)) else result
    except ValueError:
        loss = np.nan
    return {"pred": pred, "loss": np.asarray(loss, dtype=np.float64)}


def _head_judge(case, out):
    k, y, p = int(case["n_classes"]), case["y"], out["pred"].astype(np.float64)
    n = len(y)
    eps = 1e-7
    if k == 2:
        if p.shape not in ((n, 1), (n,)):
            return Verdict(False, f"For two classes use one output unit (the probability of class 1); "
                                  f"got {p.shape[1:]} outputs.")
        p = p.reshape(n)
        if np.allclose(p, 1.0):
            return Verdict(False, "Softmax over a single unit is always 1: use a sigmoid.")
        if p.min() < 0 or p.max() > 1:
            return Verdict(False, "The output is not a probability in [0, 1]: use a sigmoid activation.")
        q = np.clip(p, eps, 1 - eps)
        expected = np.mean(-(y * np.log(q) + (1 - y) * np.log(1 - q)))
        name = "binary_crossentropy"
    else:
        if p.shape != (n, k):
            return Verdict(False, f"For {k} classes use {k} output units; got output shape {p.shape[1:]}.")
        if p.min() < 0 or not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
            return Verdict(False, "The outputs for one image should be probabilities summing to 1: use softmax.")
        expected = np.mean(-np.log(np.clip(p[np.arange(n), y], eps, 1.0)))
        name = "sparse_categorical_crossentropy (the labels are integers)"
    if not np.isfinite(out["loss"]):
        return Verdict(False, f"model.evaluate failed on integer labels: compile with {name}.")
    if not _close(out["loss"], expected, rtol=2e-3, atol=1e-4):
        return Verdict(False, f"The output layer is right but the compiled loss is not the matching "
                              f"cross-entropy: use {name}.")
    return _PASS


register(Exercise(
    id="keras.output_head",
    title="the right output layer and loss for binary and multi-class tasks",
    make_cases=_head_cases, run=_head_run, judge=_head_judge,
))


# ----------------------------------------------------------------------------- lesson 06
def cross_correlate2d(image, kernel):
    """Reference 'valid' cross-correlation, stride 1: ``out[i, j] = sum(image[i:i+kh, j:j+kw] * kernel)``.

    Args:
        image: (H, W) array. kernel: (kh, kw) array with kh <= H, kw <= W.

    Returns:
        (H - kh + 1, W - kw + 1) float64 array.
    """
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(image, np.float64), np.shape(kernel))
    return np.einsum("ijkl,kl->ij", windows, np.asarray(kernel, np.float64))


def _conv_cases(rng):
    shapes = (((7, 9), (3, 3)), ((6, 8), (2, 4)), ((3, 5), (3, 5)), ((5, 4), (1, 1)), ((9, 7), (4, 2)))
    return [{"image": rng.normal(0, 1, s), "kernel": rng.normal(0, 1, k)} for s, k in shapes]


def _conv_run(answer, case):
    return {"out": np.asarray(answer(case["image"].copy(), case["kernel"].copy()), dtype=np.float64)}


def _conv_judge(case, out):
    image, kernel, got = case["image"], case["kernel"], out["out"]
    (h, w), (kh, kw) = image.shape, kernel.shape
    expected = cross_correlate2d(image, kernel)
    if got.shape != expected.shape:
        if got.shape == image.shape:
            return Verdict(False, "The output has the input's size: that is 'same' padding. "
                                  "Use 'valid': only windows that fit entirely inside the image.")
        if got.shape in ((h - kh, w - kw), (h - kh + 2, w - kw + 2)):
            return Verdict(False, f"Off by one: for a {kh}x{kw} kernel on a {h}x{w} image count how many "
                                  "window positions fit along each axis.")
        if got.shape == expected.shape[::-1]:
            return Verdict(False, "The output is transposed: rows run over the image height.")
        return Verdict(False, f"Wrong output shape {got.shape} for a {h}x{w} image and a {kh}x{kw} kernel.")
    if _close(got, expected):
        return _PASS
    if _close(got, cross_correlate2d(image, kernel[::-1, ::-1])):
        return Verdict(False, "You flipped the kernel (that is the textbook convolution). Deep-learning "
                              "'convolution' is cross-correlation: multiply the window by the kernel as is.")
    if kh == kw and _close(got, cross_correlate2d(image, kernel.T)):
        return Verdict(False, "The kernel is transposed: kernel[r, c] multiplies image row i+r, column j+c.")
    return Verdict(False, "Wrong values: out[i, j] is the sum of image[i:i+kh, j:j+kw] * kernel.")


register(Exercise(
    id="keras.conv2d",
    title="2-D cross-correlation ('valid', stride 1) in NumPy",
    make_cases=_conv_cases, run=_conv_run, judge=_conv_judge,
))


def pool2d(image, size, reduce=np.max):
    """Reference non-overlapping pooling (stride = size), dropping leftover rows/columns like Keras 'valid'.

    Returns:
        (H // size, W // size) float64 array.
    """
    image = np.asarray(image, np.float64)
    h, w = image.shape[0] // size, image.shape[1] // size
    blocks = image[: h * size, : w * size].reshape(h, size, w, size)
    return reduce(blocks, axis=(1, 3))


def _pool_cases(rng):
    spec = (((8, 8), 2), ((7, 9), 2), ((6, 6), 3), ((10, 5), 3), ((1, 1), 1))
    return [{"image": rng.normal(0, 1, s), "size": k} for s, k in spec]


def _pool_run(answer, case):
    return {"out": np.asarray(answer(case["image"].copy(), int(case["size"])), dtype=np.float64)}


def _pool_judge(case, out):
    image, size, got = case["image"], int(case["size"]), out["out"]
    h, w = image.shape
    expected = pool2d(image, size)
    if got.shape != expected.shape:
        if got.shape == (-(-h // size), -(-w // size)):
            return Verdict(False, "Keep only complete windows: leftover rows/columns at the border are dropped "
                                  "(Keras padding='valid').")
        if got.shape == (h - size + 1, w - size + 1):
            return Verdict(False, "The windows overlap: move by `size` pixels (stride = pool size), not by 1.")
        return Verdict(False, f"Wrong output shape {got.shape} for a {h}x{w} image and size={size}.")
    if _close(got, expected):
        return _PASS
    if _close(got, pool2d(image, size, np.mean)):
        return Verdict(False, "That is average pooling; max pooling keeps the largest value of each window.")
    if _close(got, pool2d(np.abs(image), size)):
        return Verdict(False, "Take the largest value, not the largest absolute value.")
    return Verdict(False, "Wrong values: each output pixel is the maximum of one size x size block.")


register(Exercise(
    id="keras.max_pool",
    title="max pooling (non-overlapping windows) in NumPy",
    make_cases=_pool_cases, run=_pool_run, judge=_pool_judge,
))


# ----------------------------------------------------------------------------- lesson 07
_RATES = ("sensitivity", "specificity", "ppv", "npv")


def confusion_rates(cm):
    """Reference: sensitivity, specificity, PPV, NPV from ``[[TN, FP], [FN, TP]]`` (rows = truth)."""
    (tn, fp), (fn, tp) = np.asarray(cm, dtype=np.float64)
    return {"sensitivity": tp / (tp + fn), "specificity": tn / (tn + fp),
            "ppv": tp / (tp + fp), "npv": tn / (tn + fn)}


def _rates_cases(rng):
    fixed = [[[90, 10], [6, 44]], [[970, 20], [3, 7]], [[40, 25], [12, 60]]]
    drawn = [rng.integers(5, 200, (2, 2)).tolist() for _ in range(2)]
    return [{"cm": np.array(c, dtype=np.int64)} for c in fixed + drawn]


def _rates_run(answer, case):
    result = answer(case["cm"].copy())
    if not hasattr(result, "keys"):
        raise TypeError("return a dict with keys 'sensitivity', 'specificity', 'ppv', 'npv'")
    missing = [k for k in _RATES if k not in result]
    if missing:
        raise KeyError(f"the dict misses {missing}")
    return {k: np.asarray(result[k], dtype=np.float64) for k in _RATES}


def _rates_judge(case, out):
    exp = confusion_rates(case["cm"])
    got = {k: float(out[k]) for k in _RATES}
    ok = {k: np.isclose(got[k], exp[k], rtol=1e-9) for k in _RATES}
    if all(ok.values()):
        return _PASS
    def swap(a, b):
        return not ok[a] and not ok[b] and np.isclose(got[a], exp[b]) and np.isclose(got[b], exp[a])

    if swap("sensitivity", "ppv") and swap("specificity", "npv"):
        return Verdict(False, "You read the matrix transposed: rows are the true class, columns the prediction "
                              "([[TN, FP], [FN, TP]], as sklearn.metrics.confusion_matrix returns it).")
    if swap("sensitivity", "specificity"):
        return Verdict(False, "Sensitivity and specificity are swapped: sensitivity is the share of the sick "
                              "who test positive.")
    if swap("ppv", "npv"):
        return Verdict(False, "PPV and NPV are swapped: PPV is the share of positive predictions that are right.")
    if swap("sensitivity", "ppv"):
        return Verdict(False, "Sensitivity and PPV are swapped: sensitivity divides by the actual positives, "
                              "PPV by the predicted positives.")
    wrong = [k for k in _RATES if not ok[k]]
    return Verdict(False, f"Wrong: {', '.join(wrong)}. Write each as a fraction of TN, FP, FN, TP and check "
                          "which row or column is its denominator.")


register(Exercise(
    id="keras.clinical_metrics",
    title="sensitivity, specificity, PPV and NPV from a confusion matrix",
    make_cases=_rates_cases, run=_rates_run, judge=_rates_judge,
))


def _sens_spec(y, scores, threshold):
    pred = scores >= threshold
    return pred[y == 1].mean(), (~pred[y == 0]).mean()


def _thr_cases(rng):
    cases = []
    for n, target, decimals in ((60, 0.9, 6), (200, 0.95, 6), (40, 1.0, 6), (120, 0.8, 1)):
        y = (rng.random(n) < 0.35).astype(np.int64)
        y[:2] = (0, 1)
        scores = np.round(np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1), decimals)  # decimals=1: many ties
        cases.append({"y_true": y, "scores": scores, "target": target})
    return cases


def _thr_run(answer, case):
    t = answer(case["y_true"].copy(), case["scores"].copy(), float(case["target"]))
    return {"threshold": np.asarray(t, dtype=np.float64)}


def _thr_judge(case, out):
    y, scores, target = case["y_true"], case["scores"], float(case["target"])
    t = out["threshold"]
    if t.size != 1 or not np.isfinite(t):
        return Verdict(False, "Return one finite number: the threshold.")
    t = float(t.reshape(()))
    positives = np.sort(scores[y == 1])[::-1]
    k = int(np.ceil(target * len(positives) - 1e-9))  # positives that must be caught
    _, best_spec = _sens_spec(y, scores, positives[max(k, 1) - 1])
    sens, spec = _sens_spec(y, scores, t)
    if sens < target - 1e-12:
        return Verdict(False, "At your threshold (positive when score >= threshold) the sensitivity is below the "
                              "target. Count caught cases among the actual positives only, and predict "
                              "'positive' for scores equal to the threshold.")
    if spec < best_spec - 1e-12:
        return Verdict(False, "The target sensitivity is reached but specificity is lower than it could be: "
                              "choose the highest threshold that still reaches the target.")
    return _PASS


register(Exercise(
    id="keras.threshold_for_sensitivity",
    title="the highest threshold that reaches a target sensitivity",
    make_cases=_thr_cases, run=_thr_run, judge=_thr_judge,
))
