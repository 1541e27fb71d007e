"""Layers with a forward and a backward pass: Dense and the activations.

Every layer caches what its backward rule needs during ``forward`` and, in
``backward(dout)``, receives dL/d(output) and returns dL/d(input). A Dense
layer also stores the gradients of its parameters as ``dW`` and ``db``.

Shapes follow the (n_samples, n_features) convention, rows are samples:

    X (n, d_in) @ W (d_in, d_out) + b (d_out,)  ->  Z (n, d_out)
"""
from __future__ import annotations

import numpy as np

from medlearn.scratch._validate import ScratchError, as_float_array
from medlearn.scratch.activations import relu, sigmoid, softmax

__all__ = ["Layer", "Dense", "Sigmoid", "Tanh", "ReLU", "Softmax", "ACTIVATIONS"]


class Layer:
    """Base class: ``forward(x) -> out`` and ``backward(dout) -> dx``; no parameters."""

    params: tuple = ()

    def forward(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, dout):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, x):
        return self.forward(x)

    def __repr__(self):
        # parameter-free layers: the name is the whole structure (Dense shows its sizes)
        return f"{type(self).__name__}()"

    def _need_forward(self, name: str):
        if not hasattr(self, name):
            raise ScratchError(
                f"{type(self).__name__}.backward() was called before forward(). "
                "Fix: run the forward pass first; backward uses what it cached."
            )
        return getattr(self, name)


class Dense(Layer):
    """A fully connected layer ``Z = X @ W + b``.

    Args:
        n_in: number of input features (int > 0).
        n_out: number of units (int > 0).
        init: ``"glorot"`` (uniform, for sigmoid/tanh) or ``"he"`` (normal, for ReLU).
        seed: int or ``np.random.Generator`` for the initial weights.
        dtype: float dtype of the parameters; float64 (default) for gradient checks.

    Attributes:
        W: weights, shape (n_in, n_out). b: biases, shape (n_out,), zeros at start.
        dW, db: gradients of the loss w.r.t. W and b after ``backward``.

    Raises:
        ScratchError: bad sizes or init name; an input with the wrong number of features.

    Example:
        >>> layer = Dense(30, 16, seed=0)
        >>> Z = layer.forward(np.ones((4, 30)))      # (4, 16)
        >>> dX = layer.backward(np.ones((4, 16)))    # (4, 30); layer.dW is (30, 16)
    """

    params = ("W", "b")

    def __init__(self, n_in: int, n_out: int, *, init: str = "glorot", seed=None, dtype=np.float64):
        for name, value in (("n_in", n_in), ("n_out", n_out)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ScratchError(f"{name} must be a positive int. Received: {name}={value!r}")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        if init == "glorot":  # keeps the variance of activations ~constant for tanh/sigmoid
            limit = np.sqrt(6.0 / (n_in + n_out))
            W = rng.uniform(-limit, limit, size=(n_in, n_out))
        elif init == "he":  # doubles the variance to make up for ReLU zeroing half the units
            W = rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_out))
        else:
            raise ScratchError(f"init must be 'glorot' or 'he'. Received: init={init!r}")
        self.W = W.astype(dtype)
        self.b = np.zeros(n_out, dtype=dtype)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)

    def forward(self, x):
        x = as_float_array(x, "x", ndim=2)
        if x.shape[1] != self.W.shape[0]:
            raise ScratchError(
                f"Dense layer expects {self.W.shape[0]} input features. Received: x.shape={x.shape}. "
                "Fix: check the layer sizes, or transpose x so that rows are samples."
            )
        self.x = x
        return x @ self.W + self.b

    def backward(self, dz):
        x = self._need_forward("x")
        # Z = X W + b, so  dW = X^T dZ  (sum over samples of outer products, done by the matmul),
        # db = sum_i dZ_i  (the bias is shared by every sample: sum over the samples axis 0),
        # dX = dZ W^T.
        self.dW = x.T @ dz
        self.db = dz.sum(axis=0)
        return dz @ self.W.T

    def __repr__(self):
        return f"Dense({self.W.shape[0]}, {self.W.shape[1]})"


class Sigmoid(Layer):
    """Element-wise sigmoid; backward uses the cached activation: dz = da * a * (1 - a).
    """

    def forward(self, z):
        self.a = sigmoid(z)
        return self.a

    def backward(self, da):
        a = self._need_forward("a")
        return da * a * (1.0 - a)  # sigma'(z) = a(1 - a), taken at the activation a


class Tanh(Layer):
    """Element-wise tanh; backward: dz = da * (1 - a**2).
    """

    def forward(self, z):
        self.a = np.tanh(as_float_array(z, "z"))
        return self.a

    def backward(self, da):
        a = self._need_forward("a")
        return da * (1.0 - a * a)


class ReLU(Layer):
    """Element-wise max(0, z); backward passes the gradient only where z > 0.
    """

    def forward(self, z):
        z = as_float_array(z, "z")
        self.mask = z > 0
        return relu(z)

    def backward(self, da):
        mask = self._need_forward("mask")
        return da * mask


class Softmax(Layer):
    """Row-wise softmax as a layer (for probabilities; losses take logits instead).

    Backward is the Jacobian-vector product of a_k = e^{z_k} / sum_j e^{z_j}:
    dz = a * (da - sum_k(da_k a_k)), row by row, without forming the (k, k) Jacobian.
    """

    def forward(self, z):
        self.a = softmax(as_float_array(z, "z", ndim=2), axis=1)
        return self.a

    def backward(self, da):
        a = self._need_forward("a")
        return a * (da - np.sum(da * a, axis=1, keepdims=True))


ACTIVATIONS = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU, "softmax": Softmax}
