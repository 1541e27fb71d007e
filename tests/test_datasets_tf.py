"""to_tf_dataset: batches, scaling, label encoding, shuffling and masks (imports TensorFlow)."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
pytestmark = pytest.mark.slow
tf = pytest.importorskip("tensorflow")

from medlearn.datasets import DatasetError, make_phantoms, to_arrays, to_tf_dataset  # noqa: E402


@pytest.fixture(scope="module")
def split():
    return make_phantoms(50, seed=4)


def test_batches_match_to_arrays_when_not_shuffled(split):
    x, y = to_arrays(split)
    batches = list(to_tf_dataset(split, batch_size=16, shuffle=False).as_numpy_iterator())
    assert [len(b[0]) for b in batches] == [16, 16, 16, 2]
    xb = np.concatenate([b[0] for b in batches])
    yb = np.concatenate([b[1] for b in batches])
    assert xb.dtype == np.float32 and xb.shape == (50, 28, 28, 1)
    np.testing.assert_allclose(xb, x, atol=1e-7)
    np.testing.assert_array_equal(yb, y)


def test_float_images_are_scaled_as_to_arrays_scales_them(split):
    """Float images already in [0, 1] stay there (they were divided by 255 a second time)."""
    floats = {**split, "images": split.images.astype(np.float32) / 255.0}
    x, _ = to_arrays(floats)
    xb = np.concatenate([b[0] for b in to_tf_dataset(floats, batch_size=16, shuffle=False).as_numpy_iterator()])
    np.testing.assert_allclose(xb, x, atol=1e-7)
    assert 0.5 < xb.max() <= 1.0


def test_shuffle_is_seeded_and_keeps_pairs(split):
    one = np.concatenate([b[1] for b in to_tf_dataset(split, batch_size=50, seed=1).as_numpy_iterator()])
    two = np.concatenate([b[1] for b in to_tf_dataset(split, batch_size=50, seed=1).as_numpy_iterator()])
    np.testing.assert_array_equal(one, two)
    xb, yb = next(to_tf_dataset(split, batch_size=50, seed=3).as_numpy_iterator())
    order = [int(np.flatnonzero((split.images == np.rint(img[..., 0] * 255)).all(axis=(1, 2)))[0]) for img in xb]
    assert sorted(order) == list(range(50)) and order != list(range(50))
    np.testing.assert_array_equal(yb, split.labels[order])


def test_one_hot_masks_and_augment(split):
    _, yb = next(to_tf_dataset(split, batch_size=8, shuffle=False, one_hot=True).as_numpy_iterator())
    assert yb.shape == (8, 2) and yb.dtype == np.float32
    _, mb = next(to_tf_dataset(split, batch_size=8, shuffle=False, target="masks").as_numpy_iterator())
    assert mb.shape == (8, 28, 28, 1) and mb.dtype == np.float32
    np.testing.assert_array_equal(mb[..., 0], split.masks[:8])
    xb, _ = next(to_tf_dataset(split, batch_size=8, shuffle=False, augment=lambda x: 1.0 - x).as_numpy_iterator())
    np.testing.assert_allclose(xb[..., 0], 1.0 - split.images[:8] / 255.0, atol=1e-6)
    with pytest.raises(DatasetError, match="misalign the masks"):
        to_tf_dataset(split, target="masks", augment=lambda x: x)
    with pytest.raises(DatasetError, match="batch_size must be a positive int"):
        to_tf_dataset(split, batch_size=0)
