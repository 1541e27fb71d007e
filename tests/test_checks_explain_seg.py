"""explain.* (lesson 09) and segmentation.* (lesson 10) exercises: the reference solutions pass, the classic
wrong answers fail with the hint that names the mistake."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from medlearn.checks import get_exercise, list_exercises
from check_helpers import assert_passes as _passes, failing_hint as _hint

IDS = ["explain.grad_cam", "explain.pointing", "segmentation.dice", "segmentation.soft_dice",
       "segmentation.upsampled_size", "segmentation.lesion_centres"]


def test_registered_with_plain_cases_and_forbidden_library():
    assert set(IDS) <= set(list_exercises())
    for i in IDS:
        ex = get_exercise(i)
        cases = ex.make_cases(np.random.default_rng(3))
        assert cases and all(isinstance(c, dict) for c in cases)
        for case in cases:
            for v in case.values():
                assert isinstance(v, (int, float, np.ndarray)), (i, type(v))
        if "forbidden" in type(ex).__dataclass_fields__:
            assert any(f.startswith("medlearn.") for f in ex.forbidden), i


def test_not_implemented_is_a_fail():
    def stub(*args):
        raise NotImplementedError()

    for i in IDS:
        assert "NotImplementedError" in _hint(i, stub)


# ---------------------------------------------------------------- explain.grad_cam
def cam_ok(features, gradients):
    alpha = gradients.mean(axis=(0, 1))
    return np.maximum(np.tensordot(features, alpha, axes=([2], [0])), 0)


@pytest.mark.parametrize("answer, fragment", [
    (lambda a, g: (a * g.mean(axis=(0, 1))).sum(-1), "ReLU"),                              # ReLU forgotten
    (lambda a, g: np.abs((a * g.mean(axis=(0, 1))).sum(-1)), "absolute value"),
    (lambda a, g: np.maximum((a * g).sum(-1), 0), "average the gradient over all"),       # not averaged
    (lambda a, g: np.maximum((a * g.sum(axis=(0, 1))).sum(-1), 0), "not the sum"),
    (lambda a, g: np.maximum((a * g.mean(axis=(0, 1))).mean(-1), 0), "do not average them"),
    (lambda a, g: np.maximum(g.mean(-1) * a.sum(-1), 0), "channel axis"),
    (lambda a, g: np.maximum((a * np.maximum(g.mean(axis=(0, 1)), 0)).sum(-1), 0), "not on the channel weights"),
    (lambda a, g: (lambda m: m / m.max())(np.maximum((a * g.mean(axis=(0, 1))).sum(-1), 0)), "normalising"),
    (lambda a, g: np.maximum((a * g.mean(axis=(0, 1))).sum(-1), 0).T, "transposed"),
    (lambda a, g: np.maximum((a * g.mean(axis=(0, 1))).sum(-1), 0) + 0.1, "Wrong values"),
])
def test_grad_cam_exercise_wrong_answers(answer, fragment):
    _passes("explain.grad_cam", cam_ok)
    assert fragment in _hint("explain.grad_cam", answer)


def test_grad_cam_exercise_agrees_with_the_library_parts():
    from medlearn.explain import cam_from_parts

    rng = np.random.default_rng(0)
    a, g = rng.uniform(0, 1, (5, 6, 3)), rng.normal(size=(5, 6, 3))
    assert np.allclose(cam_ok(a, g), cam_from_parts(a, g))


# ---------------------------------------------------------------- explain.pointing
def pointing_ok(maps, masks):
    n = len(maps)
    hits = np.zeros(n, bool)
    for i in range(n):
        r, c = np.unravel_index(np.argmax(maps[i]), maps[i].shape)
        hits[i] = masks[i, r, c] > 0
    return hits


def pointing_swapped(maps, masks):
    out = []
    for m, k in zip(maps, masks):
        r, c = np.unravel_index(np.argmax(m), m.shape)
        out.append(k[c, r] > 0 if c < k.shape[0] and r < k.shape[1] else False)
    return np.array(out)


def test_pointing_exercise():
    _passes("explain.pointing", pointing_ok)
    assert "minimum" in _hint("explain.pointing", lambda m, k: pointing_ok(-m, k))
    assert "swapped" in _hint("explain.pointing", pointing_swapped)
    assert "not the hit rate" in _hint("explain.pointing", lambda m, k: pointing_ok(m, k).mean())


def test_pointing_exercise_agrees_with_pointing_game():
    from medlearn.explain import pointing_game

    case = get_exercise("explain.pointing").make_cases(np.random.default_rng(0))[0]
    res = pointing_game(case["maps"], case["masks"], n_bootstrap=0)
    assert res.hit_rate == pytest.approx(pointing_ok(case["maps"], case["masks"]).mean())


# ---------------------------------------------------------------- segmentation.dice
def dice_ok(t, p):
    t, p = t.astype(bool), p.astype(bool)
    denom = t.sum() + p.sum()
    return 1.0 if denom == 0 else 2 * (t & p).sum() / denom


def test_dice_exercise():
    _passes("segmentation.dice", dice_ok)
    with np.errstate(all="ignore"):
        no_empty = lambda t, p: 2 * (t * p).sum() / (t.sum() + p.sum())                      # noqa: E731
    assert "NaN" in _hint("segmentation.dice", no_empty)
    assert "perfect or a failed" in _hint("segmentation.dice", lambda t, p: 0.0 if t.sum() + p.sum() == 0 else dice_ok(t, p))
    iou = lambda t, p: 1.0 if (t | p).sum() == 0 else (t & p).sum() / (t | p).sum()             # noqa: E731
    assert "IoU" in _hint("segmentation.dice", iou)
    assert "factor of 2" in _hint("segmentation.dice", lambda t, p: dice_ok(t, p) / 2)
    smooth = lambda t, p: (2 * (t * p).sum() + 1) / (t.sum() + p.sum() + 1)                      # noqa: E731
    assert "smoothing belongs in the *loss*" in _hint("segmentation.dice", smooth)


def test_dice_exercise_agrees_with_metrics():
    from medlearn.metrics.segmentation import dice

    case = get_exercise("segmentation.dice").make_cases(np.random.default_rng(0))[0]
    lib = dice(case["y_true"], case["y_pred"])
    assert np.allclose(lib, [dice_ok(t, p) for t, p in zip(case["y_true"], case["y_pred"])])


# ---------------------------------------------------------------- segmentation.soft_dice
def soft_ok(y, p, s, per_image=True, sign=1.0, reduce="mean", quotient=True, smooth=True):
    n = len(y)
    fy, fp = y.reshape(n, -1), p.reshape(n, -1)
    s_ = s if smooth else 0.0
    num = 2 * (fy * fp).sum(1, keepdims=True) + s_
    den = fy.sum(1, keepdims=True) + fp.sum(1, keepdims=True) + s_
    loss = 1 - num / den
    grad = -(2 * fy * den - (num if quotient else 0)) / den ** 2
    scale = 1 / n if reduce == "mean" else 1.0
    return float(loss.mean() if reduce == "mean" else loss.sum()), sign * (grad * scale).reshape(p.shape)


def test_soft_dice_exercise():
    _passes("segmentation.soft_dice", soft_ok)
    with np.errstate(all="ignore"):
        assert "smoothing" in _hint("segmentation.soft_dice", lambda y, p, s: soft_ok(y, p, s, smooth=False))
    assert "wrong sign" in _hint("segmentation.soft_dice", lambda y, p, s: soft_ok(y, p, s, sign=-1))
    assert "you summed" in _hint("segmentation.soft_dice", lambda y, p, s: soft_ok(y, p, s, reduce="sum"))
    assert "quotient rule" in _hint("segmentation.soft_dice", lambda y, p, s: soft_ok(y, p, s, quotient=False))
    hard = lambda y, p, s: (soft_ok(y, (p >= 0.5).astype(float), s)[0], np.zeros_like(p))           # noqa: E731
    assert "thresholded" in _hint("segmentation.soft_dice", hard)
    assert "zero" in _hint("segmentation.soft_dice", lambda y, p, s: (soft_ok(y, p, s)[0], np.zeros_like(p)))

    def pooled(y, p, s):
        loss = 1 - (2 * (y * p).sum() + s) / (y.sum() + p.sum() + s)
        return loss, soft_ok(y, p, s)[1]

    assert "per image" in _hint("segmentation.soft_dice", pooled)
    assert "1 - Dice" in _hint("segmentation.soft_dice", lambda y, p, s: (1 - soft_ok(y, p, s)[0], soft_ok(y, p, s)[1]))


def test_soft_dice_keras_loss_matches_the_exercise_reference():
    keras = pytest.importorskip("keras")
    from medlearn.checks.segmentation import soft_dice_reference
    from medlearn.models.losses import dice_bce_loss, soft_dice_loss

    case = get_exercise("segmentation.soft_dice").make_cases(np.random.default_rng(0))[0]
    y, p = case["y_true"].astype("float32"), case["p"].astype("float32")
    per_image = keras.ops.convert_to_numpy(soft_dice_loss(y, p, 1.0))
    assert per_image.shape == (len(y),)
    assert per_image.mean() == pytest.approx(soft_dice_reference(case["y_true"], case["p"], 1.0), rel=1e-5)
    both = keras.ops.convert_to_numpy(dice_bce_loss(y[..., None], p[..., None]))
    bce = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p), axis=(1, 2))
    assert np.allclose(both, per_image + bce, rtol=1e-5)


# ---------------------------------------------------------------- segmentation.upsampled_size
def size_variant(**wrong):
    """The output-size answer; keyword flags make it one of the classic wrong answers."""
    def answer(n, stack):
        for layer in stack:
            if layer[0] == "upsample":
                n *= layer[1]
                continue
            kind, k, s, pad = layer
            if kind == "conv_transpose":
                if pad == "same":
                    n = (n - 1) * s + k if wrong.get("same_kernel") else n * s
                else:
                    n = n * s if wrong.get("no_kernel") else (n - 1) * s + max(k, s)
            else:
                n = -(-n // s) if pad == "same" else (n - k + 1 if wrong.get("no_stride") else (n - k) // s + 1)
        return n
    return answer


size_ok = size_variant()


def test_upsampled_size_exercise():
    _passes("segmentation.upsampled_size", size_ok)
    variant = size_variant
    assert "(n - 1) * s + k, not n * s" in _hint("segmentation.upsampled_size", variant(no_kernel=True))
    assert "exactly n * s" in _hint("segmentation.upsampled_size", variant(same_kernel=True))
    assert "floor((n - k) / s) + 1" in _hint("segmentation.upsampled_size", variant(no_stride=True))


def test_upsampled_size_reference_is_what_keras_builds():
    keras = pytest.importorskip("keras")
    from medlearn.checks.segmentation import STACK_KINDS, output_size_reference

    for case in get_exercise("segmentation.upsampled_size").make_cases(np.random.default_rng(5)):
        x = inp = keras.Input((int(case["size"]), int(case["size"]), 1))
        for kind, k, s, same in case["stack"]:
            name, pad = STACK_KINDS[int(kind)], "same" if same else "valid"
            if name == "upsample":
                x = keras.layers.UpSampling2D(int(k))(x)
            elif name == "conv_transpose":
                x = keras.layers.Conv2DTranspose(1, int(k), strides=int(s), padding=pad)(x)
            else:
                x = keras.layers.Conv2D(1, int(k), strides=int(s), padding=pad)(x)
        assert keras.Model(inp, x).output_shape[1] == output_size_reference(case["size"], case["stack"])


# ---------------------------------------------------------------- segmentation.lesion_centres
def centres_ok(mask):
    labels, k = ndimage.label(mask > 0, structure=np.ones((3, 3)))
    return np.array([np.argwhere(labels == i).mean(0) for i in range(1, k + 1)]).reshape(-1, 2)


def test_lesion_centres_exercise():
    _passes("segmentation.lesion_centres", centres_ok)
    assert "(x, y)" in _hint("segmentation.lesion_centres", lambda m: centres_ok(m)[:, ::-1])
    assert "one centroid" in _hint("segmentation.lesion_centres", lambda m: np.argwhere(m > 0).mean(0)[None])

    def four(mask):
        labels, k = ndimage.label(mask > 0)
        return np.array([np.argwhere(labels == i).mean(0) for i in range(1, k + 1)]).reshape(-1, 2)

    assert "8-connectivity" in _hint("segmentation.lesion_centres", four)

    def bbox(mask):
        labels, _ = ndimage.label(mask > 0, structure=np.ones((3, 3)))
        return np.array([[(s.start + s.stop - 1) / 2 for s in b] for b in ndimage.find_objects(labels)]).reshape(-1, 2)

    assert "bounding-box" in _hint("segmentation.lesion_centres", bbox)


def test_lesion_centres_exercise_agrees_with_find_lesions():
    from medlearn.metrics.segmentation import find_lesions

    for case in get_exercise("segmentation.lesion_centres").make_cases(np.random.default_rng(2)):
        got = centres_ok(case["mask"])
        got = got[np.lexsort((got[:, 1], got[:, 0]))] if len(got) else got
        assert np.allclose(find_lesions(case["mask"])[0], got)
