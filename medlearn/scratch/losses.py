"""Losses: mean squared error, binary and softmax cross-entropy (both from logits).

Each loss is a plain function (the value) and a small class whose ``forward``
computes the value and whose ``backward`` - written right under it - returns
the gradient of the *mean* loss with respect to the predictions/logits.

Why the cross-entropies take logits (raw scores) and not probabilities: the
loss needs log(p). Computing p = sigmoid(z) first and then log(p) loses
everything once p rounds to 0 or 1 (log(0) = -inf), whereas
log(sigmoid(z)) = -log(1 + e^-z) is exact for any z. The gradient also comes
out simple: dL/dz = (p - y) / n. Passing probabilities to a loss that expects
logits (softmax applied twice) is a classic, silent bug.

Used in lessons 02-04.
"""
from __future__ import annotations

import numpy as np

from medlearn.scratch._validate import ScratchError, as_float_array, as_one_hot, check_same_shape
from medlearn.scratch.activations import log_sigmoid, log_softmax, sigmoid, softmax

__all__ = [
    "mse",
    "binary_cross_entropy",
    "softmax_cross_entropy",
    "MSE",
    "BinaryCrossEntropy",
    "SoftmaxCrossEntropy",
]


def mse(pred, y) -> float:
    """Mean squared error ``mean((pred - y)**2)`` over all elements.

    Fits regression: it is the negative log-likelihood of Gaussian noise, and
    punishes large errors quadratically.

    Args:
        pred: predictions, any shape, float.
        y: targets, the same shape as ``pred``.

    Returns:
        A Python float >= 0.

    Raises:
        ScratchError: the shapes differ (they would broadcast silently).
    """
    pred = as_float_array(pred, "pred")
    y = as_float_array(y, "y")
    check_same_shape(pred, y)
    return float(np.mean((pred - y) ** 2))


def binary_cross_entropy(logits, y) -> float:
    """Binary cross-entropy of labels ``y`` in {0, 1} given logits, stable for any logit.

    L = -mean( y log sigma(z) + (1 - y) log(1 - sigma(z)) )
      = -mean( y log sigma(z) + (1 - y) log sigma(-z) )

    Args:
        logits: raw scores z (not probabilities), any shape, float.
        y: labels 0/1 (or probabilities in [0, 1]) of the same shape.

    Returns:
        A Python float >= 0.

    Raises:
        ScratchError: the shapes differ.

    Example:
        >>> binary_cross_entropy(np.array([1000.0, -1000.0]), np.array([0.0, 1.0]))
        1000.0
    """
    z = as_float_array(logits, "logits")
    y = as_float_array(y, "y")
    check_same_shape(z, y, "logits")
    # The minus sign matters: log-probabilities are <= 0, the loss must be >= 0.
    return float(-np.mean(y * log_sigmoid(z) + (1.0 - y) * log_sigmoid(-z)))


def softmax_cross_entropy(logits, y) -> float:
    """Cross-entropy between class labels and softmax(logits), stable for any logit.

    L = -mean_i sum_k Y_ik log softmax(z_i)_k

    Args:
        logits: raw scores, shape (n_samples, n_classes), float. Not probabilities:
            do not apply softmax before this loss.
        y: integer labels of shape (n_samples,) or one-hot rows (n_samples, n_classes).

    Returns:
        A Python float >= 0.

    Raises:
        ScratchError: ``logits`` is not 2-D or ``y`` does not match it.

    Used in lesson 03.
    """
    z = as_float_array(logits, "logits", ndim=2)
    Y = as_one_hot(y, z.shape[1])
    _check_rows(z, Y)
    return float(-np.mean(np.sum(Y * log_softmax(z, axis=1), axis=1)))


def _check_rows(z, Y) -> None:
    if Y.shape[0] != z.shape[0]:
        from medlearn.scratch._validate import ScratchError

        raise ScratchError(
            f"y must have one label per row of logits. Received: logits.shape={z.shape}, "
            f"{Y.shape[0]} labels."
        )


class _Loss:
    """What the loss classes share: ``loss(a, b)`` is ``loss.forward(a, b)``, a readable repr, and a
    clear error when ``backward()`` comes before ``forward()``."""

    def __call__(self, *args):
        return self.forward(*args)

    def __repr__(self):
        return f"{type(self).__name__}()"

    def _cached(self, *names):
        if not all(hasattr(self, n) for n in names):
            raise ScratchError(f"{type(self).__name__}.backward() was called before forward(). "
                               "Fix: compute the loss first (loss(pred, y)); backward uses what it cached.")
        return [getattr(self, n) for n in names]


class MSE(_Loss):
    """Mean squared error with a backward pass. ``loss = MSE(); L = loss(pred, y); dpred = loss.backward()``.
    """

    def forward(self, pred, y) -> float:
        self.pred = as_float_array(pred, "pred")
        self.y = as_float_array(y, "y").astype(self.pred.dtype, copy=False)
        return mse(self.pred, self.y)

    def backward(self) -> np.ndarray:
        pred, y = self._cached("pred", "y")
        # L = (1/N) sum (pred - y)^2  ->  dL/dpred = 2 (pred - y) / N, N = number of elements
        return 2.0 * (pred - y) / pred.size



class BinaryCrossEntropy(_Loss):
    """Binary cross-entropy from logits with a backward pass.

    ``loss = BinaryCrossEntropy(); L = loss(logits, y); dlogits = loss.backward()``.
    ``logits`` and ``y`` have the same shape, e.g. (n, 1).

    Used in lessons 02 and 04.
    """

    def forward(self, logits, y) -> float:
        self.logits = as_float_array(logits, "logits")
        self.y = as_float_array(y, "y").astype(self.logits.dtype, copy=False)
        return binary_cross_entropy(self.logits, self.y)

    def backward(self) -> np.ndarray:
        logits, y = self._cached("logits", "y")
        # dL/dz = (sigma(z) - y) / N: the log and the sigmoid's derivative cancel.
        return (sigmoid(logits) - y) / logits.size



class SoftmaxCrossEntropy(_Loss):
    """Softmax cross-entropy from logits with a backward pass.

    ``loss = SoftmaxCrossEntropy(); L = loss(logits, y); dlogits = loss.backward()``.
    ``logits`` is (n, k); ``y`` integer labels (n,) or one-hot (n, k).

    Used in lessons 03 and 04.
    """

    def forward(self, logits, y) -> float:
        self.logits = as_float_array(logits, "logits", ndim=2)
        self.Y = as_one_hot(y, self.logits.shape[1]).astype(self.logits.dtype, copy=False)
        return softmax_cross_entropy(self.logits, self.Y)

    def backward(self) -> np.ndarray:
        logits, Y = self._cached("logits", "Y")
        # dL/dz_i = (softmax(z_i) - Y_i) / n: the softmax Jacobian and the log cancel.
        return (softmax(logits, axis=1) - Y) / logits.shape[0]

