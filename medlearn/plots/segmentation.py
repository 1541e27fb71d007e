"""Segmentation figures: image, true mask and predicted mask side by side.

Used by ``medlearn train phantoms --task segmentation`` (``segmentation.png``).
"""
from __future__ import annotations

import numpy as np

from medlearn.plots._common import PlotError

__all__ = ["plot_segmentation"]


def plot_segmentation(images, masks, probs, *, n: int = 6, threshold: float = 0.5, dice=None, title=None):
    """Three rows: the images, the true masks, the predicted masks (``probs >= threshold``).

    Args:
        images: (N, H, W) or (N, H, W, 1) images. masks: (N, H, W) 0/1. probs: (N, H, W[, 1]) probabilities.
        n: columns (the first ``n`` images). threshold: probability threshold.
        dice: optional (N,) per-image Dice, written above each column.
        title: the figure title.

    Returns:
        A matplotlib ``Figure``.

    Raises:
        PlotError: shapes that do not match.
    """
    import matplotlib.pyplot as plt

    images, masks, probs = (np.asarray(a) for a in (images, masks, probs))
    images = images[..., 0] if images.ndim == 4 else images
    probs = probs[..., 0] if probs.ndim == 4 else probs
    if not (images.shape == masks.shape == probs.shape) or images.ndim != 3:
        raise PlotError("images, masks and probs must be (N, H, W) with the same shape. Received: "
                        f"{images.shape}, {masks.shape}, {probs.shape}")
    n = max(1, min(int(n), len(images)))
    fig, axes = plt.subplots(3, n, figsize=(1.6 * n, 5.0), squeeze=False)
    for k in range(n):
        for row, (img, cmap) in enumerate(((images[k], "gray"), (masks[k], "gray"), (probs[k] >= threshold, "gray"))):
            ax = axes[row, k]
            ax.imshow(img, cmap=cmap, vmin=0, vmax=None if row == 0 else 1)
            ax.set_xticks([])
            ax.set_yticks([])
        if dice is not None:
            axes[0, k].set_title(f"Dice {float(dice[k]):.2f}", fontsize=8)
    for row, name in enumerate(("image", "true mask", f"predicted (p >= {threshold:g})")):
        axes[row, 0].set_ylabel(name, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
