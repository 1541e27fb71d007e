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


def test_confusion_matrix_annotates_counts_row_percentages_and_roles():
    cm = np.array([[50, 3], [7, 40]])
    fig = plots.plot_confusion_matrix(cm, label_names=["normal", "lesion"], threshold=0.3)
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"TN\n50\n94.3%", "FP\n3\n5.7%", "FN\n7\n14.9%", "TP\n40\n85.1%"} <= texts
    assert fig.axes[0].get_title() == "Confusion matrix (threshold 0.30)"
    (box,) = [p for p in fig.axes[0].patches if p.get_edgecolor()[0] > 0.8]   # the missed cases, outlined
    assert box.get_xy() == (0 - 0.48, 1 - 0.48)                                  # row lesion, column normal
    fig = plots.plot_confusion_matrix(np.array([[5, 1, 0], [0, 3, 3], [1, 0, 9]]))
    assert "3\n50.0%" in {t.get_text() for t in fig.axes[0].texts} and not fig.axes[0].patches
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
    pred = s >= 0.5
    assert f"threshold 0.50: sens {pred[y == 1].mean():.2f}, spec {1 - pred[y == 0].mean():.2f}" in labels
    assert any("95% bootstrap band" in c.get_label() for c in fig.axes[0].collections)
    (inset,) = fig.axes[0].child_axes
    assert inset.get_xlim() == (0, 0.2) and inset.get_ylim()[0] > 0   # the low-FPR region, magnified
    fig = plots.plot_roc(y, s, n_bootstrap=0, low_fpr=None)
    assert not fig.axes[0].collections and not fig.axes[0].child_axes
    y3 = rng.integers(0, 3, 90)
    fig = plots.plot_roc(y3, rng.dirichlet(np.ones(3), 90), task="multi-class")
    assert sum("AUC" in l.get_label() for l in fig.axes[0].lines) == 3


def test_draws_into_a_given_axes():
    fig, ax = plt.subplots()
    out = plots.plot_confusion_matrix(np.eye(2, dtype=int), ax=ax)
    assert out is fig


def test_training_curves_mark_the_averaged_epochs_and_survive_one_epoch():
    hist = {"loss": [1.0, 0.5, 0.4, 0.3], "val_loss": [1.1, 0.6, 0.5, 0.5]}
    fig = plots.training_curves(hist, metrics=("loss",), averaged_epochs=(3, 4), title="phantoms - cnn")
    (span,) = fig.axes[0].patches
    assert "final model = mean of the weights of epochs 3-4" in span.get_label()
    assert fig._suptitle.get_text() == "phantoms - cnn"
    one = plots.training_curves({"loss": [0.7], "val_loss": [0.8]}, metrics=("loss",))
    ax = one.axes[0]
    assert list(ax.get_xticks()) == [1] and ax.get_xlim() == (0.5, 1.5)
    assert all(line.get_marker() == "o" for line in ax.lines)
    assert {"0.700", "0.800"} <= {t.get_text() for t in ax.texts}


def test_saliency_panel_titles_do_not_overlap_the_row_above():
    import matplotlib.pyplot as plt

    from medlearn.plots import plot_saliency

    rng = np.random.default_rng(0)
    images = (rng.random((16, 28, 28)) * 255).astype(np.uint8)
    fig = plot_saliency(images, rng.random((16, 28, 28)), labels=rng.integers(0, 2, 16),
                        predictions=rng.integers(0, 2, 16), label_names=["normal", "lesion"], n=16,
                        title="Grad-CAM")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    axes = fig.axes
    above, below = axes[0], axes[8]                       # same column, rows 1 and 2
    title_box = below.title.get_window_extent(renderer)
    image_box = above.get_window_extent(renderer)
    assert title_box.y1 <= image_box.y0, (title_box, image_box)
    assert fig._suptitle.get_window_extent(renderer).y0 >= axes[0].title.get_window_extent(renderer).y1
    plt.close(fig)
