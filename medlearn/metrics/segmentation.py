"""Segmentation and detection metrics in NumPy: Dice, IoU, masks to lesions, hits and false positives.

* :func:`dice`, :func:`iou` - overlap per image, with the empty-mask case defined;
* :func:`find_lesions` - a (probability) mask to lesions: connected components, centres, areas;
* :func:`match_lesions` - detections against true lesion centres (hits, misses, false positives);
* :func:`segmentation_report` - mean Dice / IoU with bootstrap 95 % CIs, detection sensitivity,
  false positives per image and centre error, for a test set.

The empty-mask case: an image without a lesion whose prediction is empty too is a
*perfect* segmentation, so Dice and IoU are 1.0 there (``empty=1.0``); an empty truth
with a non-empty prediction (or the reverse) scores 0.0. Without this rule
``2|A∩B| / (|A|+|B|)`` is 0/0 on every healthy image.

No TensorFlow or Keras here; ``scipy.ndimage`` labels the connected components.

Used in lesson 10 and by ``medlearn train phantoms --task segmentation``.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from medlearn.errors import MedlearnError
from medlearn.metrics.bootstrap import bootstrap_weights, percentile_interval
from medlearn.metrics.clinical import Estimate

__all__ = ["SegmentationError", "dice", "iou", "find_lesions", "match_lesions", "DetectionResult",
           "SegmentationReport", "segmentation_report"]


class SegmentationError(MedlearnError, ValueError):
    """Masks, probabilities or centres that cannot be compared (shapes, values)."""


def _binary(name, values, threshold):
    arr = np.asarray(values)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise SegmentationError(f"{name} must be a numeric or boolean array. Received: {name} of dtype {arr.dtype}")
    if arr.dtype == bool:
        return arr
    return arr >= threshold


def _pair(y_true, y_pred, threshold):
    t = _binary("y_true", y_true, 0.5)
    p = _binary("y_pred", y_pred, threshold)
    if t.shape != p.shape:
        raise SegmentationError("y_true and y_pred must have the same shape ((H, W) or (N, H, W)). "
                                f"Received: y_true.shape={t.shape}, y_pred.shape={p.shape}")
    if t.ndim not in (2, 3):
        raise SegmentationError(f"masks must be (H, W) or (N, H, W). Received: shape={t.shape}")
    return t, p


def _overlap(y_true, y_pred, threshold, empty, kind):
    t, p = _pair(y_true, y_pred, threshold)
    single = t.ndim == 2
    t = t.reshape(1, *t.shape) if single else t
    p = p.reshape(1, *p.shape) if single else p
    inter = np.sum(t & p, axis=(1, 2), dtype=np.float64)
    st, sp = np.sum(t, axis=(1, 2), dtype=np.float64), np.sum(p, axis=(1, 2), dtype=np.float64)
    denom = st + sp if kind == "dice" else st + sp - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(denom > 0, (2.0 if kind == "dice" else 1.0) * inter / np.where(denom > 0, denom, 1), empty)
    return float(score[0]) if single else score


def dice(y_true, y_pred, *, threshold: float = 0.5, empty: float = 1.0):
    """The Dice coefficient ``2|A∩B| / (|A| + |B|)`` per image.

    Args:
        y_true: true masks, (H, W) or (N, H, W), 0/1 (or bool).
        y_pred: predicted masks or probabilities, same shape; ``>= threshold`` is foreground.
        threshold: the probability at which a pixel counts as lesion (ignored for bool input).
        empty: the score when both masks are empty (default 1.0: nothing to find, nothing found).

    Returns:
        A float for one (H, W) pair, else a float64 (N,) array in [0, 1].

    Raises:
        SegmentationError: shapes differ or are not (H, W) / (N, H, W), or non-numeric input.

    Example:
        >>> a = np.zeros((4, 4)); a[1:3, 1:3] = 1
        >>> dice(a, a), dice(np.zeros((4, 4)), np.zeros((4, 4)))
        (1.0, 1.0)

    Used in lesson 10.
    """
    return _overlap(y_true, y_pred, threshold, empty, "dice")


def iou(y_true, y_pred, *, threshold: float = 0.5, empty: float = 1.0):
    """Intersection over union (Jaccard index) ``|A∩B| / |A∪B|`` per image; ``IoU = D / (2 - D)``.

    Args and returns as in :func:`dice` (both masks empty: ``empty``, default 1.0).

    Used in lesson 10.
    """
    return _overlap(y_true, y_pred, threshold, empty, "iou")


def find_lesions(mask, *, threshold: float = 0.5, min_area: int = 1, connectivity: int = 8):
    """Connected components of a (probability) mask: each one a lesion, with its centre and area.

    Args:
        mask: (H, W) 0/1 mask or probabilities; pixels ``>= threshold`` are lesion.
        threshold: probability threshold (ignored for bool masks).
        min_area: components smaller than this many pixels are dropped (speckle).
        connectivity: 8 (diagonal neighbours belong together, default) or 4.

    Returns:
        ``(centres, areas)``: float64 (K, 2) centres of mass as (row, column) in pixels
        and int64 (K,) areas, sorted by row then column. K = 0 gives shapes (0, 2) and (0,).

    Raises:
        SegmentationError: ``mask`` is not 2-D or ``connectivity`` is not 4 or 8.

    Example:
        >>> m = np.zeros((6, 6)); m[1:3, 1:3] = 1; m[4, 4] = 1
        >>> find_lesions(m)[0]
        array([[1.5, 1.5],
               [4. , 4. ]])

    Used in lesson 10 (through ``segmentation_report``).
    """
    from scipy import ndimage

    fg = _binary("mask", mask, threshold)
    if fg.ndim != 2:
        raise SegmentationError(f"mask must be one (H, W) image. Received: shape={fg.shape}")
    if connectivity not in (4, 8):
        raise SegmentationError(f"connectivity must be 4 or 8. Received: connectivity={connectivity!r}")
    structure = np.ones((3, 3)) if connectivity == 8 else None
    labels, k = ndimage.label(fg, structure=structure)
    if k == 0:
        return np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
    index = np.arange(1, k + 1)
    areas = ndimage.sum_labels(np.ones_like(labels), labels, index).astype(np.int64)
    centres = np.asarray(ndimage.center_of_mass(fg, labels, index), dtype=np.float64).reshape(k, 2)
    keep = areas >= min_area
    centres, areas = centres[keep], areas[keep]
    order = np.lexsort((centres[:, 1], centres[:, 0]))
    return centres[order], areas[order]


def match_lesions(pred_centres, true_centres, *, max_distance):
    """Match detections to true lesions: nearest pairs first, each used at most once.

    Args:
        pred_centres: (K, 2) detected centres (row, column).
        true_centres: (M, 2) true centres; rows with NaN are ignored (no lesion).
        max_distance: a detection within this many pixels of a true centre is a hit: a number,
            or an (M,) array (one tolerance per true lesion, e.g. its radius).

    Returns:
        ``(hits, false_positives, errors)``: the number of true lesions found, the number of
        detections matched to no lesion, and the (hits,) centre errors in pixels.

    Used in lesson 10 (through ``segmentation_report``).
    """
    pred = np.asarray(pred_centres, dtype=np.float64).reshape(-1, 2)
    true = np.asarray(true_centres, dtype=np.float64).reshape(-1, 2)
    tol = np.broadcast_to(np.asarray(max_distance, dtype=np.float64), (len(true),))
    valid = np.isfinite(true).all(axis=1)
    true, tol = true[valid], tol[valid]
    if len(pred) == 0 or len(true) == 0:
        return 0, len(pred), np.zeros(0)
    dist = np.linalg.norm(pred[:, None, :] - true[None, :, :], axis=2)    # (K, M)
    pairs = sorted((dist[i, j], i, j) for i in range(len(pred)) for j in range(len(true)) if dist[i, j] <= tol[j])
    used_p, used_t, errors = set(), set(), []
    for d, i, j in pairs:
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
            errors.append(d)
    return len(used_t), len(pred) - len(used_p), np.asarray(errors, dtype=np.float64)


@dataclasses.dataclass
class DetectionResult:
    """Per-image detection counts: ``hits``, ``n_true``, ``false_positives`` ((N,) int) and ``errors`` (pixels)."""

    hits: np.ndarray
    n_true: np.ndarray
    false_positives: np.ndarray
    errors: np.ndarray


def _detect(probs, true_centres, threshold, max_distance, true_radii, min_area):
    n = len(probs)
    hits, n_true, fps = (np.zeros(n, dtype=np.int64) for _ in range(3))
    errors = []
    for i in range(n):
        centres, _ = find_lesions(probs[i], threshold=threshold, min_area=min_area)
        truth = np.asarray(true_centres[i], dtype=np.float64).reshape(-1, 2)
        tol = max_distance if true_radii is None else np.maximum(
            np.asarray(true_radii[i], dtype=np.float64).reshape(-1), max_distance)
        h, fp, err = match_lesions(centres, truth, max_distance=tol)
        hits[i], n_true[i], fps[i] = h, int(np.isfinite(truth).all(axis=1).sum()), fp
        errors.extend(err)
    return DetectionResult(hits, n_true, fps, np.asarray(errors, dtype=np.float64))


@dataclasses.dataclass
class SegmentationReport:
    """What :func:`segmentation_report` returns; ``str()`` is a short table.

    Attributes:
        dice, iou: mean per-image Dice / IoU with bootstrap 95 % CI (:class:`Estimate`).
        dice_lesion: mean Dice over the images that have a lesion only.
        detection_sensitivity: found lesions / true lesions (with CI).
        false_positives_per_image: detections matched to no lesion, per image (with CI).
        centre_error: mean distance in pixels between a found lesion's detected and true centre.
        per_image_dice, per_image_iou: (N,) arrays.
        detection: the :class:`DetectionResult` (None without true centres).
        n: images; threshold: probability threshold used.
    """

    dice: Estimate
    iou: Estimate
    dice_lesion: float
    detection_sensitivity: Estimate | None
    false_positives_per_image: Estimate | None
    centre_error: float
    per_image_dice: np.ndarray
    per_image_iou: np.ndarray
    detection: DetectionResult | None
    n: int
    threshold: float

    def to_dict(self) -> dict:
        """Plain numbers, for JSON."""
        def est(e):
            return None if e is None else {"value": e.value, "low": e.low, "high": e.high}
        return {"dice": est(self.dice), "iou": est(self.iou), "dice_lesion": self.dice_lesion,
                "detection_sensitivity": est(self.detection_sensitivity),
                "false_positives_per_image": est(self.false_positives_per_image),
                "centre_error": self.centre_error, "n": self.n, "threshold": self.threshold}

    def __str__(self) -> str:
        lines = [f"segmentation of {self.n} images (threshold {self.threshold:g}), mean [95% CI]",
                 f"  Dice                      {self.dice}",
                 f"  IoU                       {self.iou}",
                 f"  Dice, images with lesion  {self.dice_lesion:.3f}"]
        if self.detection_sensitivity is not None:
            lines += [f"  detection sensitivity     {self.detection_sensitivity}",
                      f"  false positives / image   {self.false_positives_per_image}",
                      f"  centre error (pixels)     {self.centre_error:.2f}"]
        return "\n".join(lines)


def _estimate(values_fn, n, n_bootstrap, rng, level):
    value = float(values_fn(np.ones((1, n)))[0])
    if n_bootstrap <= 0:
        return Estimate(value, float("nan"), float("nan"))
    samples = np.concatenate([values_fn(W) for W in bootstrap_weights(n, n_bootstrap, rng)])
    low, high = percentile_interval(samples, level)
    return Estimate(value, low, high)


def segmentation_report(y_true, probs, *, true_centres=None, true_radii=None, threshold: float = 0.5,
                        max_distance: float = 3.0, min_area: int = 1, n_bootstrap: int = 1000,
                        level: float = 0.95, seed: int = 0) -> SegmentationReport:
    """Dice, IoU and lesion detection on a test set, with bootstrap CIs (resampling images).

    Args:
        y_true: (N, H, W) true masks (0/1).
        probs: (N, H, W) or (N, H, W, 1) predicted probabilities (or 0/1 masks).
        true_centres: (N, 2) true lesion centres (row, column; NaN without lesion, the phantoms'
            ``lesion_centers``) or a length-N list of (M_i, 2) arrays. None: detection is skipped.
        true_radii: (N,) lesion radii in pixels; a detection within ``max(radius, max_distance)``
            of a true centre is a hit. None: ``max_distance`` alone.
        threshold: probability threshold for the masks and the detections.
        max_distance: the smallest hit tolerance in pixels.
        min_area: detections smaller than this many pixels are ignored.
        n_bootstrap: bootstrap resamples (0: no intervals, NaN bounds).
        level: confidence level of the intervals.
        seed: seed of the resampling.

    Returns:
        A :class:`SegmentationReport`.

    Raises:
        SegmentationError: shapes that do not match.

    Example:
        >>> rep = segmentation_report(data.test.masks, probs, true_centres=data.test.lesion_centers)  # doctest: +SKIP
        >>> print(rep)                                                                                 # doctest: +SKIP

    Used in lesson 10 and by ``medlearn train phantoms --task segmentation``.
    """
    probs = np.asarray(probs)
    if probs.ndim == 4 and probs.shape[-1] == 1:
        probs = probs[..., 0]
    y_true = np.asarray(y_true)
    if y_true.ndim != 3 or probs.shape != y_true.shape:
        raise SegmentationError("y_true must be (N, H, W) and probs the same shape (or (N, H, W, 1)). "
                                f"Received: y_true.shape={y_true.shape}, probs.shape={np.shape(probs)}")
    n = len(y_true)
    d = dice(y_true, probs, threshold=threshold)
    j = iou(y_true, probs, threshold=threshold)
    rng = np.random.default_rng(seed)
    d_est = _estimate(lambda W: W @ d / W.sum(1), n, n_bootstrap, rng, level)
    j_est = _estimate(lambda W: W @ j / W.sum(1), n, n_bootstrap, rng, level)
    has = y_true.reshape(n, -1).any(axis=1)
    dice_lesion = float(d[has].mean()) if has.any() else float("nan")
    sens = fppi = None
    err = float("nan")
    det = None
    if true_centres is not None:
        if len(true_centres) != n:
            raise SegmentationError(f"true_centres needs one entry per image ({n}). "
                                    f"Received: len(true_centres)={len(true_centres)}")
        det = _detect(probs, true_centres, threshold, max_distance, true_radii, min_area)
        hits, n_true, fp = (det.hits.astype(float), det.n_true.astype(float), det.false_positives.astype(float))
        with np.errstate(divide="ignore", invalid="ignore"):
            sens = _estimate(lambda W: (W @ hits) / (W @ n_true), n, n_bootstrap, rng, level)
        fppi = _estimate(lambda W: W @ fp / W.sum(1), n, n_bootstrap, rng, level)
        err = float(det.errors.mean()) if det.errors.size else float("nan")
    return SegmentationReport(d_est, j_est, dice_lesion, sens, fppi, err, d, j, det, n, float(threshold))
