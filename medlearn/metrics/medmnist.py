"""ACC and AUC exactly as MedMNIST's own evaluator computes them.

The MedMNIST v2 benchmark table was produced with ``medmnist.evaluator.getACC``
and ``getAUC`` (medmnist 3.x). Reproducing them rule for rule makes our test
figures comparable with the published ones:

| task (MedMNIST name)            | ACC                                                       | AUC                                                    |
|---------------------------------|-----------------------------------------------------------|--------------------------------------------------------|
| ``binary-class``                | accuracy of ``score > 0.5`` (score = last column if 2-D)   | ROC-AUC of that score                                  |
| ``multi-label, binary-class``   | **mean over labels** of the per-label accuracy of ``score > 0.5`` | mean over labels of the per-label ROC-AUC      |
| ``multi-class`` / ``ordinal-regression`` | accuracy of ``argmax(score)``                    | mean over classes of the one-vs-rest ROC-AUC of column i (unweighted) |

Notes that matter when comparing: the threshold is *strict* (a score of exactly
0.5 counts as negative); for multi-label data the per-label mean equals the
element-wise accuracy over the (N, L) matrix (every label has N entries), which is
*not* the exact-match (subset) accuracy - ChestMNIST's ACC of 0.947 mostly
reflects how rare each finding is; ordinal tasks are scored as multi-class.

Only NumPy and scikit-learn. Used by ``medlearn train --json``.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, roc_auc_score

from medlearn.errors import MedlearnError
from medlearn.tasks import normalize_task

__all__ = ["MetricsError", "medmnist_acc", "medmnist_auc", "medmnist_scores"]


class MetricsError(MedlearnError, ValueError):
    """Labels and scores that do not fit together or cannot be scored."""


def _prepare(y_true, y_score, task):
    task = normalize_task(task)
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype="float64")
    if len(y_true) != len(y_score):
        raise MetricsError(f"y_true and y_score need the same number of rows. "
                           f"Received {len(y_true)} and {len(y_score)}")
    if task == "multi-label":
        if y_true.ndim != 2 or y_score.shape != y_true.shape:
            raise MetricsError(f"multi-label y_true and y_score must both be (N, L). "
                               f"Received {y_true.shape} and {y_score.shape}")
        return task, y_true.astype("int64"), y_score
    y_true = y_true.reshape(len(y_true), -1)
    if y_true.shape[1] != 1:
        raise MetricsError(f"{task} y_true must be class indices (N,) or (N, 1). Received shape {y_true.shape}")
    y_true = y_true[:, 0].astype("int64")
    if task == "binary":
        if y_score.ndim == 2:
            y_score = y_score[:, -1]  # MedMNIST: the last column is the positive class
        if y_score.ndim != 1:
            raise MetricsError(f"binary y_score must be (N,) or (N, 2). Received shape {y_score.shape}")
    elif y_score.ndim != 2:
        raise MetricsError(f"{task} y_score must be (N, n_classes) probabilities. Received shape {y_score.shape}")
    return task, y_true, y_score


def medmnist_acc(y_true, y_score, task, threshold: float = 0.5) -> float:
    """Accuracy as ``medmnist.evaluator.getACC`` computes it.

    Args:
        y_true: (N,) / (N, 1) class indices, or (N, L) 0/1 for multi-label.
        y_score: probabilities: (N,) or (N, 2) binary (last column = positive),
            (N, C) multi-class/ordinal, (N, L) multi-label.
        task: the task (MedMNIST spellings accepted).
        threshold: the cut for binary and multi-label (``score > threshold`` is positive).

    Returns:
        A float in [0, 1].

    Example:
        >>> medmnist_acc([[1, 0], [1, 1]], [[0.9, 0.2], [0.4, 0.8]], "multi-label, binary-class")
        0.75
    """
    task, y_true, y_score = _prepare(y_true, y_score, task)
    if task == "multi-label":
        pred = y_score > threshold
        return float(np.mean([accuracy_score(y_true[:, j], pred[:, j]) for j in range(y_true.shape[1])]))
    if task == "binary":
        return float(accuracy_score(y_true, y_score > threshold))
    return float(accuracy_score(y_true, np.argmax(y_score, axis=-1)))


def medmnist_auc(y_true, y_score, task) -> float:
    """ROC-AUC as ``medmnist.evaluator.getAUC`` computes it.

    Args:
        y_true, y_score, task: as in :func:`medmnist_acc`.

    Returns:
        A float in [0, 1].

    Raises:
        MetricsError: a class or label has no positive (or no negative) example, so its AUC is undefined.

    Example:
        >>> round(medmnist_auc([0, 1, 2, 1], [[.8, .1, .1], [.2, .7, .1], [.1, .2, .7], [.3, .4, .3]], "multi-class"), 3)
        1.0
    """
    task, y_true, y_score = _prepare(y_true, y_score, task)
    if task == "binary":
        columns = [(y_true, y_score)]
    elif task == "multi-label":
        columns = [(y_true[:, j], y_score[:, j]) for j in range(y_score.shape[1])]
    else:
        columns = [((y_true == j).astype("int64"), y_score[:, j]) for j in range(y_score.shape[1])]
    for j, (t, _) in enumerate(columns):
        if t.min(initial=1) == t.max(initial=0):
            raise MetricsError(f"AUC is undefined: class/label {j} has only {'positive' if t.min() else 'negative'} "
                               "cases in y_true. Every class (or label) needs positive and negative examples.")
    return float(np.mean([roc_auc_score(t, s) for t, s in columns]))


def medmnist_scores(y_true, y_score, task) -> dict:
    """``{"acc": ..., "auc": ...}`` as in the MedMNIST v2 benchmark table."""
    return {"acc": medmnist_acc(y_true, y_score, task), "auc": medmnist_auc(y_true, y_score, task)}
