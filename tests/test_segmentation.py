"""medlearn.metrics.segmentation (Dice, IoU, detection with CIs), the U-Net and the Dice losses."""
from __future__ import annotations

import numpy as np
import pytest

from medlearn.datasets import make_phantoms
from medlearn.metrics.segmentation import (
    SegmentationError, dice, find_lesions, iou, match_lesions, segmentation_report,
)


def _square(h=10, w=10, r=2, c=2, s=3):
    m = np.zeros((h, w), np.uint8)
    m[r:r + s, c:c + s] = 1
    return m


def test_dice_and_iou_values_and_empty_case():
    a, b = _square(), _square(r=3)                     # 9 px each, overlap 6
    assert dice(a, b) == pytest.approx(2 * 6 / 18)
    assert iou(a, b) == pytest.approx(6 / 12)
    d = dice(a, b)
    assert iou(a, b) == pytest.approx(d / (2 - d))     # IoU = D / (2 - D)
    empty = np.zeros_like(a)
    assert dice(empty, empty) == 1.0 and iou(empty, empty) == 1.0          # nothing to find, nothing found
    assert dice(empty, empty, empty=np.nan) != dice(empty, empty, empty=np.nan)   # NaN on request
    assert dice(empty, a) == 0.0 and dice(a, empty) == 0.0
    probs = a * 0.7 + 0.1
    assert dice(a, probs) == 1.0 and dice(a, probs, threshold=0.9) == 0.0
    batch = dice(np.stack([a, empty, a]), np.stack([b, empty, empty]))
    assert batch.shape == (3,) and np.allclose(batch, [2 / 3, 1, 0])


def test_metric_bad_input():
    with pytest.raises(SegmentationError, match=r"y_pred\.shape=\(10, 9\)"):
        dice(_square(), np.zeros((10, 9)))
    with pytest.raises(SegmentationError, match="numeric"):
        iou(_square(), np.array([["a"] * 10] * 10))
    with pytest.raises(SegmentationError, match="one \\(H, W\\) image"):
        find_lesions(np.zeros((2, 4, 4)))
    with pytest.raises(SegmentationError, match="true_centres"):
        segmentation_report(np.zeros((3, 4, 4)), np.zeros((3, 4, 4)), true_centres=np.zeros((2, 2)))


def test_find_lesions_components_centres_connectivity():
    m = np.zeros((12, 12), np.uint8)
    m[1:4, 1:4] = 1                     # centre (2, 2), area 9
    m[8, 8] = m[9, 9] = 1               # touch diagonally: one lesion with 8-connectivity
    centres, areas = find_lesions(m)
    assert np.allclose(centres, [[2, 2], [8.5, 8.5]]) and areas.tolist() == [9, 2]
    assert len(find_lesions(m, connectivity=4)[0]) == 3
    assert len(find_lesions(m, min_area=3)[0]) == 1
    c, a = find_lesions(np.zeros((5, 5)))
    assert c.shape == (0, 2) and a.shape == (0,)


def test_find_lesions_recovers_exact_phantom_centres():
    data = make_phantoms(40, seed=3, task="segmentation")
    errors = []
    for mask, true in zip(data.masks, data.lesion_centers):
        centres, _ = find_lesions(mask)
        assert len(centres) == 1
        errors.append(np.linalg.norm(centres[0] - true))
    assert max(errors) < 0.5                            # the mask is the exact disc


def test_match_lesions():
    hits, fp, err = match_lesions([[2, 2], [9, 9], [5, 0]], [[2.5, 2], [9, 8], [np.nan, np.nan]], max_distance=1.5)
    assert hits == 2 and fp == 1 and np.allclose(sorted(err), [0.5, 1.0])
    assert match_lesions([[0, 0]], [[0, 3]], max_distance=2) == (0, 1, pytest.approx(np.zeros(0)))
    # one detection cannot count for two lesions
    hits, fp, _ = match_lesions([[5, 5]], [[5, 4], [5, 6]], max_distance=2)
    assert hits == 1 and fp == 0
    hits, fp, _ = match_lesions(np.zeros((0, 2)), [[1, 1]], max_distance=2)
    assert hits == 0 and fp == 0


def test_segmentation_report_perfect_and_broken_predictions():
    data = make_phantoms(60, seed=4, lesion_fraction=0.5)
    perfect = segmentation_report(data.masks, data.masks.astype(float), true_centres=data.lesion_centers,
                                  true_radii=data.lesion_radii, n_bootstrap=200)
    assert perfect.dice.value == 1.0 and perfect.iou.value == 1.0
    assert perfect.detection_sensitivity.value == 1.0 and perfect.false_positives_per_image.value == 0.0
    assert perfect.centre_error < 0.5
    # shift every mask by 5 pixels and add a false blob to each image
    moved = np.roll(data.masks, 5, axis=2).astype(float)
    moved[:, 0:2, 0:2] = 1
    rep = segmentation_report(data.masks, moved, true_centres=data.lesion_centers, n_bootstrap=300, seed=1)
    assert rep.dice.value < 0.5 and rep.dice.low <= rep.dice.value <= rep.dice.high
    assert rep.false_positives_per_image.value >= 1.0
    assert rep.detection_sensitivity.value < 0.5
    assert set(rep.to_dict()) >= {"dice", "iou", "detection_sensitivity", "false_positives_per_image"}
    assert "Dice" in str(rep) and "false positives / image" in str(rep)
    no_det = segmentation_report(data.masks, data.masks[..., None], n_bootstrap=0)   # (N, H, W, 1) probabilities
    assert no_det.detection_sensitivity is None and np.isnan(no_det.dice.low)


# ---------------------------------------------------------------- U-Net and losses
keras = pytest.importorskip("keras")


def test_unet_shapes_skips_and_registry():
    from medlearn.models import ModelError, build_model
    from medlearn.models.unet import unet_shapes

    model = build_model("unet", (28, 28), 1, "segmentation", filters=(8, 16, 32))
    assert model.output_shape == (None, 28, 28, 1)
    shapes = unet_shapes((28, 28), (8, 16, 32))
    assert shapes["encoder"] == [(28, 28, 8), (14, 14, 16)] and shapes["bottleneck"] == (7, 7, 32)
    concats = [layer for layer in model.layers if type(layer).__name__ == "Concatenate"]
    assert [tuple(c.output.shape[1:]) for c in concats] == [(14, 14, 32), (28, 28, 16)]   # up + skip channels
    assert [c.axis for c in concats] == [-1, -1]
    x = make_phantoms(4, seed=0).images[..., None]
    p = keras.ops.convert_to_numpy(model(x, training=False))
    assert p.dtype == np.float32 and 0 <= p.min() and p.max() <= 1
    with pytest.raises(ModelError, match="divisible by 2\\*\\*3"):
        build_model("unet", (28, 28), 1, "segmentation", filters=(8, 16, 32, 64))
    with pytest.raises(ModelError, match="task must be 'segmentation'"):
        build_model("unet", (28, 28), 1, "binary")


def test_unet_learns_a_little_with_dice_bce():
    from medlearn.models import build_model

    data = make_phantoms(96, seed=5, task="segmentation")
    model = build_model("unet", (28, 28), 1, "segmentation", filters=(8, 16, 32), seed=0, learning_rate=3e-3)
    hist = model.fit(data.images[..., None], data.masks[..., None], epochs=3, batch_size=16, verbose=0)
    assert all(np.isfinite(hist.history["loss"])) and hist.history["loss"][-1] < hist.history["loss"][0]


def test_soft_dice_loss_gradient_against_finite_differences():
    from medlearn.explain._common import score_gradients
    from medlearn.models.losses import segmentation_loss, soft_dice_loss

    rng = np.random.default_rng(0)
    y = np.zeros((2, 6, 6, 1))
    y[1, 2:4, 2:4] = 1                                    # image 0: no lesion, the smoothing keeps it finite
    p = rng.uniform(0.05, 0.95, y.shape)
    fn = lambda q, _: soft_dice_loss(y.astype("float32"), q)                       # noqa: E731
    _, grad = score_gradients(fn, p, np.ones((2, 1)))
    ref = lambda q: np.sum(1 - (2 * (y * q).sum((1, 2, 3)) + 1) / (y.sum((1, 2, 3)) + q.sum((1, 2, 3)) + 1))  # noqa: E731
    fd = np.zeros_like(p)
    for i in np.ndindex(p.shape):
        q = p.copy(); q[i] += 1e-5; up = ref(q); q[i] -= 2e-5                     # noqa: E702
        fd[i] = (up - ref(q)) / 2e-5
    assert np.allclose(grad, fd, atol=1e-5)
    assert np.isfinite(keras.ops.convert_to_numpy(soft_dice_loss(y, np.zeros_like(y)))).all()
    from medlearn.models import ModelError

    with pytest.raises(ModelError, match="loss must be one of"):
        segmentation_loss("focal")
    assert keras.ops.convert_to_numpy(segmentation_loss("dice")(y, y)) == pytest.approx(0.0, abs=1e-6)
