"""Numerical gradient check: central differences in float64 against backpropagation.

    dL/dp  ~=  ( L(p + eps) - L(p - eps) ) / (2 eps)        error O(eps^2)

compared through the relative error ``||a - n|| / (||a|| + ||n||)`` so that the
figure does not depend on the gradient's scale. How to read it (float64,
eps = 1e-6):

* below 1e-7  - correct;
* 1e-7 to 1e-2 - suspicious: a kink (ReLU at 0, max, abs) near one of the
  inputs can explain it; otherwise it is a bug that only touches some entries;
* above 1e-2  - wrong: the backward pass does not compute this gradient.

Used in lessons 03 and 04.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from medlearn.scratch._validate import ScratchError

__all__ = [
    "numerical_gradient",
    "relative_error",
    "interpret_relative_error",
    "GradCheckReport",
    "gradient_check",
    "check_model_gradients",
    "CORRECT_BELOW",
    "WRONG_ABOVE",
]

CORRECT_BELOW = 1e-7
WRONG_ABOVE = 1e-2


def numerical_gradient(f, x, eps: float = 1e-6) -> np.ndarray:
    """Central-difference estimate of the gradient of a scalar function at ``x``.

    Each entry of ``x`` is nudged by +eps and -eps *in place* and restored
    afterwards; this loops over the parameters (not over samples), which is
    why it is only used to check a few small arrays.

    Args:
        f: callable ``f(x) -> float``; may ignore its argument and read ``x``
            through a closure (it sees the in-place change either way).
        x: float64 array (modified temporarily, restored on return).
        eps: step size; 1e-6 balances truncation (eps^2) against rounding (1e-16 / eps).

    Returns:
        float64 array of the shape of ``x``.

    Raises:
        ScratchError: ``x`` is not a float64 array (float32 differences are too coarse).

    Example:
        >>> x = np.array([1.0, 2.0])
        >>> numerical_gradient(lambda v: float(np.sum(v ** 2)), x)   # ~ [2., 4.]
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise ScratchError(
            "x must be a float64 NumPy array (float32 central differences carry ~1e-3 error). "
            f"Received: {type(x).__name__} of dtype {getattr(x, 'dtype', None)}. "
            "Fix: build the model with dtype=np.float64 or pass x.astype(np.float64)."
        )
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        f_plus = float(f(x))
        x[idx] = old - eps
        f_minus = float(f(x))
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2.0 * eps)
    return grad


def relative_error(analytic, numeric) -> float:
    """``||a - n|| / (||a|| + ||n||)``: 0 when equal, 1 when opposite or one is zero.

    Returns ``inf`` when the shapes differ (e.g. a bias gradient summed over the wrong axis).
    """
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        return float("inf")
    denom = np.linalg.norm(a) + np.linalg.norm(n)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - n) / denom)


def interpret_relative_error(error: float) -> str:
    """One word for a relative error: ``"correct"``, ``"suspicious"`` or ``"wrong"``."""
    if error < CORRECT_BELOW:
        return "correct"
    if error > WRONG_ABOVE:
        return "wrong"
    return "suspicious"


@dataclasses.dataclass
class GradCheckReport:
    """Relative error per gradient, e.g. ``{"dW1": 3e-10, "db1": 2e-11}``.

    Attributes:
        errors: gradient name -> relative error (``inf`` for a shape mismatch).
        ok: every error is below 1e-7.
        max_error: the largest error.
    """

    errors: dict

    @property
    def max_error(self) -> float:
        return max(self.errors.values()) if self.errors else 0.0

    @property
    def ok(self) -> bool:
        return self.max_error < CORRECT_BELOW

    def __repr__(self) -> str:
        lines = ["gradient check (relative error; < 1e-7 correct, > 1e-2 wrong, between: kinks or a bug)"]
        for name, err in self.errors.items():
            lines.append(f"  {name:>8}: {err:.2e}  {interpret_relative_error(err)}")
        return "\n".join(lines)


def gradient_check(f, params: dict, grads: dict, *, eps: float = 1e-6) -> GradCheckReport:
    """Compare analytic gradients with central differences, parameter by parameter.

    Args:
        f: ``f() -> float``, the loss computed from the arrays in ``params``
            (read them through a closure: they are perturbed in place).
        params: ``{"W1": array, ...}`` float64 arrays.
        grads: ``{"dW1": array, ...}``, the backward pass's answer for each parameter.
        eps: finite-difference step.

    Returns:
        A :class:`GradCheckReport`.

    Raises:
        ScratchError: a parameter has no gradient or is not float64.
    """
    errors = {}
    for name, p in params.items():
        if "d" + name not in grads:
            raise ScratchError(f"grads has no 'd{name}'. Received keys: {sorted(grads)}.")
        numeric = numerical_gradient(lambda _: f(), p, eps)
        errors["d" + name] = relative_error(grads["d" + name], numeric)
    return GradCheckReport(errors)


def check_model_gradients(model, loss, X, y, *, eps: float = 1e-6, check_input: bool = False) -> GradCheckReport:
    """Gradient-check every parameter of a scratch model (and optionally dL/dX) on one batch.

    Args:
        model: a float64 :class:`~medlearn.scratch.model.Sequential`.
        loss: a loss object (``BinaryCrossEntropy()`` ...).
        X, y: a small batch (a few samples is enough, and fast).
        eps: finite-difference step.
        check_input: also check the gradient with respect to ``X`` (key ``"dX"``).

    Returns:
        A :class:`GradCheckReport` with keys ``dW1, db1, ...`` (and ``dX``).

    Example:
        >>> report = check_model_gradients(MLP([4, 3, 1], seed=0), BinaryCrossEntropy(), X[:5], y[:5])
        >>> assert report.ok, report

    Used in lesson 03.
    """
    X = np.array(X, dtype=np.float64)
    loss.forward(model.forward(X), y)
    dX = model.backward(loss.backward())
    grads = {k: v.copy() for k, v in model.gradients().items()}

    def f():
        return loss.forward(model.forward(X), y)

    report = gradient_check(f, model.parameters(), grads, eps=eps)
    if check_input:
        report.errors["dX"] = relative_error(dX, numerical_gradient(lambda _: f(), X, eps))
    return report
