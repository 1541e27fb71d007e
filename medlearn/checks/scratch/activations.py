"""Lesson 01 checks: sigmoid, its derivative, softmax, binary cross-entropy from logits."""
from __future__ import annotations

import numpy as np

from medlearn.checks.core import Exercise, Verdict, register
from medlearn.checks.scratch._common import (
    OVERFLOW_HINT, SCRATCH, close, diagnose, finite, shape_hint,
)
from medlearn.scratch import binary_cross_entropy, sigmoid, softmax


# ----------------------------------------------------------------------------- lesson 01
def _activation_cases(rng):
    return [
        {"z": rng.normal(size=7) * 3},
        {"z": rng.normal(size=(4, 3))},
        {"z": np.array([-1000.0, -50.0, -1.0, 0.0, 1.0, 50.0, 1000.0])},
        {"z": rng.normal(size=(2, 3, 5)) * 2},
        {"z": rng.normal(size=4000) * 4, "n_big": 4000},
    ]


def _run_unary(answer, case):
    out = answer(np.array(case["z"], dtype=float))
    return {"out": np.asarray(out, dtype=float)}


def _judge_sigmoid(case, outputs):
    z, out = case["z"], outputs["out"]
    if out.shape != z.shape:
        return Verdict(False, shape_hint("sigmoid(z)", out, z.shape) + " Apply it element-wise.")
    if not finite(out):
        return Verdict(False, OVERFLOW_HINT + "Use 1 / (1 + exp(-z)), whose exp() only overflows "
                       "to inf (giving 0), never to inf / inf = nan; or the two-sided form with exp(-|z|).")
    if not close(out, sigmoid(z)):
        return Verdict(False, diagnose(out, [
            (sigmoid(-z), "Sign error: sigmoid must grow with z (sigmoid(large z) -> 1). It is 1 / (1 + exp(-z))."),
            (np.exp(-z) / (1 + np.exp(-z)), "You computed 1 - sigmoid(z); sigmoid(z) = 1 / (1 + exp(-z))."),
        ], "Some values differ from 1 / (1 + exp(-z)). Test yours on z = 0 (should give 0.5) and on "
           "large positive and negative z (should approach 1 and 0)."))
    return Verdict(True)


def _judge_sigmoid_grad(case, outputs):
    z, out = case["z"], outputs["out"]
    if out.shape != z.shape:
        return Verdict(False, shape_hint("sigmoid_grad(z)", out, z.shape))
    a = sigmoid(z)
    expected = a * (1 - a)
    if not close(out, expected, atol=1e-12):
        if not finite(out):
            return Verdict(False, OVERFLOW_HINT + "Compute a = sigmoid(z) with your stable sigmoid, "
                           "then use a * (1 - a): no exp() needed here.")
        aa = sigmoid(a)
        return Verdict(False, diagnose(out, [
            (z * (1 - z), "You computed z * (1 - z). The rule sigma' = a (1 - a) holds at the "
             "activation a = sigmoid(z), not at the pre-activation z: compute a first."),
            (aa * (1 - aa), "You evaluated the derivative at sigmoid(z), i.e. you applied sigmoid twice: "
             "sigmoid_grad receives z, so a = sigmoid(z) and the answer is a * (1 - a)."),
            (-expected, "Sign error: the sigmoid is increasing, so its derivative is positive."),
            (a * (1 + a), "Check the formula: d/dz 1/(1+e^-z) = a (1 - a), with a minus."),
        ], "The values are not d sigmoid / dz. Derive it: with a = sigmoid(z), sigma'(z) = a (1 - a); "
           "it peaks at z = 0 with 0.25."))
    return Verdict(True)


def _softmax_cases(rng):
    return [
        {"z": rng.normal(size=(4, 4)) * 3},  # square first: a wrong axis cannot hide behind a shape error
        {"z": rng.normal(size=(5, 3))},
        {"z": rng.normal(size=(2, 7)) * 2},
        {"z": np.array([[1000.0, 999.0, 998.0], [-1000.0, -999.0, -1001.0], [0.0, 1.0, 2.0]])},
        {"z": rng.normal(size=(3000, 3)), "n_big": 3000},
    ]


def _judge_softmax(case, outputs):
    z, out = case["z"], outputs["out"]
    if out.shape != z.shape:
        return Verdict(False, shape_hint("softmax(Z)", out, z.shape) + " Divide with keepdims=True.")
    expected = softmax(z, axis=1)
    if not close(out, expected, atol=1e-12):
        if not finite(out):
            row_max_ok = finite(np.exp(z - z.max(axis=1, keepdims=True)))
            return Verdict(False, OVERFLOW_HINT + (
                "Subtract each row's own maximum (z.max(axis=1, keepdims=True)) before exp(); "
                "a single global maximum can leave a whole row at exp(-2000) = 0, and 0 / 0 = nan."
                if row_max_ok else "Subtract each row's maximum before exp()."))
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return Verdict(False, diagnose(out, [
            (softmax(z, axis=0), "Wrong axis: each row is one sample and must sum to 1 over its classes. "
             "Normalise along axis=1, not axis=0."),
            (lambda: e / e.sum(axis=1)[None, :], "Each row must be divided by its own sum: use "
             "e.sum(axis=1, keepdims=True) so the (n, 1) sums broadcast along the rows."),
            (softmax(-z, axis=1), "Sign error: the largest score must get the largest probability."),
        ], "Rows should be exp(z) / sum(exp(z)) over each row (axis=1): positive, summing to 1, "
           "largest where z is largest."))
    return Verdict(True)


def _bce_cases(rng):
    def labels(n):
        return rng.integers(0, 2, size=n).astype(float)

    return [
        {"logits": rng.normal(size=8) * 2, "y": labels(8)},
        {"logits": np.array([800.0, -800.0, 30.0, -30.0, 0.5]), "y": np.array([0.0, 1.0, 1.0, 0.0, 1.0])},
        {"logits": rng.normal(size=(6, 3)) * 2, "y": labels(18).reshape(6, 3)},  # 2-D: mean over every entry
        {"logits": rng.normal(size=4000) * 3, "y": labels(4000), "n_big": 4000},
    ]


def _bce_reference(z, y):
    return binary_cross_entropy(z, y)


def _run_bce(answer, case):
    out = answer(np.array(case["logits"], dtype=float), np.array(case["y"], dtype=float))
    return {"loss": np.asarray(out, dtype=float)}


def _judge_bce(case, outputs):
    z, y, loss = case["logits"], case["y"], outputs["loss"]
    if loss.size != 1:
        return Verdict(False, f"Return one number (the mean loss over the samples), not an array of shape {loss.shape}.")
    loss = loss.reshape(())
    expected = _bce_reference(z, y)
    if close(loss, expected, rtol=1e-6):
        return Verdict(True)
    if not finite(loss):
        small = bool(np.all(np.abs(z) < 50))
        return Verdict(False, (
            "nan for ordinary logits: did you take log() of the logits themselves? The logits are raw "
            "scores, not probabilities: the probability is sigmoid(z)." if small else
            OVERFLOW_HINT + "log(sigmoid(z)) becomes log(0) = -inf once sigmoid(z) rounds to 0. Work "
            "with logits: log sigmoid(z) = -log(1 + exp(-z)) = -np.logaddexp(0, -z), and "
            "log(1 - sigmoid(z)) = log sigmoid(-z)."))
    n = z.size
    return Verdict(False, diagnose(loss, [
        (-expected, "Your loss is the negative of the cross-entropy: the minus sign is missing. "
         "log-probabilities are <= 0, so L = -mean(y log p + (1 - y) log(1 - p)) >= 0."),
        (expected * n, "You summed over the samples; take the mean, so the loss (and the learning "
         "rate that suits it) does not depend on the batch size."),
        (expected * z.size / len(z), "You divided the sum by len(y), which counts only the rows: for 2-D "
         "inputs take the mean over every entry (np.mean), not sum / len."),
        (_bce_reference(-z, y), "Sign error inside: p = sigmoid(z) is the probability of y = 1, "
         "so y goes with log p and (1 - y) with log(1 - p)."),
    ], "The value is off for large logits: clipping probabilities (e.g. to 1e-7) caps the loss, but the "
       "true loss keeps growing like |z| for a confident wrong answer. Compute it from the logits: "
       "log sigmoid(z) = -np.logaddexp(0, -z)." if np.any(np.abs(z) > 100) else
       "The value is not the mean binary cross-entropy -mean(y log p + (1 - y) log(1 - p)) with p = sigmoid(z)."))


register(Exercise(id="scratch.sigmoid", title="sigmoid, vectorised and stable",
                  make_cases=_activation_cases, run=_run_unary, judge=_judge_sigmoid, **SCRATCH,
                  no_loops_over="samples", arg_names=("z",), teaches="write the sigmoid with NumPy",
                  next_hint="sigmoid_grad builds on your sigmoid: a = sigmoid(z), then a * (1 - a)."))
register(Exercise(id="scratch.sigmoid_grad", title="the derivative of the sigmoid",
                  make_cases=_activation_cases, run=_run_unary, judge=_judge_sigmoid_grad, **SCRATCH,
                  no_loops_over="samples", arg_names=("z",), teaches="write the derivative with NumPy",
                  next_hint="lesson 03's backward pass multiplies by exactly this derivative."))
register(Exercise(id="scratch.softmax", title="row-wise softmax, stable",
                  make_cases=_softmax_cases, run=_run_unary, judge=_judge_softmax, **SCRATCH,
                  no_loops_over="samples", arg_names=("Z",), teaches="write the softmax with NumPy",
                  next_hint="the cross-entropy exercise works from logits the same stable way."))
register(Exercise(id="scratch.binary_cross_entropy", title="binary cross-entropy from logits",
                  make_cases=_bce_cases, run=_run_bce, judge=_judge_bce, **SCRATCH,
                  no_loops_over="samples", arg_names=("logits", "y"), teaches="write the loss from the logits",
                  next_hint="lesson 02 minimises losses like this one by gradient descent."))
