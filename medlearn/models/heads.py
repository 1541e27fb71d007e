"""Task heads: the output layer, loss, targets and metrics that fit a task.

:func:`output_spec` says which output layer and loss a task needs,
:func:`encode_labels` turns dataset labels into the targets that loss expects,
:func:`compile_model` compiles any model with that loss and the ``acc`` / ``auc``
metrics. Keras is imported inside :func:`compile_model` only.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from medlearn.errors import MedlearnError
from medlearn.tasks import normalize_task

__all__ = ["ModelError", "OutputSpec", "output_spec", "encode_labels", "compile_model"]


class ModelError(MedlearnError, ValueError):
    """A model name, shape or class count that the builders cannot use."""


@dataclasses.dataclass(frozen=True)
class OutputSpec:
    """What the last layer and the loss must be for a task.

    Attributes:
        task: canonical task (``binary``, ``multi-class``, ``multi-label``, ``ordinal``).
        units: number of output units (1 for binary).
        activation: ``"sigmoid"`` or ``"softmax"``.
        loss: Keras loss name.
        label_mode: how labels are fed to the loss: ``"binary"`` (N, 1) floats,
            ``"one-hot"`` (N, C) floats, ``"multi-hot"`` (N, L) floats.
    """

    task: str
    units: int
    activation: str
    loss: str
    label_mode: str


def output_spec(task: str, n_classes: int) -> OutputSpec:
    """The output layer and loss that fit a task.

    Args:
        task: any spelling accepted by :func:`medlearn.tasks.normalize_task`.
        n_classes: number of classes (binary: 2) or of labels (multi-label).

    Returns:
        An :class:`OutputSpec`. Binary -> 1 sigmoid unit + binary cross-entropy;
        multi-class and ordinal -> ``n_classes`` softmax units + categorical
        cross-entropy; multi-label -> ``n_classes`` sigmoid units + binary cross-entropy.

    Raises:
        ModelError: ``n_classes`` does not fit the task.
        TaskError: unknown task.

    Example:
        >>> output_spec("binary-class", 2)
        OutputSpec(task='binary', units=1, activation='sigmoid', loss='binary_crossentropy', label_mode='binary')
    """
    task = normalize_task(task)
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise ModelError(f"n_classes must be a positive int. Received: n_classes={n_classes!r}")
    n_classes = int(n_classes)
    if task == "binary":
        if n_classes not in (1, 2):
            raise ModelError(f"a binary task has 2 classes. Received: n_classes={n_classes}; "
                             "use task='multi-class' for more.")
        return OutputSpec(task, 1, "sigmoid", "binary_crossentropy", "binary")
    if task == "multi-label":
        return OutputSpec(task, n_classes, "sigmoid", "binary_crossentropy", "multi-hot")
    if n_classes < 2:
        raise ModelError(f"a {task} task needs at least 2 classes. Received: n_classes={n_classes}")
    return OutputSpec(task, n_classes, "softmax", "categorical_crossentropy", "one-hot")


def encode_labels(labels, task: str, n_classes: int) -> np.ndarray:
    """Turn dataset labels into the float32 targets the model's loss expects.

    Args:
        labels: (N,) or (N, 1) class indices, or (N, L) 0/1 for multi-label.
        task: the task.
        n_classes: number of classes or labels.

    Returns:
        float32 array: (N, 1) for binary, (N, C) one-hot for multi-class/ordinal,
        (N, L) for multi-label.

    Raises:
        ModelError: labels out of range or of the wrong shape.

    Example:
        >>> encode_labels([0, 2, 1], "multi-class", 3).tolist()
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    """
    spec = output_spec(task, n_classes)
    y = np.asarray(labels)
    if spec.label_mode == "multi-hot":
        if y.ndim != 2 or y.shape[1] != n_classes:
            raise ModelError(f"multi-label labels must have shape (N, {n_classes}). Received shape {y.shape}")
        return y.astype("float32")
    y = y.reshape(len(y), -1)
    if y.shape[1] != 1:
        raise ModelError(f"{spec.task} labels must be class indices of shape (N,) or (N, 1). "
                         f"Received shape {np.shape(labels)}")
    y = y[:, 0].astype("int64")
    top = 2 if spec.task == "binary" else spec.units
    if y.size and (y.min() < 0 or y.max() >= top):
        raise ModelError(f"labels must lie in 0..{top - 1}. Received values {y.min()}..{y.max()}")
    if spec.label_mode == "binary":
        return y.astype("float32")[:, None]
    return np.eye(spec.units, dtype="float32")[y]


def compile_model(model, task: str, n_classes: int, *, optimizer=None, learning_rate: float = 1e-3):
    """Compile ``model`` with the loss of ``task`` and the metrics ``acc`` and ``auc``.

    ``auc`` is the ROC-AUC (for multi-class and multi-label the mean of the
    one-vs-rest / per-label AUCs, as in MedMNIST), so ``EarlyStopping(monitor="val_auc")`` works.

    Args:
        model: a ``keras.Model``.
        task: the task.
        n_classes: number of classes or labels.
        optimizer: a Keras optimizer (default ``Adam(learning_rate)``).
        learning_rate: used when ``optimizer`` is None.

    Returns:
        The same model, compiled.
    """
    import keras

    spec = output_spec(task, n_classes)
    if spec.task == "binary":
        auc = keras.metrics.AUC(name="auc")
        acc = keras.metrics.BinaryAccuracy(name="acc")
    else:
        auc = keras.metrics.AUC(name="auc", multi_label=True, num_labels=spec.units)
        acc = (keras.metrics.BinaryAccuracy(name="acc") if spec.task == "multi-label"
               else keras.metrics.CategoricalAccuracy(name="acc"))
    model.compile(optimizer=optimizer or keras.optimizers.Adam(learning_rate),
                  loss=spec.loss, metrics=[acc, auc])
    return model
