"""Segmentation losses in ``keras.ops`` (every backend): soft Dice, and Dice + binary cross-entropy.

Pixel-wise binary cross-entropy averages over *all* pixels. When the lesion covers 3 % of
the image, predicting "background everywhere" already gives a small BCE, so a network
trained on BCE alone learns to draw nothing. The soft Dice loss scores the overlap with
the lesion itself, whatever its size:

    soft Dice = (2 * sum(y * p) + s) / (sum(y) + sum(p) + s)      per image, p = probabilities
    loss      = 1 - soft Dice                                     averaged over the batch

The smoothing ``s`` (default 1) keeps the loss defined on images without a lesion
(0/0 otherwise): there, predicting nothing scores 1 and every false pixel costs.

Importing this module does not import Keras; the functions do.

Used in lesson 10 and by ``medlearn train phantoms --task segmentation``.
"""
from __future__ import annotations

__all__ = ["soft_dice_loss", "dice_bce_loss", "segmentation_loss", "LOSSES"]

LOSSES = ("dice", "dice_bce", "bce")


def _flat(y_true, y_pred):
    import keras

    ops = keras.ops
    y_pred = ops.cast(y_pred, "float32")
    y_true = ops.cast(ops.reshape(y_true, ops.shape(y_pred)), "float32")
    n = ops.shape(y_pred)[0]
    return ops.reshape(y_true, (n, -1)), ops.reshape(y_pred, (n, -1))


def soft_dice_loss(y_true, y_pred, smooth: float = 1.0):
    """Per-image soft Dice loss ``1 - (2 sum(y p) + s) / (sum(y) + sum(p) + s)``.

    Args:
        y_true: (N, H, W[, 1]) masks, 0/1.
        y_pred: (N, H, W[, 1]) probabilities in [0, 1].
        smooth: the smoothing ``s`` > 0 (defines the loss on empty masks).

    Returns:
        A (N,) tensor of losses in [0, 1] (Keras averages it over the batch).

    Example:
        >>> model.compile(optimizer="adam", loss=soft_dice_loss)   # doctest: +SKIP

    Used in lesson 10.
    """
    import keras

    ops = keras.ops
    y, p = _flat(y_true, y_pred)
    inter = ops.sum(y * p, axis=1)
    return 1.0 - (2.0 * inter + smooth) / (ops.sum(y, axis=1) + ops.sum(p, axis=1) + smooth)


def dice_bce_loss(y_true, y_pred, smooth: float = 1.0, bce_weight: float = 1.0):
    """Soft Dice loss plus ``bce_weight`` times the mean pixel-wise binary cross-entropy, per image.

    BCE gives every pixel a gradient from the first step (Dice alone starts slowly on
    random predictions); Dice keeps the small lesion from being outvoted by the background.

    Args and returns as in :func:`soft_dice_loss`.

    Used by ``medlearn train phantoms --task segmentation``.
    """
    import keras

    ops = keras.ops
    y, p = _flat(y_true, y_pred)
    p = ops.clip(p, 1e-7, 1.0 - 1e-7)
    bce = -ops.mean(y * ops.log(p) + (1.0 - y) * ops.log(1.0 - p), axis=1)
    return soft_dice_loss(y_true, y_pred, smooth) + bce_weight * bce


_CLASSES: dict = {}


def segmentation_loss(name: str = "dice_bce", *, smooth: float = 1.0):
    """A serialisable ``keras.losses.Loss`` by name: ``"dice"``, ``"dice_bce"`` or ``"bce"``.

    A model compiled with it saves to ``model.keras`` and loads back with
    ``keras.saving.load_model`` once this module has been imported (``import medlearn.models.losses``).

    Raises:
        ModelError: unknown ``name`` or ``smooth`` <= 0.
    """
    import keras

    from medlearn.models.heads import ModelError

    if name not in LOSSES:
        raise ModelError(f"loss must be one of {', '.join(LOSSES)}. Received: loss={name!r}")
    if isinstance(smooth, bool) or not isinstance(smooth, (int, float)) or smooth <= 0:
        raise ModelError(f"smooth must be a positive number. Received: smooth={smooth!r}")
    if name == "bce":
        return keras.losses.BinaryCrossentropy(name="bce")
    return _loss_class()(kind=name, smooth=float(smooth))


def _loss_class():
    if "SegmentationLoss" not in _CLASSES:
        import keras

        @keras.saving.register_keras_serializable(package="medlearn")
        class SegmentationLoss(keras.losses.Loss):
            """Soft Dice (``kind="dice"``) or Dice + BCE (``kind="dice_bce"``) as a Keras loss."""

            def __init__(self, kind="dice_bce", smooth=1.0, name=None, **kwargs):
                super().__init__(name=name or kind, **kwargs)
                self.kind, self.smooth = kind, smooth

            def call(self, y_true, y_pred):
                fn = soft_dice_loss if self.kind == "dice" else dice_bce_loss
                return fn(y_true, y_pred, self.smooth)

            def get_config(self):
                return {**super().get_config(), "kind": self.kind, "smooth": self.smooth}

        _CLASSES["SegmentationLoss"] = SegmentationLoss
    return _CLASSES["SegmentationLoss"]
