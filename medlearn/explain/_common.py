"""Shared by the explanation methods: input checks, the backend's gradient, upsampling, normalising.

Keras 3 has no cross-backend gradient API, so :func:`score_gradients` asks the backend in
use: TensorFlow's ``GradientTape``, ``jax.grad`` or torch autograd. Keras is imported
inside the functions.
"""
from __future__ import annotations

import numpy as np

from medlearn.errors import MedlearnError

__all__ = ["ExplainError", "as_model_input", "class_scores_fn", "score_gradients", "upsample", "normalize_maps",
           "resolve_classes", "predict"]


class ExplainError(MedlearnError, ValueError):
    """A model, images, masks or options an explanation method cannot work with."""


def _has_layer(model, names):
    return any(type(layer).__name__ in names for layer in _all_layers(model))


def _all_layers(model):
    for layer in getattr(model, "layers", []):
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def as_model_input(model, images, argument="images"):
    """``images`` as the array the model takes: shape (N, *model.input_shape[1:]), dtype checked.

    A grey model (C = 1) also accepts (N, H, W). uint8 images for a model without a
    Rescaling/Normalization layer, or float images in [0, 1] for a model that rescales
    uint8 inside, are refused: both would give the network numbers it never saw.
    """
    x = np.asarray(images)
    if x.dtype == object or x.dtype == bool or not np.issubdtype(x.dtype, np.number):
        raise ExplainError(f"{argument} must be a numeric array (uint8 or float). Received: dtype={x.dtype}")
    shape = tuple(model.input_shape[1:])
    if x.ndim == len(shape) and shape[-1] == 1 and tuple(x.shape[1:]) == shape[:-1]:
        x = x[..., None]
    if x.ndim != len(shape) + 1 or any(s is not None and s != got for s, got in zip(shape, x.shape[1:])):
        raise ExplainError(f"{argument} must be a batch (N, {', '.join(map(str, shape))}) as the model takes it. "
                           f"Received: {argument}.shape={x.shape}. Fix: add the batch axis with images[None] "
                           "for one image.")
    if len(x) == 0:
        raise ExplainError(f"{argument} is empty. Received: {argument}.shape={x.shape}")
    rescales = _has_layer(model, {"Rescaling"})
    normalizes = rescales or _has_layer(model, {"Normalization"})
    if rescales and np.issubdtype(x.dtype, np.floating) and x.size and float(np.nanmax(x)) <= 1.0:
        raise ExplainError(f"the model rescales uint8 pixels (0..255) inside, but {argument} are floats in [0, 1]. "
                           f"Received: {argument}.dtype={x.dtype}, max {float(np.nanmax(x)):.3g}. "
                           "Fix: pass the dataset's uint8 images.")
    if not normalizes and np.issubdtype(x.dtype, np.integer) and x.size and int(x.max()) > 1:
        raise ExplainError(f"the model takes float images in [0, 1], but {argument} are integers up to {int(x.max())}. "
                           f"Received: {argument}.dtype={x.dtype}. Fix: pass images / 255 "
                           "(medlearn.datasets.to_arrays does this).")
    return x


def output_units(model, what="grad_cam"):
    shape = tuple(model.output_shape)
    if len(shape) != 2:
        raise ExplainError(f"{what} explains classifiers with an output (N, classes). Received: a model with "
                           f"output shape {shape}. Fix: for a segmentation model look at its predicted mask.")
    return int(shape[1])


def resolve_classes(class_index, probs, units, n):
    """Per-image class indices: ``None`` -> the predicted class; an int or (N,) ints -> checked."""
    n_classes = 2 if units == 1 else units
    if class_index is None:
        return (probs[:, 0] >= 0.5).astype(np.int64) if units == 1 else np.argmax(probs, axis=1).astype(np.int64)
    idx = np.asarray(class_index)
    if idx.dtype == bool or not np.issubdtype(idx.dtype, np.integer) or idx.ndim > 1:
        raise ExplainError(f"class_index must be None, an int or an (N,) int array. Received: class_index={class_index!r}")
    idx = np.broadcast_to(idx, (n,)).astype(np.int64) if idx.ndim == 0 or len(idx) == n else None
    if idx is None:
        raise ExplainError(f"class_index needs one entry per image ({n}). Received: {np.shape(class_index)}")
    if idx.min() < 0 or idx.max() >= n_classes:
        bad = int(idx[(idx < 0) | (idx >= n_classes)][0])
        raise ExplainError(f"class_index must be in [0, {n_classes - 1}] for this model ({n_classes} classes). "
                           f"Received: class_index={bad}")
    return idx


def predict(model, x, batch_size=256):
    """Model outputs as float64 NumPy, in batches, inference mode."""
    import keras

    out = [keras.ops.convert_to_numpy(model(x[i:i + batch_size], training=False))
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out).astype(np.float64)


def class_scores_fn(head, units, logit_layer=None):
    """A function ``(features, onehot_or_sign) -> (N,) class scores``, differentiable in the backend.

    The score is the class *logit* when the output layer is a Dense with sigmoid/softmax
    (what Grad-CAM prescribes: the probability saturates and its gradient vanishes);
    ``head`` then maps the features to the Dense layer's input and the logit is computed
    here from its kernel and bias. For one sigmoid unit, class 1 scores ``z`` and class 0 ``-z``.
    """
    import keras

    ops = keras.ops

    def scores(features, select):
        h = head(features, training=False)
        if logit_layer is not None:
            h = ops.matmul(h, logit_layer.kernel)
            if logit_layer.use_bias:
                h = h + logit_layer.bias
        h = ops.cast(h, "float32")
        return ops.sum(h * select, axis=1)

    return scores


def score_gradients(scores, features, select):
    """Gradient of ``sum(scores(features, select))`` with respect to ``features``, by the backend in use.

    Images are independent in inference mode, so the gradient of the sum is each image's own gradient.

    Returns:
        ``(values, gradients)``: the (N,) scores and float64 gradients shaped like ``features``.
    """
    import keras

    backend = keras.config.backend()
    select = np.asarray(select, dtype=np.float32)
    if backend == "tensorflow":
        import tensorflow as tf

        a = tf.convert_to_tensor(np.asarray(features, dtype=np.float32))
        s = tf.convert_to_tensor(select)
        with tf.GradientTape() as tape:
            tape.watch(a)
            values = scores(a, s)
            total = tf.reduce_sum(values)
        grads = tape.gradient(total, a)
    elif backend == "jax":
        import jax
        import jax.numpy as jnp

        s = jnp.asarray(select)

        def total(a):
            v = scores(a, s)
            return jnp.sum(v), v

        (_, values), grads = jax.value_and_grad(total, has_aux=True)(jnp.asarray(features, dtype=jnp.float32))
    elif backend == "torch":
        import torch

        a = keras.ops.convert_to_tensor(np.asarray(features, dtype=np.float32)).detach().requires_grad_(True)
        values = scores(a, keras.ops.convert_to_tensor(select))
        torch.sum(values).backward()
        grads, values = a.grad, values.detach()
    else:
        raise ExplainError(f"gradients need the tensorflow, jax or torch Keras backend. Received: backend={backend!r}. "
                           "Fix: use occlusion(), which needs no gradients.")
    return (keras.ops.convert_to_numpy(values).astype(np.float64),
            keras.ops.convert_to_numpy(grads).astype(np.float64))


def _interp_matrix(n_out, n_in):
    """(n_out, n_in) bilinear weights with half-pixel centres (what image resizing does)."""
    src = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), lo] += 1 - frac
    m[np.arange(n_out), hi] += frac
    return m


def upsample(maps, size):
    """Bilinear resize of (N, h, w) maps to (N, H, W) (``size = (H, W)``), half-pixel centres."""
    maps = np.asarray(maps, dtype=np.float64)
    ry, rx = _interp_matrix(size[0], maps.shape[1]), _interp_matrix(size[1], maps.shape[2])
    return np.einsum("Hh,nhw,Ww->nHW", ry, maps, rx)


def normalize_maps(maps):
    """Divide each map by its maximum (maps are >= 0); an all-zero map stays zero. float32 in [0, 1]."""
    maps = np.maximum(np.asarray(maps, dtype=np.float64), 0.0)
    peak = maps.reshape(len(maps), -1).max(axis=1)
    out = np.where(peak[:, None, None] > 0, maps / np.where(peak > 0, peak, 1)[:, None, None], 0.0)
    return out.astype(np.float32)
