"""Timing training and input pipelines: images per second, warm-up excluded.

Backend-agnostic (any Keras 3 backend); Keras is imported inside the functions.
Re-exported by :mod:`medlearn.backend`.

Used in lesson 08 and by ``benchmarks/bench_throughput.py``.
"""
from __future__ import annotations

import time

from medlearn.config import ConfigError

__all__ = ["measure_input", "measure_throughput"]


def _batches(data):
    """Iterate any of: tf.data.Dataset, keras.utils.PyDataset, a generator or a list of batches."""
    if hasattr(data, "__getitem__") and hasattr(data, "__len__") and hasattr(data, "on_epoch_end"):
        return (data[i] for i in range(len(data)))  # PyDataset
    return iter(data)


def measure_input(data, *, batches: int = 20) -> dict:
    """Time the input pipeline alone: how fast can it hand out batches, with no model attached?

    If this is slower than a training step, the GPU waits for data (input-bound).

    Args:
        data: a ``tf.data.Dataset``, ``keras.utils.PyDataset`` or iterable of ``(x, y)`` batches,
            with at least ``batches + 1`` batches (the first one, which fills buffers, is not timed).
        batches: how many batches to time.

    Returns:
        ``{"ms_per_batch": float, "batches": int, "images": int}``.

    Raises:
        ConfigError: ``batches`` is not a positive int, or ``data`` runs out too early.
    """
    if not isinstance(batches, int) or batches < 1:
        raise ConfigError(f"batches must be a positive int. Received: batches={batches!r}")
    it = _batches(data)
    images, start = 0, None
    for i in range(batches + 1):
        try:
            x = next(it)[0]
        except StopIteration:
            raise ConfigError(f"data ran out after {i} batches; measure_input needs batches + 1 = "
                              f"{batches + 1}. Fix: pass fewer batches or a repeating dataset.") from None
        if start is None:
            start = time.perf_counter()
        else:
            images += int(x.shape[0])
    seconds = time.perf_counter() - start
    return {"ms_per_batch": 1000.0 * seconds / batches, "batches": batches, "images": images}


class _StepTimer:
    """A Keras callback (built lazily) that notes when warm-up ends and training ends."""

    @staticmethod
    def make(warmup: int):
        import keras

        class StepTimer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.t0 = self.t1 = None

            def on_train_batch_end(self, batch, logs=None):
                if batch == warmup - 1:
                    self.t0 = time.perf_counter()

            def on_train_end(self, logs=None):
                self.t1 = time.perf_counter()

        return StepTimer()


def measure_throughput(model, data, *, batch_size: int, steps: int = 20, warmup: int = 3) -> dict:
    """Train ``warmup + steps`` steps and return the training throughput of the last ``steps``.

    Warm-up steps are not timed: the first step traces and compiles the
    training function (seconds with XLA), which would swamp the figure.

    Args:
        model: a compiled Keras model.
        data: a repeating ``tf.data.Dataset``, a ``keras.utils.PyDataset`` or a generator
            yielding ``(x, y)`` batches of exactly ``batch_size`` images.
        batch_size: images per step (the global batch).
        steps: timed steps (>= 1).
        warmup: untimed steps first (>= 1).

    Returns:
        ``{"images_per_s": float, "ms_per_step": float, "steps": int, "batch_size": int,
        "final_loss": float}``.

    Raises:
        ConfigError: a count is not a positive int.

    Example:
        >>> measure_throughput(model, ds.repeat(), batch_size=64, steps=10)["images_per_s"]  # doctest: +SKIP
        812.4
    """
    for name, value in (("batch_size", batch_size), ("steps", steps), ("warmup", warmup)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive int. Received: {name}={value!r}")
    timer = _StepTimer.make(warmup)
    history = model.fit(data, epochs=1, steps_per_epoch=warmup + steps, verbose=0, shuffle=False,
                        callbacks=[timer])
    seconds = timer.t1 - timer.t0
    return {
        "images_per_s": batch_size * steps / seconds,
        "ms_per_step": 1000.0 * seconds / steps,
        "steps": steps,
        "batch_size": batch_size,
        "final_loss": float(history.history["loss"][-1]),
    }
