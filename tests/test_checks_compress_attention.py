"""Lesson 11-12 exercises: each check passes the reference and fails the classic wrong answers with their hint."""
import numpy as np
import pytest

import medlearn.checks.attention  # noqa: F401  (registers the exercises even before core lists the module)
import medlearn.checks.compress  # noqa: F401
from medlearn.checks import check, get_exercise

Q = 127


# ----------------------------------------------------------------------------- compress.quantize
def q_ok(w, scale):
    q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    return q, q.astype(np.float64) * scale


def q_ok_128(w, scale):
    q = np.clip(np.round(w / scale), -128, 127).astype(np.int8)
    return q, q.astype(np.float64) * scale


def q_trunc(w, scale):
    q = np.clip(np.trunc(w / scale), -127, 127)
    return q, q * scale


def q_noclip(w, scale):
    q = np.round(w / scale)
    return q, q * scale


def q_divide_back(w, scale):
    q = np.clip(np.round(w / scale), -127, 127)
    return q, q / scale


def q_no_roundtrip(w, scale):
    return np.clip(np.round(w / scale), -127, 127), w


def q_multiply(w, scale):
    q = np.clip(np.round(w * scale), -127, 127)
    return q, q * scale


@pytest.mark.parametrize("answer", [q_ok, q_ok_128])
def test_quantize_reference_passes(answer):
    assert check("compress.quantize", answer, quiet=True).passed


@pytest.mark.parametrize("answer, hint", [
    (q_trunc, "rounded"), (q_noclip, "clip"), (q_divide_back, "multiplies by the scale"),
    (q_no_roundtrip, "must come from q"), (q_multiply, "Divide by the scale"),
])
def test_quantize_wrong_answers(answer, hint):
    result = check("compress.quantize", answer, quiet=True)
    assert not result.passed and hint in result.hint, result.hint


# ----------------------------------------------------------------------------- compress.scales
def s_ok(kernel, per_channel):
    a = np.abs(kernel)
    top = a.reshape(-1, a.shape[-1]).max(0) if per_channel else a.max()
    return np.where(top > 0, top / 127, 1.0)


def s_keepdims(kernel, per_channel):
    axes = tuple(range(kernel.ndim - 1)) if per_channel else None
    top = np.abs(kernel).max(axis=axes, keepdims=per_channel)
    return np.maximum(top / 127, 1e-8)


def s_mean(kernel, per_channel):
    a = np.abs(kernel)
    top = a.reshape(-1, a.shape[-1]).mean(0) if per_channel else a.mean()
    return np.where(top > 0, top / 127, 1.0)


def s_wrong_axis(kernel, per_channel):
    a = np.abs(kernel)
    if not per_channel:
        return np.where(a.max() > 0, a.max() / 127, 1.0)
    top = a.max(axis=tuple(range(1, a.ndim)))                 # one scale per row of the first axis
    return np.where(top > 0, top / 127, 1.0)


def s_input_axis(kernel, per_channel):
    a = np.abs(kernel)
    if not per_channel:
        return np.where(a.max() > 0, a.max() / 127, 1.0)
    axis = a.ndim - 2
    top = a.max(axis=tuple(i for i in range(a.ndim) if i != axis))
    return np.where(top > 0, top / 127, 1.0)


def s_zero_nan(kernel, per_channel):
    a = np.abs(kernel)
    return (a.reshape(-1, a.shape[-1]).max(0) if per_channel else a.max()) / 127


def s_signed(kernel, per_channel):
    top = kernel.reshape(-1, kernel.shape[-1]).max(0) if per_channel else kernel.max()
    return np.where(top > 0, top / 127, 1.0)


def s_255(kernel, per_channel):
    return s_ok(kernel, per_channel) * 127 / 255


@pytest.mark.parametrize("answer", [s_ok, s_keepdims])
def test_scales_reference_passes(answer):
    assert check("compress.scales", answer, quiet=True).passed


@pytest.mark.parametrize("answer, hint", [
    (s_mean, "not the mean"), (s_wrong_axis, "*output* channel"), (s_input_axis, "*output* channel"),
    (s_zero_nan, "all-zero"), (s_signed, "*absolute*"), (s_255, "not 255"),
])
def test_scales_wrong_answers(answer, hint):
    result = check("compress.scales", answer, quiet=True)
    assert not result.passed and hint in result.hint, result.hint


# ----------------------------------------------------------------------------- compress.global_prune
def p_ok(kernels, sparsity):
    mags = np.sort(np.concatenate([np.abs(k).ravel() for k in kernels]))
    n = int(np.floor(sparsity * mags.size))
    if n == 0:
        return [np.ones_like(k) for k in kernels]
    t = mags[n]
    return [(np.abs(k) >= t).astype(float) for k in kernels]


def p_quantile(kernels, sparsity):   # the same with a different but equivalent threshold
    mags = np.sort(np.concatenate([np.abs(k).ravel() for k in kernels]))
    n = int(np.floor(sparsity * mags.size))
    t = (mags[n - 1] + mags[n]) / 2 if n else -1
    return [(np.abs(k) > t).astype(int) for k in kernels]


def p_per_layer(kernels, sparsity):
    return [p_ok([k], sparsity)[0] for k in kernels]


def p_kept_share(kernels, sparsity):
    return p_ok(kernels, 1 - sparsity) if sparsity else p_ok(kernels, 0)


def p_largest(kernels, sparsity):
    return [1 - m for m in p_ok(kernels, sparsity)] if sparsity else p_ok(kernels, 0)


def p_signed(kernels, sparsity):
    flat = np.sort(np.concatenate([k.ravel() for k in kernels]))
    n = int(np.floor(sparsity * flat.size))
    if n == 0:
        return [np.ones_like(k) for k in kernels]
    return [(k >= flat[n]).astype(float) for k in kernels]


@pytest.mark.parametrize("answer", [p_ok, p_quantile])
def test_prune_reference_passes(answer):
    assert check("compress.global_prune", answer, quiet=True).passed


@pytest.mark.parametrize("answer, hint", [
    (p_per_layer, "together"), (p_kept_share, "not the share kept"), (p_largest, "*smallest*"),
    (p_signed, "Rank by |w|"),
])
def test_prune_wrong_answers(answer, hint):
    result = check("compress.global_prune", answer, quiet=True)
    assert not result.passed and hint in result.hint, result.hint


# ----------------------------------------------------------------------------- attention.scaled_dot
def _softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def make_attention(axis=-1, scale="sqrt", mask_mode="ok", stable=True):
    def attention(q, k, v, mask=None):
        d = q.shape[-1]
        s = q @ np.swapaxes(k, -1, -2)
        s = {"sqrt": s / np.sqrt(d), "none": s, "d": s / d}[scale]
        if mask is not None and mask_mode != "ignore":
            keep = ~mask if mask_mode == "invert" else mask
            s = np.where(keep, s, -np.inf if mask_mode == "inf" else -1e9)
        if stable:
            w = _softmax(s, axis)
        else:
            e = np.exp(s)
            w = e / e.sum(axis=axis, keepdims=True)
        return w @ v, w
    return attention


def test_attention_reference_passes():
    assert check("attention.scaled_dot", make_attention(), quiet=True).passed
    assert check("attention.scaled_dot", make_attention(mask_mode="inf"), quiet=True).passed


@pytest.mark.parametrize("kwargs, hint", [
    (dict(axis=-2), "wrong axis"), (dict(scale="none"), "1 / sqrt(d)"), (dict(scale="d"), "not by d"),
    (dict(mask_mode="ignore"), "mask is ignored"), (dict(mask_mode="invert"), "inverted"),
    (dict(stable=False), "overflows"),
])
def test_attention_wrong_answers(kwargs, hint):
    result = check("attention.scaled_dot", make_attention(**kwargs), quiet=True)
    assert not result.passed and hint in result.hint, result.hint


def test_attention_reference_matches_keras_multi_head_attention():
    """The judge's reference is what keras.layers.MultiHeadAttention computes (one head, identity projections)."""
    keras = pytest.importorskip("keras")
    from medlearn.checks.attention import reference_attention

    rng = np.random.default_rng(0)
    q, k = rng.normal(size=(2, 3, 4)).astype("float32"), rng.normal(size=(2, 5, 4)).astype("float32")
    mha = keras.layers.MultiHeadAttention(num_heads=1, key_dim=4, use_bias=False)
    out, scores = mha(q, k, return_attention_scores=True)
    eye = np.eye(4, dtype="float32")[:, None, :]
    mha.set_weights([eye, eye, eye, np.eye(4, dtype="float32")[None]])
    out, scores = mha(q, k, return_attention_scores=True)
    ref_out, ref_w = reference_attention(q, k, k)
    assert np.allclose(keras.ops.convert_to_numpy(scores)[:, 0], ref_w, atol=1e-5)
    assert np.allclose(keras.ops.convert_to_numpy(out), ref_out, atol=1e-5)


def test_exercises_declare_medlearn_forbidden():
    for eid in ("compress.quantize", "compress.scales", "compress.global_prune", "attention.scaled_dot"):
        ex = get_exercise(eid)
        if hasattr(ex, "forbidden"):
            assert "medlearn" in ex.forbidden
