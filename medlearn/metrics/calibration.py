"""Calibration: does a predicted 80 % mean "right 8 times out of 10"?

A classifier can rank cases perfectly (ROC-AUC 1.0) and still be *miscalibrated*:
its probabilities may be too confident (0.99 where it is right 80 % of the time)
or too timid. For a clinician who reads "malignant, 0.93" as a risk, calibration
is what makes the number mean something.

* :func:`expected_calibration_error` (ECE) - the mean gap between predicted
  probability and observed frequency over bins, weighted by the bins' sizes.
  **Equal-mass bins by default** (each bin holds the same number of cases, so no
  bin is an empty or one-case estimate); the bin count is an argument and is part
  of every report ("ECE (15 equal-mass bins)"), because ECE depends on it.
* :func:`brier_score` - the mean squared error of the probabilities.
* :func:`reliability_diagram` - the per-bin data behind the plot
  (:func:`medlearn.plots.reliability_diagram` draws it).
* :func:`calibration_report` - ECE and Brier score with bootstrap CIs.
* :func:`fit_temperature` / :func:`apply_temperature` - **temperature scaling**
  (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017): divide the
  logits by one scalar ``T`` fitted on the *validation* split by minimising the
  negative log-likelihood. ``T > 1`` softens over-confident predictions. Dividing by
  a positive scalar is monotone, so the ranking - and the ROC-AUC - cannot change.
* :func:`to_logits` - logits from probabilities (``log p``, or ``log(p / (1 - p))`` for
  a binary score), for models whose last layer already applied softmax/sigmoid.

What is measured:

* **binary** scores ((N,) or (N, 2)): the calibration of the *positive-class*
  probability - in a bin, mean predicted probability vs the fraction of positives;
* **multi-class** (N, C): *top-label* (confidence) calibration - in a bin, the mean
  of the highest probability vs the accuracy of the argmax. The Brier score is the
  multi-class one, ``mean_i sum_c (p_ic - [y_i = c])**2`` (the binary form, ``mean (p - y)**2``,
  is half of it for two classes).

Only NumPy and SciPy. Used in lesson 13 and by ``medlearn train``.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from medlearn.metrics import bootstrap as bs
from medlearn.metrics.medmnist import MetricsError

__all__ = ["CalibrationError", "ReliabilityData", "CalibrationReport", "expected_calibration_error",
           "brier_score", "reliability_diagram", "calibration_report", "fit_temperature",
           "apply_temperature", "to_logits", "STRATEGIES"]

STRATEGIES = ("equal-mass", "equal-width")
_TOL = 1e-6      # probabilities may overshoot [0, 1] by float rounding
_SUM_TOL = 1e-3  # rows of float32 softmax outputs sum to 1 within this


class CalibrationError(MetricsError):
    """Probabilities, labels or logits that cannot be scored for calibration."""


def _check_labels_probs(y_true, probs):
    """-> (kind, y (N,) int64, P (N, C) float64) with kind 'binary' or 'multi-class'."""
    p = np.asarray(probs, dtype="float64")
    y = np.asarray(y_true)
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if p.ndim not in (1, 2):
        raise CalibrationError(f"probs must be (N,) positive-class probabilities or (N, C) class probabilities. "
                               f"Received shape {p.shape}")
    y = y.reshape(len(y), -1) if y.ndim else y.reshape(1, 1)
    if y.shape[1] != 1:
        raise CalibrationError(f"y_true must be class indices (N,) or (N, 1). Received shape {y.shape}")
    y = y[:, 0]
    if len(y) != len(p):
        raise CalibrationError(f"y_true and probs need the same length. Received {len(y)} labels and "
                               f"{len(p)} probability rows")
    if len(y) == 0:
        raise CalibrationError("y_true and probs are empty: calibration needs at least one case.")
    if not np.all(np.isfinite(p)):
        raise CalibrationError("probs contains NaN or infinity. Received probabilities, not finite everywhere")
    if p.min() < -_TOL or p.max() > 1 + _TOL:
        raise CalibrationError(f"probs must be probabilities in [0, 1] (apply softmax/sigmoid to logits first). "
                               f"Received values from {p.min():.4g} to {p.max():.4g}")
    p = np.clip(p, 0.0, 1.0)
    if p.ndim == 1:
        p = np.stack([1 - p, p], axis=1)
        kind = "binary"
    else:
        sums = p.sum(axis=1)
        worst = int(np.argmax(np.abs(sums - 1)))
        if abs(sums[worst] - 1) > _SUM_TOL:
            raise CalibrationError(f"each row of probs must sum to 1 (class probabilities). Received a row "
                                   f"summing to {sums[worst]:.4g} (row {worst})")
        kind = "binary" if p.shape[1] == 2 else "multi-class"
    if not np.all(np.isfinite(y.astype("float64"))) or np.any(y.astype("float64") % 1):
        raise CalibrationError(f"y_true must hold integer class indices. Received {y[:5]!r}...")
    y = y.astype("int64")
    if y.min() < 0 or y.max() >= p.shape[1]:
        raise CalibrationError(f"y_true must hold class indices in [0, {p.shape[1] - 1}] for {p.shape[1]} "
                               f"probability columns. Received labels from {y.min()} to {y.max()}")
    return kind, y, p


def _score_and_hit(kind, y, p):
    """Per-case (predicted probability, observed outcome) that the bins compare."""
    if kind == "binary":
        return p[:, 1], (y == 1).astype("float64")
    return p.max(axis=1), (p.argmax(axis=1) == y).astype("float64")


def _check_bins(n_bins, strategy):
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise CalibrationError(f"n_bins must be an int >= 1, e.g. 15. Received: n_bins={n_bins!r}")
    if strategy not in STRATEGIES:
        raise CalibrationError(f"strategy must be one of {', '.join(map(repr, STRATEGIES))}. "
                               f"Received: strategy={strategy!r}")


def _bin_index(score, n_bins, strategy):
    """(N,) bin of each case. Equal mass: sort, then split into n_bins consecutive groups
    of (nearly) equal size (``np.array_split`` sizes); equal width: [0, 1/B), ..., [1 - 1/B, 1]."""
    if strategy == "equal-width":
        return np.minimum((score * n_bins).astype("int64"), n_bins - 1)
    order = np.argsort(score, kind="mergesort")
    sizes = [len(part) for part in np.array_split(order, n_bins)]
    idx = np.empty(len(score), dtype="int64")
    idx[order] = np.repeat(np.arange(n_bins), sizes)
    return idx


@dataclasses.dataclass(frozen=True)
class ReliabilityData:
    """The per-bin numbers of a reliability diagram (:func:`reliability_diagram`).

    Attributes:
        confidence: (B,) mean predicted probability per bin (NaN for an empty bin).
        frequency: (B,) observed frequency per bin (fraction of positives, or top-label accuracy).
        counts: (B,) int cases per bin.
        edges: (B + 1,) bin edges (equal mass: the lowest score, the midpoints between bins, the highest).
        ece: the expected calibration error of these bins.
        n_bins, strategy: how the bins were made; kind: ``"positive-class"`` or ``"top-label"``.
    """

    confidence: np.ndarray
    frequency: np.ndarray
    counts: np.ndarray
    edges: np.ndarray
    ece: float
    n_bins: int
    strategy: str
    kind: str


def reliability_diagram(y_true, probs, *, n_bins: int = 15, strategy: str = "equal-mass") -> ReliabilityData:
    """Per-bin mean predicted probability and observed frequency.

    Args:
        y_true: (N,) or (N, 1) int class indices (binary: 0/1, 1 = positive).
        probs: (N,) positive-class probabilities, or (N, C) class probabilities (rows sum to 1).
        n_bins: number of bins, >= 1.
        strategy: ``"equal-mass"`` (same number of cases per bin, default) or ``"equal-width"``.

    Returns:
        A :class:`ReliabilityData`.

    Raises:
        CalibrationError: probabilities outside [0, 1] or rows not summing to 1, lengths that
            differ, labels outside the classes, a bad ``n_bins`` or ``strategy``.

    Example:
        >>> d = reliability_diagram([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.9], n_bins=2)
        >>> d.confidence.tolist(), d.frequency.tolist()
        ([0.2, 0.75], [0.0, 1.0])

    Used in lesson 13.
    """
    _check_bins(n_bins, strategy)
    kind, y, p = _check_labels_probs(y_true, probs)
    score, hit = _score_and_hit(kind, y, p)
    idx = _bin_index(score, int(n_bins), strategy)
    counts = np.bincount(idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(idx, weights=score, minlength=n_bins) / counts
        freq = np.bincount(idx, weights=hit, minlength=n_bins) / counts
    if strategy == "equal-width":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        lo = np.array([score[idx == b].min() if counts[b] else np.nan for b in range(n_bins)])
        hi = np.array([score[idx == b].max() if counts[b] else np.nan for b in range(n_bins)])
        edges = np.concatenate([[lo[0]], (hi[:-1] + lo[1:]) / 2, [hi[-1]]])
    ece = float(np.nansum(counts / len(y) * np.abs(conf - freq)))
    return ReliabilityData(conf, freq, counts, edges, ece, int(n_bins), strategy,
                           "positive-class" if kind == "binary" else "top-label")


def expected_calibration_error(y_true, probs, *, n_bins: int = 15, strategy: str = "equal-mass") -> float:
    """ECE: ``sum_b (n_b / N) * |mean predicted probability_b - observed frequency_b|``.

    Args:
        y_true: (N,) or (N, 1) int class indices (binary: 0/1).
        probs: (N,) positive-class probabilities, or (N, C) class probabilities.
        n_bins: number of bins (state it with the result: ECE depends on it).
        strategy: ``"equal-mass"`` (default) or ``"equal-width"``.

    Returns:
        A float in [0, 1]; 0 = perfectly calibrated at this binning.

    Raises:
        CalibrationError: see :func:`reliability_diagram`.

    Example:
        >>> round(expected_calibration_error([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.9], n_bins=2), 3)
        0.225

    Used in lesson 13.
    """
    return reliability_diagram(y_true, probs, n_bins=n_bins, strategy=strategy).ece


def brier_score(y_true, probs) -> float:
    """Mean squared error of the probabilities.

    Binary ((N,) scores or (N, 2)): ``mean (p - y)**2`` with p the positive-class probability.
    Multi-class (N, C), C > 2: ``mean_i sum_c (p_ic - [y_i = c])**2``.

    Args:
        y_true: (N,) int class indices. probs: (N,) or (N, C) probabilities.

    Returns:
        A float in [0, 1] (binary) or [0, 2] (multi-class); lower is better.

    Raises:
        CalibrationError: see :func:`reliability_diagram`.

    Example:
        >>> round(brier_score([0, 1], [0.2, 0.6]), 3)
        0.1

    Used in lesson 13 (through :func:`calibration_report`) and by ``medlearn train``.
    """
    kind, y, p = _check_labels_probs(y_true, probs)
    return float(np.mean(_brier_terms(kind, y, p)))


def _brier_terms(kind, y, p):
    if kind == "binary":
        return (p[:, 1] - (y == 1)) ** 2
    onehot = np.eye(p.shape[1])[y]
    return np.sum((p - onehot) ** 2, axis=1)


@dataclasses.dataclass(frozen=True)
class CalibrationReport:
    """ECE and Brier score with bootstrap CIs (:func:`calibration_report`).

    Attributes:
        ece, brier: :class:`medlearn.metrics.Estimate` (value, low, high).
        n_bins, strategy: the ECE binning. n: cases. level, n_bootstrap: the intervals.
        kind: ``"positive-class"`` or ``"top-label"``.
    """

    ece: object
    brier: object
    n_bins: int
    strategy: str
    kind: str
    n: int
    level: float
    n_bootstrap: int

    def to_dict(self) -> dict:
        est = lambda e: {"value": e.value, "low": _num(e.low), "high": _num(e.high)}  # noqa: E731
        return {"ece": est(self.ece), "brier": est(self.brier), "n_bins": self.n_bins,
                "strategy": self.strategy, "kind": self.kind, "n": self.n, "level": self.level,
                "n_bootstrap": self.n_bootstrap}

    def __str__(self) -> str:
        pct = int(round(self.level * 100))
        return (f"ECE ({self.n_bins} {self.strategy} bins, {self.kind}) {self.ece}   Brier {self.brier}   "
                f"({pct}% bootstrap CI, {self.n} cases)")

    __repr__ = __str__


def _num(x):
    return None if not np.isfinite(x) else float(x)


def calibration_report(y_true, probs, *, n_bins: int = 15, strategy: str = "equal-mass",
                       n_bootstrap: int = 1000, level: float = 0.95, seed: int = 0) -> CalibrationReport:
    """ECE and Brier score, each with a bootstrap confidence interval.

    The bootstrap keeps the bins of the full sample (their members are reweighted, one
    matrix product for all replicates), so the interval reflects the resampling of cases,
    not a re-binning.

    Args:
        y_true, probs, n_bins, strategy: as :func:`expected_calibration_error`.
        n_bootstrap: replicates (0 = no intervals, NaN bounds). level: in (0, 1). seed: of the bootstrap.

    Returns:
        A :class:`CalibrationReport`.

    Raises:
        CalibrationError: see :func:`reliability_diagram`; a bad ``level`` or ``n_bootstrap``.

    Example:
        >>> r = calibration_report([0, 1, 1, 0], [0.2, 0.7, 0.9, 0.4], n_bins=2, n_bootstrap=0)
        >>> round(r.brier.value, 3)
        0.075

    Used in lesson 13.
    """
    from medlearn.metrics.clinical import Estimate

    if not 0 < level < 1:
        raise CalibrationError(f"level must be in (0, 1), e.g. 0.95. Received: level={level!r}")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer)) or n_bootstrap < 0:
        raise CalibrationError(f"n_bootstrap must be an int >= 0. Received: n_bootstrap={n_bootstrap!r}")
    _check_bins(n_bins, strategy)
    kind, y, p = _check_labels_probs(y_true, probs)
    score, hit = _score_and_hit(kind, y, p)
    idx = _bin_index(score, int(n_bins), strategy)
    onehot = np.eye(int(n_bins))[idx]                      # (N, B)
    terms = _brier_terms(kind, y, p)
    n = len(y)
    ece_draws, brier_draws = [], []
    for W in bs.bootstrap_weights(n, n_bootstrap, np.random.default_rng(seed)):
        gap = np.abs(W @ (onehot * (score - hit)[:, None]))  # |sum of score - sum of outcomes| per bin
        ece_draws.append(gap.sum(axis=1) / n)              # sum_b n_b/N |conf_b - freq_b| = sum_b |S_b - H_b| / N
        brier_draws.append(W @ terms / n)
    ece = reliability_diagram(y, p if kind != "binary" else p[:, 1], n_bins=n_bins, strategy=strategy).ece
    cat = lambda d: np.concatenate(d) if d else np.array([])  # noqa: E731
    return CalibrationReport(
        ece=Estimate(ece, *bs.percentile_interval(cat(ece_draws), level)),
        brier=Estimate(float(np.mean(terms)), *bs.percentile_interval(cat(brier_draws), level)),
        n_bins=int(n_bins), strategy=strategy, kind="positive-class" if kind == "binary" else "top-label",
        n=n, level=float(level), n_bootstrap=int(n_bootstrap))


# ----------------------------------------------------------------------------- temperature scaling
def to_logits(probs, *, eps: float = 1e-7) -> np.ndarray:
    """Logits from probabilities: ``log(p / (1 - p))`` for (N,) scores, ``log p`` for (N, C) rows.

    ``softmax(log p) = p``, so these are valid logits (up to a per-row constant, which
    softmax ignores). Probabilities are clipped to ``[eps, 1 - eps]`` first: a float32
    sigmoid that saturated at exactly 1.0 has lost its logit.

    Args:
        probs: (N,) positive-class probabilities or (N, C) class probabilities in [0, 1].
        eps: the clip.

    Returns:
        float64 logits, same shape as ``probs`` ((N, 1) becomes (N,)).

    Raises:
        CalibrationError: values outside [0, 1].

    Used by ``medlearn train`` (lesson 13 keeps its model's logits instead).
    """
    p = np.asarray(probs, dtype="float64")
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if p.size and (not np.all(np.isfinite(p)) or p.min() < -_TOL or p.max() > 1 + _TOL):
        raise CalibrationError(f"probs must be probabilities in [0, 1]. Received values from "
                               f"{np.nanmin(p):.4g} to {np.nanmax(p):.4g}")
    p = np.clip(p, eps, 1 - eps)
    return np.log(p) - np.log1p(-p) if p.ndim == 1 else np.log(p)


def _check_logits(y_true, logits):
    z = np.asarray(logits, dtype="float64")
    if z.ndim == 2 and z.shape[1] == 1:
        z = z[:, 0]
    if z.ndim not in (1, 2):
        raise CalibrationError(f"logits must be (N,) binary logits or (N, C). Received shape {z.shape}")
    if not np.all(np.isfinite(z)):
        raise CalibrationError("logits contains NaN or infinity. Received non-finite logits")
    y = np.asarray(y_true).reshape(-1)
    if len(y) != len(z):
        raise CalibrationError(f"labels and logits need the same length. Received {len(y)} labels and "
                               f"{len(z)} logit rows")
    n_cls = 2 if z.ndim == 1 else z.shape[1]
    if len(y) == 0 or np.any(y.astype("float64") % 1) or y.min() < 0 or y.max() >= n_cls:
        raise CalibrationError(f"labels must be class indices in [0, {n_cls - 1}]. Received {y[:5]!r}...")
    return y.astype("int64"), z


def _nll(z, y, temperature):
    """Mean negative log-likelihood of softmax(z / T) (sigmoid for 1-D z)."""
    s = z / temperature
    if s.ndim == 1:
        return float(np.mean(np.logaddexp(0.0, s) - y * s))  # -log sigmoid(s) for y=1, -log(1-sigmoid) for y=0
    m = s.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(s - m).sum(axis=1))
    return float(np.mean(lse - s[np.arange(len(y)), y]))


def fit_temperature(y_val, val_logits, *, bounds=(0.05, 20.0)) -> float:
    """The temperature ``T`` that minimises the validation NLL of ``softmax(logits / T)``.

    Fit on the **validation** split, apply to the test split with :func:`apply_temperature`.
    One scalar, found by a bounded Brent search on ``log T`` (SciPy's ``minimize_scalar``);
    the NLL is convex in ``1 / T``, so the search finds the global minimum in ``bounds``.

    Args:
        y_val: (N,) int class indices (binary: 0/1).
        val_logits: (N,) binary logits (sigmoid) or (N, C) logits (softmax). From probabilities:
            :func:`to_logits`.
        bounds: ``(low, high)`` range of T searched, 0 < low < high.

    Returns:
        T, a float > 0 (> 1: the model was over-confident; < 1: under-confident).

    Raises:
        CalibrationError: non-finite logits, lengths that differ, labels outside the classes, bad bounds.

    Example:
        >>> z = np.array([4.0, -4.0, 3.0, -3.0, 5.0, -5.0])
        >>> T = fit_temperature([1, 0, 0, 1, 1, 0], z)      # two confident mistakes
        >>> T > 1
        True

    Used in lesson 13 and by ``medlearn train``.
    """
    from scipy.optimize import minimize_scalar

    y, z = _check_logits(y_val, val_logits)
    lo, hi = (float(b) for b in bounds)
    if not 0 < lo < hi:
        raise CalibrationError(f"bounds must be (low, high) with 0 < low < high. Received: bounds={bounds!r}")
    res = minimize_scalar(lambda log_t: _nll(z, y, np.exp(log_t)), bounds=(np.log(lo), np.log(hi)),
                          method="bounded", options={"xatol": 1e-6})
    return float(np.exp(res.x))


def apply_temperature(logits, temperature: float) -> np.ndarray:
    """Probabilities ``softmax(logits / T)`` ((N, C)) or ``sigmoid(logits / T)`` ((N,)).

    Args:
        logits: (N,) or (N, C) float. temperature: T > 0 (from :func:`fit_temperature`).

    Returns:
        float64 probabilities of the same shape ((N, 1) becomes (N,)).

    Raises:
        CalibrationError: T not a positive finite number, non-finite logits.

    Used in lesson 13 and by ``medlearn train``.
    """
    t = float(temperature)
    if not np.isfinite(t) or t <= 0:
        raise CalibrationError(f"temperature must be a positive number. Received: temperature={temperature!r}")
    z = np.asarray(logits, dtype="float64")
    if z.ndim == 2 and z.shape[1] == 1:
        z = z[:, 0]
    if not np.all(np.isfinite(z)):
        raise CalibrationError("logits contains NaN or infinity. Received non-finite logits")
    s = z / t
    if s.ndim == 1:
        return 0.5 * (1.0 + np.tanh(0.5 * s))  # the sigmoid, without overflow
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
