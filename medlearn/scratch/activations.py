"""Activation functions and their derivatives, written out in NumPy.

Each forward rule is followed by its backward rule. The backward rules are
written in terms of what the forward pass already computed (the activation
``a``), which is both cheaper and the source of a classic bug: the formula
``a * (1 - a)`` needs the *activation* ``a = sigmoid(z)``, not the
pre-activation ``z``.

All functions are vectorised (no Python loop over samples), accept arrays of
any shape, keep the input's floating dtype and are numerically stable for
large ``|z|``.

Used in lessons 02 and 03.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "sigmoid",
    "sigmoid_grad",
    "tanh",
    "tanh_grad",
    "relu",
    "relu_grad",
    "softmax",
    "log_softmax",
    "log_sigmoid",
]


def _float(z) -> np.ndarray:
    z = np.asarray(z)
    return z if np.issubdtype(z.dtype, np.floating) else z.astype(np.float64)


def sigmoid(z):
    """The logistic function ``1 / (1 + exp(-z))``, stable for any ``z``.

    Args:
        z: array of any shape (pre-activations, "logits"), real values.

    Returns:
        Array of the same shape and float dtype, values in [0, 1].

    Example:
        >>> sigmoid(np.array([-1000.0, 0.0, 1000.0]))
        array([0. , 0.5, 1. ])

    Used in lessons 02 and 03.
    """
    z = _float(z)
    # exp(-|z|) never overflows: for z >= 0 use 1/(1+e^-z), for z < 0 use e^z/(1+e^z).
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


def sigmoid_grad(z):
    """The derivative of the sigmoid at the pre-activation ``z``.

    d sigma / dz = sigma(z) * (1 - sigma(z)) = a * (1 - a) with a = sigma(z).
    The product is taken at the *activation* a, never at z itself.

    Args:
        z: array of any shape (pre-activations).

    Returns:
        Array of the same shape, values in (0, 0.25].
    """
    a = sigmoid(z)
    return a * (1.0 - a)


def tanh(z):
    """The hyperbolic tangent (zero-centred, values in [-1, 1]).
    """
    return np.tanh(_float(z))


def tanh_grad(z):
    """d tanh / dz = 1 - tanh(z)**2 = 1 - a**2, taken at the activation a.
    """
    a = np.tanh(_float(z))
    return 1.0 - a * a


def relu(z):
    """max(0, z), element-wise.
    """
    z = _float(z)
    return np.maximum(z, 0.0).astype(z.dtype, copy=False)


def relu_grad(z):
    """1 where z > 0, else 0 (the kink at 0 is given slope 0, as TensorFlow does).
    """
    z = _float(z)
    return (z > 0).astype(z.dtype)


def log_sigmoid(z):
    """log(sigmoid(z)) = -log(1 + exp(-z)), stable for any ``z``.

    ``np.log(sigmoid(z))`` returns -inf once sigmoid(z) rounds to 0 (z < -745
    in float64); this form never does: -log(1 + e^-z) = min(z, 0) - log(1 + e^-|z|).
    """
    z = _float(z)
    return np.minimum(z, 0.0) - np.log1p(np.exp(-np.abs(z)))


def softmax(z, axis: int = -1):
    """Turn scores into probabilities along ``axis`` (the classes axis).

    softmax(z)_k = exp(z_k) / sum_j exp(z_j). Subtracting max(z) first changes
    nothing mathematically (it cancels in the ratio) but keeps exp() from
    overflowing.

    Args:
        z: array of shape (n_samples, n_classes) (or any shape; see ``axis``).
        axis: the classes axis. The default -1 is right for (samples, classes).

    Returns:
        Array of the same shape; each slice along ``axis`` sums to 1.

    Example:
        >>> softmax(np.array([[1000.0, 1000.0]]))
        array([[0.5, 0.5]])

    Used in lesson 03.
    """
    z = _float(z)
    shifted = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(z, axis: int = -1):
    """log(softmax(z)) computed without ever taking log(0).

    log softmax(z)_k = (z_k - m) - log(sum_j exp(z_j - m)) with m = max_j z_j.

    Used in lesson 03 (softmax cross-entropy from logits).
    """
    z = _float(z)
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
