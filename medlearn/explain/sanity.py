"""The model-parameter randomisation test (Adebayo et al., 2018, "Sanity checks for saliency maps").

Re-initialise the weights layer by layer, from the output down ("cascading"), recompute the
maps and compare them with the trained model's maps by Spearman rank correlation. A map
that explains the *model* must change once the weights it depends on are random; a map
that survives (an edge detector would) shows the image, not what the network learned.

Used in lesson 09.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from medlearn.explain._common import ExplainError, as_model_input, output_units, predict, resolve_classes

__all__ = ["RandomizationTest", "randomization_test", "rank_correlation"]


@dataclasses.dataclass
class RandomizationTest:
    """What :func:`randomization_test` returns.

    Attributes:
        layers: ``layers[k]`` is the layer re-initialised at step k+1 (output layer first);
            after step k+1 the layers ``layers[:k+1]`` are all random.
        correlation: (steps,) mean Spearman correlation of the maps with the trained maps.
        per_image: (steps, N) the correlation per image.
        maps: (steps + 1, N, H, W): the trained model's maps, then one set per step.
    """

    layers: list
    correlation: np.ndarray
    per_image: np.ndarray
    maps: np.ndarray

    def __str__(self) -> str:
        rows = [f"  + {name:28s} {r:+.3f}" for name, r in zip(self.layers, self.correlation)]
        return "randomisation test (Spearman with the trained maps, cascading from the output)\n" + "\n".join(rows)


def rank_correlation(a, b):
    """Spearman correlation of each pair of maps: (N, H, W) x (N, H, W) -> (N,).

    A constant map has no ranking; its correlation with anything is defined as 0.
    """
    from scipy.stats import spearmanr

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    out = np.zeros(len(a))
    for i in range(len(a)):
        x, y = a[i].ravel(), b[i].ravel()
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            continue
        out[i] = spearmanr(x, y).statistic
    return out


def _reinitialize(layer, rng):
    import keras

    for var in layer.trainable_weights:
        attr = var.path.split("/")[-1]
        init = getattr(layer, f"{attr}_initializer", None)
        shape = tuple(var.shape)
        if init is None:
            init = keras.initializers.GlorotUniform() if len(shape) >= 2 else keras.initializers.Zeros()
        config = init.get_config()
        if "seed" in config:
            init = type(init).from_config({**config, "seed": int(rng.integers(2**31 - 1))})
        var.assign(keras.ops.cast(init(shape), var.dtype))


def randomization_test(model, images, *, method=None, class_index=None, steps=None, seed=0, **method_kwargs):
    """Cascading parameter randomisation: how fast do the maps decorrelate from the trained ones?

    The model itself is not changed: a clone with copied weights is re-initialised, one layer
    with weights at a time from the output down, with each layer's own initialisers.

    Args:
        model: a trained Keras classifier.
        images: a batch as the model takes it.
        method: ``(model, images, class_index=...) -> (N, H, W) maps``; default :func:`grad_cam`.
        class_index: the class explained; None takes the trained model's prediction and keeps
            it fixed for every step (so the maps always explain the same class).
        steps: re-initialise only the top ``steps`` layers (default: all layers with weights).
        seed: seed of the new weights.
        **method_kwargs: passed to ``method`` (e.g. ``layer=``).

    Returns:
        A :class:`RandomizationTest`.

    Raises:
        ExplainError: bad images or class index (as :func:`grad_cam`), or a model without weights.

    Example:
        >>> result = randomization_test(model, x[:32])   # doctest: +SKIP
        >>> result.correlation[-1] < 0.3                  # doctest: +SKIP

    Used in lesson 09.
    """
    import keras

    from medlearn.explain.gradcam import grad_cam

    method = grad_cam if method is None else method
    x = as_model_input(model, images)
    units = output_units(model, "randomization_test")
    classes = resolve_classes(class_index, predict(model, x), units, len(x))
    trained = np.asarray(method(model, x, class_index=classes, **method_kwargs))
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    order = [layer for layer in reversed(clone.layers) if layer.trainable_weights]
    if not order:
        raise ExplainError(f"the model has no weights to randomise. Received: model={model.name!r}")
    if steps is not None:
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ExplainError(f"steps must be a positive int. Received: steps={steps!r}")
        order = order[:steps]
    rng = np.random.default_rng(seed)
    maps, corr = [trained], []
    for layer in order:
        _reinitialize(layer, rng)
        m = np.asarray(method(clone, x, class_index=classes, **method_kwargs))
        maps.append(m)
        corr.append(rank_correlation(trained, m))
    per_image = np.stack(corr)
    return RandomizationTest([layer.name for layer in order], per_image.mean(axis=1), per_image, np.stack(maps))
