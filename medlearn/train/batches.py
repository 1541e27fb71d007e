"""Feeding uint8 images to Keras without a float copy of the whole dataset.

:class:`Batches` is a ``keras.utils.PyDataset`` (works with every Keras
backend) that keeps the images as uint8 and scales one batch at a time to
float32 in [0, 1]. An "epoch" can be shorter than the dataset
(``steps_per_epoch``): the next epoch continues where the last one stopped, so
large datasets still get a validation check (and early stopping) every few
thousand images, and every image is seen once before any is seen twice.

Used by :func:`medlearn.train.fit` (lessons 07 and 08).
"""
from __future__ import annotations

import numpy as np
import keras

from medlearn.train.core import TrainError

__all__ = ["Batches", "as_float_nhwc", "pixel_scale", "predict_proba", "tta_views"]


def pixel_scale(model) -> float | None:
    """The factor uint8 pixels need before ``model``: 1.0 when it rescales inside (a ``Rescaling``
    layer, as the reference models do), None (scale to [0, 1]) otherwise."""
    return 1.0 if any(type(layer).__name__ == "Rescaling" for layer in _all_layers(model)) else None


def _all_layers(model):
    """Every layer of ``model``, those of nested models (an ensemble's members) included."""
    for layer in getattr(model, "layers", []):
        yield layer
        yield from _all_layers(layer)


def as_float_nhwc(images, *, scale: float | None = None) -> np.ndarray:
    """uint8 (N, H, W[, C]) -> float32 (N, H, W, C) times ``scale`` (default 1/255: 0..1).

    Float input is only given a channel axis. ``scale=1.0`` keeps 0..255 for a model with
    ``Rescaling`` inside (see :func:`pixel_scale`).
    """
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.dtype == np.uint8:
        out = x.astype(np.float32)  # the one float copy, scaled in place (no second full-size array)
        if scale is None:
            np.divide(out, np.float32(255.0), out=out)
        elif scale != 1.0:
            np.multiply(out, np.float32(scale), out=out)
        return out
    return x.astype(np.float32, copy=False)


class Batches(keras.utils.PyDataset):
    """Shuffled (x, y[, sample_weight]) batches from uint8 images.

    Args:
        images: (N, H, W) or (N, H, W, C), uint8 0..255 or float 0..1.
        targets: (N, K) float32 targets (see :func:`medlearn.models.encode_labels`).
        sample_weight: (N,) float32 or None.
        batch_size: images per batch.
        steps_per_epoch: batches per epoch (default: one pass over the data).
        shuffle: draw a fresh permutation for every pass.
        seed: seed of the permutations.
        scale: as in :func:`as_float_nhwc` (None: uint8 to 0..1; 1.0: keep 0..255).
        mixup: None, or the ``alpha`` of mixup (Zhang et al., 2018): each image of a batch is
            blended with another image of the same batch, ``lam * x_i + (1 - lam) * x_j`` with
            ``lam ~ Beta(alpha, alpha)`` drawn per image, and so are its targets and sample weight.

    Every batch is full (the permutation wraps around), so compiled train steps see one shape.
    """

    def __init__(self, images, targets, sample_weight=None, *, batch_size=128, steps_per_epoch=None,
                 shuffle=True, seed=0, scale=None, mixup=None):
        super().__init__()
        self.scale = scale
        self.mixup = None if not mixup else float(mixup)
        self.images = np.asarray(images)
        self.targets = np.asarray(targets, dtype=np.float32)
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float32)
        self.n = len(self.images)
        self.batch_size = int(min(batch_size, self.n))
        full = -(-self.n // self.batch_size)
        self.steps = int(steps_per_epoch or full)
        self.shuffle = shuffle
        self.rng = np.random.default_rng(seed)
        self.mix_rng = np.random.default_rng([int(seed), 1])  # own stream: mixup leaves the order alone
        self.offset = 0
        self._order = np.empty(0, dtype=np.int64)
        self._ensure(self.steps * self.batch_size)

    def _ensure(self, length):
        """Make the index stream long enough, appending whole permutations."""
        while len(self._order) < length:
            perm = self.rng.permutation(self.n) if self.shuffle else np.arange(self.n)
            self._order = np.concatenate([self._order, perm])

    def __len__(self):
        return self.steps

    def __getitem__(self, i):
        start = self.offset + int(i) * self.batch_size
        self._ensure(start + self.batch_size)
        idx = self._order[start:start + self.batch_size]
        x, y = as_float_nhwc(self.images[idx], scale=self.scale), self.targets[idx]
        w = None if self.sample_weight is None else self.sample_weight[idx]
        if self.mixup:
            x, y, w = self._mix(x, y, w)
        return (x, y) if w is None else (x, y, w)

    def _mix(self, x, y, w):
        """Blend every image of the batch with a partner from the same batch (draws from ``mix_rng``)."""
        lam = self.mix_rng.beta(self.mixup, self.mixup, size=len(x)).astype(np.float32)
        partner = self.mix_rng.permutation(len(x))

        def blend(a):
            share = lam.reshape((-1,) + (1,) * (a.ndim - 1))
            return share * a + (1 - share) * a[partner]

        return blend(x), blend(y), None if w is None else blend(w)

    def on_epoch_end(self):
        self.offset += self.steps * self.batch_size
        if self.offset >= self.n:  # drop consumed indices, keep the remainder of the current pass
            self._order = self._order[self.offset:]
            self.offset = 0


def tta_views(policy) -> list[str]:
    """The exact, interpolation-free views a policy allows: ``"identity"``, ``"hflip"``, ``"vflip"``, ``"rot90"``...

    Test-time augmentation averages the model's predictions over these views.
    Only mirror images and quarter turns are used (no resampling), and only those
    the modality allows (none for chest X-rays: the heart stays on the left).
    """
    views = ["identity"]
    if not hasattr(policy, "horizontal_flip"):  # None, or a user's own Keras layer
        return views
    if policy.horizontal_flip:
        views.append("hflip")
    if policy.vertical_flip:
        views.append("vflip")
    if policy.rotation >= 0.25:  # free rotation: a quarter turn is valid too
        views.append("rot90")
    return views  # at most 4 views: prediction cost grows with each


_VIEWS = {
    "identity": lambda x: x,
    "hflip": lambda x: x[:, :, ::-1],
    "vflip": lambda x: x[:, ::-1],
    "rot180": lambda x: x[:, ::-1, ::-1],
    "rot90": lambda x: np.rot90(x, 1, axes=(1, 2)),
    "rot270": lambda x: np.rot90(x, 3, axes=(1, 2)),
}


def predict_proba(model, images, *, batch_size: int = 512, views=("identity",)) -> np.ndarray:
    """Predicted probabilities for uint8 or float images, in chunks (no full float copy).

    Args:
        model: a Keras model from :mod:`medlearn.models` (uint8 images are fed 0..255 to a model
            with ``Rescaling`` inside, else scaled to 0..1).
        images: (N, H, W[, C]) uint8 0..255, or float as the model expects it.
        batch_size: images per forward pass.
        views: test-time augmentation: average over these views (see :func:`tta_views`).

    Returns:
        float64 (N,) for a 1-unit (binary) model, else (N, units).
    """
    images = np.asarray(images)
    unknown = [v for v in views if v not in _VIEWS]
    if unknown:
        raise TrainError(f"views must be among {sorted(_VIEWS)}. Received: views={list(views)!r}")
    chunks = []
    scale = pixel_scale(model)
    for i in range(0, len(images), batch_size):
        x = as_float_nhwc(images[i:i + batch_size], scale=scale)
        preds = [np.asarray(model.predict_on_batch(np.ascontiguousarray(_VIEWS[v](x))), dtype=np.float64)
                 for v in views]
        chunks.append(np.mean(preds, axis=0))
    out = np.concatenate(chunks) if chunks else np.empty((0, 1))
    return out[:, 0] if out.ndim == 2 and out.shape[1] == 1 else out
