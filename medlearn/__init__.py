"""medlearn: deep learning on medical images, from a NumPy neuron to Keras CNNs on a GPU.

Importing ``medlearn`` is light: it never imports TensorFlow, Keras, PyTorch or
JAX. Sub-packages are loaded on first use (``medlearn.datasets``,
``medlearn.scratch``, ``medlearn.models`` ...).

Example:
    >>> import medlearn
    >>> medlearn.setup()          # doctest: +SKIP  (quiet TF logs, seed everything)
    >>> medlearn.doctor()         # doctest: +SKIP  (what this machine can do)
"""
from __future__ import annotations

import importlib

from medlearn.config import data_home, fast, is_fast, is_offline, set_seed
from medlearn.errors import MedlearnError

__version__ = "0.1.0"

_SUBMODULES = {
    "checks", "config", "datasets", "diagnostics", "explain", "grading", "metrics",
    "models", "plots", "scratch", "train", "backend",
}

__all__ = [
    "MedlearnError",
    "__version__",
    "data_home",
    "doctor",
    "fast",
    "is_fast",
    "is_offline",
    "set_seed",
    "setup",
    "check",
]


def setup(seed: int = 42, *, quiet_tf: bool = True) -> int:
    """A lesson's first call: silence TensorFlow's C++ logging and seed everything.

    Must run before TensorFlow is imported for the log settings to take effect.

    Args:
        seed: the seed for Python, NumPy and (once imported) Keras.
        quiet_tf: set ``TF_CPP_MIN_LOG_LEVEL=3`` and ``TF_ENABLE_ONEDNN_OPTS=0``, and make the
            first ``import tensorflow`` silent on the native stderr (no CUDA messages on a laptop).

    Returns:
        The seed.
    """
    import os

    if quiet_tf:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
        from medlearn.quiet import quiet_tensorflow_import

        quiet_tensorflow_import()
    return set_seed(seed)


def doctor(*, verbose: bool = True):
    """Print what this machine can do for the course (see ``medlearn doctor``).

    Returns:
        A :class:`medlearn.diagnostics.Report`.
    """
    from medlearn.diagnostics import run_doctor

    return run_doctor(print_report=verbose)


def check(exercise_id, answer, **kwargs):
    """Check an exercise answer and print PASS or FAIL with a hint (see :mod:`medlearn.checks`)."""
    from medlearn.checks import check as _check

    return _check(exercise_id, answer, **kwargs)


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"medlearn.{name}")
    raise AttributeError(f"module 'medlearn' has no attribute {name!r}")
