"""Patient-level splits: every image of a patient lands on one side only.

Several images of one patient (follow-up scans, both views, neighbouring slices)
share anatomy, scanner and often the finding. Split them at the *image* level and
the test set holds near-copies of training images: the model is rewarded for
recognising the patient, and the test score is inflated (lesson 13 measures by how
much). :func:`patient_split` splits at the patient level with scikit-learn's
``GroupShuffleSplit``, and :func:`check_patient_split` refuses a split that puts one
patient on two sides.

Used in lesson 13.
"""
from __future__ import annotations

import numpy as np

from medlearn.datasets._errors import DatasetError

__all__ = ["patient_split", "check_patient_split", "SplitError"]


class SplitError(DatasetError):
    """A split that cannot be made, or that puts one patient on two sides."""


def _patient_ids(data):
    if isinstance(data, np.ndarray) or isinstance(data, (list, tuple)):
        ids = np.asarray(data)
    else:
        ids = data.get("patient_ids") if hasattr(data, "get") else getattr(data, "patient_ids", None)
        if ids is None:
            raise SplitError("patient_split needs patient ids: data has no 'patient_ids'. Received a dataset "
                             "without them; make phantoms with make_phantoms(..., images_per_patient=k), or pass "
                             "the ids (one per image) as data")
        ids = np.asarray(ids)
    if ids.ndim != 1 or len(ids) == 0:
        raise SplitError(f"patient ids must be a non-empty 1-D array, one id per image. Received shape {ids.shape}")
    return ids


def _fraction(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0 < value < 1:
        raise SplitError(f"{name} must be a fraction of the patients in (0, 1). Received: {name}={value!r}")
    return float(value)


def patient_split(data, *, val_size: float = 0.15, test_size: float = 0.15, seed: int = 0):
    """Split image indices into train / validation / test so that no patient is on two sides.

    Args:
        data: a Bunch with ``patient_ids`` (e.g. ``make_phantoms(..., images_per_patient=3)``)
            or the (N,) patient ids themselves, one per image.
        val_size, test_size: fractions of the *patients* (not images) for validation and test,
            each in (0, 1), together below 1.
        seed: seed of the shuffle.

    Returns:
        ``(train, val, test)``: three sorted int64 index arrays into the images.

    Raises:
        SplitError: no patient ids, bad fractions, too few patients for three non-empty parts.

    Example:
        >>> ids = np.repeat(np.arange(20), 3)
        >>> train, val, test = patient_split(ids, val_size=0.2, test_size=0.2)
        >>> len(set(ids[train]) & set(ids[test]))
        0

    Used in lesson 13.
    """
    from sklearn.model_selection import GroupShuffleSplit

    ids = _patient_ids(data)
    val_size, test_size = _fraction("val_size", val_size), _fraction("test_size", test_size)
    if val_size + test_size >= 1:
        raise SplitError(f"val_size + test_size must leave patients for training (< 1). "
                         f"Received: val_size={val_size}, test_size={test_size}")
    n_patients = len(np.unique(ids))
    if n_patients < 3:
        raise SplitError(f"a train/val/test split needs at least 3 patients. Received {n_patients}")
    index = np.arange(len(ids))
    rest, test = next(GroupShuffleSplit(1, test_size=test_size, random_state=seed).split(index, groups=ids))
    inner = GroupShuffleSplit(1, test_size=val_size / (1 - test_size), random_state=seed + 1)
    tr, va = next(inner.split(rest, groups=ids[rest]))
    train, val = rest[tr], rest[va]
    parts = tuple(np.sort(p).astype(np.int64) for p in (train, val, test))
    if any(len(p) == 0 for p in parts):
        raise SplitError(f"{n_patients} patients are too few for these fractions: a part came out empty. "
                         f"Received: val_size={val_size}, test_size={test_size}")
    check_patient_split(ids, *parts)
    return parts


def check_patient_split(data, *parts) -> None:
    """Raise :class:`SplitError` when one patient has images in two of ``parts``.

    Args:
        data: a Bunch with ``patient_ids`` or the (N,) ids. parts: index arrays (train, val, test ...).

    Raises:
        SplitError: names a shared patient and the two parts.

    Example:
        >>> check_patient_split(np.array([0, 0, 1, 1]), [0, 1], [2, 3])    # fine: returns None
        >>> check_patient_split(np.array([0, 0, 1, 1]), [0, 2], [1, 3])    # raises: patient 0 on both sides
        Traceback (most recent call last):
        SplitError: patient 0 has images in part 0 and part 1: ...

    Used in lesson 13.
    """
    ids = _patient_ids(data)
    seen = {}
    for k, part in enumerate(parts):
        for pid in np.unique(ids[np.asarray(part, dtype=np.int64)]):
            if pid in seen and seen[pid] != k:
                raise SplitError(f"patient {pid} has images in part {seen[pid]} and part {k}: a patient-level "
                                 f"split keeps every patient on one side. Received overlapping parts; split with "
                                 f"patient_split(...)")
            seen[pid] = k
