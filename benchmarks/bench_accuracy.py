#!/usr/bin/env python3
"""Reference recipes vs every published result: test ACC / AUC over seeds, training time, per dataset.

For every MedMNIST 2D dataset present in the data folder (nothing is downloaded),
train the dataset's recipe (:func:`medlearn.train.recipes.recipe_for`, exactly what
``medlearn train DATASET`` runs; ``--model`` replaces only its model) once per seed
within a wall-clock budget, and report

* per seed: test ACC and AUC as MedMNIST's evaluator computes them, training seconds;
* per dataset: the mean over seeds, its spread (sample std, min-max), training seconds
  (mean, max, every run within the budget?), next to EVERY published entry
  (:func:`medlearn.datasets.registry.published_benchmarks`: MedMNIST v2's seven rows and
  MedMNIST+'s best 28x28 figures, each marked with the image size it was trained at),
  and per metric the ratio of our mean to the best 28x28 entry and whether it is at/above it.

A readable table goes first, then one JSON object (``rows``, ``summary`` per dataset).

    MEDLEARN_DATA=/path/to/npz python benchmarks/bench_accuracy.py            # seeds 42-47, 120 s each
    python benchmarks/bench_accuracy.py --data-dir /tmp/data --budget 10 --seeds 42 43
    python benchmarks/bench_accuracy.py --datasets retinamnist --model resnet

The goal (issue 16): on a 2-core CPU, at most 120 s of training per run, a mean over six
seeds at or above the best published 28x28 entry for each metric.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

DEFAULT_SEEDS = (42, 43, 44, 45, 46, 47)
METRICS = ("acc", "auc")


def present(data_dir, names):
    """The names among ``names`` whose 28x28 MedMNIST file is in the data folder."""
    from medlearn.datasets import scan_data_folder
    from medlearn.datasets.registry import medmnist_filenames

    known = medmnist_filenames()
    have = {known[f][0] for f, status in scan_data_folder(data_dir)
            if f in known and known[f][1] == 28 and status in ("verified", "unverified")}
    return [n for n in names if n in have]


def make_row(dataset, recipe, model, seed, scores, train_seconds, budget, **extra):
    """One run's row: the recipe's name, model, seed, test ACC/AUC, training seconds (+ ``extra``)."""
    return {"dataset": dataset, "recipe": recipe, "model": model, "seed": int(seed),
            "acc": round(float(scores["acc"]), 4), "auc": round(float(scores["auc"]), 4),
            "train_seconds": round(float(train_seconds), 1), "budget_s": budget,
            "within_budget": budget is None or float(train_seconds) <= float(budget), **extra}


def spread(values):
    """``{"mean", "std", "min", "max", "n"}`` of finite floats (std: sample, ddof=1; 0.0 for one value)."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not xs:
        return {"mean": None, "std": None, "min": None, "max": None, "n": 0}
    mean = sum(xs) / len(xs)
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return {"mean": round(mean, 4), "std": round(std, 4), "min": round(min(xs), 4), "max": round(max(xs), 4),
            "n": len(xs)}


def compare(mean, published, metric, size=28):
    """Our ``mean`` against the best published ``metric`` among entries trained at ``size``.

    Returns:
        ``{"value", "source", "model", "ratio", "at_or_above"}`` or None when no entry has that size.
    """
    pool = [r for r in published if r["size"] == size]
    if not pool:
        return None
    best = max(pool, key=lambda r: r[metric])
    ratio = None if mean is None else round(mean / best[metric], 4)
    return {"value": best[metric], "source": best["source"], "model": best["model"], "ratio": ratio,
            "at_or_above": mean is not None and mean >= best[metric]}


def summarize_dataset(rows, published, budget):
    """The per-dataset summary of one dataset's rows (see the module docstring)."""
    first = rows[0]
    out = {"dataset": first["dataset"], "recipe": first["recipe"], "model": first["model"],
           "seeds": [r["seed"] for r in rows], "budget_s": budget}
    for m in METRICS:
        out[m] = spread(r[m] for r in rows)
    secs = [r["train_seconds"] for r in rows]
    out["train_seconds"] = {"mean": round(sum(secs) / len(secs), 1), "max": max(secs)}
    out["all_within_budget"] = all(r["within_budget"] for r in rows)
    out["published"] = [{k: p[k] for k in ("source", "model", "size", "acc", "auc")} | {"at_28": p["size"] == 28}
                        for p in published]
    out["best_28"] = {m: compare(out[m]["mean"], published, m) for m in METRICS}
    verdicts = [c["at_or_above"] for c in out["best_28"].values() if c is not None]
    out["at_or_above_best_28"] = bool(verdicts) and all(verdicts)
    return out


def summarize(rows, budget, published_for=None):
    """``{dataset: summary}`` over all rows, in the order datasets first appear.

    Args:
        rows: rows of :func:`make_row`.
        budget: the training budget in seconds (None: no clock).
        published_for: ``name -> list of published rows`` (default
            :func:`medlearn.datasets.registry.published_benchmarks`).
    """
    if published_for is None:
        from medlearn.datasets.registry import published_benchmarks as published_for
    by = {}
    for r in rows:
        by.setdefault(r["dataset"], []).append(r)
    return {name: summarize_dataset(rs, published_for(name), budget) for name, rs in by.items()}


def _f(v, spec=".4f"):
    return "-" if v is None else format(v, spec)


def format_table(rows, summaries):
    """The readable report: per-seed rows, then per dataset the mean, spread and every published entry."""
    lines = []
    head = f"{'dataset':<16}{'recipe':<14}{'seed':>5}{'ACC':>9}{'AUC':>9}{'train s':>9}{'epochs':>8}"
    lines += [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['dataset']:<16}{r['recipe']:<14}{r['seed']:>5}{r['acc']:9.4f}{r['auc']:9.4f}"
                     f"{r['train_seconds']:9.1f}{r.get('epochs', '-'):>8}")
    for name, s in summaries.items():
        a, u, t = s["acc"], s["auc"], s["train_seconds"]
        budget = "no budget" if s["budget_s"] is None else f"budget {s['budget_s']:g} s"
        lines += ["", f"== {name}: recipe {s['recipe']} (model {s['model']}), {a['n']} seed(s) {s['seeds']}",
                  f"   ours   ACC {_f(a['mean'])} ± {_f(a['std'])} ({_f(a['min'])}-{_f(a['max'])})   "
                  f"AUC {_f(u['mean'])} ± {_f(u['std'])} ({_f(u['min'])}-{_f(u['max'])})",
                  f"   training s: mean {t['mean']:.1f}, max {t['max']:.1f}; {budget}: "
                  f"{'every run within' if s['all_within_budget'] else 'NOT every run within'}",
                  f"   {'published (source / model)':<52}{'size':>5}{'ACC':>8}{'AUC':>8}{'ours-ACC':>10}{'ours-AUC':>10}"]
        for p in s["published"]:
            d_acc = None if a["mean"] is None else a["mean"] - p["acc"]
            d_auc = None if u["mean"] is None else u["mean"] - p["auc"]
            label = f"{p['source']} / {p['model']}"
            lines.append(f"   {label:<52}{p['size']:>4}{'*' if p['at_28'] else ' '}{p['acc']:8.4f}{p['auc']:8.4f}"
                         f"{_f(d_acc, '+10.4f'):>10}{_f(d_auc, '+10.4f'):>10}")
        if not s["published"]:
            lines.append("   (no published figures for this dataset)")
        for m in METRICS:
            c = s["best_28"][m]
            if c is not None:
                lines.append(f"   {m.upper()}: ours / best 28x28 ({c['source']} {c['model']}, {c['value']:.4f}) = "
                             f"{_f(c['ratio'])}  {'AT/ABOVE' if c['at_or_above'] else 'below'}")
        lines.append("   (* = trained at 28x28)")
    return "\n".join(lines)


def parse_args(argv=None):
    from medlearn.datasets import list_datasets
    from medlearn.models.builders import MODELS

    all_names = list_datasets("medmnist")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=None, help="data folder (default: MEDLEARN_DATA or the user cache)")
    p.add_argument("--datasets", nargs="*", default=all_names, choices=all_names, metavar="NAME")
    p.add_argument("--model", default=None, choices=sorted(MODELS),
                   help="replace the recipe's model (default: each dataset's recipe, as medlearn train)")
    p.add_argument("--budget", type=float, default=120.0, help="training seconds per run (default 120)")
    p.add_argument("--seeds", type=int, nargs="*", default=list(DEFAULT_SEEDS),
                   help="one run per seed (default 42-47)")
    p.add_argument("--verbose", action="store_true", help="per-epoch lines")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from medlearn.datasets import fetch_medmnist
    from medlearn.quiet import import_framework
    from medlearn.train import fit
    from medlearn.train.recipes import recipe_for

    import_framework()  # keep TensorFlow's native start-up lines out of the table
    names = present(args.data_dir, args.datasets)
    if not names:
        print("no MedMNIST 28x28 file in the data folder; put e.g. breastmnist.npz there "
              "(`medlearn data list` shows the names) or set MEDLEARN_DATA.", file=sys.stderr)
        return 1
    rows = []
    for name in names:
        data = fetch_medmnist(name, data_home=args.data_dir, download=False, progress=False)
        recipe = recipe_for(name)
        kwargs = recipe.kwargs(model=args.model)
        for seed in args.seeds:
            t0 = time.perf_counter()
            result = fit(data, time_budget=args.budget, seed=seed, deterministic=False,
                         verbose=1 if args.verbose else 0, **kwargs)
            row = make_row(name, recipe.name, str(kwargs.get("model", recipe.model)), seed, result.scores("test"),
                           result.train_seconds, args.budget, epochs=result.epochs, best_epoch=result.best_epoch,
                           params=result.params, total_seconds=round(time.perf_counter() - t0, 1))
            rows.append(row)
            print(f"{name} seed {seed}: ACC {row['acc']:.4f}  AUC {row['auc']:.4f}  "
                  f"({row['train_seconds']:.1f} s training)", file=sys.stderr, flush=True)
    summaries = summarize(rows, args.budget)
    print(format_table(rows, summaries))
    print(json.dumps({"benchmark": "bench_accuracy", "budget_s": args.budget, "seeds": args.seeds,
                      "rows": rows, "summary": summaries}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
