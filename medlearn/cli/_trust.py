"""What ``medlearn train`` adds to every report (lesson 13): calibration, and with ``--robustness``, corruptions.

* :func:`calibration_summary` - ECE (15 equal-mass bins) and Brier score of the test
  split, the temperature fitted on the validation split (one scalar, the model's
  probabilities turned back into logits), the test ECE after scaling, and
  ``calibration.png`` (reliability diagram before/after). Cheap: NumPy on arrays
  ``fit`` already predicted; no extra forward pass.
* :func:`robustness_summary` - the test AUC under every corruption that fits the
  modality at severities 1-5 (``{kind: {severity: auc}}``) and ``robustness.png``.
  One forward pass over the test split per corruption and severity.

Used by ``medlearn train``; the lesson behind it is lesson 13.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["calibration_summary", "robustness_summary", "ECE_BINS"]

ECE_BINS = 15


def _calibration_inputs(result):
    """(y_val, p_val, y_test, p_test) for single-label tasks, else None (multi-label: no one ECE)."""
    if result.task not in ("binary", "multi-class", "ordinal"):
        return None
    if result.val_scores is None or result.test_scores is None:
        return None
    ravel = lambda y: np.asarray(y).reshape(len(y), -1)[:, 0].astype("int64")  # noqa: E731
    fix = lambda s: np.asarray(s, "float64")[:, -1] if result.task == "binary" and np.ndim(s) == 2 else s  # noqa: E731
    return ravel(result.val_labels), fix(result.val_scores), ravel(result.test_labels), fix(result.test_scores)


def calibration_summary(result, out: Path, *, what: str = "") -> tuple[dict, list]:
    """``({"ece", "ece_temperature_scaled", "temperature", "brier", "ece_bins", ...}, [figure files])``.

    Multi-label tasks (and runs without a validation split) give ``({}, [])``.
    """
    import matplotlib.pyplot as plt

    from medlearn.metrics.calibration import (apply_temperature, brier_score, expected_calibration_error,
                                              fit_temperature, to_logits)
    from medlearn.plots.calibration import plot_reliability

    parts = _calibration_inputs(result)
    if parts is None:
        return {}, []
    y_val, p_val, y_test, p_test = parts
    if p_test.ndim == 2:  # softmax rows of float32 outputs: renormalise in float64
        p_val, p_test = (p / p.sum(axis=1, keepdims=True) for p in (p_val, p_test))
    temperature = fit_temperature(y_val, to_logits(p_val))
    p_scaled = apply_temperature(to_logits(p_test), temperature)
    summary = {
        "ece": expected_calibration_error(y_test, p_test, n_bins=ECE_BINS),
        "ece_temperature_scaled": expected_calibration_error(y_test, p_scaled, n_bins=ECE_BINS),
        "temperature": temperature,
        "brier": brier_score(y_test, p_test),
        "brier_temperature_scaled": brier_score(y_test, p_scaled),
        "ece_bins": f"{ECE_BINS} equal-mass bins, "
                    + ("positive-class" if p_test.ndim == 1 else "top-label") + "; temperature fitted on val",
    }
    fig = plot_reliability(y_test, {"model": p_test, f"temperature-scaled, T = {temperature:.2f}": p_scaled},
                           n_bins=ECE_BINS, title=f"{what}: calibration on the test set ({len(y_test)} images)")
    from medlearn.cli.train import FIGURE_DPI   # the same slide resolution as the other figures

    fig.savefig(Path(out) / "calibration.png", dpi=FIGURE_DPI)
    plt.close(fig)
    return summary, ["calibration.png"]


def robustness_summary(result, data, out: Path, *, seed: int = 0, what: str = "") -> tuple[dict, float, list]:
    """``({kind: {severity: auc}}, clean auc, [figure files])`` on the test split (MedMNIST's AUC)."""
    import matplotlib.pyplot as plt

    from medlearn.datasets.corruptions import SEVERITIES, corrupt, corruptions_for
    from medlearn.metrics import medmnist_auc
    from medlearn.plots.calibration import plot_robustness
    from medlearn.train import predict_proba

    images = np.asarray(data.test.images)
    labels = result.test_labels
    modality = (data.get("info") or {}).get("modality")

    def auc(x):
        return float(medmnist_auc(labels, predict_proba(result.model, x), result.task))

    clean = auc(images)
    table = {kind: {int(s): auc(corrupt(images, kind, s, seed=seed + s)) for s in SEVERITIES}
             for kind in corruptions_for(modality)}
    fig = plot_robustness(table, clean=clean, title=f"{what}: test AUC under corruptions")
    from medlearn.cli.train import FIGURE_DPI   # the same slide resolution as the other figures

    fig.savefig(Path(out) / "robustness.png", dpi=FIGURE_DPI)
    plt.close(fig)
    return table, clean, ["robustness.png"]


def robustness_table(table: dict, clean: float) -> str:
    """The text table printed by ``medlearn train --robustness``."""
    lines = [f"test AUC under corruptions (clean {clean:.3f}), severity 1..5:"]
    for kind, row in table.items():
        lines.append(f"  {kind:<15}" + "".join(f"{row[s]:7.3f}" for s in sorted(row)))
    return "\n".join(lines)
