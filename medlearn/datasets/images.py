"""Real medical images that ship inside installed packages, DICOM reading and CT windowing.

* :func:`load_sample_image` - scikit-image's medical samples. ``retina``,
  ``immunohistochemistry`` and ``microaneurysms`` are inside the scikit-image
  wheel (offline); ``brain`` is not, scikit-image downloads it on first use.
* :func:`load_dicom` - a DICOM file, or pydicom's bundled ``ct_small`` /
  ``mr_small`` slices; CT pixel values are converted to Hounsfield units.
* :func:`window` - window/level a CT slice into floats in [0, 1] for display.

Used in lesson 06 and the DICOM section.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medlearn import config
from medlearn.datasets._bunch import Bunch
from medlearn.datasets._errors import DatasetError, suggest
from medlearn.datasets.registry import info, list_datasets

__all__ = ["load_sample_image", "load_dicom", "window", "WINDOW_PRESETS"]

#: Common CT display windows as (level = centre, width), in Hounsfield units.
WINDOW_PRESETS = {
    "lung": (-600.0, 1500.0),
    "mediastinum": (40.0, 400.0),
    "soft_tissue": (40.0, 400.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
}


def load_sample_image(name: str) -> Bunch:
    """Load one of scikit-image's medical sample images.

    Args:
        name: ``"retina"`` (RGB fundus photograph, 1411x1411x3),
            ``"immunohistochemistry"`` (RGB IHC-stained colon tissue, 512x512x3),
            ``"microaneurysms"`` (grey retina detail, 102x102) - all three inside
            the scikit-image wheel, offline - or ``"brain"`` (MRI, 10x256x256
            uint16), which scikit-image downloads on first use.

    Returns:
        A :class:`Bunch` with ``image`` (uint8 or uint16 NumPy array, as shipped),
        ``name``, ``modality`` and ``info`` (the registry entry: licence, citation,
        source). Its repr is a dataset card.

    Raises:
        DatasetError: unknown name (with a suggestion), or ``brain`` is not cached and
            cannot be downloaded (offline or no network): the message gives the URL and
            where to put the file.

    Example:
        >>> retina = load_sample_image("retina")
        >>> retina.image.shape
        (1411, 1411, 3)

    Used in lesson 06.
    """
    names = list_datasets("sample_image")
    key = str(name).strip().lower()
    if key not in names:
        raise DatasetError(f"name must be one of {', '.join(names)}. Received: name={name!r}.{suggest(key, names)}")
    entry = info(key)
    spec = entry["skimage"]
    import skimage.data

    if not spec["in_wheel"]:
        _ensure_skimage_download(entry)
    try:
        image = getattr(skimage.data, spec["function"])()
    except (OSError, ValueError, RuntimeError) as exc:  # network errors from pooch/requests derive from OSError
        raise DatasetError(f"scikit-image could not provide {key!r} ({type(exc).__name__}: {exc}). "
                           + _skimage_manual(entry)) from None
    return Bunch(image=np.asarray(image), name=key, modality=entry["modality"], info=entry)


def _skimage_cache() -> Path:
    """Where scikit-image's fetcher keeps downloaded images (its private layout, with a fallback)."""
    try:
        import skimage.data._fetchers as fetchers

        fetcher = getattr(fetchers, "_image_fetcher", None)
        base = Path(fetcher.path) if fetcher is not None else Path(fetchers.data_dir).parent
    except (ImportError, AttributeError, TypeError):
        import pooch
        import skimage

        base = Path(pooch.os_cache("scikit-image")) / skimage.__version__
    return base / "data"


def _skimage_manual(entry) -> str:
    spec = entry["skimage"]
    return ("To get it by hand:\n"
            f"  URL         : {spec.get('url', '(ships with scikit-image)')}\n"
            f"  save it as  : {_skimage_cache() / spec['file']}\n"
            f"  SHA-256     : {spec.get('sha256', '-')}\n"
            "Images inside the wheel (always offline): retina, immunohistochemistry, microaneurysms.")


def _ensure_skimage_download(entry) -> None:
    target = _skimage_cache() / entry["skimage"]["file"]
    if target.is_file():
        return
    if config.is_offline():
        raise DatasetError(f"{entry['name']!r} is not part of the scikit-image wheel and MEDLEARN_OFFLINE=1 forbids "
                           "the download. " + _skimage_manual(entry))


def _resolve_dicom(path_or_name) -> tuple[Path, dict | None]:
    names = list_datasets("dicom")
    if isinstance(path_or_name, str):
        key = path_or_name.strip().lower().removesuffix(".dcm")
        if key in names:
            from pydicom.data import get_testdata_file

            entry = info(key)
            found = get_testdata_file(entry["pydicom"]["file"])
            if found is None:
                raise DatasetError(f"pydicom does not ship {entry['pydicom']['file']} in this installation. "
                                   "Fix: reinstall pydicom from PyPI (`pip install --force-reinstall pydicom`).")
            return Path(found), entry
    if not isinstance(path_or_name, (str, os.PathLike)):
        raise DatasetError(f"path_or_name must be a file path or one of {', '.join(names)}. "
                           f"Received: {type(path_or_name).__name__}")
    path = Path(path_or_name).expanduser()
    if not path.is_file():
        hint = suggest(str(path_or_name).lower(), names)
        raise DatasetError(f"path_or_name must be an existing DICOM file or one of {', '.join(names)}. "
                           f"Received: path_or_name={str(path_or_name)!r} (no such file).{hint}")
    return path, None


def load_dicom(path_or_name) -> Bunch:
    """Read one DICOM slice; CT values come back in Hounsfield units.

    Args:
        path_or_name: a ``.dcm`` path, or ``"ct_small"`` / ``"mr_small"`` for the slices
            inside the pydicom wheel (``"CT_small.dcm"`` works too).

    Returns:
        A :class:`Bunch` with ``image`` (float32 (rows, cols): Hounsfield units for CT,
        i.e. stored value x RescaleSlope + RescaleIntercept; stored intensities for MR),
        ``units`` (``"HU"`` or ``"arbitrary"``), ``pixel_spacing`` ((row, column) in mm,
        or None), ``slice_thickness`` (mm or None), ``modality``, ``window_center`` /
        ``window_width`` (from the file, or None), ``path`` and ``info`` (registry entry,
        or a minimal one for your own files).

    Raises:
        DatasetError: no such file/name, not a DICOM file, or no decodable pixel data.

    Example:
        >>> ct = load_dicom("ct_small")
        >>> ct.units, ct.image.dtype, ct.pixel_spacing
        ('HU', dtype('float32'), (0.661468, 0.661468))

    Used in lesson 06.
    """
    path, entry = _resolve_dicom(path_or_name)
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path)
        stored = ds.pixel_array
    except InvalidDicomError:
        raise DatasetError(f"{path} is not a DICOM file (no DICM preamble). Received: path_or_name={str(path_or_name)!r}") from None
    except (AttributeError, KeyError):
        raise DatasetError(f"{path} holds no pixel data (e.g. a structured report). Pass an image slice.") from None
    except (RuntimeError, NotImplementedError, ValueError, OSError) as exc:
        raise DatasetError(f"{path}: pixel data cannot be decoded ({type(exc).__name__}: {exc}). Compressed "
                           "DICOM needs a decoder plugin, e.g. `pip install pylibjpeg pylibjpeg-libjpeg`.") from None
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    image = stored.astype(np.float32)
    if slope != 1.0:
        image *= np.float32(slope)
    if intercept != 0.0:
        image += np.float32(intercept)
    modality = str(ds.get("Modality", "")) or "unknown"
    spacing = ds.get("PixelSpacing")
    if entry is None:
        entry = {"name": path.name, "kind": "dicom", "title": f"{modality} DICOM file", "modality": modality,
                 "task": "none", "label_names": [], "license": "unknown (your own file)", "citation": [],
                 "description": str(path)}
    return Bunch(
        image=image,
        units="HU" if modality == "CT" else "arbitrary",
        pixel_spacing=tuple(float(v) for v in spacing) if spacing is not None else None,
        slice_thickness=_float_or_none(ds.get("SliceThickness")),
        modality=modality,
        window_center=_float_or_none(ds.get("WindowCenter")),
        window_width=_float_or_none(ds.get("WindowWidth")),
        rescale=(slope, intercept),
        path=str(path),
        name=entry["name"],
        info=entry,
    )


def _float_or_none(value):
    """A DICOM number (possibly multi-valued, e.g. two window centres) as float, or None."""
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        value = value[0] if len(value) else None
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def window(image, preset: str | None = None, *, level: float | None = None, width: float | None = None) -> np.ndarray:
    """Window/level a CT image: map ``[level - width/2, level + width/2]`` HU linearly onto [0, 1].

    Values below the window become 0 (black), above it 1 (white): the eye sees
    a few hundred HU of contrast instead of 4000.

    Args:
        image: an array in Hounsfield units, or a :func:`load_dicom` Bunch.
        preset: ``"lung"`` (L -600, W 1500), ``"mediastinum"``/``"soft_tissue"``
            (L 40, W 400), ``"bone"`` (L 400, W 1800) or ``"brain"`` (L 40, W 80).
        level: window centre in HU (instead of a preset).
        width: window width in HU, > 0 (instead of a preset).

    Returns:
        float32 array of the image's shape, values in [0, 1].

    Raises:
        DatasetError: unknown preset, neither or both of preset and level/width, or width <= 0.

    Example:
        >>> window(np.array([-1000.0, 40.0, 1000.0]), "mediastinum")
        array([0. , 0.5, 1. ], dtype=float32)

    Used in lesson 06.
    """
    if isinstance(image, dict):
        image = image["image"]
    if preset is not None:
        if level is not None or width is not None:
            raise DatasetError(f"Give either preset or level/width, not both. Received: preset={preset!r}, "
                               f"level={level!r}, width={width!r}")
        if preset not in WINDOW_PRESETS:
            raise DatasetError(f"preset must be one of {', '.join(WINDOW_PRESETS)}. Received: preset={preset!r}."
                               + suggest(str(preset), WINDOW_PRESETS))
        level, width = WINDOW_PRESETS[preset]
    if level is None or width is None:
        raise DatasetError(f"window needs a preset or both level and width. Received: level={level!r}, width={width!r}")
    if not width > 0:
        raise DatasetError(f"width must be > 0 (in HU). Received: width={width!r}")
    lower = np.float32(level - width / 2.0)
    out = (np.asarray(image, dtype=np.float32) - lower) / np.float32(width)
    return np.clip(out, 0.0, 1.0, out=out)
