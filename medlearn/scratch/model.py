"""A small container for multi-layer perceptrons: forward, backward, named parameters.

Parameters and gradients are exposed as dicts named like the maths:
``W1, b1, W2, b2`` and ``dW1, db1, dW2, db2`` (the k-th Dense layer gets k),
which is what the optimisers, the gradient check and lesson 04's comparison
with TensorFlow use.

Used in lessons 02-04.
"""
from __future__ import annotations

import numpy as np

from medlearn.scratch._validate import ScratchError
from medlearn.scratch.layers import ACTIVATIONS, Dense, Layer

__all__ = ["Sequential", "MLP"]


class Sequential:
    """Layers applied in order; ``backward`` runs them in reverse (the chain rule).

    Args:
        layers: a list of :class:`~medlearn.scratch.layers.Layer` objects.

    Example:
        >>> net = Sequential([Dense(30, 16, seed=0), ReLU(), Dense(16, 1, seed=1)])
        >>> logits = net.forward(X)                 # (n, 1)
        >>> dX = net.backward(dlogits)              # fills net.gradients()
        >>> sorted(net.parameters())
        ['W1', 'W2', 'b1', 'b2']
    """

    def __init__(self, layers):
        layers = list(layers)
        bad = [type(layer).__name__ for layer in layers if not isinstance(layer, Layer)]
        if not layers or bad:
            raise ScratchError(
                "layers must be a non-empty list of medlearn.scratch layers. "
                f"Received: {len(layers)} layers{', not layers: ' + ', '.join(bad) if bad else ''}."
            )
        self.layers = layers

    def forward(self, X):
        """Run every layer; returns the last layer's output (logits for an MLP)."""
        out = X
        for layer in self.layers:
            out = layer.forward(out)
        return out

    __call__ = forward

    def backward(self, dout):
        """Back-propagate dL/d(output); returns dL/dX and leaves dW/db in each Dense layer."""
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    @property
    def dense_layers(self) -> list:
        return [layer for layer in self.layers if isinstance(layer, Dense)]

    def parameters(self) -> dict:
        """``{"W1": W1, "b1": b1, ...}``: the live arrays (optimisers update them in place)."""
        params = {}
        for k, layer in enumerate(self.dense_layers, start=1):
            params[f"W{k}"] = layer.W
            params[f"b{k}"] = layer.b
        return params

    def gradients(self) -> dict:
        """``{"dW1": dW1, "db1": db1, ...}`` from the last ``backward``."""
        grads = {}
        for k, layer in enumerate(self.dense_layers, start=1):
            grads[f"dW{k}"] = layer.dW
            grads[f"db{k}"] = layer.db
        return grads

    def set_parameters(self, params: dict) -> None:
        """Copy ``{"W1": ..., "b1": ...}`` into the layers (e.g. weights from Keras); shapes must match."""
        own = self.parameters()
        missing = sorted(set(own) - set(params))
        if missing:
            raise ScratchError(f"params is missing {missing}. Received keys: {sorted(params)}.")
        for name, value in own.items():
            new = np.asarray(params[name])
            if new.shape != value.shape:
                raise ScratchError(
                    f"params[{name!r}] must have shape {value.shape}. Received: shape {new.shape}."
                )
            value[...] = new

    def __repr__(self):
        return f"{type(self).__name__}([{', '.join(map(repr, self.layers))}])"


class MLP(Sequential):
    """A multi-layer perceptron: Dense layers with one activation between them, logits out.

    The last Dense layer has no activation: the losses take logits.

    Args:
        sizes: layer widths from input to output, e.g. ``[30, 16, 1]`` (at least 2 ints).
        activation: hidden activation, ``"relu"``, ``"tanh"`` or ``"sigmoid"``.
        seed: int seed for the initial weights (reproducible).
        dtype: parameter dtype; float64 (default) for gradient checks, float32 for speed.

    Raises:
        ScratchError: bad sizes or activation name.

    Example:
        >>> net = MLP([30, 16, 1], activation="tanh", seed=0)
        >>> logits = net(X_train)                   # (n, 1)

    Used in lessons 02-04.
    """

    def __init__(self, sizes, activation: str = "relu", *, seed: int | None = 0, dtype=np.float64):
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ScratchError(f"sizes needs an input and an output width. Received: sizes={sizes!r}")
        if activation not in ("relu", "tanh", "sigmoid"):
            raise ScratchError(
                f"activation must be 'relu', 'tanh' or 'sigmoid'. Received: activation={activation!r}"
            )
        rng = np.random.default_rng(seed)
        init = "he" if activation == "relu" else "glorot"
        layers = []
        for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Dense(n_in, n_out, init=init, seed=rng, dtype=dtype))
            if k < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
        super().__init__(layers)
        self.sizes, self.activation = sizes, activation
