"""Lesson 09 exercises: Grad-CAM from its parts, and the pointing game, in NumPy.

| id                      | answer signature                                                    |
|-------------------------|---------------------------------------------------------------------|
| ``explain.grad_cam``    | ``grad_cam_map(features, gradients) -> (h, w)`` (ReLU'd, not normalised) |
| ``explain.pointing``    | ``pointing_hits(maps, masks) -> (N,) bool``                          |

Both work on plain arrays (feature maps and gradients are given), so they check without a
framework. The judges recompute the answers here and recognise the classic mistakes: the
ReLU forgotten, gradients not averaged over space (or summed, or averaged over the
channels), the map normalised, the ReLU on the weights; argmin, rows and columns swapped.
``medlearn.explain`` would do the work and is declared forbidden.

Used in lesson 09.
"""
from __future__ import annotations

import numpy as np

from medlearn.checks.core import Exercise, Verdict, register

__all__ = ["cam_reference", "pointing_reference"]

PASS = Verdict(True)
_FORBIDDEN = ("medlearn.explain",)


def _policy(**fields):
    """The policy fields this checks/core.py knows (older cores have fewer)."""
    return {k: v for k, v in fields.items() if k in Exercise.__dataclass_fields__}


def _close(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-6, atol=1e-9))


def cam_reference(features, gradients):
    """``ReLU(sum_k mean_ij(dA_k[i, j]) * A_k)`` for (h, w, K) arrays -> (h, w)."""
    alpha = gradients.mean(axis=(0, 1))
    return np.maximum((features * alpha).sum(axis=-1), 0.0)


def _cam_variants(a, g):
    h, w, k = a.shape
    alpha = g.mean(axis=(0, 1))
    raw = (a * alpha).sum(-1)
    ref = np.maximum(raw, 0)
    peak = ref.max() if ref.max() > 0 else 1.0
    return [
        (raw, "Your map has negative values: Grad-CAM keeps only the regions that speak *for* the class. "
              "Apply a ReLU to the weighted sum."),
        (np.abs(raw), "Negative evidence is not evidence for the class: use a ReLU (max(., 0)), not the absolute value."),
        (np.maximum((a * g).sum(-1), 0), "Each channel's weight is ONE number: average the gradient over all "
                                         "positions (i, j) first, then weight the whole feature map with it."),
        (ref * h * w, "The weight of a channel is the *mean* of its gradient over the h x w positions, not the sum."),
        (ref / k, "Sum the weighted feature maps over the channels; do not average them."),
        (np.maximum(g.mean(-1) * a.sum(-1), 0), "You averaged the gradients over the channel axis. Average over the "
                                                "spatial axes (0, 1): one weight per channel."),
        (np.maximum((a * np.maximum(alpha, 0)).sum(-1), 0) if (alpha < 0).any() else None,
         "The ReLU goes on the map, after the weighted sum, not on the channel weights."),
        (ref / peak, "Return the map itself (after the ReLU); resizing and normalising to [0, 1] come later."),
        (ref.T,
         "The map is transposed: it must have the feature maps' (h, w) shape."),
    ]


def _cam_cases(rng):
    cases = []
    for h, w, k in ((7, 7, 8), (5, 9, 4), (3, 3, 16), (6, 4, 1), (8, 8, 32)):
        a = np.maximum(rng.normal(0, 1, (h, w, k)), 0) * rng.uniform(0.5, 2, k)  # ReLU feature maps
        g = rng.normal(0, 1, (h, w, k)) * 0.1 + rng.normal(0, 0.05, k)
        if k > 1:
            g[..., 0] += 0.3          # one channel speaks for the class, one against
            g[..., 1] -= 0.3
        cases.append({"features": a, "gradients": g})
    return cases


def _cam_run(answer, case):
    return {"cam": np.asarray(answer(case["features"].copy(), case["gradients"].copy()), dtype=np.float64)}


def _cam_judge(case, out):
    a, g, got = case["features"], case["gradients"], out["cam"]
    ref = cam_reference(a, g)
    if got.shape != ref.shape:
        if got.shape == ref.shape[::-1]:
            return Verdict(False, "The map is transposed: it must have the feature maps' (h, w) shape.")
        return Verdict(False, f"The map must have the feature maps' spatial shape {ref.shape} (h, w); "
                              f"yours has shape {got.shape}.")
    if not np.isfinite(got).all():
        return Verdict(False, "Your map holds NaN or inf values.")
    if _close(got, ref):
        return PASS
    for variant, hint in _cam_variants(a, g):
        if variant is not None and _close(got, variant):
            return Verdict(False, hint)
    return Verdict(False, "Wrong values: weight each feature map A_k by the spatial mean of its gradient, sum over "
                          "k, then apply a ReLU.")


register(Exercise(
    id="explain.grad_cam",
    title="Grad-CAM from feature maps and gradients (NumPy)",
    make_cases=_cam_cases, run=_cam_run, judge=_cam_judge,
    **_policy(forbidden=_FORBIDDEN, teaches="combine a layer's feature maps and the class score's gradients into "
                                            "a class-activation map", arg_names=("features", "gradients"),
              next_hint="explain.grad_cam does the same on a real model, with the gradients from the backend."),
))


def pointing_reference(maps, masks):
    """Hit per image: the mask value at the first argmax of the map (row-major)."""
    n = len(maps)
    idx = np.argmax(maps.reshape(n, -1), axis=1)
    return masks.reshape(n, -1)[np.arange(n), idx] > 0


def _pointing_cases(rng):
    cases = []
    for n, h, w in ((12, 8, 11), (20, 9, 6), (6, 10, 10)):
        masks = np.zeros((n, h, w), np.int64)
        maps = rng.uniform(0, 1, (n, h, w))
        for i in range(n):
            r, c = rng.integers(0, h - 2), rng.integers(0, w - 2)
            masks[i, r:r + 2, c:c + 3] = 1
            if i % 2 == 0:                                   # every other map points at its lesion
                maps[i, r + 1, c + rng.integers(0, 3)] = 2.0
            else:                                            # the others point just beside it
                maps[i, r + 2, c] = 2.0
            maps[i, h - 1 - r if i % 3 == 0 else 0, 0] = -1.0  # a deep minimum somewhere
        cases.append({"maps": maps, "masks": masks})
    return cases


def _pointing_run(answer, case):
    return {"hits": np.asarray(answer(case["maps"].copy(), case["masks"].copy())).astype(np.float64)}


def _pointing_judge(case, out):
    maps, masks, got = case["maps"], case["masks"], out["hits"]
    ref = pointing_reference(maps, masks).astype(np.float64)
    n = len(maps)
    if got.shape != ref.shape:
        if got.size == 1:
            return Verdict(False, "Return one hit (True/False) per image, not the hit rate.")
        return Verdict(False, f"Return one hit per image: shape ({n},). Yours has shape {got.shape}.")
    if np.array_equal(got, ref):
        return PASS
    flat = maps.reshape(n, -1)
    lo = masks.reshape(n, -1)[np.arange(n), np.argmin(flat, axis=1)] > 0
    if np.array_equal(got, lo):
        return Verdict(False, "You looked at the map's minimum; the map points where it is largest (argmax).")
    h, w = maps.shape[1:]
    idx = np.argmax(flat, axis=1)
    rows, cols = idx // w, idx % w
    swapped = np.array([masks[i, c, r] > 0 if c < h and r < w else False for i, (r, c) in enumerate(zip(rows, cols))])
    if np.array_equal(got, swapped):
        return Verdict(False, "Rows and columns are swapped: np.unravel_index(np.argmax(m), m.shape) gives (row, column).")
    return Verdict(False, "Wrong hits: find the pixel where each map is largest and ask whether the mask is 1 there.")


register(Exercise(
    id="explain.pointing",
    title="the pointing game: does the map's maximum fall inside the lesion?",
    make_cases=_pointing_cases, run=_pointing_run, judge=_pointing_judge,
    **_policy(forbidden=_FORBIDDEN, teaches="score a saliency map against a lesion mask",
              arg_names=("maps", "masks")),
))
