"""Reference models in plain Keras 3: logistic regression, an MLP, a small CNN, a residual CNN.

Every builder takes the input shape, the number of classes and the task, and
picks the output layer and loss from :func:`output_spec`. Models take raw
images, uint8 0..255 of shape (N, H, W, C) (a grey (H, W) input shape gets a channel
axis): a ``Rescaling(1/255)`` layer inside scales them, so a saved model needs no
preprocessing (``rescale=False`` builds a model for float images in [0, 1] instead). Only
``keras.layers`` / ``keras.ops`` are used, so the models run with the TensorFlow, JAX or
PyTorch backend; Keras is imported inside the functions.

Used in lesson 08.
"""
from __future__ import annotations

import math

from medlearn.models.heads import ModelError, compile_model, output_spec

__all__ = ["MODELS", "HEADS", "BN_MOMENTUM", "logistic_regression", "mlp", "small_cnn", "resnet_cnn", "build_model"]

MODELS = ("logreg", "mlp", "cnn", "resnet", "vit")

# Keras' default 0.99 lets the inference-time statistics lag behind for the first ~500
# steps, so a short CPU run evaluates with stale means (validation stuck at chance).
BN_MOMENTUM = 0.9


def _check_shape(input_shape) -> tuple:
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) == 2:
        shape = shape + (1,)
    if len(shape) != 3 or min(shape) < 1:
        raise ModelError("input_shape must be (height, width) or (height, width, channels). "
                         f"Received: input_shape={input_shape!r}")
    return shape


def _inputs(input_shape, augment, seed, rescale=True):
    """Input layer, ``Rescaling(1/255)`` (``rescale``), then (optionally) the augmentation block. Returns (inputs, x)."""
    import keras

    from medlearn.models.augment import augmentation_layers

    inputs = keras.Input(shape=_check_shape(input_shape), name="image")
    x = keras.layers.Rescaling(1.0 / 255, name="rescale")(inputs) if rescale else inputs
    if augment is not None and augment != "none":
        aug = augment if isinstance(augment, keras.layers.Layer) else augmentation_layers(augment, seed=seed)
        if not isinstance(aug, keras.layers.Identity):
            x = aug(x)
    return inputs, x


HEADS = ("auto", "ordinal")


def _head(x, task, n_classes, dropout, name, head="auto"):
    import keras

    spec = output_spec(task, n_classes)
    if head not in HEADS:
        raise ModelError(f"head must be one of {', '.join(HEADS)}. Received: head={head!r}")
    if head == "ordinal":
        if spec.task != "ordinal":
            raise ModelError(f"head='ordinal' needs ordered classes (task 'ordinal'). Received: task={task!r}; "
                             "use head='auto' for this task.")
        from medlearn.models.ordinal import ordinal_head  # imports Keras and registers its layer

        return ordinal_head(x, spec.units, dropout)
    if dropout:
        x = keras.layers.Dropout(dropout)(x)
    # float32 even under a mixed-precision policy: a float16 sigmoid/softmax saturates and
    # its log underflows in the loss
    return keras.layers.Dense(spec.units, activation=spec.activation, dtype="float32", name="output")(x)


def _finish(inputs, outputs, name, task, n_classes, compile, learning_rate):
    import keras

    model = keras.Model(inputs, outputs, name=name)
    if compile:
        compile_model(model, task, n_classes, learning_rate=learning_rate)
    return model


def logistic_regression(input_shape, n_classes, task, *, augment=None, compile=True,
                        learning_rate=1e-3, seed=None, rescale=True, head="auto"):
    """Logistic (softmax) regression on raw pixels: Flatten -> Dense.

    The baseline every CNN must beat: it sees pixels, not shapes.

    Args:
        input_shape: (H, W) or (H, W, C).
        n_classes: classes (binary: 2) or labels (multi-label).
        task: ``binary``, ``multi-class``, ``multi-label`` or ``ordinal`` (MedMNIST spellings too).
        augment: ``None``, a policy/dataset name (see :mod:`medlearn.models.augment`) or a Keras layer.
        compile: compile with :func:`compile_model`.
        learning_rate: Adam's learning rate when compiling.
        seed: seed for the augmentation layers.
        rescale: start with ``Rescaling(1/255)``: the model takes uint8 (or float) images
            0..255. False: it takes float images already in [0, 1].
        head: ``"auto"`` (the task's usual layer: sigmoid or softmax) or ``"ordinal"`` (ordered
            classes only: one severity score and ordered cut-points, :mod:`medlearn.models.ordinal`).

    Returns:
        A ``keras.Model`` mapping images (N, H, W, C), 0..255 (``rescale=False``: 0..1), to
        probabilities (N, units).

    Example:
        >>> model = logistic_regression((28, 28), 2, "binary")   # doctest: +SKIP
        >>> model.output_shape                                   # doctest: +SKIP
        (None, 1)
    """
    import keras

    inputs, x = _inputs(input_shape, augment, seed, rescale)
    x = keras.layers.Flatten()(x)
    outputs = _head(x, task, n_classes, 0.0, "logreg", head)
    return _finish(inputs, outputs, "logreg", task, n_classes, compile, learning_rate)


def mlp(input_shape, n_classes, task, *, hidden=(256, 128), dropout=0.2, augment=None,
        compile=True, learning_rate=1e-3, seed=None, rescale=True, head="auto"):
    """A multi-layer perceptron: Flatten -> [Dense + ReLU + Dropout] x len(hidden) -> output.

    Args:
        input_shape, n_classes, task, augment, compile, learning_rate, seed, rescale, head: as in
            :func:`logistic_regression`.
        hidden: units of each hidden layer.
        dropout: dropout rate after each hidden layer, in [0, 1).

    Returns:
        A ``keras.Model``.
    """
    import keras

    inputs, x = _inputs(input_shape, augment, seed, rescale)
    x = keras.layers.Flatten()(x)
    for units in hidden:
        x = keras.layers.Dense(int(units), activation="relu")(x)
        if dropout:
            x = keras.layers.Dropout(dropout)(x)
    outputs = _head(x, task, n_classes, 0.0, "mlp", head)
    return _finish(inputs, outputs, "mlp", task, n_classes, compile, learning_rate)


def _n_stem_downsamples(size: int) -> int:
    """Stride-2 steps needed before the stages so that 64/128/224 inputs cost about what 28 does."""
    return max(0, math.ceil(math.log2(size / 32))) if size > 32 else 0


def _conv_bn_relu(x, filters, *, strides=1, kernel_size=3):
    import keras

    x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    return keras.layers.Activation("relu")(x)


def _global_pool(x, pooling):
    """Global average, max, or both concatenated ("avgmax").

    Max pooling answers "is there a lesion *anywhere*?" - a small bright spot that an
    average over the whole image would dilute; average pooling summarises texture.
    """
    import keras

    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D()(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D()(x)
    if pooling == "avgmax":
        return keras.layers.Concatenate()([keras.layers.GlobalAveragePooling2D()(x),
                                           keras.layers.GlobalMaxPooling2D()(x)])
    raise ModelError(f"pooling must be 'avg', 'max' or 'avgmax'. Received: pooling={pooling!r}")


def small_cnn(input_shape, n_classes, task, *, filters=(16, 32, 64), dropout=0.2, pooling="avgmax",
              augment=None, compile=True, learning_rate=1e-3, seed=None, rescale=True, head="auto"):
    """A VGG-style CNN: per stage two 3x3 Conv-BatchNorm-ReLU and a 2x2 max-pool, then global pooling.

    At 28x28 with the default filters: 28 -> 14 -> 7 -> 3, about 70 k parameters and
    7 M multiply-adds per image - small enough to train in a minute on two CPU cores.
    Larger inputs (64, 128, 224) first pass through stride-2 convolutions so the
    cost stays close to that of 28x28.

    Args:
        input_shape, n_classes, task, augment, compile, learning_rate, seed, rescale: as in
            :func:`logistic_regression`.
        filters: filters per stage (one max-pool per stage).
        dropout: dropout before the output layer.
        pooling: ``"avg"``, ``"max"`` or ``"avgmax"`` (both, concatenated) global pooling.
        head: as in :func:`logistic_regression`.

    Returns:
        A ``keras.Model``.
    """
    import keras

    shape = _check_shape(input_shape)
    inputs, x = _inputs(shape, augment, seed, rescale)
    for _ in range(_n_stem_downsamples(min(shape[:2]))):
        x = _conv_bn_relu(x, filters[0], strides=2)
    for f in filters:
        x = _conv_bn_relu(x, f)
        x = _conv_bn_relu(x, f)
        x = keras.layers.MaxPooling2D(2)(x)
    x = _global_pool(x, pooling)
    outputs = _head(x, task, n_classes, dropout, "cnn", head)
    return _finish(inputs, outputs, "cnn", task, n_classes, compile, learning_rate)


def _residual_block(x, filters, strides):
    """Two 3x3 convolutions plus a shortcut (1x1 projection when the shape changes)."""
    import keras

    shortcut = x
    y = _conv_bn_relu(x, filters, strides=strides)
    y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = keras.layers.BatchNormalization(momentum=BN_MOMENTUM)(y)
    if strides != 1 or x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, strides=strides, use_bias=False)(x)
        shortcut = keras.layers.BatchNormalization(momentum=BN_MOMENTUM)(shortcut)
    return keras.layers.Activation("relu")(keras.layers.Add()([y, shortcut]))


def resnet_cnn(input_shape, n_classes, task, *, filters=(32, 64, 128), blocks=(1, 1, 1), dropout=0.2,
               pooling="avgmax", augment=None, compile=True, learning_rate=1e-3, seed=None, rescale=True,
               head="auto"):
    """A compact ResNet: a 3x3 stem, then stages of residual blocks (stride 2 between stages).

    The shortcut ``x + F(x)`` lets gradients skip the convolutions, which is what
    makes deep networks trainable (lesson 05). At 28x28 with the defaults: about 0.3 M
    parameters, 28 -> 14 -> 7.

    Args:
        input_shape, n_classes, task, augment, compile, learning_rate, seed, rescale: as in
            :func:`logistic_regression`.
        filters: filters per stage.
        blocks: residual blocks per stage (same length as ``filters``).
        dropout: dropout before the output layer.
        pooling: ``"avg"``, ``"max"`` or ``"avgmax"`` global pooling.
        head: as in :func:`logistic_regression`.

    Returns:
        A ``keras.Model``.

    Raises:
        ModelError: ``filters`` and ``blocks`` differ in length.
    """
    if len(filters) != len(blocks):
        raise ModelError(f"filters and blocks need the same length. Received: filters={filters}, blocks={blocks}")
    shape = _check_shape(input_shape)
    inputs, x = _inputs(shape, augment, seed, rescale)
    for _ in range(_n_stem_downsamples(min(shape[:2]))):
        x = _conv_bn_relu(x, filters[0], strides=2)
    x = _conv_bn_relu(x, filters[0])
    for stage, (f, n) in enumerate(zip(filters, blocks)):
        for i in range(n):
            x = _residual_block(x, f, 2 if (stage > 0 and i == 0) else 1)
    x = _global_pool(x, pooling)
    outputs = _head(x, task, n_classes, dropout, "resnet", head)
    return _finish(inputs, outputs, "resnet", task, n_classes, compile, learning_rate)


def _vit(*args, **kwargs):
    from medlearn.models.vit import tiny_vit  # imports Keras (its layers register for keras.saving)

    return tiny_vit(*args, **kwargs)


_BUILDERS = {"logreg": logistic_regression, "mlp": mlp, "cnn": small_cnn, "resnet": resnet_cnn, "vit": _vit}


def _unet(*args, **kwargs):  # segmentation (lesson 10); not in MODELS, which lists the classifiers
    from medlearn.models.unet import unet

    return unet(*args, **kwargs)


_BUILDERS["unet"] = _unet


def build_model(name: str, input_shape, n_classes: int, task: str, **kwargs):
    """Build a reference model by name.

    Args:
        name: ``"logreg"``, ``"mlp"``, ``"cnn"``, ``"resnet"`` or ``"vit"`` (:mod:`medlearn.models.vit`).
        input_shape: (H, W) or (H, W, C).
        n_classes: classes (binary: 2) or labels (multi-label).
        task: the task (MedMNIST spellings accepted).
        **kwargs: passed to the builder (``augment=``, ``compile=``, ``dropout=`` ...).

    Returns:
        A ``keras.Model`` (compiled unless ``compile=False``).

    Raises:
        ModelError: unknown ``name``.

    Example:
        >>> model = build_model("cnn", (28, 28, 1), 2, "binary-class")   # doctest: +SKIP
    """
    key = str(name).strip().lower()
    if key not in _BUILDERS:
        raise ModelError(f"name must be one of {', '.join(MODELS)} (or 'unet' for segmentation). "
                         f"Received: name={name!r}")
    return _BUILDERS[key](input_shape, n_classes, task, **kwargs)
