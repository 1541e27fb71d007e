"""Clinical figures: a confusion matrix and ROC curves (drawn; the counting lives in :mod:`medlearn.metrics`)."""
from __future__ import annotations

import numpy as np

from medlearn.plots._common import PlotError, label_name, new_axes

__all__ = ["plot_confusion_matrix", "plot_roc"]


def plot_confusion_matrix(cm, *, label_names=None, normalize: bool = False, ax=None, title="Confusion matrix"):
    """Draw a confusion matrix (rows = true class, columns = predicted), counts in the cells.

    Args:
        cm: (C, C) counts, e.g. ``ClinicalReport.confusion`` or ``medlearn.metrics.confusion_matrix``.
        label_names: class names for the axes.
        normalize: colour and annotate by row fractions (per-class recall) instead of counts.
        ax: an existing axes.
        title: the axes title.

    Returns:
        A matplotlib ``Figure``.

    Raises:
        PlotError: ``cm`` is not square.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise PlotError(f"cm must be a square (C, C) matrix. Received shape {cm.shape}")
    k = cm.shape[0]
    values = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    fig, ax = new_axes(ax, (2.8 + 0.5 * k, 2.3 + 0.45 * k))
    im = ax.imshow(values, cmap="Blues", vmin=0)
    names = [str(s) for s in (label_names if label_names is not None else range(k))]
    ax.set_xticks(range(k), names, rotation=45 if k > 3 else 0, ha="right" if k > 3 else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = values.max() if values.size else 0
    for i in range(k):
        for j in range(k):
            text = f"{values[i, j]:.2f}" if normalize else f"{cm[i, j]:d}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if values[i, j] > top / 2 else "black")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def plot_roc(y_true, y_score, *, task="binary", label_names=None, ax=None, mark_threshold=None):
    """ROC curve(s) with their AUC in the legend.

    Binary: one curve. Multi-class: one one-vs-rest curve per class. Multi-label: one per label.

    Args:
        y_true: (N,) class indices or (N, L) 0/1 (multi-label).
        y_score: (N,) / (N, 2) binary scores, or (N, C) probabilities.
        task: the task (MedMNIST spellings accepted).
        label_names: names for the legend.
        ax: an existing axes.
        mark_threshold: binary only: mark the operating point of this threshold (``score >= t``).

    Returns:
        A matplotlib ``Figure``.
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.metrics import roc_curve as sk_roc

    from medlearn.metrics.medmnist import _prepare

    task, y, s = _prepare(y_true, y_score, task)
    fig, ax = new_axes(ax, (4.6, 4.2))
    if task == "binary":
        curves = [("positive" if label_names is None else str(label_names[1]), y == 1, s)]
    elif task == "multi-label":
        curves = [(label_name(label_names, j), y[:, j] == 1, s[:, j]) for j in range(y.shape[1])]
    else:
        curves = [(label_name(label_names, j), y == j, s[:, j]) for j in range(s.shape[1])]
    for name, positive, score in curves:
        if positive.all() or not positive.any():
            continue  # ROC undefined for a class without positives or negatives
        fpr, tpr, _ = sk_roc(positive, score)
        ax.plot(fpr, tpr, lw=1.5 if len(curves) == 1 else 1,
                label=f"{name} (AUC {roc_auc_score(positive, score):.3f})")
    if task == "binary" and mark_threshold is not None:
        pred = s >= mark_threshold
        tpr = np.mean(pred[y == 1]) if (y == 1).any() else np.nan
        fpr = np.mean(pred[y == 0]) if (y == 0).any() else np.nan
        ax.plot([fpr], [tpr], "o", color="red", label=f"threshold {mark_threshold:.2f}")
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=0.8)
    ax.set_xlabel("1 - specificity (false-positive rate)")
    ax.set_ylabel("sensitivity (true-positive rate)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("ROC curve")
    fig.tight_layout()
    return fig
