"""Lesson 13 exercises: the expected calibration error by hand, and temperature scaling.

| id                         | answer signature                                              |
|----------------------------|---------------------------------------------------------------|
| ``calibration.ece``        | ``ece(y_true, probs, n_bins) -> float`` (binary, equal-mass bins) |
| ``calibration.temperature``| ``fit_temperature_(logits, labels) -> float`` (binary logits)  |

The judges recompute the answers with NumPy/SciPy in the grader's own process and
recognise the classic mistakes (equal-width instead of equal-mass bins, the signed
instead of the absolute gap, the unsorted split, a temperature that multiplies the
logits or divides the probabilities, a temperature fitted on other data than the
validation split it was given); hints never contain the expected number.

Used in lesson 13.
"""
from __future__ import annotations

import numpy as np

from medlearn.checks.core import Exercise, Verdict, register

__all__ = ["ece_equal_mass", "best_temperature"]

PASS = Verdict(True)
_FORBIDDEN = ("medlearn", "sklearn.calibration")   # expected_calibration_error, fit_temperature, calibration_curve


def _gap_per_bin(y, p, parts):
    return np.array([(p[b].mean() - y[b].mean(), len(b)) for b in parts if len(b)])


def ece_equal_mass(y, p, n_bins):
    """Reference: sort by probability, ``np.array_split`` into n_bins groups, size-weighted |gap|."""
    parts = np.array_split(np.argsort(p, kind="mergesort"), int(n_bins))
    g = _gap_per_bin(y, p, parts)
    return float(np.sum(g[:, 1] / len(p) * np.abs(g[:, 0])))


def _ece_variants(y, p, n_bins):
    """Wrong answers a learner may write, each with its hint."""
    order = np.argsort(p, kind="mergesort")
    mass = _gap_per_bin(y, p, np.array_split(order, n_bins))
    idx = np.minimum((p * n_bins).astype(int), n_bins - 1)
    width = _gap_per_bin(y, p, [np.flatnonzero(idx == b) for b in range(n_bins)])
    unsorted = _gap_per_bin(y, p, np.array_split(np.arange(len(p)), n_bins))
    conf, hit = np.maximum(p, 1 - p), ((p >= 0.5) == (y == 1)).astype(float)
    top = _gap_per_bin(hit, conf, np.array_split(np.argsort(conf, kind="mergesort"), n_bins))
    weighted = lambda g: float(np.sum(g[:, 1] / len(p) * np.abs(g[:, 0])))  # noqa: E731
    signed = float(np.sum(mass[:, 1] / len(p) * mass[:, 0]))
    return [
        (weighted(width), "These are equal-width bins (0-0.1, 0.1-0.2 ...). The exercise asks for equal-mass "
                          "bins: sort the probabilities and cut them into n_bins groups of the same size."),
        (signed, "Positive and negative gaps cancel in your sum: take the absolute gap |confidence - frequency| "
                 "of each bin before averaging."),
        (-signed, "Positive and negative gaps cancel in your sum: take the absolute gap |confidence - frequency| "
                  "of each bin before averaging."),
        (weighted(unsorted), "Your bins follow the order of the cases, not of the probabilities: sort by "
                             "probability first, then cut into groups."),
        (weighted(top), "This is the top-label (confidence of the predicted class) ECE; here compare the "
                        "positive-class probability with the fraction of positives in each bin."),
        *[(ece_equal_mass(y, p, b), "Use the n_bins you are given, not a fixed number of bins.")
          for b in (5, 10, 15, 20) if b != n_bins],
    ]


def _ece_cases(rng):
    cases = []
    for n, n_bins, a, b, sharpen in ((600, 10, 0.4, 0.4, 2.0), (450, 15, 0.3, 1.5, 0.6), (240, 8, 1, 1, 1.5),
                                     (1000, 20, 0.5, 0.5, 3.0)):
        p = rng.beta(a, b, n)
        truth = 1 / (1 + ((1 - p) / np.maximum(p, 1e-12)) ** (1 / sharpen))  # over/under-confident
        y = (rng.random(n) < truth).astype(np.int64)
        cases.append({"y_true": y, "probs": p, "n_bins": n_bins})
    return cases


def _ece_run(answer, case):
    value = answer(case["y_true"].copy(), case["probs"].copy(), int(case["n_bins"]))
    return {"ece": np.asarray(value, dtype=np.float64)}


def _ece_judge(case, out):
    got = out["ece"]
    if got.size != 1 or not np.isfinite(got):
        return Verdict(False, "Return one finite number: the ECE.")
    got = float(got.reshape(()))
    y, p, n_bins = case["y_true"], case["probs"], int(case["n_bins"])
    if np.isclose(got, ece_equal_mass(y, p, n_bins), rtol=1e-6, atol=1e-9):
        return PASS
    for value, hint in _ece_variants(y, p, n_bins):
        if np.isclose(got, value, rtol=1e-6, atol=1e-9):
            return Verdict(False, hint)
    if not 0 <= got <= 1:
        return Verdict(False, "An ECE lies between 0 and 1: a weighted mean of absolute gaps between probabilities "
                              "and frequencies.")
    return Verdict(False, "Not the ECE: in each of the n_bins equal-mass bins compare the mean probability with the "
                          "fraction of positives, take the absolute gap and weight it by the bin's share of cases.")


register(Exercise(
    id="calibration.ece",
    title="expected calibration error with equal-mass bins",
    make_cases=_ece_cases, run=_ece_run, judge=_ece_judge,
    forbidden=_FORBIDDEN, arg_names=("y_true", "probs", "n_bins"),
    teaches="bin the probabilities by equal mass and average the absolute gaps yourself",
))


# ----------------------------------------------------------------------------- temperature
def _nll(z, y, t):
    s = z / t
    return float(np.mean(np.logaddexp(0.0, s) - y * s))


def _nll_divided_probs(z, y, t):
    p = np.clip(1 / (1 + np.exp(-z)) / t, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _argmin(f, lo=0.02, hi=50.0):
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(lambda u: f(np.exp(u)), bounds=(np.log(lo), np.log(hi)), method="bounded",
                          options={"xatol": 1e-7})
    return float(np.exp(res.x))


def best_temperature(logits, labels):
    """Reference: the T > 0 minimising the mean NLL of ``sigmoid(logits / T)``."""
    z, y = np.asarray(logits, np.float64), np.asarray(labels, np.float64)
    return _argmin(lambda t: _nll(z, y, t))


def _temp_cases(rng):
    cases = []
    for n, scale, shift in ((500, 3.0, 0.0), (800, 0.5, 0.3), (400, 2.0, -0.5), (1200, 1.6, 0.0)):
        true_logit = rng.normal(shift, 1.5, n)
        y = (rng.random(n) < 1 / (1 + np.exp(-true_logit))).astype(np.int64)
        cases.append({"logits": true_logit * scale, "labels": y})
    return cases


def _temp_run(answer, case):
    t = answer(case["logits"].copy(), case["labels"].copy())
    return {"temperature": np.asarray(t, dtype=np.float64)}


def _temp_judge(case, out):
    t = out["temperature"]
    if t.size != 1 or not np.isfinite(t):
        return Verdict(False, "Return one finite number: the temperature T.")
    t = float(t.reshape(()))
    z, y = case["logits"], case["labels"].astype(np.float64)
    best = best_temperature(z, y)
    if t <= 0:
        return Verdict(False, "A temperature is positive: the logits are divided by T > 0. If you searched log T, "
                              "return exp of it.")
    if abs(np.log(t / best)) < 0.02 or _nll(z, y, t) - _nll(z, y, best) < 1e-6:
        return PASS
    if abs(np.log(t * best)) < 0.03:
        return Verdict(False, "Your T is the inverse of the right one: the model's probabilities are "
                              "sigmoid(logits / T) - divide the logits by T, do not multiply them.")
    if abs(np.log(np.exp(t) / best)) < 0.03:
        return Verdict(False, "This looks like log T: return the temperature itself.")
    divided = _argmin(lambda s: _nll_divided_probs(z, y, s))
    if abs(np.log(t / divided)) < 0.03:
        return Verdict(False, "You scaled the probabilities; temperature scaling divides the logits (before the "
                              "sigmoid), which keeps every probability in (0, 1) and the ranking unchanged.")
    if _nll(z, y, t) > _nll(z, y, best) + 1e-3:
        return Verdict(False, "Your T does not minimise the negative log-likelihood of the logits and labels your "
                              "function was given. Fit it on its arguments (the validation split), not on the test "
                              "split or a global variable, and search finely enough (or use an optimiser).")
    return Verdict(False, "Close, but not the minimum of the validation NLL: refine the search.")


register(Exercise(
    id="calibration.temperature",
    title="temperature scaling: the T that minimises the validation NLL",
    make_cases=_temp_cases, run=_temp_run, judge=_temp_judge,
    forbidden=_FORBIDDEN, arg_names=("logits", "labels"),
    teaches="write the validation NLL of sigmoid(logits / T) and minimise it over T yourself",
))
