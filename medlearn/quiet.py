"""Keep TensorFlow's native start-up chatter away from learners.

TensorFlow >= 2.17 logs through Abseil before Abseil is initialised, so
``TF_CPP_MIN_LOG_LEVEL`` no longer hides lines such as "All log messages before
absl::InitializeLog() ..." or "Could not find cuda drivers ..." on a CPU-only laptop.
They are written by C++ straight to file descriptor 2, below Python's
``sys.stderr``. :func:`import_framework` imports the Keras backend with that
descriptor pointed at ``/dev/null``; Python exceptions are unaffected (they are
raised after the descriptor is restored), so a broken install still says why.

Used by ``medlearn train`` and ``medlearn doctor``.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import sys

__all__ = ["native_stderr_silenced", "import_framework"]


@contextlib.contextmanager
def native_stderr_silenced():
    """Silence writes to file descriptor 2 (C/C++ logging) inside the block."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (some IDE consoles): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_framework():
    """Import Keras (and so its backend) quietly; return the ``keras`` module.

    Sets ``TF_CPP_MIN_LOG_LEVEL=3`` (unless set) so TensorFlow's later messages stay quiet too,
    and lowers TensorFlow's Python logger to errors.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_stderr_silenced():
        keras = importlib.import_module("keras")
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.get_logger().setLevel("ERROR")
            tf.config.list_physical_devices("GPU")  # CUDA probing logs once, here, silenced
    return keras
