"""Convert one split (a Bunch) to float32 images in [0, 1] with a channel axis and encoded labels.

``to_arrays`` gives NumPy arrays for ``model.fit(x, y)``; ``to_tf_dataset``
gives a shuffled, batched, prefetched ``tf.data.Dataset`` that keeps the images
as uint8 and scales each batch on the fly (4x less memory than float32 arrays).
Both scale the same way: uint8 divided by 255, float images left as they are.
TensorFlow is imported inside ``to_tf_dataset`` only.
"""
from __future__ import annotations

import numpy as np

from medlearn.datasets._errors import DatasetError

__all__ = ["to_arrays", "to_tf_dataset", "images_to_float"]

_TARGETS = ("labels", "masks")


def _check_split_bunch(bunch, fn: str):
    if not isinstance(bunch, dict) or "images" not in bunch:
        has_splits = isinstance(bunch, dict) and "train" in bunch
        hint = (" It holds all three splits: pass one of them, e.g. data.train."
                if has_splits else " Pass what load_phantoms('train') or fetch_medmnist(..., split='train') returns.")
        raise DatasetError(f"{fn} needs one split (a Bunch with images and labels). Received: {type(bunch).__name__}.{hint}")


def _choose_target(bunch, target):
    if target is None:
        target = "masks" if bunch.get("task") == "segmentation" else "labels"
    if target not in _TARGETS:
        raise DatasetError(f"target must be 'labels', 'masks' or None. Received: target={target!r}")
    if target not in bunch:
        raise DatasetError(f"target={target!r} but this dataset has no {target}. Fields: {', '.join(bunch)}")
    return target


def images_to_float(images: np.ndarray, *, scale: float | None = None) -> np.ndarray:
    """uint8 (N, H, W) or (N, H, W, C) -> float32 (N, H, W, C) in [0, 1], one allocation, no temporaries.

    ``scale`` divides the values (default 255 for uint8, else 1; masks use 1).
    """
    images = np.asarray(images)
    shape = images.shape + (1,) if images.ndim == 3 else images.shape
    if len(shape) != 4:
        raise DatasetError(f"images must have shape (N, H, W) or (N, H, W, C). Received: shape={images.shape}")
    out = np.empty(shape, dtype=np.float32)
    if scale is None:
        scale = 255.0 if images.dtype == np.uint8 else 1.0
    np.divide(images.reshape(shape), np.float32(scale), out=out, casting="unsafe")
    return out


def _label_array(labels, task: str, *, one_hot: bool = False, num_classes: int | None = None) -> np.ndarray:
    """Labels as ``to_arrays`` returns them (the model's own targets: :func:`medlearn.models.encode_labels`).

    Args:
        labels: int array (N,) of class indices, or (N, K) 0/1 for multi-label.
        task: a registry task (``"binary-class"``, ``"multi-class"``,
            ``"ordinal-regression"``, ``"multi-label, binary-class"``).
        one_hot: single-label tasks only: return float32 (N, K) one-hot instead of int64 (N,).
        num_classes: K for one-hot (default: ``max(labels) + 1``).

    Returns:
        int64 (N,) class indices (for sparse categorical cross-entropy), float32 (N, K)
        one-hot, or float32 (N, K) multi-hot for multi-label tasks (binary cross-entropy).
    """
    labels = np.asarray(labels)
    if "multi-label" in task or labels.ndim == 2:
        return labels.astype(np.float32)
    labels = labels.astype(np.int64).reshape(-1)
    if not one_hot:
        return labels
    k = int(num_classes if num_classes is not None else labels.max() + 1)
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise DatasetError(f"num_classes must exceed every label. Received: num_classes={k}, max label {labels.max()}")
    out = np.zeros((labels.size, k), dtype=np.float32)
    out[np.arange(labels.size), labels] = 1.0
    return out


def to_arrays(split_bunch, *, one_hot: bool = False, target: str | None = None):
    """Turn one split into ``(x, y)`` ready for ``model.fit``.

    Args:
        split_bunch: one split, e.g. ``load_phantoms("train")`` or ``fetch_medmnist(name, split="train")``.
        one_hot: single-label tasks: one-hot float32 (N, K) labels instead of int64 (N,).
            K is the number of ``label_names``. Multi-label tasks are always multi-hot.
        target: ``"labels"``, ``"masks"`` (segmentation) or ``None`` (masks for
            ``task == "segmentation"``, else labels).

    Returns:
        ``x``: float32 (N, H, W, C) in [0, 1] (C = 1 grey, 3 RGB);
        ``y``: int64 (N,), float32 (N, K) one-hot or multi-hot, or for masks
        float32 (N, H, W, 1) in {0, 1}.

    Raises:
        DatasetError: a full (three-split) Bunch, or an unknown ``target``.

    Example:
        >>> from medlearn.datasets import load_phantoms
        >>> x, y = to_arrays(load_phantoms("val"))
        >>> x.shape, x.dtype, y.shape
        ((1000, 28, 28, 1), dtype('float32'), (1000,))

    Used in lesson 07.
    """
    _check_split_bunch(split_bunch, "to_arrays")
    target = _choose_target(split_bunch, target)
    x = images_to_float(split_bunch["images"])
    if target == "masks":
        y = images_to_float(split_bunch["masks"], scale=1.0)  # 0/1 uint8 -> 0.0/1.0
        return x, y
    names = split_bunch.get("label_names") or None
    y = _label_array(split_bunch["labels"], split_bunch.get("task", "multi-class"), one_hot=one_hot,
                      num_classes=len(names) if names else None)
    return x, y


def to_tf_dataset(split_bunch, *, batch_size: int = 64, shuffle: bool = True, augment=None,
                    cache: bool = True, seed: int | None = 42, one_hot: bool = False,
                    target: str | None = None, drop_remainder: bool = False):
    """Build a ``tf.data.Dataset`` of ``(x, y)`` batches from one split.

    Images stay uint8 inside the pipeline and each batch is scaled to float32
    in [0, 1] with a channel axis only when it is needed, so the pipeline costs
    the uint8 size once instead of the 4x larger float32 arrays. Scaling is
    :func:`to_arrays`'s: uint8 / 255, float images unchanged.

    Args:
        split_bunch: one split (see :func:`to_arrays`).
        batch_size: images per batch, >= 1.
        shuffle: reshuffle the examples each epoch (use False for val/test).
        augment: optional callable applied to each float batch ``x`` only (e.g. a
            ``keras.Sequential`` of ``RandomFlip``/``RandomRotation`` layers).
        cache: keep the (uint8) element stream in memory after the first epoch.
        seed: shuffle seed (``None``: a fresh order each run).
        one_hot: as in :func:`to_arrays`.
        target: as in :func:`to_arrays`.
        drop_remainder: drop the last, smaller batch.

    Returns:
        A ``tf.data.Dataset`` yielding ``(x, y)`` with x float32 (B, H, W, C) and y
        encoded as in :func:`to_arrays`, prefetched with ``tf.data.AUTOTUNE``.

    Raises:
        DatasetError: bad ``batch_size``, a full Bunch, or an unknown ``target``.

    Example:
        >>> ds = make_tf_dataset(load_phantoms("train"), batch_size=128)  # doctest: +SKIP
        >>> model.fit(ds, epochs=3)                                         # doctest: +SKIP
    """
    _check_split_bunch(split_bunch, "to_tf_dataset")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise DatasetError(f"batch_size must be a positive int. Received: batch_size={batch_size!r}")
    target = _choose_target(split_bunch, target)
    import tensorflow as tf

    images = np.asarray(split_bunch["images"])
    if images.ndim == 3:
        images = images[..., None]                       # a view: no copy
    if target == "masks":
        y = np.asarray(split_bunch["masks"])
        y = y[..., None] if y.ndim == 3 else y
    else:
        names = split_bunch.get("label_names") or None
        y = _label_array(split_bunch["labels"], split_bunch.get("task", "multi-class"), one_hot=one_hot,
                          num_classes=len(names) if names else None)
    ds = tf.data.Dataset.from_tensor_slices((images, y))
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(buffer_size=len(images), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(int(batch_size), drop_remainder=drop_remainder)
    scale_y = target == "masks"
    x_scale = 255.0 if images.dtype == np.uint8 else 1.0   # as images_to_float (to_arrays)

    def _scale(xb, yb):
        xb = tf.cast(xb, tf.float32) / x_scale
        if scale_y:
            yb = tf.cast(yb, tf.float32)
        return xb, yb

    ds = ds.map(_scale, num_parallel_calls=tf.data.AUTOTUNE)
    if augment is not None:
        if target == "masks":
            raise DatasetError("augment transforms the images only, which would misalign the masks. "
                               "Received: augment with target='masks'. Augment images and masks together yourself.")
        if not callable(augment):
            raise DatasetError(f"augment must be a callable applied to a float batch, or None. Received: {augment!r}")
        ds = ds.map(lambda xb, yb: (augment(xb), yb), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
