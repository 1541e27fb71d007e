"""Corruptions: shapes, determinism, monotone severity, the identity at 0 and clear errors."""
from __future__ import annotations

import numpy as np
import pytest

from medlearn.datasets import CORRUPTIONS, corrupt, corruptions_for, load_phantoms
from medlearn.datasets.corruptions import CorruptionError
from medlearn.errors import MedlearnError


@pytest.fixture(scope="module")
def images():
    return load_phantoms("test").images[:64]


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_every_kind_is_uint8_deterministic_and_worse_with_severity(images, kind):
    distances = []
    for severity in range(1, 6):
        out = corrupt(images, kind, severity, seed=3)
        assert out.dtype == np.uint8 and out.shape == images.shape
        np.testing.assert_array_equal(out, corrupt(images, kind, severity, seed=3))
        distances.append(np.abs(out.astype(float) - images).mean())
    assert distances[0] > 0
    assert distances[-1] > distances[0] * 1.5, distances          # severity 5 is clearly worse than 1
    assert np.all(np.diff(distances) > -0.5), distances           # and never clearly better on the way


def test_seed_changes_noise_only(images):
    assert not np.array_equal(corrupt(images, "gaussian_noise", 3, seed=0), corrupt(images, "gaussian_noise", 3, seed=1))
    np.testing.assert_array_equal(corrupt(images, "contrast", 3, seed=0), corrupt(images, "contrast", 3, seed=1))


def test_severity_zero_is_a_copy_and_shapes(images):
    out = corrupt(images, "blur", 0)
    np.testing.assert_array_equal(out, images)
    assert out is not images
    assert corrupt(images[0], "pixelate", 4).shape == images[0].shape
    rgb = np.repeat(images[:4, :, :, None], 3, axis=3)
    for kind in CORRUPTIONS:
        assert corrupt(rgb, kind, 2).shape == rgb.shape


def test_definitions(images):
    x = images.astype(float)
    c = corrupt(images, "contrast", 5).astype(float)               # contrast kept 0.2 around the mean
    assert np.allclose(c.std(axis=(1, 2)), 0.2 * x.std(axis=(1, 2)), rtol=0.05, atol=1.0)
    d = corrupt(images, "darkness", 1).astype(float)
    assert np.allclose(d, np.clip(np.rint(x * 0.85), 0, 255), atol=1)
    b = corrupt(images, "blur", 5).astype(float)
    assert np.abs(np.diff(b, axis=2)).mean() < 0.5 * np.abs(np.diff(x, axis=2)).mean()
    p = corrupt(images, "pixelate", 5)                             # 28 -> 10 blocks: runs of equal pixels
    assert len(np.unique(p[0], axis=1)[0]) <= 10 and len(np.unique(p[0], axis=0)) <= 10
    noisy = corrupt(images, "gaussian_noise", 2).astype(float) - x
    assert 0.05 * 255 < noisy.std() < 0.07 * 255


def test_modality_defaults():
    assert "speckle_noise" in corruptions_for("breast ultrasound")
    assert "poisson_noise" in corruptions_for("chest X-ray") and "speckle_noise" not in corruptions_for("chest X-ray")
    assert set(corruptions_for(None)) <= set(CORRUPTIONS)


@pytest.mark.parametrize("kwargs, match", [
    (dict(kind="fog", severity=1), r"kind must be one of gaussian_noise, .*pixelate. Received: kind='fog'"),
    (dict(kind="blur", severity=6), r"severity must be one of 1, 2, 3, 4, 5.*severity=6"),
    (dict(kind="blur", severity=2.0), r"severity=2.0"),
])
def test_bad_kind_or_severity(images, kwargs, match):
    with pytest.raises(CorruptionError, match=match) as info:
        corrupt(images, **kwargs)
    assert isinstance(info.value, MedlearnError)


def test_float_images_are_refused(images):
    with pytest.raises(CorruptionError, match="uint8"):
        corrupt(images / 255.0, "blur", 1)
