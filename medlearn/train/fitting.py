"""``fit``: train a reference model on a dataset Bunch, the way the course recommends.

The six steps it runs are in :mod:`medlearn.train.steps`.

Used by ``medlearn train`` and ``benchmarks/bench_accuracy.py``.
"""
from __future__ import annotations

from medlearn.config import set_seed
from medlearn.train.core import TrainResult

__all__ = ["fit", "ensemble_model", "ENSEMBLE_SEED_STEP"]


def fit(data, *, model="cnn", epochs=None, time_budget=None, batch_size=None, learning_rate=None,
        augment="auto", class_weight="balanced", patience=None, average_tail=0.25, seed=42, max_val=4000,
        steps_per_epoch=None, tta="auto", prior_correction=True, deterministic=True, verbose=1, callbacks=None,
        ensemble=1, ema=None, mixup=None, **model_kwargs) -> TrainResult:
    """Train a reference model on a dataset and score it on the test split.

    What it does, each step a lesson topic and a function of :mod:`medlearn.train.steps`:

    1. :func:`~medlearn.train.steps.prepare_splits`: the train / val / test arrays
       (and :func:`~medlearn.train.steps.plan_training`: epochs, batch size, class weights
       against imbalance, ``class_weight="balanced"``);
    2. :func:`~medlearn.train.steps.build`: ``model`` with the output layer and loss of the
       dataset's task, augmentation that fits the modality inside it (``augment="auto"``:
       no left-right flip for chest X-rays, free rotation for pathology ...);
    3. :func:`~medlearn.train.steps.compile_for_training`: AdamW with a cosine learning-rate decay;
    4. :func:`~medlearn.train.steps.training_callbacks`: Keras' ``EarlyStopping`` on the
       validation ROC-AUC (``patience``), tail weight averaging, the time budget;
    5. :func:`~medlearn.train.steps.train_model`: ``model.fit`` until early stopping, ``epochs``
       or ``time_budget`` end it;
    6. :func:`~medlearn.train.steps.finish`: the average of the last quarter of the epochs'
       weights (``average_tail``, stochastic weight averaging) or the best epoch's, the prior
       correction, and the validation and test predictions (with test-time augmentation).

    Seeds go through :func:`medlearn.config.set_seed`, so a run is reproducible on one
    machine with one backend. Keras is imported here, not at module import.

    Args:
        data: a Bunch with ``train``, ``val`` (optional: 10 % of train is held out) and
            ``test`` (optional) splits, each with ``images`` uint8 (N, H, W[, C]) and
            ``labels``, plus ``task`` and ``label_names`` (e.g. ``load_phantoms()``).
        model: ``"logreg"``, ``"mlp"``, ``"cnn"``, ``"resnet"`` or an (uncompiled or
            compiled) ``keras.Model`` that maps images to probabilities: uint8 images are fed
            0..255 to a model with a ``Rescaling`` layer (as the reference models have), else 0..1.
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
            (or 0) keeps the best epoch by validation AUC instead, as do runs planned too
            short for a window of 2 epochs (a clock-bounded run that ends that soon keeps
            its last epoch).
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
        ensemble: train this many models one after the other (seeds ``seed``, ``seed + 100``, ...), each
            with an equal share of ``time_budget`` (a member that stops early passes its unused
            seconds on), and average their probabilities. The returned
            ``model`` is one Keras model that averages the members (``result.members`` lists them).
            Independently trained networks make partly independent mistakes, so their mean ranks
            better (AUC) than any one of them; see ``benchmarks/README.md`` for what it buys.
        ema: keep an exponential moving average of the weights with this momentum (e.g. 0.99;
            the optimizer's ``use_ema``) and end with it, instead of ``average_tail``.
        mixup: None, or Beta's ``alpha`` for mixup (e.g. 0.2): every training image is blended with
            another one, and its targets and class weight with it (see
            :class:`~medlearn.train.batches.Batches`). A regulariser for small datasets; within
            120 s it cost BreastMNIST and RetinaMNIST validation accuracy (``benchmarks/README.md``),
            so no recipe uses it.
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
    from medlearn.train import steps

    n_members = _check_ensemble(ensemble, model)
    splits = steps.prepare_splits(data, seed=seed, max_val=max_val)
    if time_budget is not None:   # TrainError for a bad budget before it is split between members
        steps._check_positive("time_budget", time_budget, float)
    members = []
    for i in range(n_members):
        member_seed = seed + ENSEMBLE_SEED_STEP * i
        # a member that stops early leaves its unused seconds to the ones after it
        left = time_budget - sum(m.train_seconds for m in members) if time_budget else None
        plan = steps.plan_training(
            splits, model=model, epochs=epochs, time_budget=max(left, 1.0) / (n_members - i) if left else None,
            batch_size=batch_size, learning_rate=learning_rate, patience=patience, average_tail=average_tail,
            steps_per_epoch=steps_per_epoch, class_weight=class_weight, seed=member_seed, ema=ema, mixup=mixup)
        if verbose and n_members > 1:
            print(f"ensemble member {i + 1}/{n_members} (seed {member_seed})", flush=True)
        members.append(_fit_one(splits, plan, model, augment=augment, deterministic=deterministic, verbose=verbose,
                                callbacks=callbacks, prior_correction=prior_correction, tta=tta, **model_kwargs))
    return members[0] if n_members == 1 else _combine(members)


#: Member i of an ensemble trains with seed ``seed + ENSEMBLE_SEED_STEP * i``.
ENSEMBLE_SEED_STEP = 100


def _check_ensemble(ensemble, model) -> int:
    from medlearn.train.core import TrainError

    if isinstance(ensemble, bool) or not isinstance(ensemble, int) or ensemble < 1:
        raise TrainError(f"ensemble must be a positive int (1: a single model). Received: ensemble={ensemble!r}")
    if ensemble > 1 and not isinstance(model, str):
        raise TrainError("ensemble > 1 needs a model name (each member is built afresh); a keras.Model instance "
                         "can be trained only once. Received: model=" + type(model).__name__)
    return ensemble


def _fit_one(splits, plan, model, *, augment, deterministic, verbose, callbacks, prior_correction, tta,
             **model_kwargs) -> TrainResult:
    import keras

    from medlearn.train import steps

    if deterministic:  # Keras is imported above, so set_seed seeds it too
        set_seed(plan.seed)
    else:
        keras.utils.set_random_seed(plan.seed)  # Python, NumPy and the backend's generators
    net, policy = steps.build(splits, model, augment=augment, seed=plan.seed, **model_kwargs)
    steps.compile_for_training(net, splits, plan)
    cbs = steps.training_callbacks(plan, verbose=verbose, extra=callbacks)
    run = steps.train_model(net, splits, plan, cbs)
    return steps.finish(net, splits, plan, run, policy=policy, prior_correction=prior_correction, tta=tta,
                        verbose=verbose, model_name=model.strip().lower() if isinstance(model, str) else None)


def ensemble_model(models, name: str = "ensemble"):
    """One Keras model that feeds its input to every model in ``models`` and averages their outputs.

    The members keep their own ``Rescaling`` layer, so the ensemble takes what they take (raw uint8).
    """
    import keras

    inputs = keras.Input(shape=models[0].input_shape[1:], name="image")
    outs = [keras.Model(m.inputs, m.outputs[0], name=f"member_{i}")(inputs) for i, m in enumerate(models)]
    return keras.Model(inputs, keras.layers.Average(name="output")(outs), name=name)


def _combine(members: list) -> TrainResult:
    """A :class:`TrainResult` for the mean of the members' probabilities (member 1's history)."""
    import dataclasses

    import numpy as np

    first = members[0]

    def mean(attr):
        parts = [getattr(m, attr) for m in members]
        return None if parts[0] is None else np.mean(np.stack(parts), axis=0)

    return dataclasses.replace(
        first, model=ensemble_model([m.model for m in members], name=f"{first.model_name}_x{len(members)}"),
        train_seconds=float(sum(m.train_seconds for m in members)), epochs=int(sum(m.epochs for m in members)),
        val_scores=mean("val_scores"), test_scores=mean("test_scores"),
        params=int(sum(m.params for m in members)), members=[m.model for m in members],
        member_results=members)
