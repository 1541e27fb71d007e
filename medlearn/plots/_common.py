"""What every figure module shares: the error type and the axes helpers."""
from __future__ import annotations

from medlearn.errors import MedlearnError

__all__ = ["PlotError"]


class PlotError(MedlearnError, ValueError):
    """Data a plot cannot draw."""


def new_axes(ax, figsize):
    """``(fig, ax)``: ``ax``'s figure when ``ax`` is given, else a new figure of ``figsize`` inches."""
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def label_name(names, j) -> str:
    """``names[j]`` when there is one, else the index ``j`` as text."""
    return str(names[j]) if names is not None and j < len(names) else str(j)
