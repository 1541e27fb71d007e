"""Helpers shared by the scratch checks: loop detection by tracing, comparisons, hints."""
from __future__ import annotations

import sys

import numpy as np

LOOP_HINT = (
    "Your function runs Python code once per sample (a for loop, a comprehension, np.vectorize "
    "or map). Use whole-array NumPy operations instead (np.exp, @, .sum(axis=...), np.where): "
    "they are 10-100x faster and are what the rest of the course builds on."
)
OVERFLOW_HINT = (
    "Your result contains nan or inf for large inputs: exp() of a large positive number "
    "overflows (exp(710) is already inf in float64). "
)


F64_WHY = ("the inputs are float64 and lesson 03's gradient check compares to 1e-7, which float32 "
           "(about 7 significant digits) cannot reach; do not cast to float32.")
# Library callables that would do the work of a NumPy-engine exercise (``medlearn`` covers
# medlearn.scratch and the reference implementations in medlearn.checks).
FORBIDDEN = ("medlearn", "scipy.special", "scipy.optimize", "sklearn", "tensorflow", "keras", "torch", "jax")
SCRATCH = dict(dtype="float64", dtype_why=F64_WHY, forbidden=FORBIDDEN)


def traced(fn, *args):
    """Call ``fn(*args)`` and count the Python events it runs (calls + lines).

    Returns ``(result, n_events)``. Vectorised code gives O(1) events, a loop over
    n samples gives >= n. The previous tracer (a debugger, coverage) is restored.
    """
    count = [0]

    def tracer(frame, event, arg):
        count[0] += 1
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        result = fn(*args)
    finally:
        sys.settrace(previous)
    return result, count[0]


def loops(case, outputs) -> bool:
    """True when a large case ran more Python events than half its samples (a loop runs >= 2 per sample)."""
    n = int(case.get("n_big", 0))
    return n > 0 and int(outputs.get("events", 0)) > n // 2


def close(x, expected, rtol=1e-6, atol=1e-9) -> bool:
    """Same shape and np.allclose; nan anywhere fails."""
    x, expected = np.asarray(x, dtype=float), np.asarray(expected, dtype=float)
    return x.shape == expected.shape and bool(np.all(np.isfinite(x))) and np.allclose(x, expected, rtol, atol)


def finite(x) -> bool:
    return bool(np.all(np.isfinite(np.asarray(x, dtype=float))))


def shape_hint(name, got, want) -> str:
    return f"{name} has shape {tuple(np.shape(got))} but should have shape {tuple(want)}."


def as_named(result, names):
    """Accept a tuple/list or a dict from the learner; return a dict of arrays."""
    if isinstance(result, dict):
        return {k: np.asarray(result[k], dtype=float) for k in names}
    if isinstance(result, (tuple, list)) and len(result) == len(names):
        return {k: np.asarray(v, dtype=float) for k, v in zip(names, result)}
    raise TypeError(f"return {len(names)} values ({', '.join(names)}) as a tuple or a dict")


def diagnose(value, variants, fallback) -> str:
    """The hint of the first known wrong answer that ``value`` matches, else ``fallback``.

    ``variants`` holds ``(expected, hint)`` pairs; ``expected`` may be a zero-argument
    callable, skipped when it cannot be computed for this case (e.g. shapes that do
    not broadcast).
    """
    for expected, hint in variants:
        if callable(expected):
            try:
                expected = expected()
            except ValueError:
                continue
        if close(value, expected, rtol=1e-5, atol=1e-8):
            return hint
    return fallback
