"""Datasets for the course: synthetic phantoms, MedMNIST, tabular data, sample images, DICOM.

Names follow scikit-learn: ``load_*`` reads data shipped with medlearn or an
installed package (offline), ``fetch_*`` downloads once into the data folder
and verifies the MD5, ``make_*`` generates. Every loader returns a
:class:`Bunch` whose repr is a dataset card. One registry
(:func:`list_datasets`, :func:`info`) holds every dataset fact.

Importing this package is light (NumPy only); pooch, pandas, scikit-learn,
scikit-image, pydicom and TensorFlow are imported inside the functions that
need them.

Example:
    >>> from medlearn.datasets import load_phantoms, to_arrays
    >>> train = load_phantoms("train")
    >>> x, y = to_arrays(train)
    >>> x.shape, x.dtype
    ((4000, 28, 28, 1), dtype('float32'))
"""
from __future__ import annotations

import importlib

from medlearn.datasets._bunch import Bunch
from medlearn.datasets._errors import DatasetError

_LAZY = {
    "list_datasets": "registry",
    "info": "registry",
    "override_file": "registry",
    "make_phantoms": "phantoms",
    "load_phantoms": "embedded",
    "fetch_medmnist": "fetch",
    "scan_data_folder": "fetch",
    "verify_file": "fetch",
    "load_breast_cancer": "tabular",
    "load_diabetes": "tabular",
    "load_sample_image": "images",
    "load_dicom": "images",
    "window": "images",
    "WINDOW_PRESETS": "images",
    "to_arrays": "convert",
    "to_tf_dataset": "convert",
    "corrupt": "corruptions",
    "corruptions_for": "corruptions",
    "CORRUPTIONS": "corruptions",
    "patient_split": "splits",
    "check_patient_split": "splits",
}

__all__ = ["Bunch", "DatasetError", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'medlearn.datasets' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"medlearn.datasets.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
