"""Lesson 07 exercises: sensitivity/specificity/PPV/NPV and the threshold for a target sensitivity.

Used in lesson 07.
"""
from __future__ import annotations

import numpy as np

from medlearn.checks.core import Exercise, Verdict, register
from medlearn.checks.keras_ex._common import PASS

__all__ = ["confusion_rates"]

_RATES = ("sensitivity", "specificity", "ppv", "npv")


def confusion_rates(cm):
    """Reference: sensitivity, specificity, PPV, NPV from ``[[TN, FP], [FN, TP]]`` (rows = truth)."""
    (tn, fp), (fn, tp) = np.asarray(cm, dtype=np.float64)
    return {"sensitivity": tp / (tp + fn), "specificity": tn / (tn + fp),
            "ppv": tp / (tp + fp), "npv": tn / (tn + fn)}


def _rates_cases(rng):
    fixed = [[[90, 10], [6, 44]], [[970, 20], [3, 7]], [[40, 25], [12, 60]], [[50, 0], [5, 20]]]  # FP = 0
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
        return PASS
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
    forbidden=("medlearn", "sklearn"), arg_names=("cm",), teaches="write the four ratios yourself",
    next_hint="threshold_for_sensitivity picks the operating point these rates describe.",
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
    # 0.56 * 25 = 14.000000000000002 in floating point: ceil() of it asks for 15 caught positives where
    # 14 reach the target; a negative between the 14th and 15th positive makes the difference visible
    pos = np.sort(rng.uniform(0.3, 0.95, 25))[::-1]
    neg = np.concatenate([rng.uniform(0.0, 0.5, 39), [(pos[13] + pos[14]) / 2]])
    y = np.concatenate([np.ones(25, np.int64), np.zeros(40, np.int64)])
    order = rng.permutation(65)
    cases.append({"y_true": y[order], "scores": np.concatenate([pos, neg])[order], "target": 0.56})
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
        product = target * len(positives)
        if product != round(product) and abs(product - round(product)) < 1e-9:
            return Verdict(False, "Specificity is lower than it could be for a target whose product "
                                  f"target * n_positives is a whole number ({target:g} x {len(positives)}): in "
                                  "floating point it can come out a hair above, and ceil() then asks for one "
                                  "positive too many. Subtract a tiny tolerance before ceil (or round first).")
        return Verdict(False, "The target sensitivity is reached but specificity is lower than it could be: "
                              "choose the highest threshold that still reaches the target.")
    return PASS


register(Exercise(
    id="keras.threshold_for_sensitivity",
    title="the highest threshold that reaches a target sensitivity",
    make_cases=_thr_cases, run=_thr_run, judge=_thr_judge,
    forbidden=("medlearn",), arg_names=("y_true", "scores", "target"),
    teaches="find the threshold with NumPy (sort the positives' scores)",
    next_hint="the lesson compares your threshold with medlearn.metrics' on the test set.",
))
