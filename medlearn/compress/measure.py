"""Measure, do not assume: file size, latency (median of several runs) and test metrics of a model.

Used in lesson 11 and by ``medlearn compress``.
"""
from __future__ import annotations

import time

import numpy as np

from medlearn.tasks import normalize_task

__all__ = ["TOLERANCE", "latency_ms", "keras_predictor", "evaluate", "within_tolerance"]

# What a compressed model may lose against the original on the test split before it is reported
# as a loss (absolute, ACC and AUC each). A test set of a few hundred images moves ACC by one image
# per 1/N, so 0.02 is about the noise of BreastMNIST's 156 test images.
TOLERANCE = {"acc": 0.02, "auc": 0.02}


def latency_ms(predict, x, *, repeats: int = 7, warmup: int = 2) -> float:
    """Median wall-clock milliseconds of ``predict(x)`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(max(0, warmup)):
        predict(x)
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        predict(x)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000.0)


def keras_predictor(model):
    """``x -> probabilities`` for a Keras model, compiled once (``predict_on_batch``, no per-call overhead)."""
    def predict(x):
        out = model.predict_on_batch(x)
        return np.asarray(out[0] if isinstance(out, (list, tuple)) else out)

    return predict


def evaluate(labels, probs, task: str, threshold: float = 0.5) -> dict:
    """Test metrics at one fixed decision rule: ``{"acc", "auc", "sensitivity", "specificity"}``.

    Binary: positive when ``p >= threshold``. Multi-class/ordinal: the argmax, sensitivity and
    specificity macro-averaged one-vs-rest. Multi-label: each label at ``threshold``, macro-averaged.
    ACC and AUC as MedMNIST's evaluator computes them.
    """
    from medlearn.metrics import medmnist_scores

    task = normalize_task(task)
    y = np.asarray(labels)
    p = np.asarray(probs, dtype=np.float64)
    scores = medmnist_scores(y, p.reshape(len(p), -1)[:, 0] if task == "binary" else p, task)
    if task == "binary":
        truth = y.reshape(len(y), -1)[:, 0].astype(int)[:, None]
        pred = (p.reshape(len(p), -1)[:, :1] >= threshold).astype(int)
    elif task == "multi-label":
        truth, pred = y.astype(int), (p >= threshold).astype(int)
    else:
        k = p.shape[1]
        truth = np.eye(k, dtype=int)[y.reshape(len(y), -1)[:, 0].astype(int)]
        pred = np.eye(k, dtype=int)[np.argmax(p, axis=1)]
    with np.errstate(invalid="ignore", divide="ignore"):
        sens = np.sum(pred * truth, 0) / np.sum(truth, 0)
        spec = np.sum((1 - pred) * (1 - truth), 0) / np.sum(1 - truth, 0)
    return {"acc": float(scores["acc"]), "auc": float(scores["auc"]),
            "sensitivity": float(np.nanmean(sens)), "specificity": float(np.nanmean(spec))}


def within_tolerance(original: dict, compressed: dict, tolerance: dict | None = None) -> list:
    """The metrics (``"acc"``, ``"auc"``) on which ``compressed`` loses more than the tolerance."""
    tolerance = tolerance or TOLERANCE
    return [k for k, tol in tolerance.items() if original[k] - compressed[k] > tol + 1e-12]
