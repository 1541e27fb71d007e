"""int8 weight quantisation by hand: symmetric scales, per tensor or per output channel.

A float weight ``w`` is stored as an int8 ``q = clip(round(w / scale), -127, 127)`` and read
back as ``q * scale``. With ``scale = max|w| / 127`` nothing is clipped and every weight is off
by at most ``scale / 2``: the error bound. One scale per *output channel* (the last axis of a
Keras ``Conv2D`` or ``Dense`` kernel) keeps the bound small for channels whose weights are
small, where a single per-tensor scale is set by the largest channel.

Also :func:`keras_int8`, Keras' own ``model.quantize("int8")`` on the layers that support it.
NumPy only, except :func:`keras_int8`.

Used in lesson 11.
"""
from __future__ import annotations

import numpy as np

from medlearn.errors import MedlearnError

__all__ = ["CompressError", "QMAX", "symmetric_scale", "quantize", "dequantize", "quantize_weights",
           "quantization_error", "keras_int8"]

QMAX = 127  # symmetric int8: [-127, 127], so that -x is representable whenever x is


class CompressError(MedlearnError, ValueError):
    """A model, file or option that compression cannot use."""


def _channel_axes(ndim: int, axis):
    """The axes to reduce over to get one scale per index of ``axis`` (None: all axes)."""
    if axis is None:
        return None
    if not -ndim <= int(axis) < ndim:
        raise CompressError(f"axis must index the weight array's {ndim} axes. Received: axis={axis}")
    keep = int(axis) % ndim
    return tuple(a for a in range(ndim) if a != keep)


def symmetric_scale(weights, axis=None) -> np.ndarray:
    """The symmetric int8 scale ``max|w| / 127``, per tensor or per index of ``axis``.

    Args:
        weights: float array, e.g. a Conv2D kernel (kh, kw, in, out).
        axis: None for one scale for the whole tensor; ``-1`` for one scale per output channel
            of a Keras kernel (broadcastable against ``weights``).

    Returns:
        float64 scale: shape () for ``axis=None``, else ``weights``' shape with 1 on every axis
        but ``axis``. An all-zero tensor (or channel) gets scale 1.0, so that 0 / scale is 0.

    Example:
        >>> float(symmetric_scale(np.array([-2.54, 1.0, 0.5])))
        0.02
    """
    w = np.asarray(weights, dtype=np.float64)
    axes = _channel_axes(w.ndim, axis)
    top = np.max(np.abs(w), axis=axes, keepdims=axes is not None) if w.size else np.float64(0.0)
    scale = np.asarray(top, dtype=np.float64) / QMAX
    return np.where(scale > 0, scale, 1.0)


def quantize(weights, scale) -> np.ndarray:
    """``clip(round(w / scale), -127, 127)`` as int8 (round half to even, like NumPy and TFLite)."""
    q = np.rint(np.asarray(weights, dtype=np.float64) / np.asarray(scale, dtype=np.float64))
    return np.clip(q, -QMAX, QMAX).astype(np.int8)


def dequantize(q, scale) -> np.ndarray:
    """``q * scale`` as float32."""
    return (np.asarray(q, dtype=np.float64) * np.asarray(scale, dtype=np.float64)).astype(np.float32)


def quantize_weights(weights, axis=None):
    """Quantise and read back: ``(q int8, scale, restored float32)``.

    Args:
        weights: float array.
        axis: None (per tensor) or the channel axis (``-1`` for Keras kernels).

    Returns:
        ``(q, scale, restored)``; ``|weights - restored| <= scale / 2`` everywhere.
    """
    scale = symmetric_scale(weights, axis)
    q = quantize(weights, scale)
    return q, scale, dequantize(q, scale)


def quantization_error(weights, axis=None) -> dict:
    """Error of int8 storage: ``{"max_abs", "rms", "bound"}`` (bound: the largest ``scale / 2``).

    Example:
        >>> err = quantization_error(np.random.default_rng(0).normal(size=(3, 3, 8, 16)), axis=-1)
        >>> err["max_abs"] <= err["bound"]
        True
    """
    w = np.asarray(weights, dtype=np.float64)
    _, scale, restored = quantize_weights(w, axis)
    diff = w - restored.astype(np.float64)
    return {"max_abs": float(np.max(np.abs(diff))) if w.size else 0.0,
            "rms": float(np.sqrt(np.mean(diff ** 2))) if w.size else 0.0,
            "bound": float(np.max(scale) / 2)}


def keras_int8(model):
    """Keras' own ``model.quantize("int8")`` on a copy: int8 kernels (per output channel) for the
    layers Keras supports (``Dense``, ``EinsumDense`` - so ``MultiHeadAttention`` - and ``Embedding``;
    ``Conv2D`` too in recent Keras).

    Activations stay float; each matmul quantises its input on the fly. The model is still a
    Keras model (any backend), saved with int8 kernels.

    Args:
        model: a ``keras.Model``.

    Returns:
        ``(quantized_model, names)``: the copy and the names of the layers that got int8 kernels
        (empty when no layer is supported - then the copy is unchanged).
    """
    import keras

    from medlearn.compress.runtime import inference_model

    shared = inference_model(model)          # shares its layers with ``model``: clone before changing
    copy = keras.models.clone_model(shared)
    copy.set_weights(shared.get_weights())
    import warnings

    try:
        with warnings.catch_warnings():  # one "does not have a quantize method" warning per other layer
            warnings.simplefilter("ignore")
            copy.quantize("int8")
    except (ValueError, NotImplementedError):  # nothing quantisable in this model
        return copy, []
    names = [layer.name for layer in _flat_layers(copy) if getattr(layer, "quantization_mode", None) == "int8"]
    return copy, names


def _flat_layers(model):
    """Every layer inside ``model``, nested ones too (a MultiHeadAttention's projections)."""
    return model._flatten_layers(include_self=False, recursive=True)
