"""The steps of :func:`medlearn.train.fit`, one function each, so a lesson can show them one at a time.

    splits = prepare_splits(data, seed=42)        # 1. train / val / test arrays, task, classes
    plan = plan_training(splits, epochs=8)        #    the knobs: epochs, batch size, steps, patience, weights
    net, policy = build(splits, "cnn", seed=42)   # 2. the model, with augmentation inside
    compile_for_training(net, splits, plan)       # 3. AdamW + cosine decay, the task's loss, acc/auc
    cbs = training_callbacks(plan)                # 4. early stopping, weight averaging, time budget
    run = train_model(net, splits, plan, cbs)     # 5. model.fit
    result = finish(net, splits, plan, run, policy=policy)   # 6. averaging, prior correction, TTA, predictions

Keras is imported inside the functions, never at module import.
"""
from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from medlearn.config import fast
from medlearn.tasks import normalize_task
from medlearn.train.core import TrainError, TrainResult, class_weights, default_batch_size, shift_output_bias

__all__ = ["Splits", "Plan", "Callbacks", "Run", "prepare_splits", "plan_training", "build",
           "compile_for_training", "training_callbacks", "train_model", "finish"]


@dataclasses.dataclass
class Splits:
    """Step 1's output: the arrays and what they mean.

    ``x_*`` keep the dataset's dtype (uint8 0..255 for images); ``x_monitor``/``y_monitor`` are
    the (at most ``max_val``) validation images scored after every epoch; ``test`` is the test
    split Bunch or None.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_monitor: np.ndarray
    y_monitor: np.ndarray
    test: dict | None
    task: str
    n_classes: int
    label_names: list
    dataset: str
    info: dict


@dataclasses.dataclass
class Plan:
    """The resolved training knobs (see :func:`medlearn.train.fit` for each one's meaning)."""

    epochs: int
    time_budget: float | None
    batch_size: int
    steps_per_epoch: int
    patience: int
    average_tail: float | None
    learning_rate: float
    class_weight: dict | None
    seed: int
    ema: float | None = None
    mixup: float | None = None

    @property
    def warmup_steps(self) -> int:
        return min(self.steps_per_epoch, 100)

    @property
    def start_from_epoch(self) -> int:
        """0-based epoch from which early stopping judges: a quarter of the planned epochs in."""
        return max(0, self.epochs // 4 - 1)

    @property
    def averages(self) -> bool:
        """Whether the final weights are a tail average (else the best epoch's are restored).

        A run bounded by epochs alone averages only if its window can hold 2 epochs; a
        clock-bounded run does not know its length, so it always tries.
        """
        if not self.average_tail or self.ema:
            return False
        return self.time_budget is not None or math.ceil(self.average_tail * self.epochs) >= 2


@dataclasses.dataclass
class Callbacks:
    """Step 4's output: the callbacks fit needs to read afterwards, and the full list for ``model.fit``."""

    stopper: object
    tail: object | None
    budget: object | None
    all: list


@dataclasses.dataclass
class Run:
    """Step 5's output: the per-epoch history (plain floats), the training seconds and the callbacks."""

    history: dict
    seconds: float
    callbacks: Callbacks


def _split_parts(data):
    """(train, val, test) split Bunches from a full Bunch / dict; val may be None."""
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


def prepare_splits(data, *, seed: int = 42, max_val: int | None = 4000) -> Splits:
    """Step 1: the train / validation / test arrays, the task and the classes.

    Without a ``val`` split, 10 % of train (a seeded permutation) is held out.

    Raises:
        TrainError: ``data`` without a train split, or fewer than 2 training images.
    """
    train, val, test = _split_parts(data)
    task = normalize_task(data.get("task") or train.get("task", ""))
    names = list(data.get("label_names") or train.get("label_names") or [])
    info = data.get("info") or train.get("info") or {}
    x_tr, y_tr = np.asarray(train["images"]), np.asarray(train["labels"])
    if len(x_tr) < 2:
        raise TrainError(f"the train split needs at least 2 images. Received {len(x_tr)}")
    if task == "multi-label":
        n_classes = y_tr.shape[1]
    else:
        n_classes = max(len(names) if names else int(y_tr.max()) + 1, 2)
    if val is None:  # hold out 10 % of train, stratification is not worth a dependency here
        idx = np.random.default_rng(seed).permutation(len(x_tr))
        cut = max(1, len(x_tr) // 10)
        x_va, y_va = x_tr[idx[:cut]], y_tr[idx[:cut]]
        x_tr, y_tr = x_tr[idx[cut:]], y_tr[idx[cut:]]
    else:
        x_va, y_va = np.asarray(val["images"]), np.asarray(val["labels"])
    x_vs, y_vs = _subsample(x_va, y_va, max_val, seed)
    return Splits(x_train=x_tr, y_train=y_tr, x_val=x_va, y_val=y_va, x_monitor=x_vs, y_monitor=y_vs, test=test,
                  task=task, n_classes=n_classes, label_names=names or [str(i) for i in range(n_classes)],
                  dataset=str(data.get("name") or info.get("name") or "data"), info=info)


def plan_training(splits: Splits, *, model="cnn", epochs=None, time_budget=None, batch_size=None,
                  learning_rate=None, patience=None, average_tail=0.25, steps_per_epoch=None,
                  class_weight="balanced", seed: int = 42, ema=None, mixup=None) -> Plan:
    """Resolve and check the training knobs (defaults as documented in :func:`medlearn.train.fit`).

    Raises:
        TrainError: a knob out of range.
    """
    if epochs is not None:
        _check_positive("epochs", epochs)
    if time_budget is not None:
        _check_positive("time_budget", time_budget, float)
    epochs = int(epochs if epochs is not None else (200 if time_budget else fast(30, 3)))
    n = len(splits.x_train)
    batch_size = default_batch_size(n) if batch_size is None else batch_size
    _check_positive("batch_size", batch_size)
    if steps_per_epoch is not None:
        _check_positive("steps_per_epoch", steps_per_epoch)
    if average_tail is None or average_tail is False or average_tail == 0:
        average_tail = None
    elif (isinstance(average_tail, bool) or not isinstance(average_tail, (int, float, np.integer, np.floating))
          or not 0 < average_tail <= 1):
        raise TrainError("average_tail must be a share of the epochs in (0, 1], e.g. 0.25, or None to keep "
                         f"the best epoch. Received: average_tail={average_tail!r}")
    if ema is not None and (isinstance(ema, bool) or not isinstance(ema, (float, np.floating)) or not 0 < ema < 1):
        raise TrainError(f"ema must be a momentum in (0, 1), e.g. 0.99, or None. Received: ema={ema!r}")
    if mixup is not None:
        _check_positive("mixup", mixup, float)
    small = isinstance(model, str) and model.strip().lower() in ("logreg", "mlp")
    full = -(-n // min(int(batch_size), n))
    return Plan(epochs=epochs, time_budget=float(time_budget) if time_budget else None, batch_size=int(batch_size),
                steps_per_epoch=int(steps_per_epoch or min(full, 150)),
                patience=int(patience if patience is not None else (15 if time_budget else max(5, epochs // 3))),
                average_tail=None if average_tail is None else float(average_tail),
                learning_rate=float(learning_rate or (1e-3 if small else 2e-3)),
                class_weight=class_weights(splits.y_train, splits.task, class_weight), seed=int(seed),
                ema=None if ema is None else float(ema), mixup=None if mixup is None else float(mixup))


def build(splits: Splits, model="cnn", *, augment="auto", seed: int = 42, **model_kwargs):
    """Step 2: the model, with the augmentation that fits the modality inside it.

    Args:
        model: a name from :data:`medlearn.models.MODELS` or a ``keras.Model``.
        augment: ``"auto"`` (policy from the dataset name / modality), ``None``/``"none"``,
            a policy name or a Keras layer.

    Returns:
        ``(net, policy)``: the uncompiled model and the augmentation policy used (None: none).

    Raises:
        TrainError: an unknown model name.
    """
    from medlearn.models import MODELS, build_model, policy_for

    if augment == "auto":
        policy = policy_for(splits.dataset, splits.info.get("modality"))
    elif augment in (None, False, "none"):
        policy = None
    else:
        policy = augment
    if not isinstance(model, str):
        return model, policy
    name = model.strip().lower()
    if name not in MODELS:
        raise TrainError(f"model must be one of {', '.join(MODELS)} or a keras.Model. Received: model={model!r}")
    net = build_model(name, splits.x_train.shape[1:], splits.n_classes, splits.task, augment=policy,
                      compile=False, seed=seed, **model_kwargs)
    return net, policy


def compile_for_training(net, splits: Splits, plan: Plan) -> None:
    """Step 3: AdamW with a cosine learning-rate decay after a linear warm-up, the task's loss, acc and auc.

    A run bounded by epochs uses ``keras.optimizers.schedules.CosineDecay`` (from
    ``learning_rate / 10`` up to ``learning_rate`` in the warm-up, then down to 2 % of it);
    a clock-bounded run gets the same curve over its time budget from
    :class:`~medlearn.train.callbacks.ClockCosine` (step 4).
    """
    import keras

    from medlearn.models import compile_model

    lr = plan.learning_rate
    if plan.time_budget is None:
        lr = keras.optimizers.schedules.CosineDecay(
            plan.learning_rate / 10, decay_steps=max(1, plan.epochs * plan.steps_per_epoch - plan.warmup_steps),
            alpha=0.02, warmup_target=plan.learning_rate, warmup_steps=plan.warmup_steps)
    ema = dict(use_ema=True, ema_momentum=plan.ema) if plan.ema else {}
    optimizer = keras.optimizers.AdamW(learning_rate=lr, weight_decay=1e-4, **ema)
    compile_model(net, splits.task, splits.n_classes, optimizer=optimizer)


def training_callbacks(plan: Plan, *, verbose: int = 1, extra=()) -> Callbacks:
    """Step 4: early stopping on ``val_auc``, tail weight averaging, the time budget, a progress line.

    Keras' ``EarlyStopping(mode="max", start_from_epoch=...)`` (with ties counted as progress,
    :class:`~medlearn.train.callbacks.TieTolerantEarlyStopping`) stops after ``plan.patience``
    epochs without a better validation AUC, judging only from a quarter of the run on (an early,
    undertrained epoch can score a lucky AUC on a small validation set). It restores the best
    epoch's weights only when they are kept (no averaging).
    """
    from medlearn.train.callbacks import ClockCosine, EpochLine, TailAverage, TieTolerantEarlyStopping, TimeBudget

    # with an EMA the optimizer writes the averaged weights into the model when fit ends: keep them
    stopper = TieTolerantEarlyStopping(monitor="val_auc", mode="max", patience=plan.patience,
                                       restore_best_weights=not (plan.averages or plan.ema),
                                       start_from_epoch=plan.start_from_epoch)
    budget = TimeBudget(plan.time_budget, stopper=stopper) if plan.time_budget else None
    tail = TailAverage(plan.average_tail) if plan.averages else None
    cbs = [c for c in (budget, stopper, tail) if c is not None]
    if budget is not None:
        cbs.append(ClockCosine(plan.learning_rate, budget, total_steps=plan.epochs * plan.steps_per_epoch,
                               warmup_steps=plan.warmup_steps))
    cbs += list(extra or [])
    if verbose:
        cbs.append(EpochLine("val_auc"))
    return Callbacks(stopper=stopper, tail=tail, budget=budget, all=cbs)


def train_model(net, splits: Splits, plan: Plan, callbacks: Callbacks) -> Run:
    """Step 5: ``model.fit`` with class-weighted samples, validated on ``splits.x_monitor`` after each epoch.

    Small data (one pass per epoch, under 256 MiB as float32) go to Keras as one float array;
    larger data (and mixup, ``plan.mixup``) stay uint8 and are scaled batch by batch
    (:class:`~medlearn.train.batches.Batches`).
    """
    from medlearn.models import encode_labels
    from medlearn.train.batches import Batches, as_float_nhwc, pixel_scale

    scale = pixel_scale(net)
    y_tr = splits.y_train
    cw = plan.class_weight
    weights = None if cw is None else np.array([cw.get(int(c), 1.0) for c in y_tr.reshape(len(y_tr), -1)[:, 0]],
                                               dtype=np.float32)
    targets = encode_labels(y_tr, splits.task, splits.n_classes)
    full = -(-len(y_tr) // min(plan.batch_size, len(y_tr)))
    if plan.steps_per_epoch == full and splits.x_train.size * 4 <= 256 * 2**20 and not plan.mixup:
        # small data: one float copy, Keras batches it (fastest path on every backend)
        train_data = dict(x=as_float_nhwc(splits.x_train, scale=scale), y=targets, sample_weight=weights,
                          batch_size=plan.batch_size, shuffle=True)
    else:  # large data: uint8 stays in memory, scaled per batch; short epochs validate regularly
        train_data = dict(x=Batches(splits.x_train, targets, weights, batch_size=plan.batch_size,
                                    steps_per_epoch=plan.steps_per_epoch, seed=plan.seed, scale=scale,
                                    mixup=plan.mixup),
                          shuffle=False)
    val = (as_float_nhwc(splits.x_monitor, scale=scale), encode_labels(splits.y_monitor, splits.task, splits.n_classes))
    start = time.perf_counter()
    hist = net.fit(**train_data, validation_data=val, epochs=plan.epochs, callbacks=callbacks.all, verbose=0)
    seconds = time.perf_counter() - start
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    return Run(history=history, seconds=seconds, callbacks=callbacks)


def _epochs(n: int) -> str:
    return f"{n} epoch{'' if n == 1 else 's'}"


def progress_summary(stopped_by: str, n_run: int, seconds: float, window, best: int, aucs, averages: bool,
                     ema: float | None = None) -> str:
    """The line ``fit`` prints when training ends: why it stopped and what the final model is.

    Example: ``"stopped by the time budget after 8 epochs (31.2 s); final model = mean of the weights
    of epochs 7-8"``.
    """
    why = {"epochs": "finished the planned", "time budget": "stopped by the time budget after",
           "early stopping": "stopped early (val_auc stopped improving) after"}
    why = why.get(stopped_by, f"stopped by {stopped_by} after")
    if ema:
        model = f"final model = the exponential moving average of the weights (momentum {ema:g})"
    elif window and window[0] != window[1]:
        model = f"final model = mean of the weights of epochs {window[0]}-{window[1]}"
    elif window:
        model = f"final model = the weights of epoch {window[0]}"
    elif not averages:
        auc = aucs[best - 1] if aucs and 0 < best <= len(aucs) else float("nan")
        model = f"final model = the weights of epoch {best}, the best val_auc ({auc:.3f})"
    else:
        model = f"final model = the last epoch's weights ({_epochs(n_run)}: too few to average)"
    return f"{why} {_epochs(n_run)} ({seconds:.1f} s); {model}"


def finish(net, splits: Splits, plan: Plan, run: Run, *, policy=None, model_name=None, prior_correction=True,
           tta="auto", verbose: int = 1) -> TrainResult:
    """Step 6: average the tail weights, undo the class-weight prior, predict val/test (with TTA).

    Returns:
        The :class:`~medlearn.train.TrainResult`.
    """
    from medlearn.models import output_spec, policy_for
    from medlearn.train.batches import predict_proba, tta_views

    stopper, tail, budget = run.callbacks.stopper, run.callbacks.tail, run.callbacks.budget
    n_run = len(run.history.get("loss", []))
    judged = stopper.best is not None and np.isfinite(stopper.best)   # at least one epoch was judged
    best = stopper.best_epoch + 1 if judged else n_run
    stopped_by = ("time budget" if budget is not None and budget.stopped else
                  "early stopping" if stopper.stopped_epoch > 0 else "epochs")
    averaged = tail.average() if tail is not None else None
    window = None
    if averaged is not None:
        net.set_weights(averaged)
        window = tuple(e + 1 for e in tail.window())
    if verbose:
        aucs = run.history.get("val_auc", [])
        print(progress_summary(stopped_by, n_run, run.seconds, window, best, aucs, plan.averages, plan.ema),
              flush=True)
    spec = output_spec(splits.task, splits.n_classes)
    if prior_correction and plan.class_weight:
        shift_output_bias(net, plan.class_weight, spec)
    if tta == "auto":
        views = tta_views(policy_for(policy) if isinstance(policy, str) else policy)
    else:
        views = list(tta or ["identity"])
    val_scores = predict_proba(net, splits.x_val, views=views)
    test_scores = test_labels = None
    if splits.test is not None:
        test_labels = np.asarray(splits.test["labels"])
        test_scores = predict_proba(net, splits.test["images"], views=views)
    return TrainResult(
        model=net, history=run.history, train_seconds=run.seconds, epochs=n_run, best_epoch=best,
        stopped_by=stopped_by, task=spec.task, label_names=splits.label_names, dataset=splits.dataset,
        model_name=model_name or getattr(net, "name", "model"),
        augment=getattr(policy, "name", policy) if policy is not None else "none", tta=views,
        class_weight=plan.class_weight, val_scores=val_scores, val_labels=splits.y_val, test_scores=test_scores,
        test_labels=test_labels, params=int(net.count_params()), averaged_epochs=window)
