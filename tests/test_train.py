"""medlearn.train.fit on small synthetic datasets (seconds, not minutes)."""
import numpy as np
import pytest

from medlearn.datasets import Bunch
from medlearn.train import TrainError, class_weights, default_batch_size, fit
from medlearn.train.batches import Batches, as_float_nhwc


def _split(rng, n, task, size=16, channels=1):
    """Images whose label is visible: class k brightens the k-th quarter band (easy to learn)."""
    shape = (n, size, size) if channels == 1 else (n, size, size, channels)
    images = rng.integers(0, 90, size=shape).astype(np.uint8)
    band = size // 4
    if task == "multi-label":
        labels = (rng.random((n, 3)) < 0.4).astype(np.int64)
        for k in range(3):
            images[labels[:, k] == 1, k * band:(k + 1) * band] += 150
    else:
        k_max = 2 if task == "binary-class" else 3
        labels = rng.integers(0, k_max, n)
        for k in range(k_max):
            images[labels == k, k * band:(k + 1) * band] += 150
    return Bunch(images=images, labels=labels)


def _data(task="binary-class", n=(240, 60, 60), **kw):
    rng = np.random.default_rng(0)
    names = {"binary-class": ["normal", "lesion"], "multi-class": ["a", "b", "c"],
             "multi-label, binary-class": ["x", "y", "z"]}[task]
    t = "multi-label" if task.startswith("multi-label") else task
    return Bunch(train=_split(rng, n[0], t, **kw), val=_split(rng, n[1], t, **kw), test=_split(rng, n[2], t, **kw),
                 task=task, label_names=names, name="synthetic", info={"modality": "test pattern"})


def test_logistic_regression_learns_an_easy_binary_task():
    result = fit(_data(), model="logreg", epochs=8, verbose=0, augment=None, learning_rate=1e-2)
    scores = result.scores()
    assert scores["acc"] >= 0.9, scores
    assert result.test_scores.shape == (60,)
    assert result.task == "binary" and result.model_name == "logreg"
    assert result.params == 16 * 16 + 1
    assert 1 <= result.best_epoch <= result.epochs <= 8
    report = result.report(n_bootstrap=20)
    assert report.medmnist["acc"] == pytest.approx(scores["acc"])


@pytest.mark.parametrize("task,units", [("multi-class", 3), ("multi-label, binary-class", 3)])
def test_cnn_runs_for_multiclass_and_multilabel(task, units):
    result = fit(_data(task), model="cnn", epochs=2, verbose=0, augment="generic")
    assert result.test_scores.shape == (60, units)
    assert set(result.history) >= {"loss", "auc", "val_auc", "acc", "val_acc"}
    assert 0 <= result.scores()["auc"] <= 1
    if task == "multi-class":
        assert result.class_weight is not None
    else:
        assert result.class_weight is None  # no class weights for multi-label


def test_time_budget_stops_training_early():
    result = fit(_data(n=(300, 40, 40)), model="mlp", epochs=500, time_budget=2.0, patience=1000, verbose=0)
    assert result.stopped_by == "time budget"
    assert result.epochs < 500


def test_missing_val_split_is_carved_from_train_and_verbose_prints(capsys):
    data = _data()
    del data["val"]
    result = fit(data, model="logreg", epochs=1, verbose=1)
    assert len(result.val_labels) == 24  # 10 % of 240
    out = capsys.readouterr().out
    assert "epoch   1" in out and "val_auc" in out and "finished the planned" in out and "final model = " in out


def test_large_data_path_uses_short_epochs():
    result = fit(_data(n=(400, 40, 40)), model="logreg", epochs=2, steps_per_epoch=3, batch_size=32, verbose=0)
    assert result.epochs == 2


@pytest.mark.parametrize("kwargs,match", [
    ({"epochs": 0}, "epochs must be a positive int. Received: epochs=0"),
    ({"epochs": 2.5}, "epochs must be a positive int"),
    ({"time_budget": -1}, "time_budget must be a positive number"),
    ({"class_weight": "inverse"}, "class_weight must be"),
    ({"model": "vgg"}, "model must be one of"),
    ({"average_tail": 1.5}, "average_tail must be a share of the epochs in \\(0, 1\\].*average_tail=1.5"),
    ({"average_tail": "last"}, "average_tail must be"),
])
def test_bad_arguments_raise_named_errors(kwargs, match):
    with pytest.raises(Exception, match=match) as info:
        fit(_data(), verbose=0, **kwargs)
    from medlearn.errors import MedlearnError

    assert isinstance(info.value, MedlearnError)


def test_data_without_splits_is_explained():
    with pytest.raises(TrainError, match="data must hold the splits"):
        fit({"images": np.zeros((4, 8, 8), np.uint8), "labels": np.zeros(4)}, verbose=0)


def test_class_weights_balance_the_classes():
    w = class_weights([0] * 90 + [1] * 10, "binary")
    assert w[0] * 90 == pytest.approx(w[1] * 10)          # each class weighs the same in total
    assert w == {0: pytest.approx(100 / 180), 1: pytest.approx(5.0)}
    assert class_weights([0, 1], "binary", None) is None
    assert class_weights(np.zeros((4, 3)), "multi-label") is None
    sqrt = class_weights([0] * 90 + [1] * 10, "binary", "sqrt")
    assert sqrt[1] == pytest.approx(np.sqrt(5.0))


def test_default_batch_size():
    assert default_batch_size(546) == 32 and default_batch_size(100_000) == 128


def test_batches_cover_every_image_once_per_pass_and_scale_to_unit_range():
    images = np.arange(10, dtype=np.uint8).reshape(10, 1, 1) * 25
    targets = np.arange(10, dtype=np.float32)[:, None]
    b = Batches(images, targets, batch_size=4, steps_per_epoch=2, seed=0)
    seen = []
    for _ in range(5):  # 5 epochs x 2 steps x 4 = 40 draws = 4 passes
        for i in range(len(b)):
            x, y = b[i]
            assert x.dtype == np.float32 and x.shape == (4, 1, 1, 1) and x.max() <= 1.0
            np.testing.assert_allclose(x[:, 0, 0, 0] * 255, y[:, 0] * 25, rtol=1e-5)
            seen.extend(y[:, 0].astype(int).tolist())
        b.on_epoch_end()
    for p in range(4):
        assert sorted(seen[p * 10:(p + 1) * 10]) == list(range(10))
    assert as_float_nhwc(np.zeros((2, 3, 3), np.uint8)).shape == (2, 3, 3, 1)


def test_tta_views_follow_the_anatomy():
    from medlearn.models import policy_for
    from medlearn.train.batches import tta_views

    assert tta_views(policy_for("chestmnist")) == ["identity"]          # never mirror a chest film
    assert tta_views(policy_for("breastmnist")) == ["identity", "hflip"]
    assert tta_views(policy_for("pathmnist")) == ["identity", "hflip", "vflip", "rot90"]
    assert tta_views(None) == ["identity"]


def test_predict_proba_averages_the_views():
    from medlearn.models import build_model
    from medlearn.train import predict_proba

    model = build_model("logreg", (6, 6, 1), 2, "binary")
    x = np.random.default_rng(0).integers(0, 255, (5, 6, 6), dtype=np.uint8)
    plain = predict_proba(model, x)
    flipped = predict_proba(model, x[:, :, ::-1])
    both = predict_proba(model, x, views=("identity", "hflip"), batch_size=2)
    assert plain.shape == (5,)
    np.testing.assert_allclose(both, (plain + flipped) / 2, rtol=1e-5)


def test_prior_correction_shifts_the_output_logit_by_log_weight_ratio():
    from medlearn.models import build_model, output_spec
    from medlearn.train.core import shift_output_bias

    model = build_model("logreg", (4, 4, 1), 2, "binary")
    x = np.random.default_rng(1).random((6, 4, 4, 1)).astype("float32")
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    before = logit(np.asarray(model.predict_on_batch(x), dtype=np.float64)[:, 0])
    assert shift_output_bias(model, {0: 0.5, 1: 2.0}, output_spec("binary", 2))
    after = logit(np.asarray(model.predict_on_batch(x), dtype=np.float64)[:, 0])
    np.testing.assert_allclose(after, before - np.log(4.0), atol=1e-4)

    multi = build_model("logreg", (4, 4, 1), 3, "multi-class")
    p0 = np.asarray(multi.predict_on_batch(x), dtype=np.float64)
    shift_output_bias(multi, {0: 1.0, 1: 2.0, 2: 4.0}, output_spec("multi-class", 3))
    p1 = np.asarray(multi.predict_on_batch(x), dtype=np.float64)
    expected = p0 / np.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(p1, expected / expected.sum(1, keepdims=True), atol=1e-5)


def _epoch_weights(model, value):
    """Set every float weight of ``model`` to ``value`` (a known per-epoch snapshot)."""
    model.set_weights([np.full(w.shape, value, w.dtype) for w in model.get_weights()])


def test_tail_average_is_the_mean_of_the_last_quarter_of_epochs():
    from medlearn.models import build_model
    from medlearn.train.callbacks import TailAverage

    model = build_model("logreg", (4, 4, 1), 2, "binary")
    tail = TailAverage(0.25)
    tail.set_model(model)
    for epoch in range(10):  # epoch e has every weight equal to e
        _epoch_weights(model, float(epoch))
        tail.on_epoch_end(epoch)
        first, last = tail.window()
        assert last == epoch and last - first + 1 == int(np.ceil(0.25 * (epoch + 1)))
        assert [e for e, _ in tail.snapshots] == list(range(first, last + 1))  # nothing older is kept
    averaged = tail.average()
    assert tail.window() == (7, 9)  # ceil(2.5) = 3 epochs: 7, 8, 9
    for w, ref in zip(averaged, model.get_weights()):
        assert w.shape == ref.shape and w.dtype == ref.dtype
        np.testing.assert_allclose(w, 8.0)  # mean of 7, 8, 9

    short = TailAverage(0.25)
    short.set_model(model)
    for epoch in range(3):
        short.on_epoch_end(epoch)
    assert short.average() is None  # a 1-epoch window is no average
    with pytest.raises(TrainError, match="fraction must lie in"):
        TailAverage(0.0)


def test_fit_averages_the_tail_or_keeps_the_best_epoch():
    import keras

    class Record(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.weights = []

        def on_epoch_end(self, epoch, logs=None):
            self.weights.append(self.model.get_weights())

    rec = Record()
    kw = dict(model="logreg", epochs=8, patience=100, verbose=0, augment=None, learning_rate=1e-2,
              prior_correction=False)
    averaged = fit(_data(), callbacks=[rec], **kw)
    assert averaged.averaged_epochs == (7, 8)
    assert averaged.scores()["acc"] >= 0.9
    for w, w7, w8 in zip(averaged.model.get_weights(), rec.weights[6], rec.weights[7]):
        np.testing.assert_allclose(w, (w7 + w8) / 2, rtol=1e-5, atol=1e-6)

    rec = Record()
    best = fit(_data(), callbacks=[rec], average_tail=None, **kw)
    assert best.averaged_epochs is None
    for w, ref in zip(best.model.get_weights(), rec.weights[best.best_epoch - 1]):
        np.testing.assert_allclose(w, ref)


def test_the_steps_of_fit_run_one_at_a_time_and_copy_no_weights_they_throw_away():
    from medlearn.train import steps

    data = _data()
    splits = steps.prepare_splits(data, seed=0)
    assert splits.task == "binary" and splits.n_classes == 2 and len(splits.x_train) == 240
    plan = steps.plan_training(splits, model="logreg", epochs=8, learning_rate=1e-2, patience=100, seed=0)
    assert plan.averages and plan.start_from_epoch == 1 and plan.class_weight is not None
    net, policy = steps.build(splits, "logreg", augment=None, seed=0)
    assert policy is None
    steps.compile_for_training(net, splits, plan)
    assert float(net.optimizer.learning_rate) == pytest.approx(1e-3)   # CosineDecay's warm-up starts at peak / 10
    cbs = steps.training_callbacks(plan, verbose=0)
    assert not cbs.stopper.restore_best_weights     # the tail average replaces the weights: no best-epoch copies
    run = steps.train_model(net, splits, plan, cbs)
    assert cbs.stopper.best_weights is None and len(run.history["loss"]) == 8
    result = steps.finish(net, splits, plan, run, model_name="logreg", verbose=0)
    assert result.averaged_epochs == (7, 8) and result.scores()["acc"] >= 0.9

    short = steps.plan_training(splits, model="logreg", epochs=3)
    assert not short.averages   # a window of ceil(0.75) = 1 epoch is no average: keep the best epoch instead
    assert steps.training_callbacks(short, verbose=0).stopper.restore_best_weights


def test_bad_views_are_a_train_error():
    from medlearn.models import build_model
    from medlearn.train import predict_proba

    with pytest.raises(TrainError, match="views must be among.*Received: views=\\['mirror'\\]"):
        predict_proba(build_model("logreg", (4, 4, 1), 2, "binary"), np.zeros((2, 4, 4), np.uint8), views=["mirror"])


def test_early_stopping_counts_a_tie_as_progress():
    """A validation AUC that repeats its best value (small val sets) must not end the run."""
    from medlearn.models import build_model
    from medlearn.train.callbacks import TieTolerantEarlyStopping

    stopper = TieTolerantEarlyStopping(monitor="val_auc", mode="max", patience=2)
    stopper.set_model(build_model("logreg", (4, 4, 1), 2, "binary"))
    stopper.on_train_begin()
    for epoch, auc in enumerate([0.8, 0.9, 0.9, 0.9, 0.9, 0.85, 0.85]):
        stopper.on_epoch_end(epoch, {"val_auc": auc})
        assert not stopper.model.stop_training or epoch == 6, epoch
    assert stopper.best_epoch == 4 and stopper.stopped_epoch == 6


def test_time_budget_leaves_room_for_the_next_batch_and_the_validation(monkeypatch):
    """The stop comes once elapsed + slowest batch + last validation would pass the budget."""
    import types

    from medlearn.train import callbacks

    clock = [0.0]
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: clock[0])
    budget = callbacks.TimeBudget(10.0)
    budget.set_model(types.SimpleNamespace(stop_training=False))
    budget.on_train_begin()

    def batch(i, seconds):
        budget.on_train_batch_begin(i)
        clock[0] += seconds
        budget.on_train_batch_end(i)
        return budget.model.stop_training

    assert not batch(0, 3.0)          # the first batch (tracing) is not taken as the typical one
    assert not batch(1, 0.5)
    budget.on_test_begin()
    clock[0] += 2.0                   # a validation pass: 2 s
    budget.on_test_end()
    assert not batch(0, 0.5)          # 6.0 s elapsed + 0.5 + 2.0 < 10
    assert not batch(1, 0.5)          # 6.5 + 0.5 + 2.0 = 9.0
    assert not batch(2, 0.5)          # 7.0 + 0.5 + 2.0 + 1 % of 10 = 9.6
    assert batch(3, 0.5)              # 7.5 + 0.5 + 2.0 + 0.1 = 10.1: stop, so the validation ends by 10 s
    assert budget.stopped and clock[0] + budget.batch_seconds + budget.validation_seconds <= 10.0
