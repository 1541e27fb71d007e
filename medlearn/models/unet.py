"""A small U-Net (Ronneberger et al., 2015) in plain Keras 3 layers: ``build_model("unet", ...)``.

Encoder: per level two 3x3 Conv-BatchNorm-ReLU, then a 2x2 max-pool (the side halves).
Decoder: a 2x2 transposed convolution with stride 2 (the side doubles), the encoder's
feature map of the same side *concatenated* on the channel axis (the skip connection:
fine detail the bottleneck has lost), two more 3x3 convolutions. A 1x1 convolution with a
sigmoid gives the lesion probability of every pixel.

At 28x28 with the default ``filters=(16, 32, 64)``: 28 -> 14 -> 7 -> 14 -> 28, about
0.1 M parameters. The model takes uint8 images 0..255 (a ``Rescaling`` layer inside).

Used in lesson 10 and by ``medlearn train phantoms --task segmentation``.
"""
from __future__ import annotations

from medlearn.models.heads import ModelError

__all__ = ["unet", "unet_shapes"]


def _check(input_shape, filters):
    from medlearn.models.builders import _check_shape

    shape = _check_shape(input_shape)
    try:
        filters = tuple(int(f) for f in filters)
    except (TypeError, ValueError):
        filters = ()
    if len(filters) < 2 or min(filters) < 1:
        raise ModelError(f"filters must list at least 2 positive ints (one per level). Received: filters={filters!r}")
    step = 2 ** (len(filters) - 1)
    if shape[0] % step or shape[1] % step:
        raise ModelError(f"the image side must be divisible by 2**{len(filters) - 1} = {step} for "
                         f"{len(filters)} levels. Received: input_shape={tuple(input_shape)!r}, "
                         f"filters={filters}. Fix: fewer levels or a padded image.")
    return shape, filters


def unet_shapes(input_shape, filters=(16, 32, 64)):
    """The feature-map shapes (H, W, C) along the U: encoder levels, bottleneck, decoder levels.

    Returns:
        ``{"encoder": [...], "bottleneck": (h, w, c), "decoder": [...]}``; decoder level i
        concatenates the transposed convolution's output with encoder level ``-1 - i``.
    """
    shape, filters = _check(input_shape, filters)
    h, w = shape[:2]
    enc = []
    for f in filters[:-1]:
        enc.append((h, w, f))
        h, w = h // 2, w // 2
    bottleneck = (h, w, filters[-1])
    dec = []
    for f in reversed(filters[:-1]):
        h, w = h * 2, w * 2
        dec.append((h, w, f))
    return {"encoder": enc, "bottleneck": bottleneck, "decoder": dec}


def unet(input_shape, n_classes: int = 1, task: str = "segmentation", *, filters=(16, 32, 64), loss="dice_bce",
         rescale: bool = True, compile: bool = True, learning_rate: float = 1e-3, seed=None, augment=None):
    """Build a small U-Net for binary (lesion vs background) segmentation.

    Args:
        input_shape: (H, W) or (H, W, C); H and W divisible by ``2 ** (len(filters) - 1)``.
        n_classes: 1 or 2 (lesion vs background: one sigmoid channel).
        task: ``"segmentation"``.
        filters: filters per level, the last one at the bottleneck.
        loss: ``"dice_bce"`` (default), ``"dice"`` or ``"bce"`` (see :mod:`medlearn.models.losses`).
        rescale: put ``Rescaling(1/255)`` first, so the model takes uint8 images 0..255.
        compile: compile with Adam, ``loss`` and a Dice-like metric (``"iou"`` at 0.5).
        learning_rate: Adam's learning rate.
        seed: seed of the weights (None: Keras' global seed).
        augment: must be None (flips/rotations would have to move the masks too).

    Returns:
        A ``keras.Model`` mapping (N, H, W, C) images to float32 (N, H, W, 1) probabilities.

    Raises:
        ModelError: a bad shape, filters, task or n_classes.

    Example:
        >>> model = build_model("unet", (28, 28), 1, "segmentation")   # doctest: +SKIP
        >>> model.output_shape                                         # doctest: +SKIP
        (None, 28, 28, 1)

    Used in lesson 10 (through ``build_model``) and by ``medlearn train phantoms --task segmentation``.
    """
    import keras

    from medlearn.models.builders import BN_MOMENTUM
    from medlearn.models.losses import segmentation_loss

    if str(task).strip().lower() != "segmentation":
        raise ModelError(f"unet segments images: task must be 'segmentation'. Received: task={task!r}")
    if n_classes not in (1, 2):
        raise ModelError(f"unet segments lesion vs background: n_classes must be 1 or 2. Received: n_classes={n_classes!r}")
    if augment not in (None, "none", False):
        raise ModelError(f"unet takes no augmentation layers (the masks would not move with the image). "
                         f"Received: augment={augment!r}")
    shape, filters = _check(input_shape, filters)
    if seed is not None:
        keras.utils.set_random_seed(int(seed))

    def block(x, f):
        for _ in range(2):
            x = keras.layers.Conv2D(f, 3, padding="same", use_bias=False)(x)
            x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
            x = keras.layers.Activation("relu")(x)
        return x

    inputs = keras.Input(shape=shape, name="image")
    x = keras.layers.Rescaling(1.0 / 255)(inputs) if rescale else inputs
    skips = []
    for f in filters[:-1]:
        x = block(x, f)
        skips.append(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = block(x, filters[-1])
    for f, skip in zip(reversed(filters[:-1]), reversed(skips)):
        x = keras.layers.Conv2DTranspose(f, 2, strides=2, padding="same")(x)
        x = keras.layers.Concatenate(axis=-1)([x, skip])
        x = block(x, f)
    outputs = keras.layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name="output")(x)
    model = keras.Model(inputs, outputs, name="unet")
    if compile:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=segmentation_loss(loss),
                      metrics=[keras.metrics.BinaryIoU(target_class_ids=[1], threshold=0.5, name="iou")])
    return model
