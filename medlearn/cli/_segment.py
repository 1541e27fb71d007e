"""``medlearn train --task segmentation`` and the ``gradcam.png`` of classification runs.

Kept out of :mod:`medlearn.cli.train` so that module stays about classification; it calls
:func:`run_segmentation` and :func:`save_gradcam`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from medlearn.cli._args import CliError, write_json

__all__ = ["TASK_CHOICES", "check_task", "run_segmentation", "save_gradcam"]

TASK_CHOICES = ("classification", "segmentation")


def check_task(args, dataset: str) -> None:
    """``--task segmentation`` needs masks: only the phantoms have them (one line otherwise)."""
    if getattr(args, "task", "classification") != "segmentation":
        return
    from medlearn.datasets import info
    from medlearn.datasets.registry import check_name

    kind = info(check_name(dataset))["kind"]
    if kind != "embedded":
        raise CliError(f"--task segmentation needs a lesion mask per image, and {dataset} has none ({kind} "
                       f"datasets give one label per image). Received: {dataset} --task segmentation. "
                       "Fix: `medlearn train phantoms --task segmentation`.")
    if args.model not in (None, "cnn", "unet"):
        raise CliError(f"--task segmentation trains a U-Net. Received: --model {args.model}. Fix: leave --model out.")


def run_segmentation(args, data, dataset: str, out: Path, json_path, epochs, budget) -> int:
    """Train the U-Net, print Dice/IoU with CIs and the detection figures, save the figure, model and JSON."""
    import matplotlib.pyplot as plt

    from medlearn.metrics.segmentation import dice, segmentation_report
    from medlearn.plots import plot_segmentation, training_curves
    from medlearn.train.segmentation import fit_segmentation, lesion_truth

    print(f"medlearn train: {dataset} ({len(data.train.images)} train images, segmentation), model unet, "
          f"at most {epochs} epoch{'s' if epochs != 1 else ''}" + (f", time budget {budget:.0f}s" if budget else ""),
          flush=True)
    result = fit_segmentation(data, epochs=epochs, time_budget=budget, seed=args.seed,
                              verbose=0 if args.quiet else 1, name=dataset)
    centres, radii = lesion_truth(data, "test")
    n_boot = args.bootstrap if args.bootstrap is not None else 1000
    report = segmentation_report(result.test_masks, result.test_probs, true_centres=centres, true_radii=radii,
                                 n_bootstrap=n_boot, seed=args.seed)
    print()
    print(report)
    lesion = np.flatnonzero(result.test_masks.reshape(len(result.test_masks), -1).any(axis=1))[:8]
    figures = {
        "segmentation.png": plot_segmentation(result.test_images[lesion], result.test_masks[lesion],
                                              result.test_probs[lesion], n=8,
                                              dice=dice(result.test_masks[lesion], result.test_probs[lesion]),
                                              title=f"{dataset} · unet: test images with a lesion"),
        "curves.png": training_curves(result.history, metrics=("loss",)),
    }
    for name, fig in figures.items():
        fig.savefig(out / name, dpi=160)
        plt.close(fig)
    # Saved with a plain BCE compile config, so keras.saving.load_model opens it without medlearn's loss class.
    import keras

    result.model.compile(optimizer="adam", loss="binary_crossentropy")
    result.model.save(out / "model.keras")
    d = report.to_dict()
    summary = {
        "dataset": dataset, "task": "segmentation", "model": "unet",
        "dice": d["dice"]["value"], "iou": d["iou"]["value"], "dice_ci": [d["dice"]["low"], d["dice"]["high"]],
        "iou_ci": [d["iou"]["low"], d["iou"]["high"]], "dice_lesion": d["dice_lesion"],
        "detection_sensitivity": d["detection_sensitivity"]["value"],
        "false_positives_per_image": d["false_positives_per_image"]["value"],
        "centre_error": d["centre_error"], "train_seconds": round(result.train_seconds, 2),
        "params": result.params, "epochs": result.epochs, "n_train": len(data.train.images),
        "n_test": report.n, "seed": args.seed, "out": str(out), "keras_backend": keras.config.backend(),
    }
    write_json(out / "metrics.json", {**summary, "report": d, "history": result.history})
    if json_path is not None:
        write_json(json_path, summary)
    print(f"\ntest Dice {summary['dice']:.3f}  IoU {summary['iou']:.3f}  (images with a lesion: Dice "
          f"{summary['dice_lesion']:.3f}); detection sensitivity {summary['detection_sensitivity']:.3f}, "
          f"{summary['false_positives_per_image']:.3f} false positives per image\n"
          f"trained {result.train_seconds:.1f}s, {result.params:,} parameters; saved "
          f"{', '.join(figures)}, model.keras and metrics.json to {out}")
    return 0


def save_gradcam(result, test_images, out: Path, n: int = 16) -> list[str]:
    """``gradcam.png``: Grad-CAM of the predicted class on test images, with true and predicted labels.

    Returns ``["gradcam.png"]``, or ``[]`` (with one printed line) for a model Grad-CAM cannot
    explain (no convolution: the MLP / logistic regression).
    """
    import matplotlib.pyplot as plt

    from medlearn.explain import ExplainError, grad_cam
    from medlearn.plots import plot_saliency

    if test_images is None or result.test_scores is None:
        return []
    images = np.asarray(test_images)[:n]
    scores = np.asarray(result.test_scores)[:n]
    predicted = (scores >= 0.5).astype(int) if scores.ndim == 1 else np.argmax(scores, axis=1)
    try:
        # an ensemble averages networks with their own convolutions: explain its first member
        maps = grad_cam(result.members[0] if result.members else result.model, images, class_index=predicted)
    except ExplainError as exc:
        print(f"gradcam.png skipped: {exc}")
        return []
    labels = np.asarray(result.test_labels).reshape(len(result.test_labels), -1)[:n, 0]
    fig = plot_saliency(images, maps, labels=labels if result.task != "multi-label" else None,
                        predictions=predicted if result.task != "multi-label" else None,
                        label_names=result.label_names, n=n, cols=8,
                        title=f"{result.dataset} · {result.model_name}: Grad-CAM of the predicted class"
                              + (f" (member 1 of {len(result.members)})" if result.members else ""))
    fig.savefig(out / "gradcam.png", dpi=160)
    plt.close(fig)
    return ["gradcam.png"]
