"""medlearn.train.batches: the uint8 -> float conversion that train_model and Batches use."""
from __future__ import annotations

import numpy as np
import pytest

from medlearn.train.batches import Batches, as_float_nhwc

IMAGES = np.arange(24, dtype=np.uint8).reshape(6, 2, 2) * 10  # 0..230


@pytest.mark.parametrize("scale, expected", [(None, IMAGES / np.float32(255.0)), (1.0, IMAGES * 1.0),
                                             (0.5, IMAGES * 0.5)])
def test_as_float_nhwc_scales_uint8_exactly(scale, expected):
    x = as_float_nhwc(IMAGES, scale=scale)
    assert x.dtype == np.float32 and x.shape == (6, 2, 2, 1)
    np.testing.assert_array_equal(x[..., 0], expected.astype(np.float32))
    assert not np.shares_memory(x, IMAGES) and IMAGES.max() == 230   # a copy; the input is untouched


def test_as_float_nhwc_keeps_float_input_and_rgb():
    f = np.random.default_rng(0).random((3, 4, 4, 3)).astype(np.float32)
    assert as_float_nhwc(f) is f or np.shares_memory(as_float_nhwc(f), f)   # float: no copy
    rgb = np.full((2, 3, 3, 3), 255, np.uint8)
    assert as_float_nhwc(rgb).shape == (2, 3, 3, 3) and as_float_nhwc(rgb).max() == 1.0


def test_batches_with_scale_one_feed_0_to_255_with_sample_weights():
    targets = np.arange(6, dtype=np.float32)[:, None]
    weights = np.arange(6, dtype=np.float32) + 1
    b = Batches(IMAGES, targets, weights, batch_size=4, steps_per_epoch=3, seed=1, scale=1.0)
    for i in range(len(b)):
        x, y, w = b[i]
        assert x.dtype == np.float32 and x.shape == (4, 2, 2, 1)
        k = y[:, 0].astype(int)
        np.testing.assert_array_equal(x[..., 0], IMAGES[k].astype(np.float32))   # the right image, 0..255
        np.testing.assert_array_equal(w, weights[k])


def test_mixup_blends_images_targets_and_weights_with_one_share_per_image():
    images = (np.arange(6, dtype=np.uint8) * 40)[:, None, None].repeat(2, 1).repeat(2, 2)   # image i is all 40 i
    targets, weights = np.eye(6, dtype=np.float32), np.arange(6, dtype=np.float32) + 1
    plain = Batches(images, targets, weights, batch_size=4, steps_per_epoch=3, seed=1, scale=1.0)
    mixed = Batches(images, targets, weights, batch_size=4, steps_per_epoch=3, seed=1, scale=1.0, mixup=0.4)
    np.testing.assert_array_equal(mixed._order, plain._order)   # mixup does not change which images come
    shares = []
    for i in range(len(mixed)):
        x, y, w = mixed[i]
        assert x.shape == (4, 2, 2, 1) and y.shape == (4, 6)
        np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)
        assert ((y > 0).sum(axis=1) <= 2).all() and (y >= 0).all()      # each image blends with one partner
        np.testing.assert_allclose(x[:, 0, 0, 0], y @ (np.arange(6) * 40.0), rtol=1e-5)   # the same share ...
        np.testing.assert_allclose(w, y @ weights, rtol=1e-5)                            # ... for all three
        shares += list(y.max(axis=1))
    assert min(shares) < 0.99   # images are really blended, not passed through


@pytest.mark.parametrize("bad", [0, -0.2, True, "0.2"])
def test_plan_training_rejects_a_bad_mixup(bad):
    from medlearn.datasets import load_phantoms
    from medlearn.train import TrainError
    from medlearn.train.steps import plan_training, prepare_splits

    splits = prepare_splits(load_phantoms())
    with pytest.raises(TrainError, match="mixup must be"):
        plan_training(splits, mixup=bad)
    assert plan_training(splits, mixup=0.2).mixup == 0.2
