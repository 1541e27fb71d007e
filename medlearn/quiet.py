"""Keep TensorFlow's native start-up chatter away from learners.

TensorFlow >= 2.17 logs through Abseil before Abseil is initialised, so
``TF_CPP_MIN_LOG_LEVEL`` no longer hides lines such as "All log messages before
absl::InitializeLog() ..." or "Could not find cuda drivers ..." on a CPU-only laptop.
They are written by C++ straight to file descriptor 2, below Python's
``sys.stderr``. :func:`import_framework` imports the Keras backend with that
descriptor pointed at ``/dev/null``; Python exceptions are unaffected (they are
raised after the descriptor is restored), so a broken install still says why.

:func:`quiet_tensorflow_import` does the same for the first ``import tensorflow``
anywhere (a lesson's ``import keras`` included): ``medlearn.setup()`` installs it,
so learners on a CPU laptop never see CUDA messages that look like errors.

Used by ``medlearn.setup`` (every lesson), ``medlearn train`` and ``medlearn doctor``.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import os
import sys

__all__ = ["native_stderr_silenced", "import_framework", "quiet_tensorflow_import"]


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


def _after_tensorflow_import(tf) -> None:
    tf.get_logger().setLevel("ERROR")  # tf.distribute and friends log INFO lines through Python
    try:
        tf.config.list_physical_devices("GPU")  # CUDA is probed once, here, while fd 2 is silenced
    except Exception:  # a broken GPU runtime surfaces later, in the learner's own call
        pass


class _QuietLoader(importlib.abc.Loader):
    """Wraps TensorFlow's own loader: the module executes while fd 2 is silenced."""

    def __init__(self, inner):
        self._inner = inner

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        with native_stderr_silenced():
            self._inner.exec_module(module)
            _after_tensorflow_import(module)

    def __getattr__(self, name):  # resource readers etc. go to the real loader
        return getattr(self._inner, name)


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != "tensorflow":
            return None
        _uninstall()
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def _uninstall() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _QuietTensorFlowFinder)]


def quiet_tensorflow_import() -> bool:
    """Make the first ``import tensorflow`` (direct or through Keras) silent on fd 2.

    Returns:
        True if the hook was installed, False if TensorFlow is already imported.
    """
    if "tensorflow" in sys.modules:
        return False
    _uninstall()
    sys.meta_path.insert(0, _QuietTensorFlowFinder())
    return True
