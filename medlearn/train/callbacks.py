"""The training callbacks Keras does not have: a wall-clock budget, a cosine decay over that budget, a progress
line and tail weight averaging. Early stopping is Keras' own ``EarlyStopping``; a run bounded by epochs decays its
learning rate with Keras' ``CosineDecay``.

Used by :func:`medlearn.train.fit` (and ``medlearn train``).
"""
from __future__ import annotations

import math
import sys
import time

import keras
import numpy as np

from medlearn.train.core import TrainError

__all__ = ["TimeBudget", "ClockCosine", "EpochLine", "TailAverage", "TieTolerantEarlyStopping"]


class TieTolerantEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras' ``EarlyStopping`` for a metric to maximise, in which an *equal* score counts as progress.

    Keras counts only a strictly better score. On a small validation set (BreastMNIST: 78
    images) the AUC often repeats the best value exactly for several epochs while training
    still improves; strict counting stops such runs early and keeps the earliest of the tied
    epochs. Here the later, better-trained epoch wins a tie and patience starts again.
    Use it with ``mode="max"``.
    """

    def _is_improvement(self, monitor_value, reference_value):
        if reference_value is None or not np.isfinite(reference_value):
            return True
        return monitor_value - self.min_delta >= reference_value


class TimeBudget(keras.callbacks.Callback):
    """Stop training so that it ends within ``seconds`` of wall-clock time (checked after every batch).

    Keras has no wall-clock stop. The epoch in progress ends early; Keras still runs its
    validation, so the last partial epoch counts for early stopping too. The stop comes early
    enough for that validation and one more batch to fit in the budget: the callback remembers
    how long the slowest batch and the last validation took, and stops once
    ``elapsed + batch + validation`` would pass 99 % of ``seconds`` (the last 1 % is for what
    ``model.fit`` does around the callbacks: 120.02 s of ``fit`` were measured against a 120 s budget
    without it).

    Args:
        seconds: the budget, > 0.
        stopper: an ``EarlyStopping`` whose ``start_from_epoch`` (which counts epochs, unknown in a
            clock-bounded run) is brought forward to the epoch in which a quarter of the budget has passed.
            Put this callback before the stopper in the list.
    """

    def __init__(self, seconds: float, stopper=None):
        super().__init__()
        self.seconds = float(seconds)
        self.stopper = stopper
        self.start = None
        self.stopped = False
        self.batch_seconds = 0.0       # the slowest batch after the first (which includes tracing)
        self.validation_seconds = 0.0  # the last validation pass
        self._mark = None

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return 0.0 if self.start is None else time.perf_counter() - self.start

    def on_train_batch_begin(self, batch, logs=None):
        self._mark = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self._mark is not None and (batch > 0 or self.validation_seconds):
            self.batch_seconds = max(self.batch_seconds, now - self._mark)
        # 1 % of the budget for what model.fit does outside the callbacks' view (its set-up and wind-down)
        if self.elapsed() + self.batch_seconds + self.validation_seconds + 0.01 * self.seconds >= self.seconds:
            self.stopped = True
            self.model.stop_training = True

    def on_test_begin(self, logs=None):
        self._mark = time.perf_counter()

    def on_test_end(self, logs=None):
        if self._mark is not None:
            self.validation_seconds = time.perf_counter() - self._mark

    def on_epoch_end(self, epoch, logs=None):
        if self.stopper is not None and self.elapsed() >= 0.25 * self.seconds:
            self.stopper.start_from_epoch = min(self.stopper.start_from_epoch, epoch)


class ClockCosine(keras.callbacks.Callback):
    """Cosine learning-rate decay over a *time budget*, after a linear warm-up.

    ``lr = floor + (peak - floor) * (1 + cos(pi * p)) / 2`` with ``p`` the larger of the
    fraction of planned steps done and the fraction of the time budget used. Keras'
    ``CosineDecay`` counts steps, and a run cut by the clock does not know its number of
    steps in advance; this schedule still ends with a small learning rate, which is where
    the best weights usually come from. Runs bounded by epochs use ``CosineDecay``.

    Args:
        peak: the learning rate after warm-up.
        budget: the run's :class:`TimeBudget`.
        total_steps: planned optimizer steps (None: time only).
        warmup_steps: steps of linear warm-up from ``peak / 10``.
        floor_fraction: the final learning rate as a fraction of ``peak``.
    """

    def __init__(self, peak, budget, *, total_steps=None, warmup_steps=0, floor_fraction=0.02):
        super().__init__()
        self.peak = float(peak)
        self.total_steps = total_steps
        self.budget = budget
        self.warmup_steps = int(warmup_steps)
        self.floor = self.peak * float(floor_fraction)
        self.step = 0

    def progress(self) -> float:
        parts = [0.0]
        if self.total_steps:
            parts.append(self.step / self.total_steps)
        if self.budget.start is not None:
            parts.append(self.budget.elapsed() / self.budget.seconds)
        return min(1.0, max(parts))

    def on_train_batch_begin(self, batch, logs=None):
        if self.step < self.warmup_steps:
            lr = self.peak * (0.1 + 0.9 * self.step / self.warmup_steps)
        else:
            lr = self.floor + (self.peak - self.floor) * 0.5 * (1 + math.cos(math.pi * self.progress()))
        self.model.optimizer.learning_rate.assign(lr)
        self.step += 1


class EpochLine(keras.callbacks.Callback):
    """One compact line per epoch: time, losses, metrics, learning rate, a star on a new best.

    Example line::

        epoch  7  31.2s  loss 0.214 acc 0.921 auc 0.975 | val_loss 0.198 val_acc 0.930 val_auc 0.981 *  lr 1.4e-03

    Args:
        monitor: the metric whose improvement gets a star (``"val_auc"``).
        stream: where to print (default ``sys.stdout``).
    """

    def __init__(self, monitor="val_auc", stream=None):
        super().__init__()
        self.monitor = monitor
        self.stream = stream
        self.best = -math.inf
        self.start = None

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        print(f"(each line: epoch, seconds since the start, training loss and metrics | the same on the "
              f"validation set, * = best {self.monitor} so far, learning rate)", file=self.stream or sys.stdout,
              flush=True)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        keys = [k for k in ("loss", "acc", "auc") if k in logs]
        train = " ".join(f"{k} {logs[k]:.3f}" for k in keys)
        val = " ".join(f"val_{k} {logs['val_' + k]:.3f}" for k in keys if "val_" + k in logs)
        current = logs.get(self.monitor)
        star = ""
        if current is not None and current > self.best:
            self.best, star = current, " *"
        lr = f"  lr {self._learning_rate():.1e}"
        line = f"epoch {epoch + 1:>3} {time.perf_counter() - self.start:6.1f}s  {train}"
        if val:
            line += f" | {val}{star}"
        print(line + lr, file=self.stream or sys.stdout, flush=True)

    def _learning_rate(self) -> float:
        """The optimizer's current learning rate (a schedule's value at the current step)."""
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


class TailAverage(keras.callbacks.Callback):
    """Average the weights of the last ``fraction`` of the epochs run (stochastic weight averaging).

    Late in training the weights wander around a good region with every epoch's
    noise (mini-batches, augmentation); their average sits nearer its centre and
    usually generalises better than any single epoch. It also needs no choice of
    "the best epoch" on the validation set - on a small one (BreastMNIST: 78 images)
    that choice is mostly luck. Because the end of the run (time budget, early
    stopping) is unknown in advance, one snapshot per epoch is kept, but only the
    ones that can still fall into the final window: at most ``fraction`` of the
    epochs run, plus one.

    Float variables (kernels, biases, BatchNormalization's moving mean and variance)
    are averaged; others (e.g. random-generator states) come from the last epoch.

    Why not the optimizer's ``use_ema=True`` with ``SwapEMAWeights``: an exponential moving
    average forgets at a fixed rate per *step*, so its window cannot follow "the last quarter of
    the run" when the clock or early stopping decides the run's length, and it averages the
    trainable variables only, leaving BatchNormalization's statistics out of step with the
    averaged kernels.

    Args:
        fraction: the share of the epochs run to average, in (0, 1]; the window is
            ``ceil(fraction * epochs run)`` epochs long and ends at the last epoch.
        min_epochs: fewer epochs in the window than this and :meth:`average` returns
            None (a one-epoch "average" is just the last epoch: keep the best one instead).

    Example:
        >>> tail = TailAverage(0.25)                                     # doctest: +SKIP
        >>> model.fit(x, y, epochs=40, callbacks=[tail])                 # doctest: +SKIP
        >>> model.set_weights(tail.average())   # the mean of epochs 31..40  # doctest: +SKIP
    """

    def __init__(self, fraction: float = 0.25, min_epochs: int = 2):
        super().__init__()
        if not 0 < fraction <= 1:
            raise TrainError(f"fraction must lie in (0, 1]. Received: fraction={fraction!r}")
        self.fraction = float(fraction)
        self.min_epochs = int(min_epochs)
        self.epochs_seen = 0
        self.snapshots = []  # (epoch index, weights), oldest first

    def window(self, epochs_run: int | None = None) -> tuple[int, int]:
        """0-based ``(first, last)`` epochs averaged once ``epochs_run`` epochs have run (default: so far)."""
        n = self.epochs_seen if epochs_run is None else int(epochs_run)
        size = max(1, math.ceil(self.fraction * n))
        return n - size, n - 1

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_seen += 1
        self.snapshots.append((self.epochs_seen - 1, self.model.get_weights()))
        # the window's first epoch, n - ceil(fraction * n), never decreases as n grows:
        # epochs before today's window can never be averaged
        first_possible = self.window()[0]
        self.snapshots = [(e, w) for e, w in self.snapshots if e >= first_possible]

    def average(self):
        """The averaged weights (a list for ``model.set_weights``), or None if the window is too short."""
        first, last = self.window()
        chosen = [w for e, w in self.snapshots if first <= e <= last]
        if len(chosen) < max(1, self.min_epochs):
            return None
        out = []
        for parts in zip(*chosen):
            latest = np.asarray(parts[-1])
            if np.issubdtype(latest.dtype, np.floating):
                out.append(np.mean(np.stack(parts).astype(np.float64), axis=0).astype(latest.dtype))
            else:
                out.append(latest)
        return out
