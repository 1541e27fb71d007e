"""Grad-CAM (Selvaraju et al., 2017) for Keras 3 models on every backend.

The class-activation map of class c on the feature maps ``A_k`` (h, w) of a convolutional layer:

    alpha_k = mean over (i, j) of d y_c / d A_k[i, j]      (one weight per channel)
    cam     = ReLU( sum_k alpha_k * A_k )                   (h, w), then resized to the image

``y_c`` is the class *logit* (the score before sigmoid/softmax). The ReLU keeps the regions
that speak *for* the class. Maps are resized bilinearly to the input and divided by their
maximum, so they lie in [0, 1].

Used in lesson 09 and by ``medlearn train`` (``gradcam.png``).
"""
from __future__ import annotations

import numpy as np

from medlearn.explain._common import (
    ExplainError, as_model_input, class_scores_fn, normalize_maps, output_units, predict, resolve_classes,
    score_gradients, upsample,
)

__all__ = ["grad_cam", "last_conv_layer", "feature_maps_and_gradients", "cam_from_parts"]


def _is_conv(layer):
    name = type(layer).__name__
    return "Conv" in name and "Transpose" not in name and "LSTM" not in name


def _rank4(layer):
    try:
        return len(layer.output.shape) == 4
    except (AttributeError, ValueError):
        return False


def last_conv_layer(model) -> str:
    """The name of the layer Grad-CAM uses by default: the last convolutional feature map.

    That is the last convolution's output *after* what follows it at the same resolution
    (BatchNorm, ReLU, a residual Add), i.e. the last (N, h, w, K) tensor before pooling.

    Raises:
        ExplainError: the model has no convolutional layer (use :func:`medlearn.explain.occlusion`).

    Used in lesson 09.
    """
    layers = list(model.layers)
    convs = [i for i, layer in enumerate(layers) if _is_conv(layer) and _rank4(layer)]
    if not convs:
        raise ExplainError(f"grad_cam needs a convolutional layer, and model {model.name!r} has none "
                           f"(layers: {', '.join(type(l).__name__ for l in layers[:8])}"
                           f"{' ...' if len(layers) > 8 else ''}). Received: model={model.name!r}. "
                           "Fix: use medlearn.explain.occlusion(model, images), which works for any model.")
    i = convs[-1]
    hw = tuple(layers[i].output.shape[1:3])
    chosen = i
    for j in range(i + 1, len(layers)):
        if _rank4(layers[j]) and tuple(layers[j].output.shape[1:3]) == hw:
            chosen = j
        else:
            break
    return layers[chosen].name


def _split(model, layer):
    """(body: input -> features, head: features -> logits source, logit Dense layer or None, layer name)."""
    import keras

    name = layer if isinstance(layer, str) or layer is None else getattr(layer, "name", layer)
    name = last_conv_layer(model) if name is None else name
    try:
        feature = model.get_layer(name)
    except ValueError:
        raise ExplainError(f"layer must name a layer of the model. Received: layer={name!r}. "
                           f"Layers with feature maps: {[l.name for l in model.layers if _rank4(l)]}") from None
    if not _rank4(feature):
        raise ExplainError(f"layer must output feature maps (N, h, w, channels). Received: layer={name!r} "
                           f"with output shape {tuple(feature.output.shape)}")
    last = model.layers[-1]
    act = getattr(getattr(last, "activation", None), "__name__", "")
    squashes = act in ("sigmoid", "softmax")
    logit_layer = last if type(last).__name__ == "Dense" and squashes else None
    # the score is the logit: the Dense layer's input times its kernel, or an Activation layer's input
    target = last.input if squashes and type(last).__name__ in ("Dense", "Activation") else model.output
    try:
        head = keras.Model(feature.output, target)
    except ValueError as exc:
        raise ExplainError(f"the model's output does not depend on layer {name!r} alone ({exc}). "
                           f"Received: layer={name!r}. Fix: pick a later layer.") from None
    body = keras.Model(model.input, feature.output)
    return body, head, logit_layer, name


def _select(classes, units):
    if units == 1:
        return np.where(classes == 1, 1.0, -1.0)[:, None]
    return np.eye(units)[classes]


def feature_maps_and_gradients(model, images, *, class_index=None, layer=None, batch_size=128):
    """The two parts Grad-CAM combines: a layer's feature maps and the class score's gradient.

    Args:
        model, images, class_index, layer: as in :func:`grad_cam`.
        batch_size: images per forward/backward pass.

    Returns:
        ``(features, gradients, classes)``: float64 (N, h, w, K) feature maps ``A``, float64
        (N, h, w, K) gradients ``d y_c / d A`` and the (N,) int64 class explained per image.

    Raises:
        ExplainError: as :func:`grad_cam`.

    Used in lesson 09.
    """
    x = as_model_input(model, images)
    units = output_units(model)
    body, head, logit_layer, _ = _split(model, layer)
    classes = resolve_classes(class_index, predict(model, x), units, len(x))
    scores = class_scores_fn(head, units, logit_layer)
    select = _select(classes, units)
    feats, grads = [], []
    for i in range(0, len(x), batch_size):
        a = predict(body, x[i:i + batch_size])
        _, g = score_gradients(scores, a, select[i:i + batch_size])
        feats.append(a)
        grads.append(g)
    return np.concatenate(feats), np.concatenate(grads), classes


def cam_from_parts(features, gradients):
    """Grad-CAM's combination step: ``ReLU(sum_k mean_ij(dA_k) * A_k)``.

    Args:
        features: (h, w, K) or (N, h, w, K) feature maps.
        gradients: the same shape, the class score's gradient.

    Returns:
        (h, w) or (N, h, w) float64 maps, >= 0, not resized or normalised.
    """
    a, g = np.asarray(features, np.float64), np.asarray(gradients, np.float64)
    alpha = g.mean(axis=(-3, -2), keepdims=True)
    return np.maximum(np.sum(alpha * a, axis=-1), 0.0)


def grad_cam(model, images, *, class_index=None, layer=None, batch_size=128):
    """Grad-CAM heat maps at the input resolution.

    Args:
        model: a Keras 3 classifier with an output (N, classes): one sigmoid unit, or C units.
        images: a batch exactly as the model takes it, (N, H, W, C) (or (N, H, W) for a grey model):
            uint8 0..255 for a model that rescales inside (``medlearn train``'s ``model.keras``),
            float32 in [0, 1] for one that does not.
        class_index: None (each image's predicted class), an int or an (N,) int array; for a
            one-unit sigmoid model 1 = the positive class, 0 = the negative one.
        layer: the layer (name or object) whose feature maps are weighted; None takes
            :func:`last_conv_layer`.
        batch_size: images per forward/backward pass.

    Returns:
        float32 (N, H, W) maps in [0, 1] (each divided by its maximum; all zero where no
        region speaks for the class).

    Raises:
        ExplainError: no convolutional layer (use :func:`medlearn.explain.occlusion`), a
            ``class_index`` out of range, images of the wrong shape or dtype, or a model whose
            output is not (N, classes).

    Example:
        >>> maps = grad_cam(model, data.test.images[:16])           # doctest: +SKIP
        >>> maps.shape, maps.dtype                                   # doctest: +SKIP
        ((16, 28, 28), dtype('float32'))

    Used in lesson 09 and by ``medlearn train`` (``gradcam.png``).
    """
    x = as_model_input(model, images)
    feats, grads, _ = feature_maps_and_gradients(model, x, class_index=class_index, layer=layer,
                                                 batch_size=batch_size)
    return normalize_maps(upsample(cam_from_parts(feats, grads), x.shape[1:3]))
