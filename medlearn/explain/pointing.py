"""The pointing game (Zhang et al., 2016): does a map's maximum fall inside the lesion?

Used in lesson 09.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from medlearn.explain._common import ExplainError
from medlearn.metrics.bootstrap import bootstrap_weights, percentile_interval

__all__ = ["PointingGame", "pointing_game"]


@dataclasses.dataclass
class PointingGame:
    """What :func:`pointing_game` returns.

    Attributes:
        hit_rate: the share of images whose map maximum lies inside the mask.
        low, high: its bootstrap confidence interval (NaN with ``n_bootstrap=0``).
        chance: the hit rate of a pointer that picks a pixel at random: the mean mask area
            fraction of the images scored.
        hits: (n,) bool, one per image scored; n: images scored (those with a non-empty mask).
    """

    hit_rate: float
    low: float
    high: float
    chance: float
    hits: np.ndarray
    n: int

    def __str__(self) -> str:
        return (f"pointing game: {self.hit_rate:.3f} [{self.low:.3f}, {self.high:.3f}] of {self.n} images "
                f"(chance {self.chance:.3f})")


def pointing_game(maps, masks, *, tolerance: int = 0, n_bootstrap: int = 1000, level: float = 0.95,
                  seed: int = 0) -> PointingGame:
    """Score saliency maps against true lesion masks.

    An image is a *hit* when the pixel with the largest map value (the first one, on ties)
    lies inside its mask (or within ``tolerance`` pixels of it). Images with an empty
    mask have nothing to point at and are left out.

    Args:
        maps: (N, H, W) saliency maps (any real values; only the argmax counts).
        masks: (N, H, W) true masks, 0/1 or bool, the same shape.
        tolerance: pixels the mask is grown by before scoring (0: the exact mask).
        n_bootstrap: bootstrap resamples of the images for the CI (0: none).
        level: confidence level.
        seed: seed of the resampling.

    Returns:
        A :class:`PointingGame` with the hit rate, its CI and the chance level.

    Raises:
        ExplainError: shapes differ, not (N, H, W), or no image has a lesion.

    Example:
        >>> pointing_game(maps, data.masks)          # doctest: +SKIP
        pointing game: 0.953 [0.91, 0.98] of 128 images (chance 0.024)

    Used in lesson 09.
    """
    maps, masks = np.asarray(maps), np.asarray(masks)
    if maps.ndim != 3 or maps.shape != masks.shape:
        raise ExplainError("maps and masks must be (N, H, W) with the same shape. "
                           f"Received: maps.shape={maps.shape}, masks.shape={masks.shape}")
    if not np.issubdtype(maps.dtype, np.number) or not (np.issubdtype(masks.dtype, np.number) or masks.dtype == bool):
        raise ExplainError(f"maps and masks must be numeric. Received: maps.dtype={maps.dtype}, masks.dtype={masks.dtype}")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, np.integer)) or tolerance < 0:
        raise ExplainError(f"tolerance must be a non-negative int (pixels). Received: tolerance={tolerance!r}")
    inside = masks > 0.5 if masks.dtype != bool else masks.copy()
    if tolerance:
        from scipy import ndimage

        disc = np.hypot(*np.mgrid[-tolerance:tolerance + 1, -tolerance:tolerance + 1]) <= tolerance
        inside = np.stack([ndimage.binary_dilation(m, structure=disc) for m in inside])
    keep = inside.reshape(len(inside), -1).any(axis=1)
    if not keep.any():
        raise ExplainError("masks hold no lesion: the pointing game needs images with a non-empty mask. "
                           f"Received: {len(masks)} empty masks")
    flat_maps = np.nan_to_num(maps[keep].reshape(int(keep.sum()), -1).astype(np.float64), nan=-np.inf)
    flat_masks = inside[keep].reshape(len(flat_maps), -1)
    hits = flat_masks[np.arange(len(flat_maps)), np.argmax(flat_maps, axis=1)]
    chance = float(flat_masks.mean())
    n = len(hits)
    rate = float(hits.mean())
    low = high = float("nan")
    if n_bootstrap > 0:
        h = hits.astype(np.float64)
        samples = np.concatenate([W @ h / n for W in bootstrap_weights(n, n_bootstrap, np.random.default_rng(seed))])
        low, high = percentile_interval(samples, level)
    return PointingGame(rate, low, high, chance, hits, n)
