"""Tabular loaders, scikit-image sample images, DICOM in Hounsfield units, and CT windowing."""
from __future__ import annotations

import numpy as np
import pytest

from medlearn.datasets import (DatasetError, WINDOW_PRESETS, load_breast_cancer, load_diabetes, load_dicom,
                               load_sample_image, window)


def test_breast_cancer_matches_scikit_learn():
    from sklearn.datasets import load_breast_cancer as sk

    oracle = sk()
    data = load_breast_cancer()
    np.testing.assert_array_equal(data.data, oracle.data)
    np.testing.assert_array_equal(data.target, oracle.target)
    assert data.target.dtype == np.int64 and data.label_names == list(oracle.target_names)
    assert set(data.feature_descriptions) == set(oracle.feature_names)
    assert "outline" in data.feature_descriptions["mean radius"]
    card = repr(data)
    assert "malignant" in card and "212" in card and "357" in card          # class counts
    x, y = load_breast_cancer(return_X_y=True)
    assert x.shape == (569, 30) and y.shape == (569,)


def test_breast_cancer_as_frame():
    data = load_breast_cancer(as_frame=True)
    assert data.data.shape == (569, 30) and list(data.data.columns) == data.feature_names
    assert data.frame.shape == (569, 31) and data.target.name == "target"


def test_diabetes_raw_units_by_default():
    from sklearn.datasets import load_diabetes as sk

    data = load_diabetes()
    np.testing.assert_allclose(data.data, sk(scaled=False).data)
    assert 19 <= data.data[:, 0].min() and data.data[:, 0].max() <= 79          # age in years
    assert data.task == "regression" and data.label_names == []
    np.testing.assert_allclose(load_diabetes(scaled=True).data, sk().data)
    assert "Body mass index" in data.feature_descriptions["bmi"]
    assert load_diabetes(as_frame=True).frame.shape == (442, 11)


@pytest.mark.parametrize("name, shape", [("retina", (1411, 1411, 3)), ("immunohistochemistry", (512, 512, 3)),
                                         ("microaneurysms", (102, 102))])
def test_sample_images_inside_the_wheel_load_offline(name, shape, monkeypatch):
    monkeypatch.setenv("MEDLEARN_OFFLINE", "1")
    sample = load_sample_image(name)
    assert sample.image.shape == shape and sample.image.dtype == np.uint8
    assert sample.info["license"] and "Licence" in repr(sample)


def test_sample_image_not_in_the_wheel_offline_is_actionable(monkeypatch, tmp_path):
    from medlearn.datasets import images

    monkeypatch.setenv("MEDLEARN_OFFLINE", "1")
    monkeypatch.setattr(images, "_skimage_cache", lambda: tmp_path)
    with pytest.raises(DatasetError) as err:
        load_sample_image("brain")
    msg = str(err.value)
    assert "MEDLEARN_OFFLINE" in msg and "https://" in msg and str(tmp_path / "brain.tiff") in msg
    with pytest.raises(DatasetError, match="Did you mean 'retina'"):
        load_sample_image("retna")


def test_ct_slice_in_hounsfield_units():
    import pydicom
    from pydicom.data import get_testdata_file

    raw = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ct = load_dicom("ct_small")
    expected = raw.pixel_array * float(raw.RescaleSlope) + float(raw.RescaleIntercept)
    np.testing.assert_array_equal(ct.image, expected.astype(np.float32))
    assert ct.units == "HU" and ct.modality == "CT" and ct.image.dtype == np.float32
    assert ct.pixel_spacing == tuple(float(v) for v in raw.PixelSpacing)
    assert ct.image.min() < -500 and ct.image.max() > 500            # air/lung and bone are both there
    assert "HU" in repr(ct) and "mm per pixel" in repr(ct)
    assert np.array_equal(load_dicom("CT_small.dcm").image, ct.image)
    assert np.array_equal(load_dicom(get_testdata_file("CT_small.dcm")).image, ct.image)


def test_mr_slice_and_window_from_file():
    mr = load_dicom("mr_small")
    assert mr.units == "arbitrary" and mr.image.shape == (64, 64) and mr.pixel_spacing == (0.3125, 0.3125)
    assert mr.window_center == 600.0 and mr.window_width == 1600.0


def test_dicom_errors(tmp_path):
    with pytest.raises(DatasetError, match="Did you mean 'ct_small'"):
        load_dicom("ct")
    bogus = tmp_path / "x.dcm"
    bogus.write_bytes(b"not dicom at all" * 10)
    with pytest.raises(DatasetError, match="not a DICOM file"):
        load_dicom(bogus)
    with pytest.raises(DatasetError, match="path_or_name"):
        load_dicom(42)


def test_window_maps_level_and_width_linearly():
    hu = np.array([-2000.0, -160.0, 40.0, 240.0, 3000.0])
    out = window(hu, "mediastinum")                           # L 40, W 400 -> [-160, 240]
    np.testing.assert_allclose(out, [0.0, 0.0, 0.5, 1.0, 1.0])
    assert out.dtype == np.float32
    np.testing.assert_allclose(window(hu, level=0.0, width=4000.0), np.clip((hu + 2000) / 4000, 0, 1), rtol=1e-6)
    lung = window(load_dicom("ct_small"), "lung")
    assert lung.shape == (128, 128) and 0.0 <= lung.min() and lung.max() <= 1.0
    assert set(WINDOW_PRESETS) >= {"lung", "mediastinum", "soft_tissue", "bone", "brain"}


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(preset="lungs"), "Did you mean 'lung'"),
    (dict(level=40.0), "needs a preset or both"),
    (dict(level=40.0, width=-1.0), "width must be > 0"),
    (dict(preset="bone", level=1.0), "either preset or level/width"),
])
def test_window_errors(kwargs, pattern):
    with pytest.raises(DatasetError, match=pattern):
        window(np.zeros(3), **kwargs)
