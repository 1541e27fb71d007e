"""Training curves: loss and metrics per epoch, training next to validation."""
from __future__ import annotations

import numpy as np

from medlearn.plots._common import PlotError

__all__ = ["training_curves"]


def training_curves(history, *, metrics=("loss", "auc"), ax=None, averaged_epochs=None, title=None):
    """Training and validation curves, one panel per metric, with the epochs the final model averages.

    Every epoch is a marked point, so a short run (even one epoch) is readable; epochs are
    whole numbers on the x axis. When the final model is the mean of the weights of some epochs
    (``medlearn.train.fit``'s tail averaging), those epochs are shaded.

    Args:
        history: ``model.fit(...).history``, a ``keras.callbacks.History`` or a
            :class:`medlearn.train.TrainResult` (its ``history`` and ``averaged_epochs``).
        metrics: metric names to draw (each with its ``val_`` twin when present).
        ax: an axes to draw a single metric into (then ``metrics`` must have one name).
        averaged_epochs: 1-based ``(first, last)`` epochs averaged into the final model
            (default: the TrainResult's, else none).
        title: the figure's title (e.g. ``"phantoms - cnn"``).

    Returns:
        A matplotlib ``Figure``.

    Raises:
        PlotError: none of ``metrics`` is in the history.

    Used in lesson 07 and by ``medlearn train`` (``curves.png``).
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if averaged_epochs is None:
        averaged_epochs = getattr(history, "averaged_epochs", None)
    hist = getattr(history, "history", history)
    metrics = [m for m in metrics if m in hist]
    if not metrics:
        raise PlotError(f"none of the requested metrics is in the history. Available: {sorted(hist)}")
    if ax is not None:
        fig, axes = ax.figure, [ax]
        metrics = metrics[:1]
    else:
        fig, axes = plt.subplots(1, len(metrics), figsize=(5.0 * len(metrics), 3.6), squeeze=False)
        axes = list(axes.flat)
    for m, a in zip(metrics, axes):
        n = len(hist[m])
        epochs = np.arange(1, n + 1)
        style = dict(marker="o", ms=7 if n <= 3 else 4 if n <= 30 else 0)
        series = [("train", hist[m])] + ([("validation", hist["val_" + m])] if "val_" + m in hist else [])
        for label, values in series:
            (line,) = a.plot(epochs, values, label=label, **style)
            if n <= 3:  # a short run: write the values next to the points (train above, validation below)
                for x, v in zip(epochs, values):
                    a.annotate(f"{v:.3f}", (x, v), textcoords="offset points",
                               xytext=(8, 3) if label == "train" else (8, -10), fontsize=7, color=line.get_color())
        if averaged_epochs:
            first, last = (int(e) for e in averaged_epochs)
            span = f"epoch {first}" if first == last else f"epochs {first}-{last}"
            a.axvspan(first - 0.5, last + 0.5, color="tab:green", alpha=0.12,
                      label=f"final model = mean of the weights of {span}")
        a.set_xlim(0.5, n + 0.5)
        if n <= 12:
            a.set_xticks(epochs)
        else:
            a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.margins(y=0.15)
        a.set_xlabel("epoch")
        a.set_ylabel(m)
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
        if n == 1:
            a.set_title("one epoch: a single point per curve", fontsize=8)
    if title and ax is None:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
