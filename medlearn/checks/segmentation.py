"""Lesson 10 exercises: Dice with the empty case, the soft Dice loss and its gradient, upsampling
output sizes, and lesion centres from a mask.

| id                              | answer signature                                              |
|---------------------------------|---------------------------------------------------------------|
| ``segmentation.dice``           | ``dice_score(y_true, y_pred) -> float`` (0/1 masks, both empty: 1.0) |
| ``segmentation.soft_dice``      | ``soft_dice_and_grad(y_true, p, smooth) -> (loss, dloss_dp)``  |
| ``segmentation.upsampled_size`` | ``output_size(size, stack) -> int``                           |
| ``segmentation.lesion_centres`` | ``lesion_centres(mask) -> (K, 2)`` (row, column), 8-connectivity |

The judges recompute everything here (the soft Dice gradient by central finite differences
of the loss) and name the classic mistakes: Dice without the empty case, IoU for Dice, the
factor 2, no smoothing, a thresholded (hard) Dice whose gradient is zero, a gradient
without the quotient rule, the loss summed over the batch or pooled over all its pixels;
the transposed convolution's kernel ignored, 'same' and 'valid' mixed up; (x, y) for (row,
column), one centroid for all lesions, 4- instead of 8-connectivity, bounding-box centres.
``medlearn.metrics`` and ``medlearn.models.losses`` would do the work and are forbidden.

Used in lesson 10.
"""
from __future__ import annotations

import numpy as np

from medlearn.checks.core import Exercise, Verdict, register
from medlearn.checks.explain import _policy

__all__ = ["dice_reference", "soft_dice_reference", "output_size_reference", "centres_reference", "STACK_KINDS"]

PASS = Verdict(True)
_FORBIDDEN = ("medlearn.metrics", "medlearn.models.losses", "medlearn.models.unet")


def _close(a, b, rtol=1e-6, atol=1e-9):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=False))


# ---------------------------------------------------------------- Dice with the empty case
def dice_reference(t, p, empty=1.0):
    t, p = np.asarray(t) > 0, np.asarray(p) > 0
    denom = t.sum() + p.sum()
    return empty if denom == 0 else 2.0 * (t & p).sum() / denom


def _dice_cases(rng):
    cases = []
    for h, w in ((8, 8), (12, 7), (5, 16)):
        pairs = []
        for kind in ("overlap", "overlap", "both_empty", "true_empty", "pred_empty", "disjoint", "same"):
            t, p = np.zeros((h, w), np.int64), np.zeros((h, w), np.int64)
            if kind in ("overlap", "pred_empty", "disjoint", "same"):
                r, c = rng.integers(0, h - 3), rng.integers(0, w - 3)
                t[r:r + rng.integers(2, 4), c:c + rng.integers(2, 4)] = 1
            if kind in ("overlap", "true_empty"):
                r, c = rng.integers(0, h - 3), rng.integers(0, w - 3)
                p[r:r + 3, c:c + 3] = 1
                p[rng.integers(0, h), rng.integers(0, w)] = 1
            if kind == "overlap":
                t[r + 1, c + 1] = 1                               # make sure they overlap
            if kind == "disjoint":
                p = np.roll(t, w // 2, axis=1) * (1 - t)
            if kind == "same":
                p = t.copy()
            pairs.append((t, p))
        cases.append({"y_true": np.stack([a for a, _ in pairs]), "y_pred": np.stack([b for _, b in pairs])})
    return cases


def _dice_run(answer, case):
    return {"dice": np.array([float(answer(t.copy(), p.copy())) for t, p in zip(case["y_true"], case["y_pred"])])}


def _dice_judge(case, out):
    ts, ps, got = case["y_true"], case["y_pred"], out["dice"]
    if got.shape != (len(ts),):
        return Verdict(False, "Return one number per pair of masks.")
    ref = np.array([dice_reference(t, p) for t, p in zip(ts, ps)])
    if _close(got, ref):
        return PASS
    empty = np.array([t.sum() + p.sum() == 0 for t, p in zip(ts, ps)])
    if _close(got[~empty], ref[~empty]):
        if np.isnan(got[empty]).any():
            return Verdict(False, "Two empty masks give 0/0 = NaN. Define the case: no lesion and nothing "
                                  "predicted is a perfect segmentation.")
        return Verdict(False, "Your Dice is right except when both masks are empty. No lesion and nothing "
                              "predicted: is that a perfect or a failed segmentation?")
    iou = np.array([1.0 if t.sum() + p.sum() == 0 else ((t > 0) & (p > 0)).sum() / ((t > 0) | (p > 0)).sum()
                    for t, p in zip(ts, ps)])
    if _close(got, iou, rtol=1e-6) or _close(got[~empty], iou[~empty]):
        return Verdict(False, "That is the IoU |A∩B| / |A∪B|. Dice divides 2|A∩B| by |A| + |B|.")
    if _close(got[~empty], ref[~empty] / 2):
        return Verdict(False, "Off by a factor of 2: identical masks must score 1.")
    smooth = np.array([(2 * ((t > 0) & (p > 0)).sum() + 1) / (t.sum() + p.sum() + 1) for t, p in zip(ts, ps)])
    if _close(got, smooth):
        return Verdict(False, "The +1 smoothing belongs in the *loss*; as a metric it inflates the score of "
                              "small lesions. Compute the exact Dice and handle the empty case explicitly.")
    return Verdict(False, "Wrong values: Dice = 2 |A∩B| / (|A| + |B|), with A, B the sets of lesion pixels.")


register(Exercise(
    id="segmentation.dice",
    title="the Dice score, with the empty-mask case",
    make_cases=_dice_cases, run=_dice_run, judge=_dice_judge,
    **_policy(forbidden=_FORBIDDEN, teaches="score a predicted mask against the true mask",
              arg_names=("y_true", "y_pred")),
))


# ---------------------------------------------------------------- soft Dice loss and its gradient
def soft_dice_reference(y, p, smooth):
    """Mean over images of ``1 - (2 sum(y p) + s) / (sum(y) + sum(p) + s)``; y, p (N, H, W)."""
    n = len(y)
    y, p = y.reshape(n, -1), p.reshape(n, -1)
    return float(np.mean(1 - (2 * (y * p).sum(1) + smooth) / (y.sum(1) + p.sum(1) + smooth)))


def _fd_grad(fn, p, eps=1e-6):
    g = np.zeros_like(p)
    for i in np.ndindex(p.shape):
        q = p.copy()
        q[i] += eps
        up = fn(q)
        q[i] -= 2 * eps
        g[i] = (up - fn(q)) / (2 * eps)
    return g


def _soft_cases(rng):
    cases = []
    for n, h, w, smooth in ((3, 5, 4, 1.0), (2, 6, 6, 0.5), (4, 3, 5, 1.0)):
        y = np.zeros((n, h, w))
        for i in range(1, n):                                  # image 0 has no lesion
            r, c = rng.integers(0, h - 2), rng.integers(0, w - 2)
            y[i, r:r + 2, c:c + 2] = 1
        p = np.clip(rng.uniform(0, 0.4, (n, h, w)) + 0.5 * y, 0.01, 0.99)
        cases.append({"y_true": y, "p": p, "smooth": smooth})
    return cases


def _soft_run(answer, case):
    result = answer(case["y_true"].copy(), case["p"].copy(), float(case["smooth"]))
    loss, grad = result
    return {"loss": np.asarray(loss, dtype=np.float64), "grad": np.asarray(grad, dtype=np.float64)}


def _soft_judge(case, out):
    y, p, s = case["y_true"], case["p"], float(case["smooth"])
    n = len(y)
    loss, grad = out["loss"], out["grad"]
    ref = soft_dice_reference(y, p, s)
    fd = _fd_grad(lambda q: soft_dice_reference(y, q, s), p)
    if loss.shape != ():
        return Verdict(False, f"The loss is one number (the mean over the batch); yours has shape {loss.shape}.")
    if grad.shape != p.shape:
        return Verdict(False, f"The gradient has the shape of p, {p.shape}; yours has shape {grad.shape}.")
    if not np.isfinite(loss) or not np.isfinite(grad).all():
        return Verdict(False, "NaN or inf: an image without a lesion (sum(y) = 0) needs the smoothing s in the "
                              "numerator and the denominator.")
    loss_ok, grad_ok = _close(loss, ref), _close(grad, fd, rtol=1e-4, atol=1e-7)
    if loss_ok and grad_ok:
        return PASS
    flat_y, flat_p = y.reshape(n, -1), p.reshape(n, -1)
    no_smooth = np.mean(1 - (2 * (flat_y * flat_p).sum(1)) / (flat_y.sum(1) + flat_p.sum(1)))
    pooled = 1 - (2 * (y * p).sum() + s) / (y.sum() + p.sum() + s)
    hard = soft_dice_reference(y, (p >= 0.5).astype(float), s)
    if not loss_ok:
        if _close(loss, ref * n):
            return Verdict(False, "Average the per-image losses over the batch; you summed them.")
        if _close(loss, pooled):
            return Verdict(False, "You computed one Dice over all pixels of the batch. Compute it per image, "
                                  "then average: each patient counts the same.")
        if _close(loss, 1 - ref):
            return Verdict(False, "That is the soft Dice itself; the loss to minimise is 1 - Dice.")
        if _close(loss, no_smooth):
            return Verdict(False, "Add the smoothing s to the numerator and the denominator.")
        if _close(loss, hard):
            return Verdict(False, "You thresholded p: a hard Dice has zero gradient almost everywhere. Use the "
                                  "probabilities themselves (the *soft* Dice).")
        return Verdict(False, "Wrong loss: 1 - (2 sum(y p) + s) / (sum(y) + sum(p) + s) per image, averaged.")
    if np.allclose(grad, 0):
        return Verdict(False, "Your gradient is zero. A thresholded Dice has no gradient; differentiate the "
                              "soft Dice with respect to p.")
    if _close(grad, -fd, rtol=1e-4, atol=1e-7):
        return Verdict(False, "The gradient has the wrong sign (that is the gradient of the Dice, not of 1 - Dice).")
    if _close(grad, fd * n, rtol=1e-4, atol=1e-7):
        return Verdict(False, "The loss is the batch *mean*: divide each image's gradient by the batch size.")
    d = (flat_y.sum(1) + flat_p.sum(1) + s)[:, None]
    if _close(grad.reshape(n, -1), -2 * flat_y / d / n, rtol=1e-4, atol=1e-7):
        return Verdict(False, "Use the quotient rule: p appears in the denominator too, so the gradient also "
                              "has a term (2 sum(y p) + s) / D**2.")
    return Verdict(False, "The loss is right but the gradient does not match finite differences of your loss.")


register(Exercise(
    id="segmentation.soft_dice",
    title="the soft Dice loss and its gradient (checked against finite differences)",
    make_cases=_soft_cases, run=_soft_run, judge=_soft_judge,
    **_policy(forbidden=_FORBIDDEN, teaches="write a differentiable overlap loss and its gradient",
              arg_names=("y_true", "p", "smooth")),
))


# ---------------------------------------------------------------- output size of an upsampling stack
#: Layer kinds of the stack: (kind code, kernel or factor, stride, 1 = 'same' / 0 = 'valid').
STACK_KINDS = ("conv", "conv_transpose", "upsample")


def _layer_size(n, kind, k, s, same, variant=None):
    if kind == "upsample":
        return n * k
    if kind == "conv_transpose":
        if same:
            return n * s if variant != "transpose_same_kernel" else (n - 1) * s + k
        if variant == "transpose_valid_no_kernel":
            return n * s
        if variant == "transpose_valid_minus":
            return (n - 1) * s + k - 1
        return n * s + max(k - s, 0)                  # Keras: (n - 1) * s + k when k >= s
    if same:
        return -(-n // s) if variant != "conv_same_no_stride" else n
    return (n - k) // s + 1 if variant != "conv_valid_no_stride" else n - k + 1


def output_size_reference(size, stack, variant=None):
    n = int(size)
    for kind, k, s, same in stack:
        n = _layer_size(n, STACK_KINDS[int(kind)], int(k), int(s), bool(same), variant)
    return n


_SIZE_HINTS = {
    "transpose_valid_no_kernel": "A 'valid' transposed convolution places a k x k kernel at every input pixel "
                                 "s apart: the output is (n - 1) * s + k, not n * s.",
    "transpose_valid_minus": "Off by one in the transposed convolution: (n - 1) * s + k.",
    "transpose_same_kernel": "With padding='same' a transposed convolution gives exactly n * s; the kernel "
                             "size only matters for 'valid'.",
    "conv_same_no_stride": "A strided 'same' convolution still shrinks: ceil(n / s).",
    "conv_valid_no_stride": "A 'valid' convolution with stride s gives floor((n - k) / s) + 1.",
}


def _size_cases(rng):
    stacks = [
        (7, [(1, 2, 2, 1), (1, 2, 2, 1)]),                       # the U-Net decoder: 7 -> 14 -> 28
        (7, [(1, 3, 2, 0), (0, 3, 1, 0), (2, 2, 0, 0)]),
        (5, [(1, 4, 2, 0), (1, 3, 1, 0), (0, 3, 2, 1), (1, 4, 2, 1)]),
        (9, [(2, 3, 0, 0), (0, 5, 2, 0), (1, 3, 3, 1), (1, 5, 2, 0)]),
        (int(rng.integers(4, 12)), [(1, int(rng.integers(3, 6)), 2, 0), (0, 3, 2, 1), (1, 3, 2, 1)]),
    ]
    return [{"size": n, "stack": np.array(st, dtype=np.int64)} for n, st in stacks]


def _size_run(answer, case):
    stack = [(STACK_KINDS[int(kind)], int(k), int(s), "same" if same else "valid") if STACK_KINDS[int(kind)] != "upsample"
             else ("upsample", int(k)) for kind, k, s, same in case["stack"]]
    return {"size": np.asarray(answer(int(case["size"]), stack), dtype=np.float64)}


def _size_judge(case, out):
    got = out["size"]
    if got.shape != ():
        return Verdict(False, "Return the output side as one int.")
    ref = output_size_reference(case["size"], case["stack"])
    if got == ref:
        return PASS
    for variant, hint in _SIZE_HINTS.items():
        if got == output_size_reference(case["size"], case["stack"], variant):
            return Verdict(False, hint)
    return Verdict(False, "Wrong size: apply the layers in order, each to the previous layer's output side.")


register(Exercise(
    id="segmentation.upsampled_size",
    title="output size of a stack of (transposed) convolutions and upsampling",
    make_cases=_size_cases, run=_size_run, judge=_size_judge,
    **_policy(forbidden=_FORBIDDEN, teaches="predict feature-map sizes through a decoder", arg_names=("size", "stack")),
))


# ---------------------------------------------------------------- mask -> lesion centres
def centres_reference(mask, connectivity=8, how="mass"):
    from scipy import ndimage

    fg = np.asarray(mask) > 0
    labels, k = ndimage.label(fg, structure=np.ones((3, 3)) if connectivity == 8 else None)
    if k == 0:
        return np.zeros((0, 2))
    if how == "mass":
        c = np.asarray(ndimage.center_of_mass(fg, labels, np.arange(1, k + 1)), dtype=np.float64).reshape(k, 2)
    else:  # bounding-box centres
        c = np.array([[(sl.start + sl.stop - 1) / 2 for sl in box] for box in ndimage.find_objects(labels)])
    return c[np.lexsort((c[:, 1], c[:, 0]))]


def _disc(h, w, r0, c0, radius):
    rr, cc = np.mgrid[:h, :w]
    return (rr - r0) ** 2 + (cc - c0) ** 2 <= radius ** 2


def _centre_cases(rng):
    cases = []
    for h, w, n_lesions in ((20, 20, 2), (16, 24, 3), (18, 14, 1), (12, 12, 0), (24, 20, 2)):
        mask = np.zeros((h, w), np.int64)
        for _ in range(n_lesions):
            mask |= _disc(h, w, rng.uniform(3, h - 4), rng.uniform(3, w - 4), rng.uniform(1.5, 3.0))
        if n_lesions >= 2:
            mask[1, 1:4] = 1                                 # an elongated blob: bbox centre != centre of mass
            mask[2, 1] = 1
            mask[3, 4] = 1                                   # touches the blob diagonally only
        cases.append({"mask": mask})
    return cases


def _centre_run(answer, case):
    return {"centres": np.asarray(answer(case["mask"].copy()), dtype=np.float64)}


def _sorted(c):
    c = np.asarray(c, np.float64).reshape(-1, 2)
    return c[np.lexsort((c[:, 1], c[:, 0]))]


def _centre_judge(case, out):
    mask, got = case["mask"], out["centres"]
    ref = centres_reference(mask)
    if got.size == 0 and len(ref) == 0:
        return PASS
    if got.ndim != 2 or got.shape[1:] != (2,):
        if len(ref) == 0:
            return Verdict(False, "A mask without lesions has no centres: return an empty (0, 2) array.")
        return Verdict(False, f"Return a (K, 2) array, one (row, column) per lesion; yours has shape {got.shape}.")
    got = _sorted(got)
    if _close(got, ref):
        return PASS
    if _close(_sorted(got[:, ::-1]), ref):
        return Verdict(False, "Your centres are (x, y) = (column, row). Use (row, column), NumPy's index order.")
    if len(got) == 1 and len(ref) > 1 and _close(got[0], np.argwhere(mask > 0).mean(0)):
        return Verdict(False, "That is one centroid for the whole mask. Each connected component is a lesion: "
                              "label them first (scipy.ndimage.label), then take each one's centre.")
    four = centres_reference(mask, connectivity=4)
    if len(four) != len(ref) and _close(got, four):
        return Verdict(False, "Pixels that touch diagonally belong to the same lesion: use 8-connectivity "
                              "(structure=np.ones((3, 3)) in scipy.ndimage.label).")
    if _close(got, centres_reference(mask, how="bbox")):
        return Verdict(False, "Those are bounding-box centres; the centre of a lesion is its centre of mass "
                              "(the mean row and column of its pixels).")
    if len(got) != len(ref):
        return Verdict(False, f"Found {len(got)} lesions in a mask whose connected components number differently.")
    return Verdict(False, "Wrong centres: the mean (row, column) of the pixels of each connected component.")


register(Exercise(
    id="segmentation.lesion_centres",
    title="from a mask to lesion centres (connected components)",
    make_cases=_centre_cases, run=_centre_run, judge=_centre_judge,
    **_policy(forbidden=_FORBIDDEN, teaches="turn a segmentation mask into a list of detected lesions",
              arg_names=("mask",)),
))
