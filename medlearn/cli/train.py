"""``medlearn train``: train a reference model, print the clinical report, save figures, model and metrics.

    medlearn train                               # the embedded phantoms, the reference CNN
    medlearn train breastmnist --model resnet --json result.json
    medlearn train pneumoniamnist --time-budget 120 --out runs/pneumonia

Results go to ``--out`` (default: a fresh ``runs/<time>-<dataset>-<model>``
folder): ``curves.png``, ``confusion.png``, ``roc.png``, ``model.keras`` (takes
raw uint8 images: the scaling is inside the model), ``calibration.png`` (reliability diagram before/after
temperature scaling) and ``metrics.json``; ``--robustness`` adds ``robustness.png``.
``--json FILE`` writes one summary object whose ``acc`` and ``auc`` are
computed as MedMNIST's evaluator computes them (test split), next to the
best published ACC and AUC at the same image size (``benchmark``: MedMNIST v2 and MedMNIST+,
from :func:`medlearn.datasets.registry.best_published`) when the dataset has them. A figure that
is undefined (the AUC of a class with no positive test image, a NaN loss) is
written as JSON ``null``, never as a bare ``NaN`` (which is not JSON).

Keras, matplotlib and the data are imported inside :func:`run`, so
``medlearn --help`` stays instant.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from medlearn.cli._args import CliError, add_data_dir, number_type, write_json, writable_dir
from medlearn.models.builders import HEADS, MODELS

__all__ = ["register", "run", "DEFAULT_MODEL", "default_schedule"]

MODEL_CHOICES = MODELS  # the builders' registry: a new reference model is a --model choice
#: The model of the default recipe, for datasets without a recipe of their own (``--model`` picks another).
DEFAULT_MODEL = "cnn"
FIGURE_DPI = 160  # slide quality: a 5-inch figure is 800 pixels wide


def default_schedule(dataset: str) -> tuple[int | None, float | None]:
    """``(epochs, time_budget)`` for ``medlearn train`` without ``--epochs`` / ``--time-budget``.

    The phantoms train for a fixed number of epochs (8; 2 with MEDLEARN_FAST=1), so the
    README's first command gives the same figures on every machine, only faster or slower.
    MedMNIST datasets train against the clock: 120 s (20 s in fast mode), the benchmark's budget.
    """
    from medlearn.config import fast

    if dataset == "phantoms":
        return fast(8, 2), None
    return None, fast(120.0, 20.0)


def register(subparsers) -> None:
    """Add the ``train`` subcommand to the ``medlearn`` parser."""
    p = subparsers.add_parser(
        "train", help="train a reference model and print its clinical report",
        description="Train a reference model on a dataset, print the clinical report (sensitivity, "
                    "specificity, PPV, NPV, F1, ROC-AUC, PR-AUC with 95% CIs) and save figures, the "
                    "model and the metrics.")
    p.add_argument("dataset", nargs="?", default="phantoms",
                   help="'phantoms' (default, embedded) or a MedMNIST name such as breastmnist")
    p.add_argument("--model", choices=MODEL_CHOICES, default=None,
                   help="reference model (default: the dataset's recipe, listed below; another model keeps the "
                        "recipe's training options such as its ensemble)")
    p.add_argument("--ensemble", type=number_type(int, minimum=1), default=None, metavar="N",
                   help="train N models within the budget and average them (default: the recipe's)")
    p.add_argument("--head", choices=HEADS, default=None,
                   help="output head: auto (the task's sigmoid/softmax) or ordinal (ordered grades such as "
                        "RetinaMNIST's: one severity score and ordered cut-points)")
    p.add_argument("--size", type=int, default=28, help="MedMNIST image size: 28, 64, 128 or 224 (default 28)")
    p.add_argument("--epochs", type=number_type(int, minimum=1), default=None,
                   help="train for at most N epochs instead of a time budget")
    p.add_argument("--time-budget", type=number_type(float, minimum=0, strict=True), default=None,
                   metavar="SECONDS",
                   help="stop training after this many seconds (default: phantoms 8 epochs, MedMNIST "
                        "120 s; with MEDLEARN_FAST=1 2 epochs / 20 s)")
    add_data_dir(p)
    p.add_argument("--out", default=None, help="output folder (default: runs/<time>-<dataset>-<model>)")
    p.add_argument("--json", default=None, metavar="FILE", help="write a one-object JSON summary to FILE")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--bootstrap", type=number_type(int, minimum=0), default=None,
                   help="bootstrap resamples for the CIs (default 1000; 200 for test sets over 10 000 images)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch progress lines")
    p.add_argument("--robustness", action="store_true",
                   help="also score the test split under every corruption at severities 1-5 (robustness.png)")
    p.add_argument("--task", choices=("classification", "segmentation"), default="classification",
                   help="segmentation: train a U-Net on the lesion masks (phantoms only), print Dice/IoU and "
                        "detections, save segmentation.png (lesson 10)")
    p.epilog = recipes_help()
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.set_defaults(func=run)


def recipes_help() -> str:
    """The ``--help`` epilog: what ``medlearn train DATASET`` runs without options, per dataset."""
    from medlearn.train.recipes import DEFAULT_RECIPE, RECIPES

    lines = ["defaults per dataset (the recipe benchmarks/bench_accuracy.py found best on validation):"]
    lines += [f"  {name:<15} {r.name}: {r.why}" for name, r in sorted(RECIPES.items())]
    lines.append(f"  {'(others)':<15} {DEFAULT_RECIPE.name}: {DEFAULT_RECIPE.why}")
    return "\n".join(lines)


def resolve_recipe(dataset: str, model=None, ensemble=None, head=None) -> tuple[str, dict]:
    """``(recipe name, fit kwargs)`` for ``medlearn train``: the recipe, ``--model``/``--ensemble``/``--head`` applied.

    A ``--model`` other than the recipe's keeps the recipe's training options (``ensemble`` ...) but
    not its builder options (e.g. its head, which belongs to its model): :meth:`Recipe.kwargs`, as
    ``benchmarks/bench_accuracy.py --model`` does.
    """
    from medlearn.train.recipes import recipe_for

    recipe = recipe_for(dataset)
    kwargs = recipe.kwargs(model=model)
    name = recipe.name if kwargs["model"] == recipe.model else f"{kwargs['model']} ({recipe.name} options)"
    if ensemble is not None:
        kwargs["ensemble"] = int(ensemble)
        name = f"{name} (ensemble {ensemble})"
    if head is not None:
        if kwargs["model"] == "vit":
            raise CliError(f"--head {head} needs --model logreg, mlp, cnn or resnet (the ViT has its own head). "
                           "Received: --model vit")
        kwargs["head"] = head
        name = f"{name} (head {head})"
    return name, kwargs


def _load(dataset: str, size: int, data_dir):
    from medlearn.datasets import fetch_medmnist, info, load_phantoms
    from medlearn.datasets.registry import check_name

    name = check_name(dataset)
    kind = info(name)["kind"]
    if kind == "embedded":
        if size != 28:
            raise CliError(f"the phantoms exist at 28x28 only. Received: --size {size}")
        return load_phantoms()
    if kind != "medmnist":
        raise CliError(f"medlearn train needs an image dataset ('phantoms' or a MedMNIST name). "
                       f"Received: {dataset!r} (a {kind} dataset)")
    return fetch_medmnist(name, size=size, data_home=data_dir)


def _benchmark(entry: dict, size: int = 28) -> dict | None:
    """The best published test ACC and AUC at this image size (``published_benchmarks``), or None."""
    from medlearn.datasets.registry import best_published

    best = best_published(entry["name"], size) if entry.get("name") else {}
    if not best:
        return None
    return {"size": int(size), **{m: {"value": r[m], "source": r["source"], "model": r["model"]}
                                  for m, r in best.items()}}


def run(args) -> int:
    """Carry out ``medlearn train`` (see the module docstring). Returns the exit status."""
    dataset = str(args.dataset).strip().lower()
    recipe, fit_kwargs = resolve_recipe(dataset, args.model, getattr(args, "ensemble", None),
                                        getattr(args, "head", None))
    model = fit_kwargs["model"]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else Path("runs") / f"{stamp}-{dataset}-{model}"
    out = writable_dir(out.expanduser(), "--out")
    json_path = Path(args.json).expanduser() if args.json else None
    if json_path is not None:
        writable_dir(json_path.parent, "--json's folder")

    from medlearn.cli import _segment

    _segment.check_task(args, dataset)               # --task segmentation on MedMNIST: one line
    data = _load(dataset, args.size, args.data_dir)   # DatasetError (a MedlearnError) if unavailable
    from medlearn.diagnostics import backend_problem
    from medlearn.quiet import import_framework

    problem = backend_problem()   # KERAS_BACKEND=jax without jax: one line with the fix, not a traceback
    if problem:
        raise CliError(problem)
    from medlearn.train import fit

    try:
        import_framework()  # TensorFlow's native start-up log lines are not for learners
    except ImportError as exc:
        raise CliError(f"the Keras backend does not import ({type(exc).__name__}: {exc}). Fix: reinstall it, "
                       "e.g. `pip install --force-reinstall 'tensorflow>=2.16,<2.22'`, or pick another with "
                       "KERAS_BACKEND (see `medlearn doctor`).") from None

    epochs, budget = args.epochs, args.time_budget
    if epochs is None and budget is None:
        epochs, budget = default_schedule(dataset)
    if args.task == "segmentation":
        return _segment.run_segmentation(args, data, dataset, out, json_path, epochs or 200, budget)
    n_train = len(data.train.images)
    print(f"medlearn train: {dataset} ({n_train} train images, {data.task}), recipe {recipe}, "
          + (f"at most {epochs} epoch{'s' if epochs != 1 else ''}" if epochs else "")
          + (", " if epochs and budget else "") + (f"time budget {budget:.0f}s" if budget else ""),
          flush=True)
    result = fit(data, epochs=epochs, time_budget=budget, seed=args.seed, deterministic=False,
                 verbose=0 if args.quiet else 1, **fit_kwargs)
    n_boot = args.bootstrap if args.bootstrap is not None else (1000 if len(result.test_labels) <= 10_000 else 200)
    report = result.report("test", n_bootstrap=n_boot, seed=args.seed)
    print()
    print(report)
    files = _save(result, report, out)
    files += _segment.save_gradcam(result, data.test.images, out)    # lesson 09: where did it look?
    from medlearn.cli import _trust   # lesson 13: calibration always, corruptions with --robustness

    calibration, more = _trust.calibration_summary(result, out, what=f"{dataset} · {model}")
    files += more
    if calibration:
        print(f"calibration ({calibration['ece_bins']}): ECE {calibration['ece']:.3f} -> "
              f"{calibration['ece_temperature_scaled']:.3f} after temperature scaling (T = "
              f"{calibration['temperature']:.2f}); Brier {calibration['brier']:.3f}")
    robustness = None
    if getattr(args, "robustness", False):
        robustness, clean_auc, more = _trust.robustness_summary(result, data, out, seed=args.seed,
                                                                what=f"{dataset} · {model}")
        files += more
        print(_trust.robustness_table(robustness, clean_auc))
    bench = _benchmark(data.get("info") or {}, args.size)
    summary = {
        "dataset": dataset, "model": model, "recipe": recipe,
        "recipe_kwargs": {k: v for k, v in fit_kwargs.items() if k != "model"}, "size": args.size,
        "acc": report.medmnist["acc"], "auc": report.medmnist["auc"],
        "train_seconds": round(result.train_seconds, 2), "params": result.params,
        "epochs": result.epochs, "best_epoch": result.best_epoch, "stopped_by": result.stopped_by,
        "n_train": n_train, "n_test": int(report.n), "seed": args.seed, "out": str(out),
        "benchmark": bench, **calibration,
    }
    if robustness is not None:
        summary["robustness"] = robustness
    write_json(out / "metrics.json", {**summary, "report": report.to_dict(), "history": result.history})
    if json_path is not None:
        write_json(json_path, summary)
    line = f"test ACC {summary['acc']:.3f}  AUC {summary['auc']:.3f}"
    if bench:
        line += (f"   (best published {bench['size']}x{bench['size']}: ACC {bench['acc']['value']:.3f} "
                 f"{bench['acc']['source']} {bench['acc']['model']}, AUC {bench['auc']['value']:.3f} "
                 f"{bench['auc']['source']} {bench['auc']['model']})")
    print(f"\n{line}\ntrained {result.train_seconds:.1f}s, {result.params:,} parameters; saved "
          f"{', '.join(files)} and metrics.json to {out}")
    return 0


def _save(result, report, out: Path) -> list[str]:
    import matplotlib.pyplot as plt  # headless machines fall back to the Agg backend by themselves

    from medlearn import plots

    what = f"{result.dataset} · {result.model_name}"
    n_test = len(result.test_labels)
    threshold = getattr(report, "threshold", None)
    threshold = 0.5 if threshold is None and result.task == "binary" else threshold
    metrics = [m for m in ("loss", "auc") if m in result.history] or list(result.history)[:1]
    figures = {
        "curves.png": plots.training_curves(result, metrics=metrics,
                                            title=f"{what}: training ({result.epochs} epoch"
                                                  f"{'s' if result.epochs != 1 else ''})"),
        "roc.png": plots.plot_roc(result.test_labels, result.test_scores, task=result.task,
                                  label_names=result.label_names, mark_threshold=threshold,
                                  title=f"{what}: ROC on the test set ({n_test} images)"),
    }
    if report.confusion.ndim == 2:
        figures["confusion.png"] = plots.plot_confusion_matrix(
            report.confusion, label_names=report.label_names,
            threshold=threshold if report.confusion.shape == (2, 2) else None,
            title=f"{what}: {n_test} test images")
    for name, fig in figures.items():
        fig.savefig(out / name, dpi=FIGURE_DPI)
        plt.close(fig)
    result.model.save(out / "model.keras")
    return [*figures, "model.keras"]
