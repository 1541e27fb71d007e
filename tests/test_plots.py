"""medlearn.plots return Figures with the expected content and never show them."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from medlearn import plots  # noqa: E402


@pytest.fixture(autouse=True)
def _no_show(monkeypatch):
    def fail(*a, **k):
        raise AssertionError("the library must not call plt.show()")

    monkeypatch.setattr(plt, "show", fail)
    yield
    plt.close("all")


def test_image_grid_titles_and_wrong_predictions_in_red():
    images = np.random.default_rng(0).integers(0, 255, (6, 8, 8), dtype=np.uint8)
    fig = plots.image_grid(images, [0, 1, 0, 1, 0, 1], label_names=["normal", "lesion"],
                           predictions=[0, 0, 0, 1, 0, 1], n=6, cols=3)
    assert isinstance(fig, Figure)
    axes = [a for a in fig.axes if a.images]
    assert len(axes) == 6
    assert axes[1].get_title().startswith("lesion") and "pred: normal" in axes[1].get_title()
    assert axes[1].title.get_color() == "red" and axes[0].title.get_color() == "black"


def test_image_grid_rgb_and_multilabel():
    images = np.random.default_rng(1).random((3, 8, 8, 3))
    fig = plots.image_grid(images, np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0]]), label_names=["a", "b", "c"])
    titles = [a.get_title() for a in fig.axes if a.images]
    assert titles == ["a, c", "none", "b"]
    with pytest.raises(plots.PlotError, match="images must be"):
        plots.image_grid(np.zeros((3, 3)))


def test_training_curves_one_panel_per_metric_with_validation():
    hist = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.6, 0.5], "auc": [0.6, 0.8, 0.9], "val_auc": [0.6, 0.7, 0.8]}
    fig = plots.training_curves(hist)
    assert len(fig.axes) == 2
    assert [l.get_label() for l in fig.axes[0].lines] == ["train", "validation"]
    np.testing.assert_allclose(fig.axes[1].lines[1].get_ydata(), hist["val_auc"])
    with pytest.raises(plots.PlotError, match="Available"):
        plots.training_curves(hist, metrics=("f1",))


def test_confusion_matrix_annotates_counts():
    cm = np.array([[50, 3], [7, 40]])
    fig = plots.plot_confusion_matrix(cm, label_names=["normal", "lesion"])
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["3", "40", "50", "7"]
    fig = plots.plot_confusion_matrix(cm, normalize=True)
    assert "0.94" in [t.get_text() for t in fig.axes[0].texts]   # 50 / 53
    with pytest.raises(plots.PlotError, match="square"):
        plots.plot_confusion_matrix(np.zeros((2, 3)))


def test_roc_curve_legend_has_auc_and_operating_point():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 100)
    s = np.clip(0.4 * y + 0.6 * rng.random(100), 0, 1)
    from sklearn.metrics import roc_auc_score

    fig = plots.plot_roc(y, s, label_names=["normal", "lesion"], mark_threshold=0.5)
    labels = [l.get_label() for l in fig.axes[0].lines]
    assert f"lesion (AUC {roc_auc_score(y, s):.3f})" in labels
    assert "threshold 0.50" in labels
    y3 = rng.integers(0, 3, 90)
    fig = plots.plot_roc(y3, rng.dirichlet(np.ones(3), 90), task="multi-class")
    assert sum("AUC" in l.get_label() for l in fig.axes[0].lines) == 3


def test_draws_into_a_given_axes():
    fig, ax = plt.subplots()
    out = plots.plot_confusion_matrix(np.eye(2, dtype=int), ax=ax)
    assert out is fig
