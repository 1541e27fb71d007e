"""Figures for the course: an image grid, training curves, a confusion matrix, a ROC curve.

Every function draws with matplotlib and *returns* the ``Figure`` (pass
``ax=`` to draw into an existing axes); none calls ``plt.show()`` - a lesson
cell ends with ``plt.show()`` itself, and scripts call ``fig.savefig(...)``.
matplotlib is imported inside the functions.

Used in lesson 07 (and 05, 08 for the curves).
"""
from __future__ import annotations

import numpy as np

from medlearn.errors import MedlearnError

__all__ = ["PlotError", "image_grid", "training_curves", "confusion_matrix", "roc_curve"]


class PlotError(MedlearnError, ValueError):
    """Data a plot cannot draw."""


def _new_axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def image_grid(images, labels=None, *, label_names=None, predictions=None, n: int = 16, cols: int = 8,
               size: float = 1.4, title: str | None = None):
    """Show images in a grid with their labels (and predictions, red when wrong).

    Args:
        images: (N, H, W) or (N, H, W, C); uint8 0..255 or float 0..1. Grey images use a grey colour map.
        labels: (N,) class indices, or (N, L) 0/1 multi-label rows (names of the positive labels shown).
        label_names: names for the class indices.
        predictions: (N,) predicted class indices (optional).
        n: how many images (the first ``n``).
        cols: images per row.
        size: inches per image.
        title: a title for the figure.

    Returns:
        A matplotlib ``Figure``.

    Raises:
        PlotError: images of the wrong shape.

    Example:
        >>> fig = image_grid(train.images, train.labels, label_names=train.label_names)  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise PlotError(f"images must be a non-empty (N, H, W) or (N, H, W, C) array. Received shape {images.shape}")
    n = min(int(n), len(images))
    cols = max(1, min(int(cols), n))
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * (size + 0.3)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = images[i]
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None,
                  vmin=0, vmax=255 if images.dtype == np.uint8 else 1)
        if labels is not None:
            text, wrong = _label_text(labels[i], label_names), False
            if predictions is not None:
                wrong = int(predictions[i]) != int(np.asarray(labels[i]).ravel()[0])
                text += f"\npred: {_label_text(predictions[i], label_names)}"
            ax.set_title(text, fontsize=7, color="red" if wrong else "black")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _label_text(label, names):
    label = np.asarray(label).ravel()
    if label.size > 1:  # multi-label row
        on = np.flatnonzero(label)
        return ", ".join(str(names[j]) if names else str(j) for j in on) or "none"
    k = int(label[0])
    return str(names[k]) if names is not None and k < len(names) else str(k)


def training_curves(history, *, metrics=("loss", "auc"), ax=None):
    """Training and validation curves, one panel per metric.

    Args:
        history: ``model.fit(...).history``, a ``keras.callbacks.History`` or a
            :class:`medlearn.train.TrainResult` (its ``history``).
        metrics: metric names to draw (each with its ``val_`` twin when present).
        ax: an axes to draw a single metric into (then ``metrics`` must have one name).

    Returns:
        A matplotlib ``Figure``.

    Raises:
        PlotError: none of ``metrics`` is in the history.
    """
    import matplotlib.pyplot as plt

    hist = getattr(history, "history", history)
    metrics = [m for m in metrics if m in hist]
    if not metrics:
        raise PlotError(f"none of the requested metrics is in the history. Available: {sorted(hist)}")
    if ax is not None:
        fig, axes = ax.figure, [ax]
        metrics = metrics[:1]
    else:
        fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.2), squeeze=False)
        axes = list(axes.flat)
    for m, a in zip(metrics, axes):
        epochs = np.arange(1, len(hist[m]) + 1)
        a.plot(epochs, hist[m], label="train")
        if "val_" + m in hist:
            a.plot(epochs, hist["val_" + m], label="validation")
        a.set_xlabel("epoch")
        a.set_ylabel(m)
        a.grid(alpha=0.3)
        a.legend()
    fig.tight_layout()
    return fig


def confusion_matrix(cm, *, label_names=None, normalize: bool = False, ax=None, title="Confusion matrix"):
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
    fig, ax = _new_axes(ax, (2.8 + 0.5 * k, 2.3 + 0.45 * k))
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


def roc_curve(y_true, y_score, *, task="binary", label_names=None, ax=None, mark_threshold=None):
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
    fig, ax = _new_axes(ax, (4.6, 4.2))
    if task == "binary":
        curves = [("positive" if label_names is None else str(label_names[1]), y == 1, s)]
    elif task == "multi-label":
        curves = [(_name(label_names, j), y[:, j] == 1, s[:, j]) for j in range(y.shape[1])]
    else:
        curves = [(_name(label_names, j), y == j, s[:, j]) for j in range(s.shape[1])]
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


def _name(names, j):
    return str(names[j]) if names is not None and j < len(names) else str(j)
