"""Training callbacks in plain Keras 3: a wall-clock budget, a budget-aware cosine schedule, a progress line,
best-epoch keeping and tail weight averaging.

Used by :func:`medlearn.train.fit` (lessons 05, 07 and 08).
"""
from __future__ import annotations

import math
import sys
import time

import keras
import numpy as np

__all__ = ["TimeBudget", "CosineSchedule", "EpochLine", "KeepBest", "TailAverage"]


class TimeBudget(keras.callbacks.Callback):
    """Stop training once ``seconds`` of wall-clock time have passed (checked after every batch).

    The epoch in progress ends early; Keras still runs its validation, so the
    last partial epoch counts for early stopping too.

    Args:
        seconds: the budget, > 0.
    """

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = float(seconds)
        self.start = None
        self.stopped = False

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return 0.0 if self.start is None else time.perf_counter() - self.start

    def on_train_batch_end(self, batch, logs=None):
        if self.elapsed() >= self.seconds:
            self.stopped = True
            self.model.stop_training = True


class CosineSchedule(keras.callbacks.Callback):
    """Cosine learning-rate decay driven by *progress*, so it fits epoch- and time-budgeted training.

    ``lr = floor + (peak - floor) * (1 + cos(pi * p)) / 2`` with ``p`` the larger
    of the fraction of planned steps done and the fraction of the time budget
    used, after a short linear warm-up. A run that is cut by the clock still ends
    with a small learning rate, which is where the best weights usually come from.

    Args:
        peak: the learning rate after warm-up.
        total_steps: planned optimizer steps (None: time only).
        budget: a :class:`TimeBudget` (None: steps only).
        warmup_steps: steps of linear warm-up from ``peak / 10``.
        floor_fraction: the final learning rate as a fraction of ``peak``.
    """

    def __init__(self, peak, *, total_steps=None, budget=None, warmup_steps=0, floor_fraction=0.02):
        super().__init__()
        self.peak = float(peak)
        self.total_steps = total_steps
        self.budget = budget
        self.warmup_steps = int(warmup_steps)
        self.floor = self.peak * float(floor_fraction)
        self.step = 0
        self.lr = self.peak

    def progress(self) -> float:
        parts = [0.0]
        if self.total_steps:
            parts.append(self.step / self.total_steps)
        if self.budget is not None and self.budget.start is not None:
            parts.append(self.budget.elapsed() / self.budget.seconds)
        return min(1.0, max(parts))

    def on_train_batch_begin(self, batch, logs=None):
        if self.step < self.warmup_steps:
            lr = self.peak * (0.1 + 0.9 * self.step / self.warmup_steps)
        else:
            lr = self.floor + (self.peak - self.floor) * 0.5 * (1 + math.cos(math.pi * self.progress()))
        self.lr = lr
        self.model.optimizer.learning_rate.assign(lr)
        self.step += 1


class EpochLine(keras.callbacks.Callback):
    """One compact line per epoch: time, losses, metrics, learning rate, a star on a new best.

    Example line::

        epoch  7  31.2s  loss 0.214 acc 0.921 auc 0.975 | val_loss 0.198 val_acc 0.930 val_auc 0.981 *  lr 1.4e-03

    Args:
        monitor: the metric whose improvement gets a star (``"val_auc"``).
        schedule: a :class:`CosineSchedule` to read the learning rate from (optional).
        stream: where to print (default ``sys.stdout``).
    """

    def __init__(self, monitor="val_auc", schedule=None, stream=None):
        super().__init__()
        self.monitor = monitor
        self.schedule = schedule
        self.stream = stream
        self.best = -math.inf
        self.start = None

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        keys = [k for k in ("loss", "acc", "auc") if k in logs]
        train = " ".join(f"{k} {logs[k]:.3f}" for k in keys)
        val = " ".join(f"val_{k} {logs['val_' + k]:.3f}" for k in keys if "val_" + k in logs)
        current = logs.get(self.monitor)
        star = ""
        if current is not None and current > self.best:
            self.best, star = current, " *"
        lr = f"  lr {self.schedule.lr:.1e}" if self.schedule is not None else ""
        line = f"epoch {epoch + 1:>3} {time.perf_counter() - self.start:6.1f}s  {train}"
        if val:
            line += f" | {val}{star}"
        print(line + lr, file=self.stream or sys.stdout, flush=True)


class KeepBest(keras.callbacks.Callback):
    """Keep the weights of the best epoch by a validation metric; stop after ``patience`` epochs without progress.

    Unlike ``keras.callbacks.EarlyStopping`` it only starts judging once ``ready()``
    says so (e.g. a quarter of the epochs or of the time budget has passed): on a small
    validation set (BreastMNIST has 78 images) an early, undertrained epoch can score a
    lucky AUC and would otherwise be kept. Among equal scores the later epoch wins.

    Args:
        monitor: the metric, e.g. ``"val_auc"`` (higher is better).
        patience: epochs without a new best (after ``ready()``) before stopping.
        ready: a function ``epoch -> bool``; before it returns True nothing is kept or counted.
    """

    def __init__(self, monitor="val_auc", patience=10, ready=None):
        super().__init__()
        self.monitor = monitor
        self.patience = int(patience)
        self.ready = ready or (lambda epoch: True)
        self.best = -math.inf
        self.best_epoch = None
        self.best_weights = None
        self.wait = 0
        self.stopped = False

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None or not self.ready(epoch):
            return
        if current >= self.best:  # ties go to the later, better-trained epoch
            self.best, self.best_epoch, self.wait = current, epoch, 0
            self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped = True
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


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
            raise ValueError(f"fraction must lie in (0, 1]. Received: fraction={fraction!r}")
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
