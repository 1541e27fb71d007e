"""Image grids: a batch of images with their labels (and predictions, red when wrong)."""
from __future__ import annotations

import numpy as np

from medlearn.plots._common import PlotError

__all__ = ["image_grid"]


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
