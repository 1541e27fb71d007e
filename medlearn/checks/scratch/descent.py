"""Lesson 02 checks: one gradient-descent step, a momentum step, clipping by global norm."""
from __future__ import annotations

import numpy as np

from medlearn.checks.core import Exercise, Verdict, register
from medlearn.checks.scratch._common import SCRATCH, as_named, close, diagnose, finite, shape_hint


# ----------------------------------------------------------------------------- gd_step
def _gd_cases(rng):
    cases = []
    for n, d, n_big in ((40, 3, 0), (25, 5, 0), (4000, 3, 4000)):
        X = rng.normal(size=(n, d))
        y = X @ rng.normal(size=d) + rng.normal(size=n) * 0.3 + 1.5
        cases.append({"X": X, "y": y, "w": rng.normal(size=d), "b": float(rng.normal()),
                      "lr": 0.05, "n_big": n_big})
    return cases


def _gd_reference(case, factor=2.0, reduce="mean", sign=-1.0):
    X, y, w, b, lr = case["X"], case["y"], case["w"], float(case["b"]), float(case["lr"])
    r = X @ w + b - y                                  # residuals, (n,)
    scale = factor / (len(y) if reduce == "mean" else 1)
    dw, db = scale * (X.T @ r), scale * r.sum()       # dL/dw = 2/n X^T r, dL/db = 2/n sum r
    return w + sign * lr * dw, b + sign * lr * db


def _run_gd(answer, case):
    args = (np.array(case["w"]), float(case["b"]), np.array(case["X"]), np.array(case["y"]), float(case["lr"]))
    return as_named(answer(*args), ("w", "b"))


def _judge_gd(case, outputs):
    w_new, b_new = outputs["w"], outputs["b"]
    w_ref, b_ref = _gd_reference(case)
    if w_new.shape != w_ref.shape:
        return Verdict(False, shape_hint("w_new", w_new, w_ref.shape) + " dL/dw = (2/n) X.T @ residuals has one entry per feature.")
    if b_new.size != 1:
        return Verdict(False, f"b_new must be one number; yours has shape {b_new.shape}. Did you forget to sum the residuals?")
    w_ok, b_ok = close(w_new, w_ref), close(b_new.reshape(()), b_ref)
    if w_ok and b_ok:
        return Verdict(True)
    if w_ok and close(b_new.reshape(()), case["b"]):
        return Verdict(False, "w is right but b did not move: update b too, with dL/db = (2/n) * sum(residuals).")
    variants = [
        (_gd_reference(case, sign=+1.0), "You moved uphill: gradient descent subtracts the gradient, "
         "w <- w - lr * dL/dw. Check the sign of the residual (prediction - y) too."),
        (_gd_reference(case, factor=1.0), "The step is half as long as it should be: d/dr r^2 = 2r, "
         "so dL/dw = (2/n) X.T @ r for L = mean(r^2)."),
        (_gd_reference(case, reduce="sum"), "The step is n times too long: L is the mean over the "
         "samples, so divide the summed gradient by n."),
        (_gd_reference(case, factor=1.0, reduce="sum"), "Both the factor 2 and the 1/n of the mean are off."),
    ]
    got = np.concatenate([w_new.ravel(), b_new.ravel()])
    variants = [(np.concatenate([vw, [vb]]), hint) for (vw, vb), hint in variants]
    return Verdict(False, diagnose(got, variants, (
        "w is right but b is not: dL/db = (2/n) * sum(prediction - y)." if w_ok else
        "The step is not w - lr * (2/n) X.T @ (X @ w + b - y). Check each piece's shape on paper: "
        "X is (n, d), w is (d,), the residuals are (n,).")))


# ----------------------------------------------------------------------------- momentum_step
def _momentum_cases(rng):
    return [
        {"w": rng.normal(size=5), "v": rng.normal(size=5) * 0.1, "dw": rng.normal(size=5), "lr": 0.1, "momentum": 0.9},
        {"w": rng.normal(size=(3, 2)), "v": rng.normal(size=(3, 2)) * 0.2, "dw": rng.normal(size=(3, 2)),
         "lr": 0.05, "momentum": 0.5},
    ]


def _run_momentum(answer, case):
    result = answer(np.array(case["w"]), np.array(case["v"]), np.array(case["dw"]),
                    float(case["lr"]), float(case["momentum"]))
    return as_named(result, ("w", "v"))


def _judge_momentum(case, outputs):
    w, v, dw, lr, m = (np.asarray(case[k], dtype=float) for k in ("w", "v", "dw", "lr", "momentum"))
    v_ref = m * v - lr * dw
    w_ref = w + v_ref
    if outputs["w"].shape != w.shape or outputs["v"].shape != w.shape:
        return Verdict(False, f"w_new and v_new must have the shape of w {w.shape}; "
                              f"yours are {outputs['w'].shape} and {outputs['v'].shape}.")
    if close(outputs["w"], w_ref) and close(outputs["v"], v_ref):
        return Verdict(True)
    got = np.concatenate([outputs["w"].ravel(), outputs["v"].ravel()])

    def pair(w_new, v_new):
        return np.concatenate([np.ravel(w_new), np.ravel(v_new)])

    v_torch = m * v + dw
    v_up = m * v + lr * dw
    return Verdict(False, diagnose(got, [
        (pair(w + v, v_ref), "You moved w with the old velocity. Update the velocity first, "
         "v <- momentum * v - lr * dw, then move w <- w + v with the new v."),
        (pair(w_ref, v), "w is right but you returned the old velocity: return the updated v too, "
         "the next step needs it."),
        (pair(w - lr * v_torch, v_torch), "That is the other common convention (v <- momentum * v + dw, "
         "w <- w - lr * v). This course, like Keras, keeps the learning rate inside the velocity: "
         "v <- momentum * v - lr * dw, then w <- w + v."),
        (pair(w + v_up, v_up), "You moved uphill: the velocity accumulates MINUS lr * dw."),
        (pair(w - v_ref, v_ref), "Sign error in the position update: with v <- momentum * v - lr * dw, w <- w + v."),
        (pair(w - lr * (m * v + (1 - m) * dw), m * v + (1 - m) * dw),
         "That is an exponential moving average of the gradients (Adam's first moment), not momentum: "
         "here v <- momentum * v - lr * dw, w <- w + v."),
    ], "Not the momentum update. With velocity v: v <- momentum * v - lr * dw, then w <- w + v; "
       "return (w, v)." if finite(got) else "Your result contains nan or inf."))


# ----------------------------------------------------------------------------- clip_by_global_norm
def _clip_cases(rng):
    big = [rng.normal(size=(4, 3)) * 5, rng.normal(size=3) * 5]
    small = [rng.normal(size=(2, 2)) * 0.1, rng.normal(size=2) * 0.1]
    three = [rng.normal(size=(3, 3)), rng.normal(size=3) * 10, rng.normal(size=(3, 1))]
    cases = []
    for grads, max_norm in ((big, 1.0), (small, 5.0), (three, 2.0)):
        case = {f"g{i}": g for i, g in enumerate(grads)}
        case.update(n_grads=len(grads), max_norm=max_norm)
        cases.append(case)
    return cases


def _grads(case):
    return [np.asarray(case[f"g{i}"], dtype=float) for i in range(int(case["n_grads"]))]


def _run_clip(answer, case):
    result = answer(_grads(case), float(case["max_norm"]))
    if isinstance(result, dict) or not isinstance(result, (list, tuple)):
        raise TypeError(f"return a list of arrays (one per input gradient), not {type(result).__name__}")
    return {**{f"g{i}": np.asarray(g, dtype=float) for i, g in enumerate(result)}, "count": len(result)}


def _judge_clip(case, outputs):
    grads, max_norm = _grads(case), float(case["max_norm"])
    if int(outputs["count"]) != len(grads):
        return Verdict(False, f"Return one array per gradient ({len(grads)} in this case), in the same order.")
    got = [outputs[f"g{i}"] for i in range(len(grads))]
    for i, (g, want) in enumerate(zip(got, grads)):
        if g.shape != want.shape:
            return Verdict(False, shape_hint(f"gradient {i}", g, want.shape))
    norm = np.sqrt(sum(np.sum(g * g) for g in grads))
    expected = [g * min(1.0, max_norm / norm) for g in grads]
    flat = np.concatenate([g.ravel() for g in got])
    if close(flat, np.concatenate([g.ravel() for g in expected])):
        return Verdict(True)

    def cat(arrays):
        return np.concatenate([a.ravel() for a in arrays])

    return Verdict(False, diagnose(flat, [
        (cat([np.clip(g, -max_norm, max_norm) for g in grads]), "np.clip caps each entry separately, "
         "which changes the direction of the step. Rescale all gradients by the same factor "
         "max_norm / global_norm instead."),
        (cat([g * min(1.0, max_norm / np.linalg.norm(g)) for g in grads]), "You clipped each array by "
         "its own norm. Use one global norm over all arrays together, sqrt(sum of every squared entry), "
         "and one common factor, so the direction of the whole step is kept."),
        (cat([g * (max_norm / norm) for g in grads]), "Only shrink: when the global norm is already "
         "below max_norm, return the gradients unchanged."),
        (cat([g * min(1.0, norm / max_norm) for g in grads]), "The factor is upside down: multiply by "
         "max_norm / global_norm."),
    ], "After clipping the global norm must be min(norm, max_norm) and every array must keep its "
       "direction (all multiplied by the same factor)."))


register(Exercise(id="scratch.gd_step", title="one gradient-descent step for linear regression",
                  make_cases=_gd_cases, run=_run_gd, judge=_judge_gd, **SCRATCH, no_loops_over="samples",
                  arg_names=("w", "b", "X", "y", "lr"), teaches="write the gradient step with NumPy",
                  next_hint="momentum_step changes how the step is taken, not the gradient."))
register(Exercise(id="scratch.momentum_step", title="one SGD-with-momentum step",
                  make_cases=_momentum_cases, run=_run_momentum, judge=_judge_momentum, **SCRATCH,
                  arg_names=("w", "v", "dw", "lr", "momentum"), teaches="write the momentum update",
                  next_hint="clip_by_global_norm limits the gradients such a step uses."))
register(Exercise(id="scratch.clip_by_global_norm", title="gradient clipping by global norm",
                  make_cases=_clip_cases, run=_run_clip, judge=_judge_clip, **SCRATCH,
                  arg_names=("grads", "max_norm"), teaches="write the clipping with NumPy",
                  next_hint="lesson 03 computes the gradients these steps use, by backpropagation."))
