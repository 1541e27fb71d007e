"""Input checks shared by the NumPy engine: clear errors instead of silent broadcasting."""
from __future__ import annotations

import numpy as np

from medlearn.errors import MedlearnError

__all__ = ["ScratchError", "as_float_array", "check_same_shape", "as_one_hot"]


class ScratchError(MedlearnError, ValueError):
    """Bad input to the NumPy engine: a wrong shape, dtype or hyper-parameter."""


def as_float_array(x, name: str, ndim: int | None = None) -> np.ndarray:
    """``x`` as a floating array (ints become float64); checks ``ndim`` when given."""
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ScratchError(f"{name} must be a numeric array. Received: {name} of dtype {arr.dtype}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise ScratchError(
            f"{name} must have {ndim} dimension(s). Received: {name}.shape={arr.shape}. "
            + ("Fix: pass a (n_samples, n_features) matrix, e.g. x.reshape(-1, 1) for one feature."
               if ndim == 2 else "Fix: reshape it.")
        )
    return arr


def check_same_shape(pred: np.ndarray, y: np.ndarray, pred_name: str = "pred") -> None:
    """Refuse shapes that would broadcast silently, e.g. (n, 1) against (n,) giving (n, n)."""
    if pred.shape != y.shape:
        raise ScratchError(
            f"y must have the same shape as {pred_name}. Received: {pred_name}.shape={pred.shape}, "
            f"y.shape={y.shape}. NumPy would silently broadcast them into a wrong shape. "
            f"Fix: y = y.reshape({pred_name}.shape)."
        )


def as_one_hot(y, n_classes: int) -> np.ndarray:
    """Integer labels (n,) or one-hot rows (n, k) -> float one-hot matrix (n, k)."""
    y = np.asarray(y)
    if y.ndim == 2:
        if y.shape[1] != n_classes:
            raise ScratchError(
                f"One-hot y must have {n_classes} columns (one per class). Received: y.shape={y.shape}."
            )
        return y.astype(np.float64) if not np.issubdtype(y.dtype, np.floating) else y
    if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or np.all(np.mod(y, 1) == 0)):
        raise ScratchError(
            f"y must be integer class labels of shape (n,) or one-hot rows of shape (n, {n_classes}). "
            f"Received: y.shape={y.shape}, dtype={y.dtype}."
        )
    labels = y.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ScratchError(
            f"Class labels must lie in 0..{n_classes - 1}. Received: labels from {labels.min()} to {labels.max()}."
        )
    return np.eye(n_classes)[labels]
