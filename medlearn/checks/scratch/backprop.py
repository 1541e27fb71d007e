"""Lesson 03 checks: the numerical gradient, the backward pass of a 2-layer network, fixing a broken one.

The network of lesson 03 (rows are samples, Y one-hot):

    z1 = X @ W1 + b1      a1 = sigmoid(z1)      logits = a1 @ W2 + b2
    L  = mean over samples of -sum_k Y_k log softmax(logits)_k
"""
from __future__ import annotations

import numpy as np

from medlearn.checks.core import Exercise, Verdict, register
from medlearn.checks.scratch._common import SCRATCH, close, diagnose
from medlearn.scratch import log_softmax, relative_error, sigmoid, softmax

GRADS = ("dW1", "db1", "dW2", "db2")


# ----------------------------------------------------------------------------- numerical_gradient
def _ng_cases(rng):
    return [{"x": rng.normal(size=(3, 4)), "c": rng.uniform(0.5, 2.0, size=(3, 4))},
            {"x": rng.normal(size=6), "c": rng.uniform(0.5, 2.0, size=6)}]


def _ng_f(c):
    # curved on purpose (f'' is not small), so one-sided differences are visibly less accurate
    return lambda v: float(np.sum(c * np.exp(0.5 * v)) + np.sum(v ** 3) / 3.0)


def _run_ng(answer, case):
    x = np.array(case["x"], dtype=np.float64)
    grad = answer(_ng_f(np.array(case["c"])), x, 1e-6)
    return {"grad": np.asarray(grad, dtype=float), "x_after": x}


def _ng_variant(f, x, eps, kind):
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = eps
        if kind == "forward":
            out[idx] = (f(x + step) - f(x)) / eps
        else:  # "eps": central difference divided by eps instead of 2 eps
            out[idx] = (f(x + step) - f(x - step)) / eps
    return out


def _judge_ng(case, outputs):
    x, c = np.asarray(case["x"], dtype=float), np.asarray(case["c"], dtype=float)
    grad = outputs["grad"]
    if not np.array_equal(outputs["x_after"], x):
        return Verdict(False, "x was left changed after your function returned: put each entry back "
                              "(x[i] = old) after evaluating f at old + eps and old - eps.")
    if grad.shape != x.shape:
        return Verdict(False, f"The gradient must have the shape of x {x.shape}; yours has {grad.shape}.")
    exact = 0.5 * c * np.exp(0.5 * x) + x ** 2
    if relative_error(grad, exact) < 1e-7:
        return Verdict(True)
    f = _ng_f(c)
    return Verdict(False, diagnose(grad, [
        (_ng_variant(f, x, 1e-6, "forward"), "One-sided differences (f(x + eps) - f(x)) / eps have an "
         "error proportional to eps; central differences (f(x + eps) - f(x - eps)) / (2 eps) are "
         "accurate to eps^2, which is what a 1e-7 check needs."),
        (_ng_variant(f, x, 1e-6, "eps"), "Twice too large: the two points x + eps and x - eps are 2 eps apart."),
        (-exact, "Sign error: it is (f(x + eps) - f(x - eps)), the value on the right minus the one on the left."),
        (np.full_like(x, (f(x + 1e-6) - f(x - 1e-6)) / 2e-6), "Every entry came out the same: nudge one "
         "entry at a time (all others unchanged), not the whole array at once."),
    ], "Not the central-difference gradient: for each index i, nudge x[i] by +eps and -eps, "
       "call f(x) each time, and store the difference divided by 2 eps."))


# ----------------------------------------------------------------------------- the 2-layer network
# the large case makes a per-sample loop cost ~0.5-1 s of CPU against ~0.01 s vectorised, so the
# grader's outside CPU bound (loop_cpu_s) sits far from both on a loaded machine
def _net_cases(rng, sizes=((12, 5, 4, 3, 0), (7, 3, 6, 2, 0), (20000, 5, 4, 2, 20000))):
    cases = []
    for n, d, h, k, n_big in sizes:
        cases.append({"X": rng.normal(size=(n, d)), "Y": np.eye(k)[rng.integers(0, k, size=n)],
                      "W1": rng.normal(size=(d, h)) * 0.8, "b1": rng.normal(size=h) * 0.3,
                      "W2": rng.normal(size=(h, k)) * 0.8, "b2": rng.normal(size=k) * 0.3, "n_big": n_big})
    return cases


def reference(case, *, deriv="a", double_softmax=False, loss_sign=-1.0, mean=True):
    """Loss and gradients of the lesson-03 network; the keywords re-create the classic bugs."""
    X, Y, W1, b1, W2, b2 = (np.asarray(case[k], dtype=float) for k in ("X", "Y", "W1", "b1", "W2", "b2"))
    n = X.shape[0]
    z1 = X @ W1 + b1
    a1 = sigmoid(z1)
    logits = a1 @ W2 + b2
    scores = softmax(logits, axis=1) if double_softmax else logits
    loss = loss_sign * np.mean(np.sum(Y * log_softmax(scores, axis=1), axis=1))
    dlogits = (softmax(logits, axis=1) - Y) / (n if mean else 1)  # dL/dlogits = (p - Y) / n
    dW2 = a1.T @ dlogits
    db2 = dlogits.sum(axis=0)
    da1 = dlogits @ W2.T
    local = {"a": a1 * (1 - a1), "z": z1 * (1 - z1), "none": 1.0}[deriv]
    dz1 = da1 * local                                              # sigma'(z1) = a1 (1 - a1)
    return float(loss), {"dW1": X.T @ dz1, "db1": dz1.sum(axis=0), "dW2": dW2, "db2": db2}


def _as_grads(result):
    if isinstance(result, dict):
        return {k: np.asarray(result[k], dtype=float) for k in GRADS}
    if isinstance(result, (tuple, list)) and len(result) == 4:
        return {k: np.asarray(v, dtype=float) for k, v in zip(GRADS, result)}
    raise TypeError("return the gradients as a dict {'dW1', 'db1', 'dW2', 'db2'} or a tuple in that order")


def _net_args(case):
    return tuple(np.array(case[k], dtype=float) for k in ("X", "Y", "W1", "b1", "W2", "b2"))


def _bias_problem(name, got, want, n) -> str | None:
    shape = tuple(np.shape(got))
    if shape == tuple(want):
        return None
    if shape in ((n,), (n, 1)):
        return (f"{name} has one entry per sample (shape {shape}): you summed over axis 1, the units. "
                "A bias is shared by every sample, so its gradient sums over the samples: axis=0.")
    if shape == (1,) + tuple(want):
        return f"{name} has shape {shape}; the bias has shape {tuple(want)}: sum over axis 0 without keepdims."
    return f"{name} has shape {shape} but the bias has shape {tuple(want)}."


def _shape_problems(case, grads) -> list:
    _, ref = reference(case)
    n = np.shape(case["X"])[0]
    problems = [p for name in ("db1", "db2") if (p := _bias_problem(name, grads[name], ref[name].shape, n))]
    problems += [f"{name} has shape {grads[name].shape} but {name[1:]} has shape {ref[name].shape}."
                 for name in ("dW1", "dW2") if grads[name].shape != ref[name].shape]
    return problems


def _all_close(grads, ref, keys=GRADS) -> bool:
    return all(close(grads[k], ref[k], rtol=1e-6, atol=1e-10) for k in keys)


def _hidden_layer_problem(case, grads) -> str | None:
    """Name the mistake in dW1/db1 when the output layer's gradients are right."""
    for deriv, hint in (
        ("z", "The sigmoid's derivative is taken at the wrong point: a (1 - a) needs the activation "
              "a1 = sigmoid(z1), not the pre-activation z1."),
        ("none", "The gradient passes through the sigmoid unchanged: multiply by its derivative "
                 "a1 * (1 - a1) on the way back."),
    ):
        if _all_close(grads, reference(case, deriv=deriv)[1], ("dW1",)):
            return hint
    return None


def _run_backward(answer, case):
    return _as_grads(answer(*_net_args(case)))


def _judge_backward(case, outputs):
    problems = _shape_problems(case, outputs)
    if problems:
        return Verdict(False, " ".join(problems))
    ref = reference(case)[1]
    if _all_close(outputs, ref):
        return Verdict(True)
    if _all_close(outputs, {k: -v for k, v in ref.items()}):
        return Verdict(False, "All four gradients have the wrong sign: dL/dlogits = (softmax(logits) - Y) / n.")
    if _all_close(outputs, reference(case, mean=False)[1]):
        return Verdict(False, "All gradients are n times too large: the loss is a mean over the n samples, "
                              "so dL/dlogits carries a 1/n.")
    if _all_close(outputs, ref, ("dW2", "db2")):
        return Verdict(False, _hidden_layer_problem(case, outputs) or (
            "dW2 and db2 are right, so the mistake is between the logits and the hidden layer: check "
            "how the gradient passes back through W2 (which transpose?) and through the sigmoid."))
    return Verdict(False, "dW2 / db2 are already off: start from dL/dlogits for the mean softmax "
                          "cross-entropy, then dW2 = (hidden activations).T @ dlogits and db2 sums dlogits over the samples.")


# ----------------------------------------------------------------------------- fix the broken implementation
def _fix_cases(rng):
    cases = _net_cases(rng, sizes=((10, 4, 5, 2, 0), (6, 3, 3, 3, 0), (8, 4, 3, 3, 0)))
    # confident logits (|logit| ~ 1000): log(softmax(.)) of probabilities gives log(0) = -inf there,
    # the log-softmax of the logits stays finite - the loss must be computed from the logits
    cases[2]["W2"] = cases[2]["W2"] * 400.0
    cases[2]["extreme"] = 1
    return cases



def _run_fixed(answer, case):
    result = answer(*_net_args(case))
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError("return (loss, grads) with grads a dict {'dW1', 'db1', 'dW2', 'db2'}")
    return {"loss": np.asarray(result[0], dtype=float), **_as_grads(result[1])}


def _judge_fixed(case, outputs):
    problems = []
    loss, ref = reference(case)
    got = outputs["loss"]
    if got.size != 1:
        problems.append(f"The loss must be one number, not shape {got.shape}.")
    elif not close(got.reshape(()), loss):
        value, twice = got.reshape(()), reference(case, double_softmax=True)[0]
        if close(value, -loss):
            problems.append("The cross-entropy still lacks its minus sign (log-probabilities are <= 0, a loss is >= 0).")
        elif close(value, twice) or close(value, -twice):
            problems.append("The loss still receives probabilities where it expects logits: softmax is applied twice.")
            if close(value, -twice):
                problems.append("The cross-entropy still lacks its minus sign.")
        elif case.get("extreme"):
            problems.append("The loss is wrong (or inf) for confident logits: log(softmax(logits)) computed from "
                            "probabilities gives log(0) = -inf once a probability rounds to 0. Compute it from the "
                            "logits with the log-softmax (logits - logsumexp), e.g. scratch.log_softmax(logits).")
        else:
            problems.append("The loss is not the mean softmax cross-entropy of the logits.")
    problems += _shape_problems(case, outputs)
    if outputs["dW2"].shape == ref["dW2"].shape and not _all_close(outputs, ref, ("dW2",)):
        problems.append("dW2 is wrong: the original dlogits = (softmax(logits) - Y) / n was right.")
    elif outputs["dW1"].shape == ref["dW1"].shape and not _all_close(outputs, ref, ("dW1",)):
        problems.append(_hidden_layer_problem(case, outputs) or "dW1 is still wrong.")
    if not problems and not _all_close(outputs, ref):
        problems.append("A bias gradient is still wrong: it sums dL/dz over the samples.")
    return Verdict(not problems, "Still broken: " + " ".join(problems) if problems else "")


register(Exercise(id="scratch.numerical_gradient", title="the central-difference gradient",
                  make_cases=_ng_cases, run=_run_ng, judge=_judge_ng, **SCRATCH,
                  arg_names=("f", "x", "eps"), teaches="write the central difference yourself",
                  mutation_hint="x was left changed after your function returned: put each entry back "
                                "(x[i] = old) after evaluating f at old + eps and old - eps.",
                  next_hint="grad_check below compares your backward pass with this numerical gradient."))
register(Exercise(id="scratch.two_layer_backward", title="backward pass of the 2-layer network",
                  make_cases=_net_cases, run=_run_backward, judge=_judge_backward, **SCRATCH,
                  no_loops_over="samples", loop_cpu_s=0.3,
                  allowed=("medlearn.scratch.sigmoid", "medlearn.scratch.softmax"),
                  arg_names=("X", "Y", "W1", "b1", "W2", "b2"), teaches="write the backward pass",
                  next_hint="the 'find the bug' exercise repairs a backward pass like this one."))
register(Exercise(id="scratch.fix_broken", title="fix the broken backpropagation",
                  make_cases=_fix_cases, run=_run_fixed, judge=_judge_fixed, **SCRATCH,
                  allowed=("medlearn.scratch.sigmoid", "medlearn.scratch.softmax", "medlearn.scratch.log_softmax"),
                  arg_names=("X", "Y", "W1", "b1", "W2", "b2"), teaches="repair the implementation",
                  next_hint="lesson 04 computes the same gradients with tf.GradientTape."))
