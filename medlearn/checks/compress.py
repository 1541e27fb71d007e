"""Lesson 11 exercises: int8 quantisation with a scale, per-channel scales, a global pruning threshold.

| id                          | answer signature                                                    |
|-----------------------------|---------------------------------------------------------------------|
| ``compress.quantize``       | ``quantize_dequantize(w, scale) -> (q, w_restored)``                 |
| ``compress.scales``         | ``int8_scales(kernel, per_channel) -> scale`` (scalar or (out,))    |
| ``compress.global_prune``   | ``magnitude_masks(kernels, sparsity) -> list of 0/1 masks``          |

Each judge recomputes the answer in NumPy and recognises the classic mistakes (truncation
instead of rounding, no clipping, the scale from the mean instead of the max, per-channel along
the input axis, one threshold per layer instead of one for all ...).

Used in lesson 11.
"""
from __future__ import annotations

import numpy as np

from medlearn.checks.core import Exercise, Verdict, register

__all__ = ["reference_quantize", "reference_scales", "reference_masks"]

PASS = Verdict(True)
QMAX = 127
# medlearn.compress does every one of these in one call; so would a framework's quantiser.
_FORBIDDEN = ("medlearn", "keras", "tensorflow", "torch", "jax", "ai_edge_litert", "onnxruntime")
_EXTRA = {"forbidden": _FORBIDDEN} if "forbidden" in Exercise.__dataclass_fields__ else {}


def _same(a, b, atol=1e-9) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-7, atol=atol))


# ----------------------------------------------------------------------------- quantize / dequantize
def reference_quantize(w, scale):
    """``q = clip(round(w / scale), -127, 127)`` and ``q * scale`` (float64)."""
    q = np.clip(np.rint(np.asarray(w, np.float64) / scale), -QMAX, QMAX)
    return q, q * scale


def _q_cases(rng):
    cases = []
    for shape, scale in (((40,), 0.01), ((6, 7), 0.05), ((3, 3, 4, 5), 0.002)):
        w = rng.normal(0, 1, shape) * scale * 60
        flat = w.reshape(-1)
        flat[:4] = np.array([2.7, -2.7, 1.3, -1.3]) * scale      # truncation != rounding here
        flat[4:6] = np.array([300.0, -300.0]) * scale            # beyond the int8 range: must be clipped
        cases.append({"w": w, "scale": float(scale)})
    return cases


def _q_run(answer, case):
    out = answer(case["w"].copy(), float(case["scale"]))
    q, restored = out
    return {"q": np.asarray(q, dtype=np.float64), "restored": np.asarray(restored, dtype=np.float64),
            "integer": np.asarray(np.all(np.asarray(q) == np.round(np.asarray(q, dtype=np.float64))))}


def _q_judge(case, out):
    w, scale = case["w"], case["scale"]
    q_ref, _ = reference_quantize(w, scale)
    q, restored = out["q"], out["restored"]
    if q.shape != w.shape:
        return Verdict(False, f"q must have the weights' shape {w.shape}. Received shape {q.shape}.")
    if not bool(out["integer"]):
        return Verdict(False, "q must hold whole numbers: round w / scale to the nearest integer.")
    low_ok = np.isclose(q, q_ref) | ((q_ref == -QMAX) & (q == -QMAX - 1) & (w / scale <= -QMAX - 0.5))
    if not np.all(low_ok):
        x = w / scale
        if _same(q, np.clip(np.trunc(x), -QMAX, QMAX)) or _same(q, np.clip(np.floor(x), -QMAX, QMAX)):
            return Verdict(False, "Values are cut towards zero (or down), not rounded: 2.7 must become 3, -2.7 -3.")
        if _same(q, np.rint(x)):
            return Verdict(False, "Some values fall outside int8: clip q to [-127, 127] after rounding.")
        if _same(q, np.clip(np.rint(w * scale), -QMAX, QMAX)):
            return Verdict(False, "Divide by the scale to quantise (q = w / scale); multiply to dequantise.")
        if np.max(np.abs(q)) > QMAX + 1:
            return Verdict(False, "q leaves the int8 range: clip to [-127, 127] (or [-128, 127]).")
        return Verdict(False, "Wrong q: round(w / scale), then clip to the int8 range.")
    if restored.shape != w.shape or not _same(restored, q * scale):
        if _same(restored, q / scale):
            return Verdict(False, "Dequantising multiplies by the scale: w_restored = q * scale.")
        if _same(restored, w):
            return Verdict(False, "w_restored must come from q (q * scale), so it carries the rounding error.")
        return Verdict(False, "Wrong w_restored: it is q * scale.")
    return PASS


register(Exercise(
    id="compress.quantize",
    title="int8 quantise and dequantise with a scale",
    make_cases=_q_cases, run=_q_run, judge=_q_judge, arg_names=("w", "scale"),
    teaches="round, clip and rescale yourself", **_EXTRA,
))


# ----------------------------------------------------------------------------- scales
def reference_scales(kernel, per_channel):
    """``max|w| / 127`` over the whole kernel, or per output channel (the last axis); 1.0 where all zero."""
    k = np.abs(np.asarray(kernel, np.float64))
    top = k.reshape(-1, k.shape[-1]).max(axis=0) if per_channel else k.max()
    scale = np.asarray(top) / QMAX
    return np.where(scale > 0, scale, 1.0)


def _s_cases(rng):
    cases = []
    for shape in ((3, 3, 4, 6), (8, 5), (2, 2, 6, 3)):
        k = rng.normal(0, 1, shape) * np.geomspace(0.01, 1.0, shape[-1])     # channel ranges differ
        for per_channel in (False, True):
            cases.append({"kernel": k.copy(), "per_channel": int(per_channel)})
    k = rng.normal(0, 0.1, (3, 3, 2, 4))
    k[..., 2] = 0.0                                                           # a dead (all-zero) channel
    cases.append({"kernel": k, "per_channel": 1})
    cases.append({"kernel": np.zeros((4, 3)), "per_channel": 0})
    return cases


def _s_run(answer, case):
    return {"scale": np.asarray(answer(case["kernel"].copy(), bool(case["per_channel"])), dtype=np.float64)}


def _s_judge(case, out):
    k, per_channel, got = case["kernel"], bool(case["per_channel"]), out["scale"]
    ref = reference_scales(k, per_channel)
    absk = np.abs(k)
    if per_channel:
        for axis in range(k.ndim - 1):
            wrong = absk.max(axis=tuple(a for a in range(k.ndim) if a != axis)) / QMAX
            if got.size == wrong.size and wrong.size != k.shape[-1] and _same(got.reshape(-1), wrong):
                return Verdict(False, "One scale per *output* channel: that is the kernel's last axis in Keras "
                                      "(kh, kw, in, out) or (in, out); reduce over all the other axes.")
        if got.size != k.shape[-1]:
            return Verdict(False, f"per_channel=True: one scale per output channel, shape ({k.shape[-1]},). "
                                  f"Received shape {got.shape}.")
        zero = absk.reshape(-1, k.shape[-1]).max(axis=0) == 0
    else:
        if got.size != 1:
            return Verdict(False, f"per_channel=False: one scale for the whole tensor. Received shape {got.shape}.")
        zero = np.asarray(absk.max() == 0)
    got = got.reshape(ref.shape)
    if np.any(~np.isfinite(got)) or np.any(got <= 0):
        return Verdict(False, "An all-zero tensor or channel gives max|w| = 0, and w / 0 is NaN. Use a positive "
                              "scale (e.g. 1.0) there: its weights quantise to 0 whatever the scale.")

    def matches(value):  # where a channel is all zero any positive scale is right
        return _same(np.where(zero, 1.0, got), np.where(zero, 1.0, np.asarray(value).reshape(ref.shape)))

    if matches(ref):
        return PASS
    flat = absk.reshape(-1, k.shape[-1]) if per_channel else absk.reshape(-1)
    axis = 0 if per_channel else None
    with np.errstate(divide="ignore", invalid="ignore"):
        variants = [
            (flat.mean(axis=axis) / QMAX, "The scale comes from the largest |w|, not the mean: with the mean, "
                                          "the biggest weights would be clipped."),
            ((k.reshape(flat.shape)).max(axis=axis) / QMAX,
             "Take the largest *absolute* value: a large negative weight must fit too."),
            (flat.max(axis=axis) / 255, "Symmetric int8 maps max|w| to 127, not 255: scale = max|w| / 127."),
            (flat.max(axis=axis), "Divide max|w| by 127, the largest int8 level."),
            (QMAX / flat.max(axis=axis), "The scale is max|w| / 127 (weight units per level), not its inverse."),
        ]
    for value, hint in variants:
        if matches(value):
            return Verdict(False, hint)
    return Verdict(False, "Wrong scale: max|w| / 127, over the whole tensor or per output channel.")


register(Exercise(
    id="compress.scales",
    title="symmetric int8 scales, per tensor and per output channel",
    make_cases=_s_cases, run=_s_run, judge=_s_judge, arg_names=("kernel", "per_channel"),
    teaches="find the range of each output channel yourself", **_EXTRA,
))


# ----------------------------------------------------------------------------- global pruning
def reference_masks(kernels, sparsity):
    """1/0 masks that zero the ``floor(sparsity * n)`` smallest |w| of all kernels together."""
    mags = np.concatenate([np.abs(np.asarray(k, np.float64)).ravel() for k in kernels])
    k = int(np.floor(sparsity * mags.size))
    t = np.sort(mags)[k] if k else -1.0
    return [(np.abs(np.asarray(w, np.float64)) >= t).astype(np.float64) for w in kernels]


def _p_cases(rng):
    cases = []
    for sparsity in (0.5, 0.8, 0.3):
        shapes = ((3, 3, 1, 8), (3, 3, 8, 16), (16, 1))
        stds = rng.permutation([0.5, 0.05, 0.2])          # layers of very different magnitudes
        kernels = [rng.normal(0, s, sh) for s, sh in zip(stds, shapes)]
        cases.append({"sparsity": sparsity, **{f"k{i}": k for i, k in enumerate(kernels)}})
    cases.append({"sparsity": 0.0, "k0": rng.normal(0, 1, (4, 4)), "k1": rng.normal(0, 1, (5, 2))})
    return cases


def _kernels(case):
    return [case[f"k{i}"] for i in range(sum(1 for key in case if key.startswith("k")))]


def _p_run(answer, case):
    masks = answer([k.copy() for k in _kernels(case)], float(case["sparsity"]))
    return {f"m{i}": np.asarray(m, dtype=np.float64) for i, m in enumerate(masks)}


def _p_judge(case, out):
    kernels, s = _kernels(case), float(case["sparsity"])
    ref = reference_masks(kernels, s)
    got = [out.get(f"m{i}") for i in range(len(kernels))]
    extra = sum(1 for key in out if key.startswith("m") and key[1:].isdigit()) - len(kernels)
    if any(g is None for g in got) or extra:
        return Verdict(False, f"Return one mask per kernel ({len(kernels)}), in the kernels' order.")
    for g, k in zip(got, kernels):
        if g.shape != k.shape:
            return Verdict(False, f"Each mask has its kernel's shape: {k.shape}. Received {g.shape}.")
        if not np.all((g == 0) | (g == 1)):
            return Verdict(False, "A mask holds 1 (keep) and 0 (prune) only.")
    if all(np.array_equal(g, r) for g, r in zip(got, ref)):
        return PASS
    n = sum(k.size for k in kernels)
    pruned = sum(int(np.sum(g == 0)) for g in got)

    def same(masks):
        return all(np.array_equal(g, m) for g, m in zip(got, masks))

    if same([reference_masks([k], s)[0] for k in kernels]):
        return Verdict(False, "Each layer was pruned to the target on its own: rank all the weights *together* and "
                              "use one threshold, so layers of small weights lose more.")
    if 0 < s < 1 and s != 0.5 and same(reference_masks(kernels, 1 - s)):
        return Verdict(False, "sparsity is the share of weights set to zero, not the share kept.")
    largest = [1 - m for m in reference_masks([-np.abs(k) for k in kernels], 1 - s)] if s else None
    if largest is not None and (same(largest) or same([1 - m for m in ref])):
        return Verdict(False, "Prune the *smallest* weights by magnitude: 0 where |w| is below the threshold.")
    signed = np.sort(np.concatenate([k.ravel() for k in kernels]))
    if s and same([(k >= signed[int(np.floor(s * n))]).astype(float) for k in kernels]):
        return Verdict(False, "Rank by |w|: a large negative weight matters as much as a large positive one.")
    return Verdict(False, f"Wrong masks: {pruned} of {n} weights pruned; prune floor(sparsity * n) weights, the "
                          "smallest |w| of all kernels together.")


register(Exercise(
    id="compress.global_prune",
    title="global magnitude pruning masks for a target sparsity",
    make_cases=_p_cases, run=_p_run, judge=_p_judge, arg_names=("kernels", "sparsity"),
    teaches="rank the weights of all layers together yourself", **_EXTRA,
))
