"""Clinical figures: a confusion matrix and ROC curves (drawn; the counting lives in :mod:`medlearn.metrics`)."""
from __future__ import annotations

import numpy as np

from medlearn.plots._common import PlotError, label_name, new_axes

__all__ = ["plot_confusion_matrix", "plot_roc"]


def plot_confusion_matrix(cm, *, label_names=None, normalize: bool = False, ax=None, title="Confusion matrix",
                          threshold: float | None = None, positive: int | None = None):
    """Draw a confusion matrix (rows = true class, columns = predicted): counts and row percentages.

    Each cell shows its count and its share of the true class (the row), so a class with few
    cases reads as clearly as a large one; the colour is the row share. For two classes the cells
    are labelled TP / FN / FP / TN (class 1, or ``positive``, is the disease) and the false
    negatives - the missed cases - are outlined in red.

    Args:
        cm: (C, C) counts, e.g. ``ClinicalReport.confusion`` or ``medlearn.metrics.confusion_matrix``.
        label_names: class names for the axes.
        normalize: show only the row fractions (per-class recall, e.g. ``0.94``) instead of
            counts and percentages.
        ax: an existing axes.
        title: the axes title.
        threshold: the decision threshold the predictions used; added to the title.
        positive: binary only: the index of the positive class (default 1).

    Returns:
        A matplotlib ``Figure``.

    Raises:
        PlotError: ``cm`` is not square.

    Used in lesson 07 and by ``medlearn train`` (``confusion.png``).
    """
    import matplotlib.patches as mpatches

    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise PlotError(f"cm must be a square (C, C) matrix. Received shape {cm.shape}")
    k = cm.shape[0]
    rows = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = new_axes(ax, (3.8 + 0.6 * k, 3.1 + 0.5 * k))
    im = ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    names = [str(s) for s in (label_names if label_names is not None else range(k))]
    ax.set_xticks(range(k), names, rotation=45 if k > 3 else 0, ha="right" if k > 3 else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    roles = {}
    if k == 2:
        pos = 1 if positive is None else int(positive)
        neg = 1 - pos
        roles = {(pos, pos): "TP", (pos, neg): "FN", (neg, pos): "FP", (neg, neg): "TN"}
    small = k > 4
    for i in range(k):
        for j in range(k):
            if normalize:
                text = f"{rows[i, j]:.2f}"
            else:
                text = f"{cm[i, j]:d}\n{100 * rows[i, j]:.1f}%"
                if (i, j) in roles:
                    text = f"{roles[i, j]}\n{text}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7 if small else 9,
                    color="white" if rows[i, j] > 0.5 else "black",
                    fontweight="bold" if roles.get((i, j)) == "FN" else "normal")
            if roles.get((i, j)) == "FN":
                ax.add_patch(mpatches.Rectangle((j - 0.48, i - 0.48), 0.96, 0.96, fill=False,
                                                edgecolor="crimson", lw=2.5))
    full = title + (f" (threshold {threshold:.2f})" if threshold is not None else "")
    ax.set_title(full, fontsize=10)
    cbar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    cbar.set_label("share of the true class", fontsize=8)
    if roles:
        ax.text(0.0, -0.2 if k == 2 else -0.25, "red box: false negatives (missed cases)", transform=ax.transAxes,
                fontsize=7, color="crimson", va="top")
    fig.tight_layout()
    return fig


def _bootstrap_band(positive, score, grid, n_bootstrap, seed):
    """2.5 / 97.5 percentiles of the TPR at each FPR of ``grid`` over bootstrap resamples of the cases."""
    from sklearn.metrics import roc_curve as sk_roc

    rng = np.random.default_rng(seed)
    n = len(score)
    tprs = []
    for _ in range(n_bootstrap):
        idx = rng.integers(0, n, n)
        p = positive[idx]
        if p.all() or not p.any():
            continue
        fpr, tpr, _ = sk_roc(p, score[idx])
        tprs.append(np.interp(grid, fpr, tpr))
    if len(tprs) < 10:
        return None
    return np.percentile(np.array(tprs), [2.5, 97.5], axis=0)


def plot_roc(y_true, y_score, *, task="binary", label_names=None, ax=None, mark_threshold=None,
             n_bootstrap: int = 200, low_fpr: float | None = 0.2, title: str = "ROC curve", seed: int = 0):
    """ROC curve(s) with their AUC in the legend; binary: a bootstrap band, the operating point, a zoom.

    Binary: one curve with its 95% bootstrap confidence band (TPR percentiles over resampled
    cases) and an inset that magnifies the low false-positive region (where a screening test
    must work). Multi-class: one one-vs-rest curve per class. Multi-label: one per label.

    Args:
        y_true: (N,) class indices or (N, L) 0/1 (multi-label).
        y_score: (N,) / (N, 2) binary scores, or (N, C) probabilities.
        task: the task (MedMNIST spellings accepted).
        label_names: names for the legend.
        ax: an existing axes.
        mark_threshold: binary only: mark the operating point of this threshold (``score >= t``),
            with its sensitivity and specificity.
        n_bootstrap: binary only: resamples for the confidence band (0: no band).
        low_fpr: binary only: the inset shows false-positive rates ``0..low_fpr`` (None: no inset).
        title: the axes title.
        seed: the bootstrap's seed.

    Returns:
        A matplotlib ``Figure``.

    Used in lesson 07 and by ``medlearn train`` (``roc.png``).
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.metrics import roc_curve as sk_roc

    from medlearn.metrics.medmnist import _prepare

    task, y, s = _prepare(y_true, y_score, task)
    fig, ax = new_axes(ax, (5.2, 4.8))
    if task == "binary":
        curves = [("positive" if label_names is None else str(label_names[1]), y == 1, s)]
    elif task == "multi-label":
        curves = [(label_name(label_names, j), y[:, j] == 1, s[:, j]) for j in range(y.shape[1])]
    else:
        curves = [(label_name(label_names, j), y == j, s[:, j]) for j in range(s.shape[1])]
    binary = task == "binary"
    drawn = []
    for name, positive, score in curves:
        if positive.all() or not positive.any():
            continue  # ROC undefined for a class without positives or negatives
        fpr, tpr, _ = sk_roc(positive, score)
        (line,) = ax.plot(fpr, tpr, lw=1.8 if len(curves) == 1 else 1,
                          label=f"{name} (AUC {roc_auc_score(positive, score):.3f})")
        drawn.append((fpr, tpr, line.get_color()))
        if binary and n_bootstrap:
            grid = np.linspace(0, 1, 201)
            band = _bootstrap_band(positive, score, grid, int(n_bootstrap), seed)
            if band is not None:
                ax.fill_between(grid, band[0], band[1], color=line.get_color(), alpha=0.2, lw=0,
                                label=f"95% bootstrap band ({int(n_bootstrap)} resamples)")
                drawn[-1] = (fpr, tpr, line.get_color(), grid, band)
    point = None
    if binary and mark_threshold is not None:
        pred = s >= mark_threshold
        tpr_t = np.mean(pred[y == 1]) if (y == 1).any() else np.nan
        fpr_t = np.mean(pred[y == 0]) if (y == 0).any() else np.nan
        point = (fpr_t, tpr_t)
        ax.plot([fpr_t], [tpr_t], "o", color="red", ms=7,
                label=f"threshold {mark_threshold:.2f}: sens {tpr_t:.2f}, spec {1 - fpr_t:.2f}")
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=0.8, label="_chance")
    ax.set_xlabel("1 - specificity (false-positive rate)")
    ax.set_ylabel("sensitivity (true-positive rate)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.25)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title, fontsize=10)
    if binary and low_fpr and drawn:
        _low_fpr_inset(ax, drawn[0], point, float(low_fpr))
    fig.tight_layout()
    return fig


# Where the zoom may go, in axes coordinates (x0, y0, width, height): below a good curve
# (right, above the legend) or above a poor one (upper left).
_INSET_SPOTS = ((0.47, 0.36, 0.5, 0.36), (0.1, 0.56, 0.45, 0.33))


def _inset_spot(fpr, tpr, point):
    """The spot of :data:`_INSET_SPOTS` that hides the least of the curve and none of the operating point."""
    grid = np.linspace(0, 1, 401)
    ys = np.interp(grid, fpr, tpr)
    best, cost = _INSET_SPOTS[0], None
    for x0, y0, w, h in _INSET_SPOTS:
        # the title above the box and the tick labels below it hide the curve too: pad the box
        inside = (grid >= x0 - 0.04) & (grid <= x0 + w) & (ys >= y0 - 0.08) & (ys <= y0 + h + 0.06)
        c = inside.sum()
        if point is not None and x0 - 0.04 <= point[0] <= x0 + w and y0 - 0.08 <= point[1] <= y0 + h + 0.06:
            c += 1000
        if cost is None or c < cost:
            best, cost = (x0, y0, w, h), c
    return best


def _low_fpr_inset(ax, curve, point, low_fpr):
    fpr, tpr, color = curve[:3]
    inset = ax.inset_axes(list(_inset_spot(fpr, tpr, point)), zorder=5)
    inset.set_facecolor("white")
    inset.plot(fpr, tpr, color=color, lw=1.5)
    if len(curve) == 5:
        grid, band = curve[3], curve[4]
        inset.fill_between(grid, band[0], band[1], color=color, alpha=0.2, lw=0)
    if point is not None and point[0] <= low_fpr:
        inset.plot([point[0]], [point[1]], "o", color="red", ms=5)
    inset.set_xlim(0, low_fpr)
    inside = tpr[(fpr > 0) & (fpr <= low_fpr)]          # the vertical start at fpr = 0 would squash it
    if len(curve) == 5:
        inside = np.concatenate([inside, curve[4][0][(curve[3] > 0) & (curve[3] <= low_fpr)]])
    lo = max(0.0, (inside.min() if inside.size else 0.0) - 0.05)
    inset.set_ylim(lo, 1.01)
    inset.set_title(f"zoom: false-positive rate <= {low_fpr:g}", fontsize=7)
    inset.tick_params(labelsize=6)
    inset.grid(alpha=0.25)
