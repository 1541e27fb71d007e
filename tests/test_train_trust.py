"""medlearn train's lesson-13 additions: calibration by default, corruptions with --robustness."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from medlearn.cli._trust import calibration_summary, robustness_table
from medlearn.metrics import apply_temperature, expected_calibration_error, fit_temperature, to_logits


def _result(task, n=600, seed=0):
    rng = np.random.default_rng(seed)
    if task == "binary":
        z = rng.normal(0, 2, 2 * n)
        y = (rng.random(2 * n) < 1 / (1 + np.exp(-z))).astype(int)
        s = apply_temperature(3 * z, 1.0)                     # over-confident model
    else:
        z = rng.normal(0, 2, (2 * n, 3))
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        y = (p.cumsum(1) > rng.random((2 * n, 1))).argmax(1)
        s = apply_temperature(3 * z, 1.0).astype("float32")
    return SimpleNamespace(task=task, val_labels=y[:n, None], val_scores=s[:n], test_labels=y[n:, None],
                           test_scores=s[n:])


@pytest.mark.parametrize("task", ["binary", "multi-class"])
def test_calibration_summary_fits_on_val_and_scores_test(task, tmp_path):
    r = _result(task)
    summary, files = calibration_summary(r, tmp_path, what="test")
    assert files == ["calibration.png"] and (tmp_path / "calibration.png").stat().st_size > 0
    y_test = r.test_labels[:, 0]
    p_val = np.asarray(r.val_scores, "float64")
    p_val = p_val / p_val.sum(1, keepdims=True) if p_val.ndim == 2 else p_val
    T = fit_temperature(r.val_labels[:, 0], to_logits(p_val))
    assert summary["temperature"] == pytest.approx(T) and 2.5 < T < 3.5
    assert summary["ece"] == pytest.approx(expected_calibration_error(y_test, r.test_scores, n_bins=15), rel=1e-6)
    assert summary["ece_temperature_scaled"] < 0.75 * summary["ece"]   # 40 cases a bin: ECE has a noise floor
    assert 0 < summary["brier"] < 1 and "15 equal-mass bins" in summary["ece_bins"]
    json.dumps(summary)


def test_multilabel_has_no_single_calibration(tmp_path):
    r = SimpleNamespace(task="multi-label", val_labels=None, val_scores=None, test_labels=None, test_scores=None)
    assert calibration_summary(r, tmp_path) == ({}, [])


def test_robustness_table_text():
    text = robustness_table({"blur": {1: 0.9, 2: 0.8, 3: 0.7, 4: 0.6, 5: 0.5}}, 0.95)
    assert "clean 0.950" in text and "blur" in text and "0.500" in text


def test_train_cli_reports_calibration_and_robustness(tmp_path):
    out_dir, summary = tmp_path / "run", tmp_path / "summary.json"
    env = {**os.environ, "MEDLEARN_FAST": "1", "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-m", "medlearn", "train", "--model", "logreg", "--epochs", "1", "--bootstrap", "20",
         "--out", str(out_dir), "--json", str(summary), "--quiet", "--robustness"],
        capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "after temperature scaling" in proc.stdout and "test AUC under corruptions" in proc.stdout
    for name in ("calibration.png", "robustness.png"):
        assert (out_dir / name).stat().st_size > 0, name
    data = json.loads(summary.read_text())
    assert {"ece", "ece_temperature_scaled", "temperature", "brier"} <= set(data)
    assert 0 <= data["ece"] <= 1 and data["temperature"] > 0
    rob = data["robustness"]
    assert "gaussian_noise" in rob and set(rob["blur"]) == {"1", "2", "3", "4", "5"}
    assert all(0 <= v <= 1 for row in rob.values() for v in row.values())
    full = json.loads((out_dir / "metrics.json").read_text())
    assert full["temperature"] == data["temperature"] and full["robustness"] == rob
