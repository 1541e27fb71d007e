"""The embedded phantom dataset: ``data/phantoms.npz``, reproducible bit for bit.

The file is written by ``data/make_phantoms.py`` from :func:`phantom_splits`
(fixed seeds and sizes, taken from the registry entry ``"phantoms"``); its MD5
is in the registry and a test regenerates it and compares.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from medlearn.datasets._bunch import Bunch
from medlearn.datasets._npz import check_split, read_splits
from medlearn.datasets._verify import md5sum
from medlearn.datasets.phantoms import make_phantoms
from medlearn.datasets.registry import SPLITS, info

__all__ = ["load_phantoms", "phantom_splits", "phantoms_path"]

_HASHED: dict[tuple, str] = {}  # (path, size, mtime_ns) -> md5, for this process


def phantoms_path() -> Path:
    """Where the pre-generated phantoms live: ``<repository>/data/phantoms.npz`` in a checkout,
    ``medlearn/_course/data/phantoms.npz`` in an installed wheel (see :mod:`medlearn.course`)."""
    from medlearn.course import course_root

    return course_root() / info("phantoms")["files"]["28"]["path"]


def phantom_splits() -> dict[str, np.ndarray]:
    """Generate the embedded dataset's arrays (``train_images``, ``train_labels``, ``train_masks``, ...).

    Returns:
        A dict of arrays in MedMNIST's npz layout plus ``*_masks``; labels are
        uint8 ``(N, 1)`` like MedMNIST's.
    """
    entry = info("phantoms")
    gen = entry["generator"]
    arrays = {}
    for split in SPLITS:
        data = make_phantoms(entry["n_samples"][split], size=28, difficulty=gen["difficulty"],
                             seed=gen["seeds"][split])
        arrays[f"{split}_images"] = data.images
        arrays[f"{split}_labels"] = data.labels.astype(np.uint8)[:, None]
        arrays[f"{split}_masks"] = data.masks
    return arrays


def load_phantoms(split: str | None = None) -> Bunch:
    """Load the embedded chest phantoms (offline, always available).

    4000 train, 1000 val and 1000 test grey 28x28 images, half of them with a
    lesion, from ``data/phantoms.npz`` (shipped in the wheel too). If the file
    is missing or damaged, the identical arrays are regenerated in memory.

    Args:
        split: ``"train"``, ``"val"``, ``"test"`` or ``None`` for all three.

    Returns:
        For one split, a :class:`Bunch` with ``images`` (uint8, (N, 28, 28), 0..255),
        ``labels`` (int64, (N,), 0 = normal, 1 = lesion), ``masks`` (uint8,
        (N, 28, 28), 0/1), ``label_names``, ``task`` (``"binary-class"``), ``split``,
        ``size`` and ``info``. For ``split=None``, a Bunch with ``train``, ``val``,
        ``test`` (split Bunches), ``label_names``, ``task``, ``size`` and ``info``.
        Printing either shows the dataset card.

    Raises:
        DatasetError: ``split`` is not one of the values above.

    Example:
        >>> train = load_phantoms("train")
        >>> train.images.shape
        (4000, 28, 28)

    Used in lessons 07 and 08.
    """
    check_split(split)
    entry = info("phantoms")
    path = phantoms_path()
    expected = entry["files"]["28"]["md5"]
    if path.is_file():
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key not in _HASHED:
            _HASHED[key] = md5sum(path)
        if _HASHED[key] == expected:
            return read_splits(path, split, entry=entry, size=28, extras=("masks",))
        warnings.warn(
            f"{path} is damaged or was edited: MD5 {_HASHED[key]} but the registry expects {expected}. "
            "Using freshly generated phantoms instead (identical to the original). "
            "Fix: run `python data/make_phantoms.py` to rewrite the file.",
            stacklevel=2,
        )
    return _from_arrays(phantom_splits(), split, entry)


def _from_arrays(arrays, split, entry):
    parts = {}
    for s in SPLITS if split is None else (split,):
        parts[s] = Bunch(images=arrays[f"{s}_images"], labels=arrays[f"{s}_labels"][:, 0].astype(np.int64),
                         masks=arrays[f"{s}_masks"], label_names=list(entry["label_names"]),
                         task=entry["task"], split=s, size=28, name=entry["name"], info=entry)
    if split is not None:
        return parts[split]
    return Bunch(**parts, label_names=list(entry["label_names"]), task=entry["task"], size=28,
                 name=entry["name"], info=entry)
