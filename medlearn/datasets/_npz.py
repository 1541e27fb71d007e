"""Reading MedMNIST-layout ``.npz`` files into Bunches, and writing them reproducibly.

The layout (MedMNIST's): ``train_images``, ``train_labels``, ``val_images``,
``val_labels``, ``test_images``, ``test_labels`` (+ optional extras such as
``train_masks``). Images are uint8 ``(N, H, W)`` or ``(N, H, W, 3)``; labels
uint8 ``(N, 1)`` or ``(N, K)`` for multi-label.
"""
from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from medlearn.datasets._bunch import Bunch
from medlearn.datasets._errors import DatasetError
from medlearn.datasets.registry import SPLITS

__all__ = ["check_split", "read_splits", "write_npz"]


def check_split(split):
    """Return ``split`` if it is None or one of train/val/test, else raise listing the valid values."""
    if split is None or (isinstance(split, str) and split in SPLITS):
        return split
    raise DatasetError(
        f"split must be one of {', '.join(map(repr, SPLITS))} or None (all three). Received: split={split!r}"
    )


def _labels(raw: np.ndarray, task: str) -> np.ndarray:
    labels = np.asarray(raw)
    if labels.ndim == 2 and labels.shape[1] == 1 and "multi-label" not in task:
        labels = labels[:, 0]
    return labels.astype(np.int64)


def read_splits(path: Path, split, *, entry: dict, size: int, extras=()) -> Bunch:
    """Load one split (a split Bunch) or all three (a Bunch with ``.train``/``.val``/``.test``).

    Args:
        path: the ``.npz`` file.
        split: ``None`` or ``"train"``/``"val"``/``"test"``.
        entry: the registry entry (becomes ``.info``).
        size: the image side, recorded as ``.size``.
        extras: extra per-split arrays to read when present (e.g. ``("masks",)``).

    Raises:
        DatasetError: the file is not a readable npz in this layout.
    """
    wanted = SPLITS if split is None else (split,)
    parts = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [f"{s}_{k}" for s in wanted for k in ("images", "labels") if f"{s}_{k}" not in npz.files]
            if missing:
                raise DatasetError(
                    f"{path} is not in MedMNIST's npz layout: it lacks {', '.join(missing)} "
                    f"(it has {', '.join(npz.files) or 'nothing'}). Fix: delete it and fetch it again."
                )
            for s in wanted:
                part = Bunch(images=npz[f"{s}_images"], labels=_labels(npz[f"{s}_labels"], entry["task"]))
                for extra in extras:
                    if f"{s}_{extra}" in npz.files:
                        part[extra] = npz[f"{s}_{extra}"]
                part.update(label_names=list(entry["label_names"]), task=entry["task"], split=s,
                            size=size, name=entry["name"], info=entry)
                parts[s] = part
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        if isinstance(exc, DatasetError):
            raise
        raise DatasetError(
            f"{path} cannot be read as an npz file ({type(exc).__name__}: {exc}). "
            "Fix: delete it and fetch it again (`medlearn data verify` checks every file)."
        ) from None
    if split is not None:
        return parts[split]
    return Bunch(train=parts["train"], val=parts["val"], test=parts["test"],
                 label_names=list(entry["label_names"]), task=entry["task"], size=size,
                 name=entry["name"], info=entry)


def write_npz(path, arrays: dict) -> None:
    """Write ``arrays`` as a compressed npz whose bytes depend only on the arrays.

    ``numpy.savez_compressed`` stamps each member with the current time, so
    two runs differ; here every member gets a fixed date, fixed order and a
    fixed compression level, so the file is reproducible bit for bit.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for key in arrays:
            member = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            with zf.open(member, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.ascontiguousarray(arrays[key]), allow_pickle=False)
    tmp.replace(path)
