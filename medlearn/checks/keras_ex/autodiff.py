"""Lesson 04 exercises: gradients with ``tf.GradientTape`` and a gradient-descent step.

Judged against a NumPy backward pass (no TensorFlow in the judge).

Used in lesson 04.
"""
from __future__ import annotations

import numpy as np

from medlearn.checks.core import Exercise, Verdict, register
from medlearn.checks.keras_ex._common import PASS, close

__all__ = ["mlp_loss_and_gradients"]

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
    confident = _mlp_case(rng, 12, 3, 4, extreme=1)
    confident["W2"] = confident["W2"] * 150.0  # |logits| in the hundreds: log(sigmoid(.)) overflows there
    return [_mlp_case(rng, 8, 3, 4), _mlp_case(rng, 20, 5, 6), _mlp_case(rng, 1, 2, 3), confident]


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
    if out["loss"].size != 1:
        return Verdict(False, f"The loss has {out['loss'].size} values (one per sample?): reduce it to one "
                              "number, the mean over the batch.")
    if not close(out["loss"].reshape(()), loss, rtol=1e-6):
        if close(out["loss"].reshape(()), loss * len(case["X"]), rtol=1e-6):
            return Verdict(False, "The loss is summed over the batch; the exercise asks for the mean.")
        if case.get("extreme"):
            return Verdict(False, "The loss is wrong (or inf/nan) when the logits are large: computing "
                                  "log(sigmoid(logits)) from probabilities overflows or, clipped, caps the loss. "
                                  "Work from the logits: tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits).")
        return Verdict(False, "The loss value is wrong: mean binary cross-entropy of sigmoid(logits), "
                              "with a ReLU hidden layer.")
    if all(close(g, e) for g, e in zip(got, grads)):
        if any(g.dtype != np.float64 for g in got):
            return Verdict(False, "The values are right but not float64: keep the float64 inputs as float64.")
        return PASS
    if all(close(g, -e) for g, e in zip(got, grads)):
        return Verdict(False, "The gradients have the wrong sign: differentiate the loss, not its negative.")
    if all(close(g, e * len(case["X"])) for g, e in zip(got, grads)):
        return Verdict(False, "The gradients are those of the summed loss: take the gradient of the mean.")
    if all(close(g, e, rtol=1e-4, atol=1e-6) for g, e in zip(got, grads)):
        return Verdict(False, "Close but not exact: this looks like float32 rounding. Compute in float64.")
    wrong = [f"d{k}" for k, g, e in zip(_PARAMS, got, grads) if not close(g, e)]
    return Verdict(False, f"The loss is right but {', '.join(wrong)} is wrong: return the gradients in the "
                          "order [W1, b1, W2, b2], all taken from one tape.gradient call on that loss.")


register(Exercise(
    id="keras.tape_gradients",
    title="loss and gradients of a 2-layer MLP with tf.GradientTape",
    make_cases=_tape_cases, run=_tape_run, judge=_tape_judge,
    dtype="float64", dtype_why="the weights and data are float64 and the lesson compares these gradients "
                               "with lesson 03's to 1e-9; float32 keeps about 7 digits.",
    forbidden=("medlearn",), arg_names=("W1", "b1", "W2", "b2", "X", "y"),
    teaches="record the loss on a GradientTape yourself",
    next_hint="train_step uses the same tape, then updates the variables with assign_sub.",
))


def _step_cases(rng):
    return [_mlp_case(rng, 10, 3, 4, lr=0.5, steps=1, graph=0), _mlp_case(rng, 16, 4, 5, lr=0.1, steps=3, graph=0),
            _mlp_case(rng, 12, 3, 4, lr=0.2, steps=2, graph=1)]  # inside tf.function, as lesson 04 runs it


def _step_run(answer, case):
    import tensorflow as tf

    variables = [tf.Variable(case[k]) for k in _PARAMS]
    X, y = tf.constant(case["X"]), tf.constant(case["y"])
    step = answer
    if int(case.get("graph", 0)):
        def graph_step(v, X, y, lr):
            loss = answer(v, X, y, lr)
            if not tf.is_tensor(loss):
                raise _NotATensor()
            return loss

        step = tf.function(graph_step, autograph=False)
    try:
        lr = tf.constant(float(case["lr"]), dtype=tf.float64) if int(case.get("graph", 0)) else float(case["lr"])
        losses = [np.asarray(step(variables, X, y, lr)) for _ in range(int(case["steps"]))]
    except (_NotATensor, TypeError, AttributeError, NotImplementedError) as exc:
        if not int(case.get("graph", 0)) or isinstance(exc, NotImplementedError):
            raise
        return {"graph_ok": np.array(False)}
    out = {"losses": np.array(losses, dtype=np.float64), "graph_ok": np.array(True)}
    out.update({k: v.numpy() for k, v in zip(_PARAMS, variables)})
    return out


class _NotATensor(Exception):
    pass


def _step_judge(case, out):
    if not bool(out["graph_ok"]):
        return Verdict(False, "train_step fails inside tf.function (as lesson 04 runs it next): return the loss "
                              "tensor itself, not float(loss), loss.numpy() or a Python number - inside a graph "
                              "the loss is symbolic until the graph runs.")
    params = [case[k].copy() for k in _PARAMS]
    losses = []
    for _ in range(int(case["steps"])):
        loss, grads = mlp_loss_and_gradients(*params, case["X"], case["y"])
        losses.append(loss)
        params = [p - case["lr"] * g for p, g in zip(params, grads)]
    got = [out[k] for k in _PARAMS]
    if all(close(g, case[k]) for g, k in zip(got, _PARAMS)):
        return Verdict(False, "The variables did not change: update them in place with "
                              "variable.assign_sub(...); `w = w - ...` only rebinds a Python name.")
    if np.asarray(out["losses"]).shape != (len(losses),):
        return Verdict(False, "train_step must return the loss (one number).")
    first_grads = mlp_loss_and_gradients(*(case[k] for k in _PARAMS), case["X"], case["y"])[1]
    if case["steps"] == 1 and all(close(g, case[k] + case["lr"] * d)
                                  for g, k, d in zip(got, _PARAMS, first_grads)):
        return Verdict(False, "The variables moved uphill: gradient descent subtracts learning_rate * gradient.")
    unchanged = [k for g, k in zip(got, _PARAMS) if close(g, case[k])]
    if unchanged:
        return Verdict(False, f"{', '.join(unchanged)} never changed: update every variable, biases included.")
    if not all(close(g, e, rtol=1e-6) for g, e in zip(got, params)):
        return Verdict(False, "The updated variables are wrong: one step is v <- v - learning_rate * dloss/dv, "
                              "with the gradients recorded on a fresh tape at every call.")
    if not close(out["losses"], losses, rtol=1e-6):
        return Verdict(False, "The variables are right but the returned loss is not: return the loss computed "
                              "before the update.")
    return PASS


register(Exercise(
    id="keras.train_step",
    title="one step of gradient descent with tf.GradientTape and assign_sub",
    make_cases=_step_cases, run=_step_run, judge=_step_judge,
    forbidden=("medlearn",), no_mutation=False, arg_names=("variables", "X", "y", "learning_rate"),
    teaches="write the gradient-descent step with a tape and assign_sub",
    next_hint="the next cells train the network with your train_step, eagerly and inside tf.function.",
))
