"""Tabular medical data that ships with scikit-learn (offline): lessons 01-04.

Same Bunch style as the image loaders, plus a plain-English description of
every feature so a learner knows what a column measures.
"""
from __future__ import annotations

import numpy as np

from medlearn.datasets._bunch import Bunch
from medlearn.datasets.registry import info

__all__ = ["load_breast_cancer", "load_diabetes", "BREAST_CANCER_FEATURES", "DIABETES_FEATURES"]

_NUCLEUS = {
    "radius": "mean distance from the nucleus centre to points on its outline (pixels)",
    "texture": "standard deviation of grey-scale values inside the nucleus",
    "perimeter": "length of the nucleus outline (pixels)",
    "area": "area of the nucleus (pixels^2)",
    "smoothness": "local variation in radius lengths",
    "compactness": "perimeter^2 / area - 1.0",
    "concavity": "severity of concave portions of the outline",
    "concave points": "number of concave portions of the outline",
    "symmetry": "symmetry of the nucleus",
    "fractal dimension": "'coastline approximation' - 1 (outline roughness)",
}
_STAT = {
    "mean": "Mean over the nuclei in the image of the",
    "error": "Standard error over the nuclei in the image of the",
    "worst": "Mean of the three largest values in the image of the",
}

#: feature name -> description, for the 30 Breast Cancer Wisconsin features.
BREAST_CANCER_FEATURES = {}
for _stat, _prefix in _STAT.items():
    for _feat, _what in _NUCLEUS.items():
        _name = f"{_stat} {_feat}" if _stat != "error" else f"{_feat} error"
        BREAST_CANCER_FEATURES[_name] = f"{_prefix} {_feat}: {_what}."

#: feature name -> description, for the 10 diabetes features (raw clinical units).
DIABETES_FEATURES = {
    "age": "Age (years).",
    "sex": "Sex, coded 1 or 2.",
    "bmi": "Body mass index (kg/m^2).",
    "bp": "Average blood pressure (mm Hg).",
    "s1": "Total serum cholesterol, tc (mg/dL).",
    "s2": "Low-density lipoproteins, ldl (mg/dL).",
    "s3": "High-density lipoproteins, hdl (mg/dL).",
    "s4": "Total cholesterol / HDL ratio, tch.",
    "s5": "Log of serum triglycerides level, ltg.",
    "s6": "Blood sugar level, glu (mg/dL).",
}


def load_breast_cancer(*, as_frame: bool = False, return_X_y: bool = False):
    """Load Breast Cancer Wisconsin (Diagnostic): 569 tumours, 30 nucleus features, malignant vs benign.

    Args:
        as_frame: return ``data`` as a pandas DataFrame and ``target`` as a Series
            (and ``frame`` with both), instead of NumPy arrays.
        return_X_y: return ``(data, target)`` instead of a Bunch.

    Returns:
        A :class:`Bunch` with ``data`` (float64, (569, 30)), ``target`` (int64, (569,),
        0 = malignant, 1 = benign), ``labels`` (same as ``target``), ``feature_names``
        (30 str), ``feature_descriptions`` (dict name -> sentence), ``label_names`` and
        ``target_names`` (``["malignant", "benign"]``), ``task`` (``"binary-class"``),
        ``frame`` (DataFrame or None), ``DESCR`` and ``info``. Its repr is a dataset card.

    Example:
        >>> data = load_breast_cancer()
        >>> data.data.shape, data.label_names
        ((569, 30), ['malignant', 'benign'])

    Used in lessons 01-05.
    """
    from sklearn import datasets as skd

    raw = skd.load_breast_cancer(as_frame=as_frame)
    return _bunch(raw, "breast_cancer", BREAST_CANCER_FEATURES, as_frame, return_X_y)


def load_diabetes(*, as_frame: bool = False, return_X_y: bool = False, scaled: bool = False):
    """Load the diabetes data: 442 patients, 10 baseline measurements, progression after one year.

    Args:
        as_frame: return pandas objects instead of NumPy arrays.
        return_X_y: return ``(data, target)`` instead of a Bunch.
        scaled: ``False`` (default) keeps raw clinical units (age in years, BMI...);
            ``True`` gives scikit-learn's mean-centred, norm-scaled columns.

    Returns:
        A :class:`Bunch` with ``data`` (float64, (442, 10)), ``target`` (float64, (442,),
        a quantitative disease-progression score, 25..346), ``feature_names``,
        ``feature_descriptions``, ``label_names`` (empty: regression), ``task``
        (``"regression"``), ``frame``, ``DESCR`` and ``info``.

    Example:
        >>> load_diabetes().data.shape
        (442, 10)

    Used in lesson 02.
    """
    from sklearn import datasets as skd

    raw = skd.load_diabetes(as_frame=as_frame, scaled=scaled)
    return _bunch(raw, "diabetes", DIABETES_FEATURES, as_frame, return_X_y)


def _bunch(raw, name, descriptions, as_frame, return_X_y):
    entry = info(name)
    data, target = raw.data, raw.target
    if entry["task"] != "regression" and not as_frame:
        target = np.asarray(target, dtype=np.int64)
    if return_X_y:
        return data, target
    names = [str(n) for n in raw.feature_names]
    return Bunch(
        data=data, target=target, labels=target, feature_names=names,
        feature_descriptions={n: descriptions[n] for n in names},
        label_names=list(entry["label_names"]), target_names=list(entry["label_names"]),
        task=entry["task"], frame=raw.get("frame"), DESCR=raw.DESCR, name=name, info=entry,
    )
