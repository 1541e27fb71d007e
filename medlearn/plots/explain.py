"""Saliency figures: Grad-CAM (or occlusion) maps over the images, with true and predicted labels.

Used by ``medlearn train`` (``gradcam.png``).
"""
from __future__ import annotations

import numpy as np

from medlearn.plots._common import PlotError, label_name

__all__ = ["plot_saliency"]


def plot_saliency(images, maps, *, labels=None, predictions=None, label_names=None, n: int = 8, cols: int = 8,
                  alpha: float = 0.45, title=None):
    """Images with their saliency maps overlaid (jet colour map), one panel each.

    Args:
        images: (N, H, W) or (N, H, W, C) images (uint8 or float). maps: (N, H, W) maps in [0, 1].
        labels, predictions: optional (N,) true / predicted class indices, written over each panel.
        label_names: class names for the labels.
        n: panels (the first ``n`` images); cols: panels per row; alpha: opacity of the map.
        title: the figure title.

    Returns:
        A matplotlib ``Figure``.

    Raises:
        PlotError: maps that do not match the images' (N, H, W).
    """
    import matplotlib.pyplot as plt

    images, maps = np.asarray(images), np.asarray(maps)
    if images.ndim == 4:
        images = images[..., 0] if images.shape[-1] == 1 else images
    if maps.ndim != 3 or maps.shape != images.shape[:3]:
        raise PlotError(f"maps must be (N, H, W) matching the images. Received: maps.shape={maps.shape}, "
                        f"images.shape={images.shape}")
    n = max(1, min(int(n), len(images)))
    cols = max(1, min(int(cols), n))
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols, 2.0 * rows + 0.4), squeeze=False,
                             layout="constrained")  # leaves room for two-line panel titles
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k >= n:
            continue
        ax.imshow(images[k], cmap="gray" if images.ndim == 3 else None)
        ax.imshow(maps[k], cmap="jet", alpha=alpha, vmin=0, vmax=1)
        parts = []
        if labels is not None:
            parts.append(f"true {label_name(label_names, int(labels[k]))}")
        if predictions is not None:
            parts.append(f"pred {label_name(label_names, int(predictions[k]))}")
        if parts:
            ax.set_title("\n".join(parts), fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
