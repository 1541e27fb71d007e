"""Occlusion sensitivity (Zeiler & Fergus, 2014): the explanation that needs no gradients.

Slide a grey patch over the image; where covering the image lowers the class probability
most, the network was looking. Forward passes only, so it works for any model (an MLP,
a model on a backend without gradients) and checks Grad-CAM independently.

Used in lesson 09.
"""
from __future__ import annotations

import numpy as np

from medlearn.explain._common import ExplainError, as_model_input, normalize_maps, output_units, predict, resolve_classes

__all__ = ["occlusion"]


def _positions(n, patch, stride):
    pos = list(range(0, n - patch + 1, stride))
    if pos[-1] != n - patch:           # the last window reaches the border
        pos.append(n - patch)
    return pos


def occlusion(model, images, *, patch=None, stride=None, fill="mean", class_index=None, batch_size=512):
    """Occlusion maps: the drop of the class probability when a patch covers each region.

    Args:
        model: any Keras classifier with an output (N, classes) (no convolution needed).
        images: a batch as the model takes it, (N, H, W, C) or (N, H, W) (see :func:`grad_cam`).
        patch: patch side in pixels (default: a sixth of the image side, at least 3).
        stride: step between patches (default: half the patch).
        fill: ``"mean"`` (each image's mean value) or a number in the images' units.
        class_index: None (predicted class), an int or an (N,) array, as in :func:`grad_cam`.
        batch_size: occluded images per forward pass.

    Returns:
        float32 (N, H, W) maps in [0, 1]: the mean drop of the class probability over the
        patches covering each pixel, negative drops set to 0, divided by the maximum.

    Raises:
        ExplainError: bad images, ``class_index``, ``patch`` or ``stride``.

    Example:
        >>> maps = occlusion(model, x_test[:8], patch=5, stride=2)   # doctest: +SKIP

    Used in lesson 09.
    """
    x = as_model_input(model, images)
    units = output_units(model, "occlusion")
    n, h, w = x.shape[:3]
    patch = max(3, min(h, w) // 6) if patch is None else patch
    if isinstance(patch, bool) or not isinstance(patch, (int, np.integer)) or not 1 <= patch <= min(h, w):
        raise ExplainError(f"patch must be an int in [1, {min(h, w)}]. Received: patch={patch!r}")
    stride = max(1, patch // 2) if stride is None else stride
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ExplainError(f"stride must be a positive int. Received: stride={stride!r}")
    if not (fill == "mean" or (isinstance(fill, (int, float, np.number)) and not isinstance(fill, bool))):
        raise ExplainError(f"fill must be 'mean' or a number. Received: fill={fill!r}")

    base = predict(model, x)
    classes = resolve_classes(class_index, base, units, n)

    def prob(p):
        return np.where(classes[:len(p)] == 1, p[:, 0], 1 - p[:, 0]) if units == 1 else p[np.arange(len(p)), classes[:len(p)]]

    p0 = prob(base)
    values = (x.reshape(n, -1).mean(axis=1) if fill == "mean" else np.full(n, float(fill))).astype(x.dtype)
    windows = [(r, c) for r in _positions(h, patch, stride) for c in _positions(w, patch, stride)]
    drop = np.zeros((n, h, w))
    count = np.zeros((h, w))
    per_batch = max(1, batch_size // len(windows)) if len(windows) <= batch_size else 1
    for start in range(0, n, per_batch):
        idx = np.arange(start, min(n, start + per_batch))
        batch = np.repeat(x[idx], len(windows), axis=0)
        for k, (r, c) in enumerate(windows):
            batch[k::len(windows), r:r + patch, c:c + patch] = values[idx].reshape(-1, *([1] * (x.ndim - 1)))
        out = predict(model, batch, batch_size=batch_size)
        cls = np.repeat(classes[idx], len(windows))
        p = np.where(cls == 1, out[:, 0], 1 - out[:, 0]) if units == 1 else out[np.arange(len(out)), cls]
        p = p.reshape(len(idx), len(windows))
        for k, (r, c) in enumerate(windows):
            drop[idx, r:r + patch, c:c + patch] += (p0[idx] - p[:, k])[:, None, None]
    for r, c in windows:
        count[r:r + patch, c:c + patch] += 1
    return normalize_maps(drop / count)
