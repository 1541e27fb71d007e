"""Optimisation: SGD with momentum, gradient clipping and a mini-batch iterator.

Used in lessons 02-04.
"""
from __future__ import annotations

import numpy as np

from medlearn.scratch._validate import ScratchError

__all__ = ["SGD", "clip_by_global_norm", "global_norm", "minibatches"]


def global_norm(grads) -> float:
    """sqrt(sum of squares of every gradient entry), over all arrays together.

    Args:
        grads: a dict ``{"dW1": array, ...}`` or a list of arrays.
    """
    arrays = grads.values() if isinstance(grads, dict) else grads
    return float(np.sqrt(sum(float(np.sum(np.square(g))) for g in arrays)))


def clip_by_global_norm(grads, max_norm: float):
    """Rescale all gradients together so that their global norm is at most ``max_norm``.

    If ||g|| > max_norm every array is multiplied by max_norm / ||g||; otherwise
    nothing changes. The *direction* of the step is kept (clipping each entry
    separately with ``np.clip`` would change it), only its length is capped.

    Args:
        grads: dict ``{"dW1": array, ...}`` or list of arrays.
        max_norm: a positive float.

    Returns:
        ``(clipped, norm)``: the clipped gradients (same container type, new arrays)
        and the global norm *before* clipping.

    Raises:
        ScratchError: ``max_norm`` is not positive.
    """
    if not np.isfinite(max_norm) or max_norm <= 0:
        raise ScratchError(f"max_norm must be a positive number. Received: max_norm={max_norm!r}")
    norm = global_norm(grads)
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    if isinstance(grads, dict):
        return {k: g * scale for k, g in grads.items()}, norm
    return [g * scale for g in grads], norm


class SGD:
    """Stochastic gradient descent with optional momentum and gradient clipping.

    With velocity v (zeros at start), for every parameter p and its gradient dp:

        v <- momentum * v - learning_rate * dp
        p <- p + v

    momentum = 0 is plain gradient descent ``p <- p - learning_rate * dp``.
    Momentum averages recent steps: it speeds up along consistent directions
    and damps zig-zags across narrow valleys. This is Keras's ``SGD`` update.

    Args:
        learning_rate: step size, > 0.
        momentum: in [0, 1).
        clipnorm: if set, gradients are first rescaled to a global norm <= clipnorm.

    Raises:
        ScratchError: a hyper-parameter out of range, or gradients that do not
            match the parameters.

    Example:
        >>> opt = SGD(learning_rate=0.1, momentum=0.9)
        >>> opt.step(net.parameters(), net.gradients())   # updates in place

    Used in lessons 02 and 04.
    """

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, clipnorm: float | None = None):
        if not (np.isfinite(learning_rate) and learning_rate > 0):
            raise ScratchError(f"learning_rate must be > 0. Received: learning_rate={learning_rate!r}")
        if not 0.0 <= momentum < 1.0:
            raise ScratchError(f"momentum must be in [0, 1). Received: momentum={momentum!r}")
        if clipnorm is not None and not clipnorm > 0:
            raise ScratchError(f"clipnorm must be > 0 or None. Received: clipnorm={clipnorm!r}")
        self.learning_rate, self.momentum, self.clipnorm = learning_rate, momentum, clipnorm
        self.velocity: dict = {}
        self.last_norm: float | None = None

    def __repr__(self):
        clip = f", clipnorm={self.clipnorm!r}" if self.clipnorm is not None else ""
        return f"SGD(learning_rate={self.learning_rate!r}, momentum={self.momentum!r}{clip})"

    def step(self, params: dict, grads: dict) -> None:
        """Update ``params`` ({"W1": ...}) in place from ``grads`` ({"dW1": ...})."""
        missing = [name for name in params if "d" + name not in grads]
        if missing:
            raise ScratchError(
                f"grads must hold 'd<name>' for every parameter; missing {['d' + m for m in missing]}. "
                f"Received keys: {sorted(grads)}. Fix: run backward() before step()."
            )
        grads = {name: grads["d" + name] for name in params}
        self.last_norm = global_norm(grads)
        if self.clipnorm is not None:
            grads, _ = clip_by_global_norm(grads, self.clipnorm)
        for name, p in params.items():
            dp = grads[name]
            if dp.shape != p.shape:
                raise ScratchError(f"d{name} must have shape {p.shape}. Received: shape {dp.shape}.")
            v = self.velocity.get(name)
            if v is None:
                v = np.zeros_like(p)
            v = self.momentum * v - self.learning_rate * dp
            self.velocity[name] = v
            p += v  # in place: the layer sees the new value


def minibatches(X, y=None, batch_size: int | None = 32, *, shuffle: bool = True, seed=None):
    """Yield ``(X_batch, y_batch)`` slices covering the data once (one epoch).

    ``batch_size=None`` (or >= n) gives full-batch gradient descent, 1 gives
    stochastic gradient descent, anything between is mini-batch. Slicing a
    shuffled index array is vectorised: no Python loop over samples.

    Args:
        X: array (n, ...). y: array (n, ...) or None (then batches are ``(X_batch, None)``).
        batch_size: int >= 1 or None.
        shuffle: draw a new random order (use a fresh order every epoch).
        seed: int or ``np.random.Generator``.

    Raises:
        ScratchError: a bad batch size, or X and y of different lengths.

    Example:
        >>> for Xb, yb in minibatches(X, y, batch_size=32, seed=rng):
        ...     ...

    Used in lessons 02 and 03.
    """
    X = np.asarray(X)
    n = X.shape[0]
    if y is not None and np.asarray(y).shape[0] != n:
        raise ScratchError(
            f"X and y must have the same number of rows. Received: X has {n}, y has {np.asarray(y).shape[0]}."
        )
    if batch_size is None:
        batch_size = max(n, 1)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ScratchError(f"batch_size must be an int >= 1 or None. Received: batch_size={batch_size!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    order = rng.permutation(n) if shuffle else np.arange(n)
    y = None if y is None else np.asarray(y)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        yield X[idx], (None if y is None else y[idx])
