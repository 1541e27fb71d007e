"""Magnitude pruning with one global threshold, a short fine-tune that keeps the zeros, honest sizes.

The kernels of every ``Conv2D`` / ``Dense`` (and attention) layer are ranked *together* by |w|,
and the smallest ``sparsity`` share is set to zero: layers with many small weights lose more,
layers that matter keep theirs (a per-layer threshold would cut every layer equally). Biases and
normalisation parameters are few and left alone. A few epochs of fine-tuning with the zeros held
fixed (:class:`KeepPruned`) recover most of what was lost.

A pruned model saved densely is as large as before - a zero takes 4 bytes like any float - until
the file is compressed (or stored sparsely): :func:`file_sizes` measures both.

Used in lesson 11 and by ``medlearn compress``.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from medlearn.compress.quantize import CompressError

__all__ = ["prunable_weights", "global_threshold", "prune", "sparsity", "KeepPruned", "fine_tune",
           "file_sizes", "check_sparsity"]


def check_sparsity(value) -> float:
    """``value`` as a float in [0, 1), else a :class:`CompressError`."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
    if not ok or not 0 <= float(value) < 1:
        raise CompressError(f"sparsity must be a share of the weights in [0, 1), e.g. 0.5. Received: sparsity={value!r}")
    return float(value)


def prunable_weights(model) -> list:
    """The kernel variables pruning acts on: every variable named ``kernel`` with 2+ dimensions."""
    seen, out = set(), []
    for var in model.weights:
        name = var.path if hasattr(var, "path") else var.name
        if name.split("/")[-1] == "kernel" and len(var.shape) >= 2 and id(var) not in seen:
            seen.add(id(var))
            out.append(var)
    return out


def global_threshold(arrays, target: float) -> float:
    """The |w| below which ``target`` of all the weights in ``arrays`` (together) lie.

    Returns:
        t, the ``floor(target * n) + 1``-th smallest |w|: pruning ``|w| < t`` zeroes
        ``floor(target * n)`` weights (fewer on ties); 0.0 for ``target = 0``.
    """
    target = check_sparsity(target)
    mags = np.sort(np.concatenate([np.abs(np.asarray(a, dtype=np.float64)).ravel() for a in arrays]))
    k = int(np.floor(target * mags.size))
    return 0.0 if k == 0 else float(mags[k])


def prune(model, target: float) -> list:
    """Zero the smallest ``target`` share of ``model``'s kernels in place (one global threshold).

    Returns:
        The masks (1 = kept), one per variable of :func:`prunable_weights`, for :class:`KeepPruned`.
    """
    variables = prunable_weights(model)
    if not variables:
        raise CompressError("the model has no Conv2D/Dense kernels to prune.")
    values = [np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in variables]
    t = global_threshold(values, target)
    masks = []
    for var, value in zip(variables, values):
        mask = (np.abs(value) >= t).astype(value.dtype) if t > 0 else np.ones_like(value)
        var.assign(value * mask)
        masks.append(mask)
    return masks


def sparsity(model) -> float:
    """Share of exact zeros among the prunable kernel weights."""
    values = [np.asarray(v.numpy()) for v in prunable_weights(model)]
    total = sum(v.size for v in values)
    return float(sum(int(np.sum(v == 0)) for v in values) / total) if total else 0.0


def _keep_pruned_class():
    import keras

    class KeepPruned(keras.callbacks.Callback):
        """Re-apply the pruning masks after every training batch (the optimiser would regrow zeros)."""

        def __init__(self, variables, masks):
            super().__init__()
            self.pairs = list(zip(variables, masks))

        def on_train_batch_end(self, batch, logs=None):
            for var, mask in self.pairs:
                var.assign(var * mask)

    return KeepPruned


def KeepPruned(variables, masks):  # noqa: N802 - a class made on demand, so Keras is imported lazily
    """A Keras callback that multiplies ``variables`` by ``masks`` after every batch."""
    return _keep_pruned_class()(variables, masks)


def fine_tune(model, masks, x, y, *, epochs: int = 2, learning_rate: float = 1e-4, batch_size: int = 64,
              loss=None, sample_weight=None):
    """Train a pruned model for a few epochs with its zeros held at zero.

    Args:
        model: the pruned ``keras.Model`` (compiled or not).
        masks: what :func:`prune` returned.
        x, y: model input and targets (as the model's loss expects them).
        epochs, learning_rate, batch_size: a short, gentle fine-tune.
        loss: the loss (default: the model's compiled loss).

    Returns:
        The Keras ``History``.
    """
    import keras

    loss = loss or getattr(model, "loss", None)
    if loss is None:
        raise CompressError("fine_tune needs a loss: compile the model or pass loss=.")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss)
    keep = KeepPruned(prunable_weights(model), masks)
    history = model.fit(x, y, sample_weight=sample_weight, epochs=int(epochs), batch_size=int(batch_size),
                        callbacks=[keep], verbose=0)
    keep.on_train_batch_end(0)
    return history


def file_sizes(path) -> dict:
    """``{"dense": bytes on disk, "compressed": bytes after zip (deflate, level 9)}`` of a model file."""
    raw = Path(path).read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr(Path(path).name, raw)
    return {"dense": len(raw), "compressed": len(buffer.getvalue())}
