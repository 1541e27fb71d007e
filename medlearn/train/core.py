"""``fit``: train a reference model on a dataset Bunch, the way the course recommends.

Used in lessons 05, 07 and 08 and by ``medlearn train``.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from medlearn.config import fast, set_seed
from medlearn.errors import MedlearnError
from medlearn.tasks import normalize_task

__all__ = ["TrainError", "TrainResult", "fit", "class_weights", "default_batch_size", "shift_output_bias"]


class TrainError(MedlearnError, ValueError):
    """Arguments or data that :func:`fit` cannot train on."""


@dataclasses.dataclass
class TrainResult:
    """What :func:`fit` returns.

    Attributes:
        model: the trained ``keras.Model`` (the average of the last epochs' weights, see
            ``averaged_epochs``; else the best epoch's weights by validation AUC).
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
        params: trainable + non-trainable parameter count.
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


def _split_parts(data):
    """(train, val, test) split Bunches from a full Bunch / dict; val carved from train if missing."""
    if not isinstance(data, dict) or "train" not in data:
        raise TrainError("data must hold the splits: a Bunch with .train (and .val, .test), e.g. "
                         f"medlearn.datasets.load_phantoms(). Received: {type(data).__name__}")
    for part in ("train", "val", "test"):
        if part in data and data[part] is not None and "images" not in data[part]:
            raise TrainError(f"data.{part} must have images and labels. Received keys: {list(data[part])}")
    return data["train"], data.get("val"), data.get("test")


def _subsample(images, labels, limit, seed):
    if limit is None or len(images) <= limit:
        return images, labels
    idx = np.sort(np.random.default_rng(seed).choice(len(images), size=int(limit), replace=False))
    return images[idx], labels[idx]


def _check_positive(name, value, kind=int):
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating)) and value > 0
    if not ok or (kind is int and int(value) != value):
        what = "a positive int" if kind is int else "a positive number"
        raise TrainError(f"{name} must be {what}. Received: {name}={value!r}")


def fit(data, *, model="cnn", epochs=None, time_budget=None, batch_size=None, learning_rate=None,
        augment="auto", class_weight="balanced", patience=None, average_tail=0.25, seed=42, max_val=4000,
        steps_per_epoch=None, tta="auto", prior_correction=True, deterministic=True, verbose=1, callbacks=None,
        **model_kwargs) -> TrainResult:
    """Train a reference model on a dataset and score it on the test split.

    What it does, each step a lesson topic:

    1. builds ``model`` with the output layer and loss of the dataset's task;
    2. puts augmentation that fits the modality in front of it (``augment="auto"``:
       no left-right flip for chest X-rays, free rotation for pathology ...);
    3. weights the loss by class against imbalance (``class_weight="balanced"``);
    4. trains with AdamW and a cosine learning-rate decay, checking the validation
       ROC-AUC after every epoch and stopping early when it stops improving
       (``patience``), or when ``epochs`` or ``time_budget`` run out;
    5. averages the weights of the last quarter of the epochs (``average_tail``,
       stochastic weight averaging) - or keeps the best epoch's weights;
    6. predicts the validation and test splits.

    Seeds go through :func:`medlearn.config.set_seed`, so a run is reproducible on one
    machine with one backend. Keras is imported here, not at module import.

    Args:
        data: a Bunch with ``train``, ``val`` (optional: 10 % of train is held out) and
            ``test`` (optional) splits, each with ``images`` uint8 (N, H, W[, C]) and
            ``labels``, plus ``task`` and ``label_names`` (e.g. ``load_phantoms()``).
        model: ``"logreg"``, ``"mlp"``, ``"cnn"``, ``"resnet"`` or an (uncompiled or
            compiled) ``keras.Model`` that maps float (N, H, W, C) in [0, 1] to probabilities.
        epochs: maximum passes over the data (default 200 when ``time_budget`` is set,
            else ``fast(30, 3)``).
        time_budget: maximum seconds of training (None: no clock). The learning-rate
            schedule is stretched over the budget.
        batch_size: images per step (default: :func:`default_batch_size`).
        learning_rate: AdamW's peak learning rate (default 2e-3; 1e-3 for logreg/mlp).
        augment: ``"auto"`` (policy from the dataset name / modality), ``None``/``"none"``,
            a policy name from :data:`medlearn.models.POLICIES`, or a Keras layer.
        class_weight: ``"balanced"``, ``"sqrt"``, ``None`` or a {class: weight} dict.
        patience: epochs without a better ``val_auc`` before stopping (default 15 with a
            time budget, else max(5, epochs // 3)). Epochs are judged (and the best one kept)
            only once a quarter of the epochs or of the budget has passed.
        average_tail: the share of the epochs run, counted back from the last, whose
            weights are averaged into the final model (0.25: the last quarter). The
            average of several late epochs is less noisy than any one of them, and it
            does not hinge on picking one epoch by a small, noisy validation set. None
            (or 0) keeps the best epoch by validation AUC instead, as do runs too short
            for a window of 2 epochs.
        seed: seed for weights, augmentation and shuffling.
        max_val: score at most this many (randomly chosen) validation images per epoch.
        steps_per_epoch: batches per epoch (default: one pass, at most 150 batches, so
            large datasets are validated regularly).
        prior_correction: after training with class weights, shift the output layer's bias
            by ``-log(weight)`` per class (binary: ``-log(w1 / w0)``), so the probabilities refer
            to the real class frequencies again. The features learned with balanced weights
            stay; only the decision at 0.5 / argmax stops favouring the rare class blindly
            (choose a clinical threshold explicitly instead). Needs the builders' ``"output"`` layer.
        tta: test-time augmentation for the val/test predictions: ``"auto"`` averages over
            the mirror images / quarter turns the augmentation policy allows (none for chest
            X-rays), ``None`` predicts each image once, or a list of view names.
        deterministic: seed through :func:`medlearn.config.set_seed`, which also makes
            TensorFlow's kernels deterministic (same numbers on every run; on CPU about
            1.5x slower). ``False`` seeds Python, NumPy and Keras only: the run is
            repeatable up to floating-point order, and faster.
        verbose: 0 silent, 1 or 2 one line per epoch.
        callbacks: extra Keras callbacks.
        **model_kwargs: passed to the builder (``dropout=``, ``filters=`` ...).

    Returns:
        A :class:`TrainResult`.

    Raises:
        TrainError: bad arguments or data without the needed splits.

    Example:
        >>> from medlearn.datasets import load_phantoms
        >>> result = fit(load_phantoms(), model="cnn", time_budget=60)   # doctest: +SKIP
        >>> result.scores()                                              # doctest: +SKIP
        {'acc': 0.97..., 'auc': 0.99...}
    """
    import keras

    from medlearn.models import build_model, compile_model, encode_labels, output_spec, policy_for
    from medlearn.train.batches import Batches, predict_proba, tta_views
    from medlearn.train.callbacks import CosineSchedule, EpochLine, KeepBest, TailAverage, TimeBudget

    train, val, test = _split_parts(data)
    task = normalize_task(data.get("task") or train.get("task", ""))
    names = list(data.get("label_names") or train.get("label_names") or [])
    info = data.get("info") or train.get("info") or {}
    dataset = str(data.get("name") or info.get("name") or "data")
    x_tr, y_tr = np.asarray(train["images"]), np.asarray(train["labels"])
    if len(x_tr) < 2:
        raise TrainError(f"the train split needs at least 2 images. Received {len(x_tr)}")
    if task == "multi-label":
        n_classes = y_tr.shape[1]
    else:
        n_classes = len(names) if names else int(y_tr.max()) + 1
        n_classes = max(n_classes, 2)
    names = names or [str(i) for i in range(n_classes)]
    if val is None:  # hold out 10 % of train, stratification is not worth a dependency here
        idx = np.random.default_rng(seed).permutation(len(x_tr))
        cut = max(1, len(x_tr) // 10)
        x_va, y_va = x_tr[idx[:cut]], y_tr[idx[:cut]]
        x_tr, y_tr = x_tr[idx[cut:]], y_tr[idx[cut:]]
    else:
        x_va, y_va = np.asarray(val["images"]), np.asarray(val["labels"])

    if epochs is not None:
        _check_positive("epochs", epochs)
    if time_budget is not None:
        _check_positive("time_budget", time_budget, float)
    if epochs is None:
        epochs = 200 if time_budget else fast(30, 3)
    batch_size = default_batch_size(len(x_tr)) if batch_size is None else batch_size
    _check_positive("batch_size", batch_size)
    if patience is None:
        patience = 15 if time_budget else max(5, int(epochs) // 3)
    if average_tail is not None and average_tail is not False and average_tail != 0:
        ok = (not isinstance(average_tail, bool) and isinstance(average_tail, (int, float, np.integer, np.floating))
              and 0 < average_tail <= 1)
        if not ok:
            raise TrainError("average_tail must be a share of the epochs in (0, 1], e.g. 0.25, or None to keep "
                             f"the best epoch. Received: average_tail={average_tail!r}")
    else:
        average_tail = None

    if deterministic:  # Keras is imported above, so set_seed seeds it too
        set_seed(seed)
    else:
        keras.utils.set_random_seed(seed)  # Python, NumPy and the backend's generators
    spec = output_spec(task, n_classes)
    if augment == "auto":
        policy = policy_for(dataset, info.get("modality"))
    elif augment in (None, False, "none"):
        policy = None
    else:
        policy = augment
    if isinstance(model, str):
        model_name = model.strip().lower()
        peak = learning_rate or (1e-3 if model_name in ("logreg", "mlp") else 2e-3)
        net = build_model(model_name, x_tr.shape[1:], n_classes, task, augment=policy, compile=False,
                          seed=seed, **model_kwargs)
    else:
        model_name, peak, net = getattr(model, "name", "model"), learning_rate or 2e-3, model
    optimizer = keras.optimizers.AdamW(learning_rate=peak, weight_decay=1e-4)
    compile_model(net, task, n_classes, optimizer=optimizer)

    cw = class_weights(y_tr, task, class_weight)
    weights = None if cw is None else np.array([cw.get(int(c), 1.0) for c in
                                                y_tr.reshape(len(y_tr), -1)[:, 0]], dtype=np.float32)
    full = -(-len(x_tr) // min(batch_size, len(x_tr)))
    steps = int(steps_per_epoch or min(full, 150))
    targets = encode_labels(y_tr, task, n_classes)
    if steps == full and x_tr.size * 4 <= 256 * 2**20:
        # small data: one float copy, Keras batches it (fastest path on every backend)
        train_data = dict(x=_float(x_tr), y=targets, sample_weight=weights, batch_size=int(batch_size),
                          shuffle=True)
    else:  # large data: uint8 stays in memory, scaled per batch; short epochs validate regularly
        train_data = dict(x=Batches(x_tr, targets, weights, batch_size=batch_size, steps_per_epoch=steps,
                                    seed=seed), shuffle=False)
    x_vs, y_vs = _subsample(x_va, y_va, max_val, seed)
    budget = TimeBudget(time_budget) if time_budget else None
    schedule = CosineSchedule(peak, total_steps=int(epochs) * steps, budget=budget,
                              warmup_steps=min(steps, 100))
    n_epochs = int(epochs)
    stopper = KeepBest("val_auc", patience=patience,
                       ready=lambda epoch: epoch + 1 >= n_epochs // 4 or schedule.progress() >= 0.25)
    tail = TailAverage(float(average_tail)) if average_tail else None
    cbs = [schedule, stopper] + ([tail] if tail else []) + ([budget] if budget else []) + list(callbacks or [])
    if verbose:
        cbs.append(EpochLine("val_auc", schedule))
    start = time.perf_counter()
    hist = net.fit(**train_data, validation_data=(_float(x_vs), encode_labels(y_vs, task, n_classes)),
                   epochs=int(epochs), callbacks=cbs, verbose=0)
    seconds = time.perf_counter() - start
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    n_run = len(history.get("loss", []))
    aucs = history.get("val_auc", [])
    best = (stopper.best_epoch + 1) if stopper.best_epoch is not None else n_run
    stopped_by = ("time budget" if budget is not None and budget.stopped else
                  "early stopping" if stopper.stopped else "epochs")
    averaged = tail.average() if tail is not None else None
    window = None
    if averaged is not None:  # replaces the best epoch's weights that KeepBest restored
        net.set_weights(averaged)
        window = tuple(e + 1 for e in tail.window())
    if verbose:
        kept = (f"averaged epochs {window[0]}-{window[1]}" if window else
                f"kept epoch {best} (val_auc {aucs[best - 1] if aucs else float('nan'):.3f})")
        print(f"stopped by {stopped_by} after {n_run} epochs, {seconds:.1f}s; {kept}", flush=True)
    if prior_correction and cw:
        shift_output_bias(net, cw, spec)
    if tta == "auto":
        views = tta_views(policy_for(policy) if isinstance(policy, str) else policy)
    else:
        views = list(tta or ["identity"])
    val_scores = predict_proba(net, x_va, views=views)
    test_scores = test_labels = None
    if test is not None:
        test_labels = np.asarray(test["labels"])
        test_scores = predict_proba(net, test["images"], views=views)
    return TrainResult(
        model=net, history=history, train_seconds=seconds, epochs=n_run, best_epoch=best,
        stopped_by=stopped_by, task=spec.task, label_names=names, dataset=dataset, model_name=model_name,
        augment=getattr(policy, "name", policy) if policy is not None else "none", tta=views,
        class_weight=cw, val_scores=val_scores, val_labels=y_va, test_scores=test_scores,
        test_labels=test_labels, params=int(net.count_params()), averaged_epochs=window)


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


def _float(images):
    from medlearn.train.batches import as_float_nhwc

    return as_float_nhwc(images)
