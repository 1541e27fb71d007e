"""The clinical report: what a radiologist or pathologist asks of a classifier.

* **sensitivity** (recall, true-positive rate): of the sick, how many did we catch?
* **specificity** (true-negative rate): of the healthy, how many did we clear?
* **PPV** (precision): if the model says "disease", how often is it right?
* **NPV**: if the model says "healthy", how often is it right?
* **F1**, **accuracy**, the **confusion matrix**, **ROC-AUC** and **PR-AUC** (average precision).

Every figure comes with a bootstrap 95 % confidence interval (percentile
method over resampled test sets): a test set of 156 images cannot pin an
accuracy to three decimals, and the interval says how far it can be trusted.

Binary tasks are scored at a decision threshold (default 0.5; pick one for a
target sensitivity with :func:`threshold_for_sensitivity`). Multi-class tasks
report each class one-vs-rest plus the macro average (the unweighted mean over
classes); multi-label tasks report each label plus the macro average.

Point estimates come from scikit-learn; the intervals from the vectorised
bootstrap in :mod:`medlearn.metrics.bootstrap`. Only NumPy and scikit-learn.

Used in lesson 07.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from sklearn import metrics as skm

from medlearn.metrics import bootstrap as bs
from medlearn.metrics.medmnist import MetricsError, _prepare, medmnist_scores

__all__ = ["Estimate", "ClinicalReport", "clinical_report", "threshold_for_sensitivity", "confusion_matrix"]

RATE_NAMES = ("sensitivity", "specificity", "ppv", "npv", "f1")
AUC_NAMES = ("roc_auc", "pr_auc")


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A value with its bootstrap confidence interval ``[low, high]`` (NaN when undefined)."""

    value: float
    low: float
    high: float

    def __format__(self, spec):
        spec = spec or ".3f"
        return f"{self.value:{spec}} [{self.low:{spec}}, {self.high:{spec}}]"


def confusion_matrix(y_true, y_pred, n_classes: int | None = None) -> np.ndarray:
    """Counts (C, C): rows are the true class, columns the predicted class (scikit-learn's layout)."""
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    n = n_classes or int(max(y_true.max(initial=0), y_pred.max(initial=0)) + 1)
    return skm.confusion_matrix(y_true, y_pred, labels=np.arange(n))


def threshold_for_sensitivity(y_true, y_score, target: float = 0.9) -> float:
    """The highest threshold whose sensitivity reaches ``target`` (so specificity is as high as it can be).

    Predicting "positive" when ``score >= threshold`` then catches at least
    ``target`` of the positive cases on this data. Choose it on the
    *validation* split and apply it to the test split.

    Args:
        y_true: (N,) 0/1 labels (1 = disease).
        y_score: (N,) scores, higher = more likely positive (or (N, 2), last column used).
        target: the sensitivity to reach, in (0, 1].

    Returns:
        The threshold (a float taken from ``y_score``).

    Raises:
        MetricsError: ``target`` outside (0, 1] or no positive case in ``y_true``.

    Example:
        >>> threshold_for_sensitivity([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], target=1.0)
        0.35
    """
    if not 0 < float(target) <= 1:
        raise MetricsError(f"target must be a sensitivity in (0, 1]. Received: target={target!r}")
    _, y, s = _prepare(y_true, y_score, "binary")
    if not (y == 1).any():
        raise MetricsError("threshold_for_sensitivity needs at least one positive case (label 1) in y_true.")
    fpr, tpr, thresholds = skm.roc_curve(y, s, drop_intermediate=False)
    i = int(np.argmax(tpr >= float(target) - 1e-12))
    return float(thresholds[i])


@dataclasses.dataclass
class ClinicalReport:
    """The result of :func:`clinical_report`.

    Attributes:
        task: canonical task name.
        n: number of test cases.
        threshold: the decision threshold (binary / multi-label) or None (multi-class: argmax).
        summary: metric name -> :class:`Estimate` (binary: the positive class; otherwise macro averages)
            plus ``accuracy``.
        per_class: class/label name -> {metric name -> Estimate} (empty for binary).
        confusion: (C, C) counts for single-label tasks; (L, 2, 2) per-label matrices for multi-label.
        label_names: names of the classes (or labels).
        medmnist: ``{"acc", "auc"}`` computed as MedMNIST's evaluator does.
        level: the confidence level of the intervals.
        n_bootstrap: bootstrap replicates used.
        groups: with ``groups=``: group name -> {metric name -> Estimate} (the summary of that
            group's cases alone, same threshold); else empty.
        gaps: with ``groups=``: metric name -> ``{"gap", "best", "worst"}``, the largest difference
            between two groups' point estimates (always >= 0) and which groups they are.
    """

    task: str
    n: int
    threshold: float | None
    summary: dict
    per_class: dict
    confusion: np.ndarray
    label_names: list
    medmnist: dict
    level: float
    n_bootstrap: int
    groups: dict = dataclasses.field(default_factory=dict)
    gaps: dict = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain JSON-ready data: ``{"summary": {name: {"value", "low", "high"}}, ...}``."""
        est = lambda e: {"value": _num(e.value), "low": _num(e.low), "high": _num(e.high)}  # noqa: E731
        return {
            "task": self.task, "n": self.n, "threshold": self.threshold, "level": self.level,
            "n_bootstrap": self.n_bootstrap, "label_names": list(self.label_names),
            "summary": {k: est(v) for k, v in self.summary.items()},
            "per_class": {c: {k: est(v) for k, v in m.items()} for c, m in self.per_class.items()},
            "confusion": self.confusion.tolist(), "medmnist": dict(self.medmnist),
            "groups": {g: {k: est(v) for k, v in m.items()} for g, m in self.groups.items()},
            "gaps": {k: {**v, "gap": _num(v["gap"])} for k, v in self.gaps.items()},
        }

    def to_frame(self):
        """A pandas DataFrame: one row per metric (binary) or per class plus ``macro``."""
        import pandas as pd

        rows = {"macro" if self.per_class else "value": self.summary}
        rows.update(self.per_class)
        return pd.DataFrame({name: {k: e.value for k, e in m.items()} for name, m in rows.items()}).T

    def __str__(self) -> str:
        pct = int(round(self.level * 100))
        how = (f"threshold {self.threshold:.3f}" if self.threshold is not None else "argmax decision")
        lines = [f"Clinical report: {self.task}, {self.n} test cases, {how}, {pct}% bootstrap CI "
                 f"({self.n_bootstrap} resamples)"]
        if self.task == "binary":
            lines.append(f"positive class: {self.label_names[1]!r}")
        lines.append(f"  {'metric':<13}{'value':>7}   {pct}% CI")
        for k, e in self.summary.items():
            lines.append(f"  {k:<13}{e.value:7.3f}   [{e.low:.3f}, {e.high:.3f}]")
        if self.per_class:
            cols = [c for c in ("sensitivity", "specificity", "ppv", "npv", "f1", "roc_auc")]
            lines.append("  per class     " + "".join(f"{c[:11]:>12}" for c in cols))
            for name, m in self.per_class.items():
                lines.append(f"  {str(name)[:13]:<13} " + "".join(f"{m[c].value:12.3f}" for c in cols))
        if self.confusion.ndim == 2:
            lines.append("confusion matrix (rows = true, columns = predicted):")
            width = max(6, len(str(self.confusion.max())) + 2)
            for i, row in enumerate(self.confusion):
                lines.append(f"  {str(self.label_names[i])[:13]:<13}" + "".join(f"{v:{width}d}" for v in row))
        if self.groups:
            cols = ("sensitivity", "specificity", "ppv", "roc_auc")
            lines.append("  per group     " + "".join(f"{c[:11]:>20}" for c in cols))
            for name, m in self.groups.items():
                lines.append(f"  {str(name)[:13]:<13} " + "".join(f"{format(m[c], '.2f'):>20}" for c in cols))
            lines.append("  largest gap   " + "".join(
                f"{self.gaps[c]['gap']:>20.3f}" for c in cols))
        lines.append(f"MedMNIST evaluator: ACC {self.medmnist['acc']:.3f}  AUC {self.medmnist['auc']:.3f}")
        return "\n".join(lines)

    __repr__ = __str__


def _num(x):
    return None if x is None or not np.isfinite(x) else float(x)


def _one_vs_rest(positive, predicted, score, weights):
    """Rates and AUCs of one binary problem for the full set (row 0) and each bootstrap row."""
    out = bs.rates_from_counts(bs.weighted_counts(positive, predicted, weights))
    out["roc_auc"], out["pr_auc"] = bs.weighted_auc_pair(positive, score, weights)
    return out


def _point_estimates(positive, predicted, score):
    c = skm.confusion_matrix(positive.astype(int), predicted.astype(int), labels=[0, 1])
    tn, fp, fn, tp = c.ravel()
    out = {k: float(v) for k, v in bs.rates_from_counts({"tp": tp, "fp": fp, "fn": fn, "tn": tn}).items()}
    both = positive.any() and not positive.all()
    out["roc_auc"] = float(skm.roc_auc_score(positive, score)) if both else float("nan")
    out["pr_auc"] = float(skm.average_precision_score(positive, score)) if positive.any() else float("nan")
    return out


def clinical_report(y_true, y_score, task="binary", *, threshold: float = 0.5, label_names=None,
                    n_bootstrap: int = 1000, level: float = 0.95, seed: int = 0, groups=None) -> ClinicalReport:
    """Sensitivity, specificity, PPV, NPV, F1, accuracy, ROC-AUC and PR-AUC with bootstrap CIs.

    Args:
        y_true: (N,) / (N, 1) class indices, or (N, L) 0/1 for multi-label.
        y_score: predicted probabilities: (N,) or (N, 2) binary (last column = positive),
            (N, C) multi-class/ordinal, (N, L) multi-label.
        task: ``binary``, ``multi-class``, ``multi-label``, ``ordinal`` (MedMNIST spellings too).
        threshold: binary / multi-label decision rule ``score >= threshold`` (ignored for
            multi-class, which predicts the argmax).
        label_names: names of the classes (labels); default ``"0", "1", ...``.
        n_bootstrap: bootstrap replicates (0 = no intervals, NaN bounds).
        level: confidence level of the intervals, in (0, 1).
        seed: seed of the bootstrap.
        groups: optional (N,) group of each case (site, sex, age band ...): the report then also
            holds every metric per group, with its CI (``report.groups``), and the largest gap
            between two groups (``report.gaps``). Used in lesson 13.

    Returns:
        A :class:`ClinicalReport` (``print(report)`` shows the table).

    Raises:
        MetricsError: shapes that do not fit the task, bad ``level`` / ``n_bootstrap``, or
            ``groups`` whose length differs from the labels'.

    Example:
        >>> r = clinical_report([0, 0, 1, 1], [0.2, 0.6, 0.7, 0.9], "binary", n_bootstrap=0)
        >>> r.summary["sensitivity"].value, r.summary["specificity"].value
        (1.0, 0.5)
    """
    if not 0 < level < 1:
        raise MetricsError(f"level must be in (0, 1), e.g. 0.95. Received: level={level!r}")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer)) or n_bootstrap < 0:
        raise MetricsError(f"n_bootstrap must be an int >= 0. Received: n_bootstrap={n_bootstrap!r}")
    medmnist = _safe_medmnist(y_true, y_score, task)
    task, y, s = _prepare(y_true, y_score, task)
    n = len(y)
    if task == "binary":
        problems = {"positive": (y == 1, s >= threshold, s)}
        n_cls = 2
        pred = (s >= threshold).astype(int)
        confusion = confusion_matrix(y, pred, 2)
    elif task == "multi-label":
        n_cls = y.shape[1]
        problems = {j: (y[:, j] == 1, s[:, j] >= threshold, s[:, j]) for j in range(n_cls)}
        confusion = np.stack([confusion_matrix(y[:, j], (s[:, j] >= threshold).astype(int), 2)
                              for j in range(n_cls)])
    else:
        n_cls = s.shape[1]
        pred = np.argmax(s, axis=1)
        problems = {j: (y == j, pred == j, s[:, j]) for j in range(n_cls)}
        confusion = confusion_matrix(y, pred, n_cls)
        threshold = None
    names = [str(x) for x in (label_names if label_names is not None else range(n_cls))]
    if len(names) != n_cls:
        raise MetricsError(f"label_names has {len(names)} names for {n_cls} classes. Received: {label_names!r}")

    keys = RATE_NAMES + AUC_NAMES
    points = {j: _point_estimates(*p) for j, p in problems.items()}
    if task == "multi-label":
        acc_point = float(np.mean([points[j]["accuracy"] for j in problems]))
    elif task == "binary":
        acc_point = points["positive"]["accuracy"]
    else:
        acc_point = float(np.mean(pred == y))
    samples = {j: {k: [] for k in keys + ("accuracy",)} for j in problems}
    acc_samples = []
    rng = np.random.default_rng(seed)
    for W in bs.bootstrap_weights(n, n_bootstrap, rng):
        for j, p in problems.items():
            for k, v in _one_vs_rest(*p, W).items():
                samples[j][k].append(v)
        if task in ("multi-class", "ordinal"):
            acc_samples.append((W @ (pred == y).astype(float)) / n)
    cat = {j: {k: (np.concatenate(v) if v else np.array([])) for k, v in d.items()} for j, d in samples.items()}

    def estimate(point, draws):
        lo, hi = bs.percentile_interval(draws, level)
        return Estimate(float(point), lo, hi)

    if task == "binary":
        summary = {k: estimate(points["positive"][k], cat["positive"][k]) for k in keys}
        summary["accuracy"] = estimate(acc_point, cat["positive"]["accuracy"])
        per_class = {}
    else:
        per_class = {names[j]: {k: estimate(points[j][k], cat[j][k]) for k in keys} for j in problems}
        summary = {}
        for k in keys:
            draws = np.nanmean(np.stack([cat[j][k] for j in problems]), axis=0) if n_bootstrap else []
            summary[k] = estimate(np.nanmean([points[j][k] for j in problems]), draws)
        if task == "multi-label":
            acc_draws = np.mean(np.stack([cat[j]["accuracy"] for j in problems]), axis=0) if n_bootstrap else []
        else:
            acc_draws = np.concatenate(acc_samples) if acc_samples else []
        summary["accuracy"] = estimate(acc_point, acc_draws)
    by_group, gaps = {}, {}
    if groups is not None:
        by_group, gaps = _per_group(y_true, y_score, task, groups, n, dict(
            threshold=0.5 if threshold is None else threshold, label_names=label_names,
            n_bootstrap=n_bootstrap, level=level, seed=seed))
    return ClinicalReport(task=task, n=n, threshold=threshold, summary=summary, per_class=per_class,
                          confusion=confusion, label_names=names, medmnist=medmnist, level=level,
                          n_bootstrap=int(n_bootstrap), groups=by_group, gaps=gaps)


def _per_group(y_true, y_score, task, groups, n, kwargs):
    """Each group's summary (its cases alone) and the largest gap between two groups per metric."""
    g = np.asarray(groups).reshape(-1)
    if len(g) != n:
        raise MetricsError(f"groups needs one entry per case. Received {len(g)} groups for {n} cases")
    y_true, y_score = np.asarray(y_true), np.asarray(y_score)
    by_group = {str(k): clinical_report(y_true[g == k], y_score[g == k], task, **kwargs).summary
                for k in np.unique(g)}
    gaps = {}
    for metric in next(iter(by_group.values())):
        vals = {k: m[metric].value for k, m in by_group.items() if np.isfinite(m[metric].value)}
        if len(vals) < 2:
            gaps[metric] = {"gap": float("nan"), "best": None, "worst": None}
            continue
        best, worst = max(vals, key=vals.get), min(vals, key=vals.get)
        gaps[metric] = {"gap": float(vals[best] - vals[worst]), "best": best, "worst": worst}
    return by_group, gaps


def _safe_medmnist(y_true, y_score, task):
    try:
        return medmnist_scores(y_true, y_score, task)
    except MetricsError:  # an AUC undefined on this split (a class without cases): keep the report
        from medlearn.metrics.medmnist import medmnist_acc

        return {"acc": medmnist_acc(y_true, y_score, task), "auc": float("nan")}
