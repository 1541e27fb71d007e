"""One place for medlearn's settings: data folder, offline mode, fast mode and seeds.

Everything is read lazily from the environment when asked for; nothing is
created or written at import time.

| setting     | environment variable | default                                 |
|-------------|----------------------|-----------------------------------------|
| data folder | ``MEDLEARN_DATA``    | a per-user cache (``~/.cache/medlearn``) |
| offline     | ``MEDLEARN_OFFLINE`` | off                                     |
| fast mode   | ``MEDLEARN_FAST``    | off                                     |

Used in every lesson's first cell (through ``medlearn.setup``).
"""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path

from medlearn.errors import MedlearnError

__all__ = [
    "ConfigError",
    "data_home",
    "is_offline",
    "is_fast",
    "fast",
    "set_seed",
    "DEFAULT_SEED",
]

DEFAULT_SEED = 42
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(MedlearnError, ValueError):
    """A setting (argument or environment variable) holds a value medlearn cannot use."""


def _flag(name: str) -> bool:
    raw = os.environ.get(name, "")
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(
        f"{name} must be 1 or 0 (also true/false, yes/no, on/off). Received: {name}={raw!r}. "
        f"Fix: `export {name}=1` to turn it on, or unset it."
    )


def is_offline() -> bool:
    """True when ``MEDLEARN_OFFLINE`` is set: medlearn never touches the network.

    Raises:
        ConfigError: ``MEDLEARN_OFFLINE`` holds something other than a boolean word.
    """
    return _flag("MEDLEARN_OFFLINE")


def is_fast() -> bool:
    """True when ``MEDLEARN_FAST`` is set: lessons and training shrink data and epochs (CI uses it).

    Raises:
        ConfigError: ``MEDLEARN_FAST`` holds something other than a boolean word.
    """
    return _flag("MEDLEARN_FAST")


def fast(normal, quick):
    """Return ``quick`` in fast mode and ``normal`` otherwise.

    The one switch lessons use to shrink their work, e.g. ``epochs = fast(20, 2)``.

    Example:
        >>> n_images = fast(5000, 500)
    """
    return quick if is_fast() else normal


def _default_cache() -> Path:
    """The per-user cache folder the OS expects (platformdirs, as ``pooch.os_cache`` uses):
    ``$XDG_CACHE_HOME/medlearn`` or ``~/.cache/medlearn`` on Linux, ``~/Library/Caches/medlearn``
    on macOS, ``%LOCALAPPDATA%\\medlearn\\Cache`` on Windows."""
    import platformdirs

    return platformdirs.user_cache_path("medlearn", appauthor=False)


def data_home(data_home: str | os.PathLike | None = None, *, create: bool = False) -> Path:
    """Resolve the data folder: argument, then ``MEDLEARN_DATA``, then a per-user cache.

    Args:
        data_home: an explicit folder; wins over the environment.
        create: create the folder when missing (downloads do; lookups do not).

    Returns:
        The absolute folder path.

    Raises:
        ConfigError: the chosen path is a file, or cannot be created or written to.
    """
    if data_home is not None:
        source, path = "data_home", Path(data_home)
    elif os.environ.get("MEDLEARN_DATA"):
        source, path = "MEDLEARN_DATA", Path(os.environ["MEDLEARN_DATA"])
    else:
        source, path = "the default cache", _default_cache()
    path = path.expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise ConfigError(
            f"{source} must name a folder, but it names a file. Received: {source}={str(path)!r}. "
            "Fix: point it at a folder (it is created if missing)."
        )
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"{source} cannot be created: {exc.strerror}. Received: {source}={str(path)!r}. "
                "Fix: choose a folder you can write to, e.g. `export MEDLEARN_DATA=$HOME/medlearn-data`."
            ) from None
        if not os.access(path, os.W_OK):
            raise ConfigError(
                f"{source} is not writable. Received: {source}={str(path)!r}. "
                "Fix: choose a folder you can write to, e.g. `export MEDLEARN_DATA=$HOME/medlearn-data`."
            )
    return path


def set_seed(seed: int = DEFAULT_SEED) -> int:
    """Seed Python, NumPy and (when already imported or importable) the Keras backend.

    TensorFlow op determinism is switched on where TensorFlow is loaded, so two
    runs of a lesson give the same numbers. Keras is only seeded if it is
    already imported, so lessons 01-03 never pay for the TensorFlow import.

    Args:
        seed: a non-negative int.

    Returns:
        The seed, for printing.

    Raises:
        ConfigError: ``seed`` is not a non-negative int.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative int. Received: seed={seed!r}")
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    import numpy as np

    np.random.seed(seed)
    if "keras" in sys.modules:
        import keras

        keras.utils.set_random_seed(seed)
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        tf.random.set_seed(seed)
        try:
            tf.config.experimental.enable_op_determinism()
        except (AttributeError, RuntimeError):  # older TF or already-initialised runtime
            pass
    return seed
