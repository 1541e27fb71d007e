"""Train a U-Net on a dataset with lesion masks and score it: Dice, IoU, detections (``medlearn train --task segmentation``).

Used by ``medlearn train phantoms --task segmentation``.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from medlearn.errors import MedlearnError

__all__ = ["SegmentationTrainError", "SegmentationResult", "fit_segmentation", "lesion_truth"]


class SegmentationTrainError(MedlearnError, ValueError):
    """Data without masks, or options segmentation training cannot use."""


@dataclasses.dataclass
class SegmentationResult:
    """What :func:`fit_segmentation` returns: the model, its history and the test predictions."""

    model: object
    history: dict
    train_seconds: float
    epochs: int
    test_images: np.ndarray
    test_masks: np.ndarray
    test_probs: np.ndarray
    params: int


def _masks(part, name):
    if part is None or "masks" not in part:
        raise SegmentationTrainError(f"segmentation needs a lesion mask per image, and {name} has none. "
                                     f"Received: a split with keys {sorted(part or {})}. Fix: use 'phantoms'.")
    return np.asarray(part["masks"])


def lesion_truth(data, split="test"):
    """Exact lesion centres and radii of a phantom split: ``(centres (N, 2), radii (N,))``.

    The embedded phantoms store masks, not centres; they are regenerated from the registry's
    generator settings and used only if the regenerated masks equal the stored ones bit for bit.
    Otherwise (or for other data) the centres of mass of the true masks stand in and the radii are
    estimated from the mask areas.
    """
    part = data[split]
    masks = np.asarray(part["masks"])
    if "lesion_centers" in part:
        return np.asarray(part["lesion_centers"]), np.asarray(part.get("lesion_radii", np.zeros(len(masks))))
    info = data.get("info") or {}
    gen = info.get("generator") or {}
    try:
        from medlearn.datasets import make_phantoms

        twin = make_phantoms(int(info["n_samples"][split]), size=masks.shape[1], difficulty=gen["difficulty"],
                             seed=gen["seeds"][split])
        if np.array_equal(twin.masks, masks):
            return twin.lesion_centers, twin.lesion_radii
    except (KeyError, TypeError, ValueError, MedlearnError):
        pass
    from medlearn.metrics.segmentation import find_lesions

    centres = np.full((len(masks), 2), np.nan)
    radii = np.zeros(len(masks))
    for i, m in enumerate(masks):
        c, a = find_lesions(m)
        if len(c):
            centres[i] = c[np.argmax(a)]
            radii[i] = np.sqrt(a.max() / np.pi)
    return centres, radii


def fit_segmentation(data, *, model="unet", epochs=8, time_budget=None, batch_size=32, learning_rate=3e-3,
                     loss="dice_bce", seed=42, verbose=1, name="data"):
    """Train a U-Net on ``data.train`` masks (validation on ``data.val``) and predict ``data.test``.

    Args:
        data: a Bunch with ``train``, ``val`` (optional) and ``test`` splits, each with uint8
            ``images`` (N, H, W) and 0/1 ``masks`` (e.g. ``load_phantoms()``).
        model: ``"unet"`` or a Keras model mapping (N, H, W, 1) uint8 images to (N, H, W, 1) probabilities.
        epochs: passes over the training set. time_budget: stop after this many seconds (None: no clock).
        batch_size, learning_rate, loss, seed: training settings (see :func:`medlearn.models.unet.unet`).
        verbose: 0 silent, 1 or 2 one line per epoch.
        name: the dataset's name, for error messages.

    Returns:
        A :class:`SegmentationResult`.

    Raises:
        SegmentationTrainError: a split without masks or an unknown model.
    """
    import keras

    from medlearn.models import build_model

    tr, va, te = data["train"], data.get("val"), data["test"]
    m_tr, m_te = _masks(tr, name), _masks(te, name)
    x_tr = np.asarray(tr["images"])[..., None] if np.ndim(tr["images"]) == 3 else np.asarray(tr["images"])
    x_te = np.asarray(te["images"])[..., None] if np.ndim(te["images"]) == 3 else np.asarray(te["images"])
    keras.utils.set_random_seed(int(seed))
    if isinstance(model, str):
        if model != "unet":
            raise SegmentationTrainError(f"--task segmentation trains a U-Net: model must be 'unet'. "
                                         f"Received: model={model!r}")
        net = build_model("unet", x_tr.shape[1:], 1, "segmentation", loss=loss, learning_rate=learning_rate,
                          seed=seed)
    else:
        net = model
    validation = None
    if va is not None and "masks" in va:
        x_va = np.asarray(va["images"])
        validation = (x_va[..., None] if x_va.ndim == 3 else x_va, np.asarray(va["masks"])[..., None])
    callbacks = []
    if time_budget:
        start = time.perf_counter()

        class _Clock(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if time.perf_counter() - start > time_budget:
                    self.model.stop_training = True

        callbacks.append(_Clock())
    t0 = time.perf_counter()
    hist = net.fit(x_tr, m_tr[..., None], validation_data=validation, epochs=int(epochs), batch_size=int(batch_size),
                   verbose=2 if verbose else 0, callbacks=callbacks)
    seconds = time.perf_counter() - t0
    probs = net.predict(x_te, batch_size=256, verbose=0)[..., 0]
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    return SegmentationResult(net, history, seconds, len(history.get("loss", [])), np.asarray(te["images"]), m_te,
                              probs, int(net.count_params()))
