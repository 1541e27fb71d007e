"""Training curves: loss and metrics per epoch, training next to validation."""
from __future__ import annotations

import numpy as np

from medlearn.plots._common import PlotError

__all__ = ["training_curves"]


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
