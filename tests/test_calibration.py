"""Calibration metrics and temperature scaling against hand computations and known truths."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from medlearn.errors import MedlearnError
from medlearn.metrics import (
    CalibrationError, apply_temperature, brier_score, calibration_report, expected_calibration_error,
    fit_temperature, reliability_diagram, to_logits,
)


def _ece_by_hand(y, p, n_bins):
    order = np.argsort(p, kind="mergesort")
    total = 0.0
    for part in np.array_split(order, n_bins):
        total += len(part) / len(p) * abs(p[part].mean() - y[part].mean())
    return total


def _overconfident(n=3000, scale=3.0, seed=0, classes=None):
    """Labels drawn from calibrated logits; the 'model' reports them times ``scale``."""
    rng = np.random.default_rng(seed)
    if classes is None:
        z = rng.normal(0, 1.5, n)
        y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    else:
        z = rng.normal(0, 1.5, (n, classes))
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        y = (p.cumsum(1) > rng.random((n, 1))).argmax(1)
    return y, z * scale


def test_ece_equal_mass_matches_hand_computation():
    rng = np.random.default_rng(1)
    p = rng.beta(0.5, 0.5, 500)
    y = (rng.random(500) < p ** 2).astype(int)
    for bins in (1, 7, 15):
        assert np.isclose(expected_calibration_error(y, p, n_bins=bins), _ece_by_hand(y, p, bins))
    d = reliability_diagram(y, p, n_bins=10)
    assert d.counts.tolist() == [50] * 10 and d.strategy == "equal-mass" and d.kind == "positive-class"
    assert np.all(np.diff(d.confidence) > 0) and np.all(np.diff(d.edges) >= 0)


def test_ece_equal_width_differs_and_matches_its_definition():
    rng = np.random.default_rng(2)
    p = rng.beta(0.3, 2.0, 400)                          # skewed: most scores near 0
    y = (rng.random(400) < np.sqrt(p)).astype(int)
    edges_idx = np.minimum((p * 10).astype(int), 9)
    by_hand = sum((edges_idx == b).mean() * abs(p[edges_idx == b].mean() - y[edges_idx == b].mean())
                  for b in range(10) if (edges_idx == b).any())
    width = expected_calibration_error(y, p, n_bins=10, strategy="equal-width")
    assert np.isclose(width, by_hand)
    assert not np.isclose(width, expected_calibration_error(y, p, n_bins=10))


def test_perfectly_calibrated_has_small_ece_and_multiclass_is_top_label():
    rng = np.random.default_rng(3)
    p = rng.random(20000)
    y = (rng.random(20000) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.02
    y3, z3 = _overconfident(4000, scale=1.0, classes=3)
    P = apply_temperature(z3, 1.0)
    conf, hit = P.max(1), (P.argmax(1) == y3).astype(float)
    assert np.isclose(expected_calibration_error(y3, P, n_bins=5), _ece_by_hand(hit, conf, 5))
    assert reliability_diagram(y3, P).kind == "top-label"


def test_brier_matches_sklearn_and_multiclass_definition():
    rng = np.random.default_rng(4)
    p = rng.random(300)
    y = rng.integers(0, 2, 300)
    assert np.isclose(brier_score(y, p), brier_score_loss(y, p))
    assert np.isclose(brier_score(y, np.stack([1 - p, p], 1)), brier_score_loss(y, p))
    y3, z3 = _overconfident(300, classes=4)
    P = apply_temperature(z3, 1.0)
    assert np.isclose(brier_score(y3, P), np.mean(np.sum((P - np.eye(4)[y3]) ** 2, 1)))


def test_calibration_report_intervals_cover_the_estimate():
    y, z = _overconfident(800)
    r = calibration_report(y, apply_temperature(z, 1.0), n_bins=10, n_bootstrap=300, seed=1)
    assert r.ece.low <= r.ece.value <= r.ece.high and r.brier.low <= r.brier.value <= r.brier.high
    assert r.ece.high - r.ece.low > 0.005
    assert "10 equal-mass bins" in str(r) and r.to_dict()["n_bins"] == 10
    assert np.isnan(calibration_report(y, apply_temperature(z, 1.0), n_bootstrap=0).ece.low)


@pytest.mark.parametrize("classes", [None, 3])
def test_temperature_recovers_the_overconfidence_and_keeps_the_ranking(classes):
    y, z = _overconfident(6000, scale=3.0, classes=classes)
    T = fit_temperature(y, z)
    assert 2.6 < T < 3.4
    before = expected_calibration_error(y, apply_temperature(z, 1.0))
    after = expected_calibration_error(y, apply_temperature(z, T))
    assert after < before / 3
    if classes is None:
        assert roc_auc_score(y, apply_temperature(z, T)) == roc_auc_score(y, apply_temperature(z, 1.0))
    # T minimises the NLL: nudging it either way is worse
    def nll(t):
        P = apply_temperature(z, t)
        P = np.stack([1 - P, P], 1) if P.ndim == 1 else P
        return -np.mean(np.log(P[np.arange(len(y)), y]))
    assert nll(T) < nll(T * 1.05) and nll(T) < nll(T / 1.05)


def test_underconfident_gives_temperature_below_one_and_to_logits_round_trips():
    y, z = _overconfident(4000, scale=0.4)
    assert fit_temperature(y, z) < 0.6
    p = apply_temperature(z, 1.0)
    np.testing.assert_allclose(apply_temperature(to_logits(p), 1.0), p, atol=1e-9)
    P = apply_temperature(np.stack([z, -z, 0 * z], 1), 1.0)
    np.testing.assert_allclose(apply_temperature(to_logits(P), 1.0), P, atol=1e-9)
    assert np.isfinite(to_logits(np.array([0.0, 1.0]))).all()


@pytest.mark.parametrize("call, match", [
    (lambda: expected_calibration_error([0, 1], [0.2, 1.3]), r"in \[0, 1\].*1\.3"),
    (lambda: expected_calibration_error([0, 1], [-0.2, 0.3]), r"in \[0, 1\]"),
    (lambda: brier_score([0, 1], [[0.2, 0.3], [0.5, 0.5]]), r"sum to 1.*0\.5"),
    (lambda: brier_score([0, 1, 1], [0.2, 0.3]), r"same length.*3 labels and 2"),
    (lambda: expected_calibration_error([0, 2], [0.2, 0.3]), r"class indices in \[0, 1\]"),
    (lambda: expected_calibration_error([0, 1], [0.2, 0.3], n_bins=0), r"n_bins"),
    (lambda: expected_calibration_error([0, 1], [0.2, 0.3], strategy="quantile"), r"equal-mass"),
    (lambda: fit_temperature([0, 1, 1], [0.2, 0.3]), r"same length"),
    (lambda: fit_temperature([0, 1], [0.2, np.nan]), r"NaN"),
    (lambda: apply_temperature([0.2, 0.3], 0.0), r"temperature must be a positive"),
])
def test_bad_input_is_one_clear_medlearn_error(call, match):
    with pytest.raises(CalibrationError, match=match) as info:
        call()
    assert isinstance(info.value, MedlearnError) and "\n" not in str(info.value)
