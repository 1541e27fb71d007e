"""A minimal training loop for the NumPy engine (forward, loss, backward, step).

Used in lessons 02 and 03 and the scratch-vs-Keras benchmark.
"""
from __future__ import annotations

import numpy as np

from medlearn.scratch.optim import minibatches

__all__ = ["train_epoch", "fit", "accuracy"]


def train_epoch(model, loss, optimizer, X, y, *, batch_size: int | None = 32, seed=None) -> float:
    """One pass over the data in mini-batches; returns the mean training loss.

    Args:
        model: a :class:`~medlearn.scratch.model.Sequential` (or anything with
            forward/backward/parameters/gradients).
        loss: a loss object (``MSE()``, ``BinaryCrossEntropy()``, ``SoftmaxCrossEntropy()``).
        optimizer: an :class:`~medlearn.scratch.optim.SGD`.
        X, y: training data; rows are samples.
        batch_size: see :func:`~medlearn.scratch.optim.minibatches`.
        seed: int or Generator for the shuffling.

    Returns:
        The sample-weighted mean of the batch losses (a float).
    """
    total, count = 0.0, 0
    for Xb, yb in minibatches(X, y, batch_size, seed=seed):
        value = loss.forward(model.forward(Xb), yb)
        model.backward(loss.backward())
        optimizer.step(model.parameters(), model.gradients())
        total += value * len(Xb)
        count += len(Xb)
    return total / max(count, 1)


def fit(model, loss, optimizer, X, y, *, epochs: int = 10, batch_size: int | None = 32, seed: int = 0,
        validation_data=None) -> dict:
    """Train for ``epochs`` epochs; returns the history ``{"loss": [...], "val_loss": [...]}``.

    ``val_loss`` (only with ``validation_data=(X_val, y_val)``) is measured after each epoch.

    Used in lesson 02.
    """
    rng = np.random.default_rng(seed)
    history = {"loss": []}
    if validation_data is not None:
        history["val_loss"] = []
    for _ in range(epochs):
        history["loss"].append(train_epoch(model, loss, optimizer, X, y, batch_size=batch_size, seed=rng))
        if validation_data is not None:
            X_val, y_val = validation_data
            history["val_loss"].append(float(loss.forward(model.forward(X_val), y_val)))
    return history


def accuracy(logits, y) -> float:
    """Fraction of correct predictions from logits.

    One logit column (binary): predicts 1 where the logit > 0 (probability > 0.5).
    Several columns: predicts the arg-max. ``y`` holds labels (n,) / (n, 1) or one-hot rows.

    Used in lessons 02 and 03.
    """
    logits = np.asarray(logits)
    y = np.asarray(y)
    if logits.ndim == 1 or logits.shape[1] == 1:
        pred = (logits.reshape(-1) > 0).astype(int)
    else:
        pred = np.argmax(logits, axis=1)
    if y.ndim == 2 and y.shape[1] > 1:
        y = np.argmax(y, axis=1)
    return float(np.mean(pred == y.reshape(-1).astype(int)))
