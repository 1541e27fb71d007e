#!/usr/bin/env python3
"""Reference models vs the MedMNIST v2 benchmark: test ACC / AUC and training time per dataset.

For every MedMNIST 2D dataset present in the data folder (nothing is
downloaded), train ``medlearn train``'s default model (the reference CNN) or ``--model``
within a wall-clock budget and print its test ACC and AUC - computed as
MedMNIST's own evaluator computes them - beside the published ResNet-18 (28)
figures, then the same rows as JSON.

    MEDLEARN_DATA=/path/to/npz python benchmarks/bench_accuracy.py
    python benchmarks/bench_accuracy.py --budget 120 --datasets breastmnist pneumoniamnist
    python benchmarks/bench_accuracy.py --model resnet --seeds 42 43 44

A goal, not a test: on a 2-core CPU with at most 2 minutes of training per dataset,
match or beat ResNet-18 (28).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _present(data_dir, names):
    from medlearn.datasets import scan_data_folder
    from medlearn.datasets.registry import medmnist_filenames

    known = medmnist_filenames()
    have = {known[f][0] for f, status in scan_data_folder(data_dir)
            if f in known and known[f][1] == 28 and status in ("verified", "unverified")}
    return [n for n in names if n in have]


def main(argv=None) -> int:
    from medlearn.datasets import fetch_medmnist, info, list_datasets
    from medlearn.cli.train import DEFAULT_MODEL

    all_names = list_datasets("medmnist")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=None, help="data folder (default: MEDLEARN_DATA or the user cache)")
    p.add_argument("--datasets", nargs="*", default=all_names, choices=all_names, metavar="NAME")
    p.add_argument("--model", default=None, choices=("logreg", "mlp", "cnn", "resnet"),
                   help=f"the model (default: {DEFAULT_MODEL}, as medlearn train)")
    p.add_argument("--budget", type=float, default=120.0, help="training seconds per dataset (default 120)")
    p.add_argument("--seeds", type=int, nargs="*", default=[42], help="one run per seed (default 42)")
    p.add_argument("--verbose", action="store_true", help="per-epoch lines")
    args = p.parse_args(argv)

    from medlearn.quiet import import_framework
    from medlearn.train import fit

    import_framework()  # keep TensorFlow's native start-up lines out of the table
    names = _present(args.data_dir, args.datasets)
    if not names:
        print("no MedMNIST 28x28 file in the data folder; put e.g. breastmnist.npz there "
              "(`medlearn data list` shows the names) or set MEDLEARN_DATA.", file=sys.stderr)
        return 1
    rows = []
    head = f"{'dataset':<16}{'model':<8}{'seed':>5}{'ACC':>8}{'AUC':>8}   {'ResNet-18 (28)':>15}  {'dACC':>7}{'dAUC':>7}{'train s':>9}{'epochs':>7}"
    print(head)
    print("-" * len(head))
    for name in names:
        data = fetch_medmnist(name, data_home=args.data_dir, download=False, progress=False)
        ref = info(name).get("benchmark_test_medmnist_v2", {}).get("ResNet-18 (28)", {})
        model = args.model or DEFAULT_MODEL
        for seed in args.seeds:
            t0 = time.perf_counter()
            result = fit(data, model=model, time_budget=args.budget, seed=seed, deterministic=False,
                         verbose=1 if args.verbose else 0)
            s = result.scores("test")
            row = {"dataset": name, "model": model, "seed": seed, "acc": round(s["acc"], 4),
                   "auc": round(s["auc"], 4), "ref_acc": ref.get("ACC"), "ref_auc": ref.get("AUC"),
                   "train_seconds": round(result.train_seconds, 1), "epochs": result.epochs,
                   "best_epoch": result.best_epoch, "averaged_epochs": result.averaged_epochs,
                   "params": result.params,
                   "total_seconds": round(time.perf_counter() - t0, 1)}
            rows.append(row)
            d_acc = f"{row['acc'] - ref['ACC']:+7.3f}" if ref else "      -"
            d_auc = f"{row['auc'] - ref['AUC']:+7.3f}" if ref else "      -"
            ref_txt = f"{ref['ACC']:.3f}/{ref['AUC']:.3f}" if ref else "-"
            print(f"{name:<16}{model:<8}{seed:>5}{row['acc']:8.3f}{row['auc']:8.3f}   {ref_txt:>15}  {d_acc}{d_auc}"
                  f"{row['train_seconds']:9.1f}{row['epochs']:7d}", flush=True)
    print(json.dumps({"benchmark": "bench_accuracy", "budget_s": args.budget, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
