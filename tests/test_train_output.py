"""`medlearn train`'s output for a person: a missing backend is one line, figures are slide-ready."""
from __future__ import annotations

import types

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from medlearn.cli import main  # noqa: E402


@pytest.mark.parametrize("backend, says", [
    ("theano", "KERAS_BACKEND is 'theano', which is not a Keras backend"),
    ("jax", "KERAS_BACKEND is 'jax' but jax is not installed in this Python. Fix: `pip install -U 'jax[cpu]'`"),
])
def test_missing_backend_is_one_line_with_the_fix(backend, says, monkeypatch, capsys, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "jax" else real(name, *a))
    monkeypatch.setenv("KERAS_BACKEND", backend)
    assert main(["train", "--epochs", "1", "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err and "Traceback" not in err, err


def test_saved_figures_are_titled_and_slide_resolution(tmp_path):
    from PIL import Image

    from medlearn.cli.train import FIGURE_DPI, _save
    from medlearn.metrics import clinical_report

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.clip(0.4 * y + 0.6 * rng.random(300), 0, 1)
    saved = []
    result = types.SimpleNamespace(
        dataset="phantoms", model_name="cnn", task="binary", label_names=["normal", "lesion"], epochs=1,
        history={"loss": [0.7], "val_loss": [0.8], "auc": [0.6], "val_auc": [0.55]}, averaged_epochs=None,
        test_labels=y, test_scores=s, model=types.SimpleNamespace(save=lambda path: saved.append(path)))
    report = clinical_report(y, s, label_names=["normal", "lesion"], n_bootstrap=20, threshold=0.4)
    files = _save(result, report, tmp_path)
    assert files == ["curves.png", "roc.png", "confusion.png", "model.keras"] and saved
    assert 150 <= FIGURE_DPI <= 200
    for name in files[:3]:
        with Image.open(tmp_path / name) as im:
            dpi = im.info.get("dpi", (0, 0))[0]
            assert round(dpi) == FIGURE_DPI, (name, im.info)
            assert im.size[0] >= 800, (name, im.size)


@pytest.mark.parametrize("args, line", [
    (("epochs", 8, 31.24, (7, 8), 8, [], True),
     "finished the planned 8 epochs (31.2 s); final model = mean of the weights of epochs 7-8"),
    (("time budget", 1, 5.0, None, 1, [0.61], True),
     "stopped by the time budget after 1 epoch (5.0 s); final model = the last epoch's weights "
     "(1 epoch: too few to average)"),
    (("early stopping", 9, 12.0, None, 6, [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.88, 0.87, 0.86], False),
     "stopped early (val_auc stopped improving) after 9 epochs (12.0 s); final model = the weights of epoch 6, "
     "the best val_auc (0.900)"),
    (("epochs", 4, 3.0, (4, 4), 4, [], True), "finished the planned 4 epochs (3.0 s); final model = the weights of epoch 4"),
])
def test_end_of_training_line_explains_the_final_model(args, line):
    from medlearn.train.steps import progress_summary

    assert progress_summary(*args) == line


def test_epoch_lines_start_with_a_legend(capsys):
    from medlearn.train.callbacks import EpochLine

    cb = EpochLine(monitor="val_auc")
    cb.on_train_begin()
    legend = capsys.readouterr().out
    assert "* = best val_auc so far" in legend and "validation set" in legend and legend.count("\n") == 1
