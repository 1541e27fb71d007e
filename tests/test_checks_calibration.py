"""calibration.* exercises: the reference passes, classic wrong answers fail with the matching hint."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from medlearn.checks import check, get_exercise, list_exercises
from check_helpers import assert_passes as _passes, failing_hint as _hint

IDS = ["calibration.ece", "calibration.temperature"]


def test_registered_and_stub_fails():
    assert set(IDS) <= set(list_exercises())

    def stub(*args):
        raise NotImplementedError

    for i in IDS:
        assert "NotImplementedError" in _hint(i, stub)


# ------------------------------------------------------------------ ECE
def ece_loop(y, p, n_bins, *, width=False, signed=False, sort=True, abs_after=False):
    """What a learner writes with a loop; flags switch on the classic mistakes."""
    if width:
        edges = np.linspace(0, 1, n_bins + 1)
        idx = np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)
        bins = [np.flatnonzero(idx == b) for b in range(n_bins)]
    else:
        order = np.argsort(p) if sort else np.arange(len(p))
        size = len(p) // n_bins
        bins = [order[b * size:(b + 1) * size] for b in range(n_bins)]
    total = 0.0
    for b in bins:
        if len(b):
            gap = p[b].mean() - y[b].mean()
            total += len(b) / len(p) * (gap if signed else abs(gap))
    return total


def test_ece_reference_passes():
    _passes("calibration.ece", ece_loop)
    _passes("calibration.ece", lambda y, p, n: float(np.sum([len(b) / len(p) * abs(p[b].mean() - y[b].mean())
                                                               for b in np.array_split(np.argsort(p), n)])))


def test_ece_wrong_answers():
    assert "equal-width" in _hint("calibration.ece", lambda y, p, n: ece_loop(y, p, n, width=True))
    assert "absolute gap" in _hint("calibration.ece", lambda y, p, n: ece_loop(y, p, n, signed=True))
    assert "sort by probability" in _hint("calibration.ece", lambda y, p, n: ece_loop(y, p, n, sort=False))
    assert "n_bins you are given" in _hint("calibration.ece", lambda y, p, n: ece_loop(y, p, 10))
    assert "top-label" in _hint("calibration.ece", lambda y, p, n: ece_loop(
        ((p >= 0.5) == (y == 1)).astype(float), np.maximum(p, 1 - p), n))
    assert "finite number" in _hint("calibration.ece", lambda y, p, n: [1.0, 2.0])
    hint = _hint("calibration.ece", lambda y, p, n: ece_loop(y, p, n) * 1.1)
    assert "equal-mass" in hint


def test_ece_hints_never_contain_the_answer():
    ex = get_exercise("calibration.ece")
    case = ex.make_cases(np.random.default_rng(0))[0]
    hint = _hint("calibration.ece", lambda y, p, n: ece_loop(y, p, n, width=True))
    truth = ece_loop(case["y_true"], case["probs"], int(case["n_bins"]))
    assert f"{truth:.3f}"[:4] not in hint.replace("0-0.1", "").replace("0.1-0.2", "")


# ------------------------------------------------------------------ temperature
def nll(z, y, t):
    s = z / t
    return np.mean(np.logaddexp(0, s) - y * s)


def fit_lbfgs(z, y):
    res = minimize_scalar(lambda u: nll(z, y, np.exp(u)), bounds=(-4, 4), method="bounded")
    return float(np.exp(res.x))


def fit_grid(z, y, step=0.004):
    grid = np.arange(0.05, 6, step)
    return float(grid[np.argmin([nll(z, y, t) for t in grid])])


def test_temperature_reference_passes():
    _passes("calibration.temperature", fit_lbfgs)
    _passes("calibration.temperature", fit_grid)


def test_scipy_optimizer_is_not_blamed_on_a_forbidden_module_that_imported_it():
    import sklearn.calibration  # noqa: F401  (binds scipy's minimize_scalar in its namespace)

    _passes("calibration.temperature", fit_lbfgs)


def test_temperature_wrong_answers():
    assert "inverse" in _hint("calibration.temperature", lambda z, y: 1 / fit_lbfgs(z, y))

    def divided_probs(z, y):
        p = 1 / (1 + np.exp(-z))
        def loss(t):
            q = np.clip(p / t, 1e-12, 1 - 1e-12)
            return -np.mean(y * np.log(q) + (1 - y) * np.log(1 - q))
        return float(np.exp(minimize_scalar(lambda u: loss(np.exp(u)), bounds=(-4, 4), method="bounded").x))

    assert "divides the logits" in _hint("calibration.temperature", divided_probs)

    rng = np.random.default_rng(123)                            # a different split: "the test set"
    z_test = rng.normal(0, 1.5, 500)
    y_test = (rng.random(500) < 1 / (1 + np.exp(-z_test))).astype(int)
    fitted_on_test = lambda z, y: fit_lbfgs(z_test * 1.0, y_test)  # noqa: E731  (T ~ 1: ignores its arguments)
    assert "Fit it on its arguments" in _hint("calibration.temperature", fitted_on_test)
    assert "log T" in _hint("calibration.temperature", lambda z, y: np.log(fit_lbfgs(z, y)))
    assert "positive" in _hint("calibration.temperature", lambda z, y: -1.0)
    assert "refine" in _hint("calibration.temperature", lambda z, y: fit_grid(z, y, step=0.5))


def test_calling_the_library_is_not_an_answer():
    from medlearn.metrics import expected_calibration_error, fit_temperature

    assert not check("calibration.ece", lambda y, p, n: expected_calibration_error(y, p, n_bins=n), quiet=True).passed
    assert not check("calibration.temperature", lambda z, y: fit_temperature(y, z), quiet=True).passed


@pytest.mark.parametrize("exercise_id", IDS)
def test_cases_are_plain_arrays(exercise_id):
    for case in get_exercise(exercise_id).make_cases(np.random.default_rng(5)):
        for value in case.values():
            assert isinstance(value, (np.ndarray, int, float))
