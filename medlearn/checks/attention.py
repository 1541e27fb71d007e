"""Lesson 12 exercise: scaled dot-product attention in NumPy.

| id                          | answer signature                                                  |
|-----------------------------|-------------------------------------------------------------------|
| ``attention.scaled_dot``    | ``attention(q, k, v, mask=None) -> (output, weights)``            |

``q`` (B, Tq, d), ``k`` (B, Tk, d), ``v`` (B, Tk, dv), ``mask`` None or bool (B, Tq, Tk) with
True where a query may look at a key. ``weights = softmax(q k^T / sqrt(d))`` over the *keys*
(the last axis), masked keys getting weight 0; ``output = weights @ v``. The judge recognises the
softmax over the wrong axis, a missing or wrong sqrt(d), an ignored or inverted mask and the
unstable softmax that overflows on large scores.

Used in lesson 12.
"""
from __future__ import annotations

import numpy as np

from medlearn.checks.core import Exercise, Verdict, register

__all__ = ["reference_attention"]

PASS = Verdict(True)
_FORBIDDEN = ("medlearn", "keras", "tensorflow", "torch", "jax", "scipy.special.softmax")
_EXTRA = {"forbidden": _FORBIDDEN} if "forbidden" in Exercise.__dataclass_fields__ else {}


def _softmax(z, axis):
    z = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def reference_attention(q, k, v, mask=None, *, axis=-1, scale=None, invert=False):
    """Stable scaled dot-product attention (float64); the keyword options make the classic mistakes."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    d = q.shape[-1]
    scores = q @ np.swapaxes(k, -1, -2) / (np.sqrt(d) if scale is None else scale)
    if mask is not None:
        keep = ~np.asarray(mask, bool) if invert else np.asarray(mask, bool)
        scores = np.where(keep, scores, -1e9)
    weights = _softmax(scores, axis)
    return weights @ v, weights


def _cases(rng):
    cases = []
    for b, tq, tk, d, dv in ((2, 3, 5, 4, 3), (1, 6, 4, 8, 2), (3, 4, 4, 16, 5)):
        cases.append({"q": rng.normal(0, 1, (b, tq, d)), "k": rng.normal(0, 1, (b, tk, d)),
                      "v": rng.normal(0, 1, (b, tk, dv))})
    b, tq, tk, d = 2, 4, 6, 4
    mask = rng.random((b, tq, tk)) < 0.6
    mask[..., 0] = True                                         # every query sees at least one key
    cases.append({"q": rng.normal(0, 1, (b, tq, d)), "k": rng.normal(0, 1, (b, tk, d)),
                  "v": rng.normal(0, 1, (b, tk, 3)), "mask": mask.astype(np.int8)})
    # large scores: exp(400) overflows, only the max-subtracted softmax survives
    cases.append({"q": rng.normal(0, 1, (1, 3, 4)) * 40, "k": rng.normal(0, 1, (1, 5, 4)) * 40,
                  "v": rng.normal(0, 1, (1, 5, 2)), "big": 1})
    return cases


def _run(answer, case):
    mask = case.get("mask")
    out = answer(case["q"].copy(), case["k"].copy(), case["v"].copy(),
                 None if mask is None else np.asarray(mask, bool))
    output, weights = out
    return {"output": np.asarray(output, np.float64), "weights": np.asarray(weights, np.float64)}


def _close(a, b):
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-6, atol=1e-9))


def _judge(case, out):
    q, k, v, mask = case["q"], case["k"], case["v"], case.get("mask")
    mask = None if mask is None else np.asarray(mask, bool)
    ref_out, ref_w = reference_attention(q, k, v, mask)
    got_out, got_w = out["output"], out["weights"]
    if got_w.shape != ref_w.shape:
        if got_w.shape == ref_w.shape[:1] + ref_w.shape[1:][::-1]:
            return Verdict(False, "weights are transposed: shape (B, Tq, Tk), one row per query.")
        return Verdict(False, f"weights must have shape (B, Tq, Tk) = {ref_w.shape}. Received {got_w.shape}.")
    if got_out.shape != ref_out.shape:
        return Verdict(False, f"output must have shape (B, Tq, dv) = {ref_out.shape}. Received {got_out.shape}.")
    if not np.all(np.isfinite(got_w)) or not np.all(np.isfinite(got_out)):
        if case.get("big"):
            return Verdict(False, "NaN or inf on large scores: exp overflows. Subtract each row's maximum before "
                                  "exp (softmax does not change).")
        return Verdict(False, "NaN or inf in the result: check the softmax and the mask (use a large negative "
                              "number, and make sure every row keeps at least one key).")
    if _close(got_w, ref_w):
        if _close(got_out, ref_out):
            return PASS
        return Verdict(False, "The weights are right but the output is not: output = weights @ v.")
    d = q.shape[-1]
    variants = [
        (dict(axis=-2), "The softmax runs over the wrong axis: each query's weights over the *keys* (the last "
                        "axis) must sum to 1."),
        (dict(scale=1.0), "Scale the scores by 1 / sqrt(d): without it large d makes the softmax nearly one-hot."),
        (dict(scale=float(d)), "Divide by sqrt(d), not by d."),
        (dict(scale=1.0 / np.sqrt(d)), "Divide the scores by sqrt(d), do not multiply."),
    ]
    for kwargs, hint in variants:
        if _close(got_w, reference_attention(q, k, v, mask, **kwargs)[1]):
            return Verdict(False, hint)
    if mask is not None:
        if _close(got_w, reference_attention(q, k, v, None)[1]):
            return Verdict(False, "The mask is ignored: keys where mask is False must get weight 0.")
        if _close(got_w, reference_attention(q, k, v, mask, invert=True)[1]):
            return Verdict(False, "The mask is inverted: True means the query *may* attend to that key.")
        if np.any(got_w[~mask] > 1e-6):
            return Verdict(False, "Masked keys still get weight: set their scores to a large negative number "
                                  "*before* the softmax.")
    if not np.allclose(got_w.sum(axis=-1), 1.0, atol=1e-6):
        return Verdict(False, "Each row of weights (one query over all keys) must sum to 1.")
    return Verdict(False, "Wrong weights: softmax(q @ k^T / sqrt(d)) over the keys.")


register(Exercise(
    id="attention.scaled_dot",
    title="scaled dot-product attention with a mask, in NumPy",
    make_cases=_cases, run=_run, judge=_judge, arg_names=("q", "k", "v", "mask"),
    teaches="write the scores, the stable softmax and the mask yourself", **_EXTRA,
))
