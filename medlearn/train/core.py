"""What training returns and the pieces it is made of: :class:`TrainResult`, class weights, the batch size,
the prior correction. The steps are in :mod:`medlearn.train.steps`; :func:`medlearn.train.fit` runs them.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from medlearn.errors import MedlearnError
from medlearn.tasks import normalize_task

__all__ = ["TrainError", "TrainResult", "class_weights", "default_batch_size", "shift_output_bias"]


class TrainError(MedlearnError, ValueError):
    """Arguments or data that :func:`medlearn.train.fit` cannot train on."""


@dataclasses.dataclass
class TrainResult:
    """What :func:`medlearn.train.fit` returns.

    Attributes:
        model: the trained ``keras.Model``: the average of the last epochs' weights (see
            ``averaged_epochs``); the best epoch's weights by validation AUC when averaging is off
            or the planned run is too short for it; the last epoch's when a clock-bounded run ended
            too soon to average.
        history: per-epoch logs, ``{"loss": [...], "val_auc": [...], ...}``.
        train_seconds: wall-clock seconds spent in ``model.fit``.
        epochs: epochs run; ``best_epoch``: the 1-based epoch with the best validation AUC.
        averaged_epochs: 1-based ``(first, last)`` epochs whose weights were averaged into
            ``model``, or None when the best epoch's weights were kept.
        stopped_by: ``"epochs"``, ``"time budget"`` or ``"early stopping"``.
        task: canonical task; ``label_names``: class names; ``dataset``: the dataset name.
        model_name: ``"logreg"``, ``"mlp"``, ``"cnn"``, ``"resnet"`` or the model's own name.
        augment: the augmentation policy used (``"none"`` when off).
        tta: the test-time augmentation views averaged for ``val_scores`` / ``test_scores``.
        class_weight: {class: weight} used, or None.
        val_scores, test_scores: predicted probabilities ((N,) binary, (N, C) otherwise) or None.
        val_labels, test_labels: the matching true labels or None.
        params: trainable + non-trainable parameter count (all members' for an ensemble).
        members: an ensemble's member models (``model`` averages them), else None;
            ``member_results``: their own :class:`TrainResult` objects (each member's history,
            epochs and scores). For an ensemble, ``history``, ``best_epoch`` and
            ``averaged_epochs`` are member 1's, ``epochs`` and ``train_seconds`` the sums.
    """

    model: object
    history: dict
    train_seconds: float
    epochs: int
    best_epoch: int
    stopped_by: str
    task: str
    label_names: list
    dataset: str
    model_name: str
    augment: str
    tta: list
    class_weight: dict | None
    val_scores: np.ndarray | None
    val_labels: np.ndarray | None
    test_scores: np.ndarray | None
    test_labels: np.ndarray | None
    params: int
    averaged_epochs: tuple | None = None
    members: list | None = None
    member_results: list | None = None

    def scores(self, split: str = "test") -> dict:
        """MedMNIST-evaluator ``{"acc", "auc"}`` on ``"test"`` or ``"val"``."""
        from medlearn.metrics import medmnist_scores

        y, s = self._split(split)
        return medmnist_scores(y, s, self.task)

    def report(self, split: str = "test", **kwargs):
        """The :func:`medlearn.metrics.clinical_report` of a split (kwargs: ``threshold``, ``n_bootstrap`` ...)."""
        from medlearn.metrics import clinical_report

        y, s = self._split(split)
        return clinical_report(y, s, self.task, label_names=self.label_names, **kwargs)

    def _split(self, split):
        pairs = {"test": (self.test_labels, self.test_scores), "val": (self.val_labels, self.val_scores)}
        if split not in pairs or pairs[split][0] is None:
            raise TrainError(f"split must be one the data had: 'test' or 'val'. Received: split={split!r}")
        return pairs[split]


def default_batch_size(n_train: int) -> int:
    """32 for tiny datasets, up to 128 for large ones (about 16+ updates per pass)."""
    return int(min(128, max(32, 2 ** int(np.log2(max(n_train // 16, 1))))))


def class_weights(labels, task: str, mode="balanced") -> dict | None:
    """Per-class loss weights against class imbalance.

    ``"balanced"`` gives class c the weight ``N / (C * n_c)`` (scikit-learn's rule): every
    class then contributes equally to the loss. ``"sqrt"`` takes the square root of
    that, a milder correction that costs less accuracy at the 0.5 threshold.

    Args:
        labels: (N,) class indices (multi-label data get no class weights).
        task: the task.
        mode: ``"balanced"``, ``"sqrt"``, ``None`` or an explicit {class: weight} dict.

    Returns:
        {class index: weight} or None.

    Raises:
        TrainError: an unknown ``mode``.

    Example:
        >>> class_weights([0, 0, 0, 1], "binary")
        {0: 0.6666666666666666, 1: 2.0}
    """
    if mode is None or mode is False:
        return None
    if isinstance(mode, dict):
        return {int(k): float(v) for k, v in mode.items()}
    if mode not in ("balanced", "sqrt"):
        raise TrainError(f"class_weight must be 'balanced', 'sqrt', None or a dict. Received: class_weight={mode!r}")
    if normalize_task(task) == "multi-label":
        return None
    y = np.asarray(labels).reshape(len(labels), -1)[:, 0].astype(int)
    counts = np.bincount(y)
    present = counts > 0
    w = np.zeros(len(counts))
    w[present] = len(y) / (present.sum() * counts[present])
    if mode == "sqrt":
        w = np.sqrt(w)
    return {int(c): float(w[c]) for c in np.flatnonzero(present)}


def shift_output_bias(model, weights: dict, spec) -> bool:
    """Undo the prior shift of class-weighted training in the output layer's bias.

    Weighting class c by w_c multiplies its odds by w_c; subtracting ``log w_c`` from its
    logit (``log(w1 / w0)`` for a single sigmoid unit) divides them back out.

    Returns:
        True if the model has an ``"output"`` Dense layer with a bias and was adjusted.
    """
    try:
        layer = model.get_layer("output")
    except ValueError:
        return False
    if not getattr(layer, "use_bias", False):
        return False
    kernel, bias = layer.get_weights()
    if spec.units == 1:
        bias = bias - np.log(weights.get(1, 1.0) / weights.get(0, 1.0))
    else:
        bias = bias - np.log([weights.get(c, 1.0) for c in range(spec.units)])
    layer.set_weights([kernel, bias.astype(kernel.dtype)])
    return True

