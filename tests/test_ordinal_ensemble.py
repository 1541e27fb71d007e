"""The ordinal head (cumulative link), seed ensembles and the weight EMA of medlearn.train.fit."""
import numpy as np
import pytest

from medlearn.datasets import Bunch
from medlearn.models import ModelError, build_model
from medlearn.train import TrainError, fit


def _ordinal_split(rng, n, size=12, grades=4):
    """Grade g brightens the image by 45 * g: an ordered signal (RetinaMNIST's task, in miniature)."""
    labels = rng.integers(0, grades, n)
    images = rng.integers(0, 60, size=(n, size, size, 3)) + 45 * labels[:, None, None, None]
    return Bunch(images=np.clip(images, 0, 255).astype(np.uint8), labels=labels[:, None])


def _ordinal_data(n=(200, 60, 60)):
    rng = np.random.default_rng(1)
    return Bunch(train=_ordinal_split(rng, n[0]), val=_ordinal_split(rng, n[1]), test=_ordinal_split(rng, n[2]),
                 task="ordinal-regression", label_names=["0", "1", "2", "3"], name="ordinal-toy",
                 info={"modality": "test pattern"})


def test_cumulative_link_gives_ordered_cut_points_and_probabilities_that_sum_to_one():
    import keras

    from medlearn.models.ordinal import CumulativeLink

    layer = CumulativeLink(5)
    scores = np.linspace(-6, 6, 13, dtype="float32")[:, None]
    layer.build((None, 1))
    layer.gaps.assign(np.array([-3.0, 0.2, 4.0], dtype="float32"))   # raw gaps may be negative
    cuts = keras.ops.convert_to_numpy(layer.cut_points())
    assert np.all(np.diff(cuts) > 0)
    probs = keras.ops.convert_to_numpy(layer(scores))
    assert probs.shape == (13, 5) and np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    cdf = 1 / (1 + np.exp(-(cuts[None, :] - scores)))             # P(grade <= k) = sigmoid(t_k - s)
    np.testing.assert_allclose(np.cumsum(probs, axis=1)[:, :-1], cdf, atol=1e-5)
    # a higher severity score moves the mass to higher grades
    expected_grade = probs @ np.arange(5)
    assert np.all(np.diff(expected_grade) > 0)


def test_ordinal_head_saves_loads_and_refuses_unordered_tasks(tmp_path):
    import keras

    model = build_model("cnn", (12, 12, 3), 4, "ordinal-regression", head="ordinal", compile=False)
    assert model.output_shape == (None, 4) and model.get_layer("output").__class__.__name__ == "CumulativeLink"
    x = np.random.default_rng(0).integers(0, 255, (3, 12, 12, 3)).astype("uint8")
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    for name in ("logreg", "mlp", "resnet"):
        assert build_model(name, (12, 12, 3), 4, "ordinal", head="ordinal", compile=False).output_shape == (None, 4)
    with pytest.raises(ModelError, match="head='ordinal' needs ordered classes"):
        build_model("cnn", (12, 12, 3), 3, "multi-class", head="ordinal")
    with pytest.raises(ModelError, match="head must be one of auto, ordinal"):
        build_model("resnet", (12, 12, 3), 4, "ordinal-regression", head="coral")


def test_fit_with_the_ordinal_head_learns_an_ordered_task():
    result = fit(_ordinal_data(), model="cnn", head="ordinal", epochs=10, verbose=0, seed=0)
    assert result.test_scores.shape == (60, 4)
    np.testing.assert_allclose(result.test_scores.sum(axis=1), 1.0, atol=1e-5)
    s = result.scores("test")
    assert s["acc"] > 0.5 and s["auc"] > 0.9, s       # chance: 0.25 / 0.5


def test_an_ensemble_averages_its_members_and_is_one_model(tmp_path):
    import keras

    from medlearn.train.batches import pixel_scale, predict_proba

    data = _ordinal_data()
    result = fit(data, model="cnn", head="ordinal", epochs=2, ensemble=2, verbose=0, seed=3)
    parts = result.member_results
    assert len(result.members) == 2 and len(parts) == 2
    np.testing.assert_allclose(result.test_scores, (parts[0].test_scores + parts[1].test_scores) / 2, atol=1e-6)
    assert result.epochs == parts[0].epochs + parts[1].epochs
    assert result.train_seconds == pytest.approx(parts[0].train_seconds + parts[1].train_seconds)
    assert result.params == 2 * parts[0].params
    # different seeds: different members
    assert not np.allclose(parts[0].test_scores, parts[1].test_scores)
    # the one model the CLI saves takes raw uint8 like its members and gives the same mean
    assert pixel_scale(result.model) == 1.0
    np.testing.assert_allclose(predict_proba(result.model, data.test.images), result.test_scores, atol=1e-5)
    result.model.save(tmp_path / "ensemble.keras")
    again = keras.models.load_model(tmp_path / "ensemble.keras")
    np.testing.assert_allclose(predict_proba(again, data.test.images), result.test_scores, atol=1e-5)


def test_ensemble_members_share_the_time_budget(monkeypatch, capsys):
    """Equal shares; a member that stops early passes its unused seconds to the ones after it."""
    import types

    from medlearn.train import fitting

    budgets, spent = [], iter([1.0, 4.0, 3.5])

    def fake_fit_one(splits, plan, model, **kwargs):
        budgets.append(plan.time_budget)
        return types.SimpleNamespace(train_seconds=next(spent), seed=plan.seed)

    monkeypatch.setattr(fitting, "_fit_one", fake_fit_one)
    monkeypatch.setattr(fitting, "_combine", lambda members: members)
    members = fit(_ordinal_data(), model="cnn", time_budget=9, ensemble=3, verbose=1, seed=7)
    assert budgets == pytest.approx([3.0, 4.0, 4.0])       # 9 / 3, (9 - 1) / 2, (9 - 1 - 4) / 1
    assert [m.seed for m in members] == [7, 107, 207]
    assert "ensemble member 3/3 (seed 207)" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs, match", [
    (dict(ensemble=0), "ensemble must be a positive int"),
    (dict(ensemble=2.0), "ensemble must be a positive int"),
    (dict(ema=1.5), "ema must be a momentum in"),
    (dict(ema=True), "ema must be a momentum in"),
    (dict(time_budget="soon", ensemble=2), "time_budget must be a positive number"),
])
def test_bad_ensemble_and_ema_arguments_are_named(kwargs, match):
    with pytest.raises(TrainError, match=match):
        fit(_ordinal_data(), model="cnn", epochs=1, verbose=0, **kwargs)


def test_ensemble_needs_a_model_name():
    net = build_model("cnn", (12, 12, 3), 4, "ordinal-regression", compile=False)
    with pytest.raises(TrainError, match="ensemble > 1 needs a model name"):
        fit(_ordinal_data(), model=net, epochs=1, ensemble=2, verbose=0)


def test_ema_ends_with_the_moving_average_instead_of_a_tail_or_best_epoch(capsys):
    from medlearn.train import steps

    data = _ordinal_data()
    splits = steps.prepare_splits(data)
    plan = steps.plan_training(splits, epochs=4, ema=0.9)
    assert not plan.averages
    cbs = steps.training_callbacks(plan, verbose=0)
    assert cbs.tail is None and cbs.stopper.restore_best_weights is False
    net, _ = steps.build(splits, "cnn")
    steps.compile_for_training(net, splits, plan)
    assert net.optimizer.use_ema and net.optimizer.ema_momentum == pytest.approx(0.9)
    fit(data, model="cnn", epochs=3, ema=0.9, verbose=1)
    assert "final model = the exponential moving average of the weights (momentum 0.9)" in capsys.readouterr().out


def test_mixup_trains_through_blended_batches(monkeypatch):
    """``fit(mixup=...)`` feeds Batches with mixup on (also for small data, which else goes to Keras as
    one array); the ordinal head's loss takes the blended one-hot targets (the softmax head's loss is
    Keras' categorical cross-entropy, which takes soft targets by definition)."""
    from medlearn.train import batches

    seen = []
    original = batches.Batches._mix

    def spy(self, x, y, w):
        seen.append(self.mixup)
        return original(self, x, y, w)

    monkeypatch.setattr(batches.Batches, "_mix", spy)
    result = fit(_ordinal_data(), model="logreg", epochs=2, mixup=0.3, head="ordinal", verbose=0)
    assert seen and set(seen) == {0.3}
    assert np.isfinite(result.test_scores).all()
