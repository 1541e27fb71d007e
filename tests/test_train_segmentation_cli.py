"""`medlearn train --task segmentation` (U-Net, Dice/IoU, detections, segmentation.png, --json) and the
gradcam.png of classification runs, on a small slice of the embedded phantoms."""
from __future__ import annotations

import json

import numpy as np
import pytest

from medlearn.cli import main
from medlearn.datasets import load_phantoms
from medlearn.datasets._bunch import Bunch


def _small(n_train=160, n_val=40, n_test=60):
    full = load_phantoms()

    def cut(part, n):
        return Bunch({k: (v[:n] if isinstance(v, np.ndarray) else v) for k, v in part.items()})

    return Bunch({**full, "train": cut(full.train, n_train), "val": cut(full.val, n_val), "test": cut(full.test, n_test)})


def test_segmentation_on_medmnist_is_one_line(capsys, tmp_path):
    code = main(["train", "breastmnist", "--task", "segmentation", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "--task segmentation needs a lesion mask" in err and "breastmnist" in err and "Fix:" in err


def test_segmentation_run_writes_figures_model_and_json(capsys, tmp_path, monkeypatch):
    keras = pytest.importorskip("keras")
    monkeypatch.setattr("medlearn.cli.train._load", lambda *a, **k: _small())
    out, js = tmp_path / "run", tmp_path / "r.json"
    code = main(["train", "--task", "segmentation", "--epochs", "2", "--bootstrap", "50", "--quiet",
                 "--out", str(out), "--json", str(js)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "Dice" in printed and "detection sensitivity" in printed and "false positives / image" in printed
    summary = json.loads(js.read_text())
    for key in ("dice", "iou", "detection_sensitivity", "false_positives_per_image"):
        assert summary[key] is not None and summary[key] >= 0, key
    assert 0 <= summary["dice"] <= 1 and 0 <= summary["iou"] <= summary["dice"] + 1e-9
    assert summary["task"] == "segmentation" and summary["n_test"] == 60
    assert (out / "segmentation.png").stat().st_size > 10_000 and (out / "metrics.json").is_file()
    model = keras.saving.load_model(out / "model.keras")           # loads without medlearn's loss class
    assert model.output_shape == (None, 28, 28, 1)


def test_classification_run_saves_gradcam(capsys, tmp_path, monkeypatch):
    pytest.importorskip("keras")
    monkeypatch.setattr("medlearn.cli.train._load", lambda *a, **k: _small(200, 50, 50))
    out = tmp_path / "cls"
    code = main(["train", "--epochs", "1", "--bootstrap", "0", "--quiet", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "gradcam.png" in printed
    assert (out / "gradcam.png").stat().st_size > 10_000


def test_lesion_truth_regenerates_the_exact_phantom_centres():
    from medlearn.metrics.segmentation import find_lesions
    from medlearn.train.segmentation import lesion_truth

    data = load_phantoms()
    centres, radii = lesion_truth(data, "test")
    has = data.test.masks.reshape(len(data.test.masks), -1).any(axis=1)
    assert np.isfinite(centres[has]).all() and np.isnan(centres[~has]).all()
    assert (radii[has] > 1).all()
    for i in np.flatnonzero(has)[:50]:
        assert np.linalg.norm(find_lesions(data.test.masks[i])[0][0] - centres[i]) < 0.5
    # data without exact centres: centres of mass of the masks stand in
    small = _small(10, 10, 30)
    small["info"] = {}
    c2, r2 = lesion_truth(small, "test")
    assert np.allclose(c2[has[:30]], centres[:30][has[:30]], atol=0.5)
