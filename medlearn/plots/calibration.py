"""Calibration and robustness figures: the reliability diagram and AUC-vs-severity curves.

The numbers come from :mod:`medlearn.metrics.calibration` and
:func:`medlearn.datasets.corrupt`; these functions only draw.

Used in lesson 13 and by ``medlearn train`` (``calibration.png``, ``robustness.png``).
"""
from __future__ import annotations

from medlearn.plots._common import PlotError, new_axes

__all__ = ["plot_reliability", "plot_robustness"]


def plot_reliability(y_true, probs_by_name, *, n_bins: int = 15, strategy: str = "equal-mass", ax=None,
                     title="Reliability diagram"):
    """Mean predicted probability vs observed frequency per bin, one line per set of probabilities.

    A perfectly calibrated model lies on the diagonal; below it = over-confident
    (it says 0.9 where 70 % are positive). The legend carries each ECE and the binning.

    Args:
        y_true: (N,) int class indices (binary: 0/1).
        probs_by_name: ``{name: probs}`` ((N,) or (N, C) probabilities, e.g. before and after
            temperature scaling), or one probability array.
        n_bins, strategy: the bins (see :func:`medlearn.metrics.reliability_diagram`).
        ax: an existing axes. title: the axes title.

    Returns:
        A matplotlib ``Figure``.

    Raises:
        PlotError: no probabilities given. CalibrationError: probabilities that are not probabilities.

    Used in lesson 13.
    """
    from medlearn.metrics.calibration import reliability_diagram

    if not isinstance(probs_by_name, dict):
        probs_by_name = {"model": probs_by_name}
    if not probs_by_name:
        raise PlotError("probs_by_name is empty: pass {name: probabilities}. Received: {}")
    fig, ax = new_axes(ax, (4.6, 4.2))
    ax.plot([0, 1], [0, 1], color="gray", ls="--", lw=1, label="perfect calibration")
    for name, probs in probs_by_name.items():
        d = reliability_diagram(y_true, probs, n_bins=n_bins, strategy=strategy)
        ok = d.counts > 0
        ax.plot(d.confidence[ok], d.frequency[ok], marker="o", ms=4, label=f"{name} (ECE {d.ece:.3f})")
    kind = "fraction of positives" if d.kind == "positive-class" else "accuracy of the top class"
    ax.set_xlabel("mean predicted probability" if d.kind == "positive-class" else "mean confidence")
    ax.set_ylabel(kind)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(f"{title}\n({n_bins} {strategy} bins)", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def plot_robustness(results, *, clean=None, ax=None, metric="AUC", title="Robustness to corruptions"):
    """Score against severity, one line per corruption.

    Args:
        results: ``{kind: {severity: score}}`` for one model (severities 1..5, e.g. ``metrics.json``'s
            ``robustness``).
        clean: the score on clean images, drawn at severity 0 for every line.
        ax: an existing axes. metric: the y-axis label. title: the axes title.

    Returns:
        A matplotlib ``Figure``.

    Raises:
        PlotError: empty ``results`` or a non-numeric score.

    Used in lesson 13 and by ``medlearn train --robustness``.
    """
    if not results:
        raise PlotError("results is empty: pass {kind: {severity: score}}. Received: {}")
    fig, ax = new_axes(ax, (6.0, 4.0))
    for kind, by_severity in results.items():
        if not isinstance(by_severity, dict):
            raise PlotError(f"results[{kind!r}] must be {{severity: score}}. Received: {by_severity!r}")
        sev = sorted(int(s) for s in by_severity)
        score = [float(by_severity[s] if s in by_severity else by_severity[str(s)]) for s in sev]
        if clean is not None:
            sev, score = [0, *sev], [float(clean), *score]
        ax.plot(sev, score, marker="o", ms=3, label=str(kind))
    ax.set_xlabel("severity (0 = clean)")
    ax.set_ylabel(metric)
    ax.set_xticks(range(0, 6))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig
