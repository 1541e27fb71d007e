"""``medlearn compress``: int8 (LiteRT) and pruned versions of a trained model, measured side by side.

    medlearn compress runs/breast/model.keras --dataset breastmnist --int8 --prune 0.7 --out runs/breast-small
    medlearn compress model.keras --dataset phantoms --int8 --out small --json small.json

For the original and each compressed model: file size on disk, latency on this machine at batch
1 and at a large batch (median of several runs), and the test split's ACC/AUC (as MedMNIST's
evaluator computes them) and sensitivity/specificity at the same threshold (0.5 / argmax). A
compressed model losing more than :data:`medlearn.compress.TOLERANCE` is reported as such.
``--json FILE`` writes ``{"original": {...}, "int8": {...}, "pruned": {...}}`` (those asked for),
each with ``size_bytes``, ``latency_ms_batch1``, ``latency_ms_batch``, ``acc``, ``auc``,
``sensitivity``, ``specificity`` and ``file``.

Keras, TensorFlow and the data are imported inside :func:`run`.
"""
from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

from medlearn.cli._args import CliError, add_data_dir, number_type, writable_dir, write_json

__all__ = ["register", "run"]

LARGE_BATCH = 256


def _sparsity_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a share of the weights in [0, 1), e.g. 0.5. Received: {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be a share of the weights in [0, 1), e.g. 0.5. Received: {text!r}")
    return value


def register(subparsers) -> None:
    """Add the ``compress`` subcommand to the ``medlearn`` parser."""
    p = subparsers.add_parser(
        "compress", help="int8-quantise and/or prune a trained model; compare size, latency and metrics",
        description="Quantise (full-integer int8 through LiteRT) and/or prune (global magnitude threshold + "
                    "short fine-tune) a model saved by `medlearn train`, then print size on disk, latency "
                    "(batch 1 and a large batch) and test metrics of the original and each compressed model.")
    p.add_argument("model", help="a Keras model file (.keras), e.g. the model.keras `medlearn train` saved")
    p.add_argument("--dataset", required=True, help="the dataset the model was trained on ('phantoms', breastmnist ...)")
    p.add_argument("--size", type=int, default=28, help="MedMNIST image size (default 28)")
    p.add_argument("--int8", action="store_true", help="full-integer int8 LiteRT model, calibrated on training images")
    p.add_argument("--prune", type=_sparsity_arg, default=None, metavar="SPARSITY",
                   help="prune this share of the kernel weights (in [0, 1)), then fine-tune briefly")
    p.add_argument("--fine-tune-epochs", type=number_type(int, minimum=0), default=None,
                   help="epochs of fine-tuning after pruning (default 2; 1 with MEDLEARN_FAST=1)")
    add_data_dir(p)
    p.add_argument("--out", required=True, help="folder for the compressed models")
    p.add_argument("--json", default=None, metavar="FILE", help="write the figures as JSON to FILE")
    p.add_argument("--seed", type=int, default=42, help="random seed (calibration images, fine-tune)")
    p.set_defaults(func=run)


def _load_model(path: Path):
    import keras

    import medlearn.models.vit  # noqa: F401  (registers the ViT's layers for loading)

    if not path.is_file():
        raise CliError(f"MODEL must be a Keras model file. Received: {str(path)!r} (no such file)")
    if not zipfile.is_zipfile(path):
        raise CliError(f"MODEL is not a Keras model (.keras is a zip archive with config.json). Received: "
                       f"{str(path)!r}. Fix: pass the model.keras that `medlearn train` saved.")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types for a bad archive
        raise CliError(f"MODEL is not a Keras model Keras can load ({type(exc).__name__}: "
                       f"{str(exc).splitlines()[0][:200]}). Received: {str(path)!r}") from None
    if not isinstance(model, keras.Model):
        raise CliError(f"MODEL must hold a keras.Model. Received: {type(model).__name__} in {str(path)!r}")
    return model


def _row(name, size, batch1, batch, metrics, file, **extra):
    return {"size_bytes": int(size), "latency_ms_batch1": round(batch1, 3), "latency_ms_batch": round(batch, 3),
            **{k: round(v, 4) for k, v in metrics.items()}, "file": str(file), **extra}


def run(args) -> int:
    """Carry out ``medlearn compress`` (see the module docstring). Returns the exit status."""
    if not args.int8 and args.prune is None:
        raise CliError("nothing to do: ask for --int8, --prune SPARSITY or both. Received neither.")
    out = writable_dir(Path(args.out).expanduser(), "--out")
    json_path = Path(args.json).expanduser() if args.json else None
    if json_path is not None:
        writable_dir(json_path.parent, "--json's folder")

    from medlearn.cli.train import _load
    from medlearn.quiet import import_framework

    data = _load(str(args.dataset).strip().lower(), args.size, args.data_dir)
    import_framework()
    import numpy as np

    from medlearn import compress as C
    from medlearn.config import fast
    from medlearn.models import encode_labels, output_spec

    model = _load_model(Path(args.model).expanduser())
    x_test = C.model_input(model, data.test.images)            # CompressError if the images do not fit
    y_test = np.asarray(data.test.labels)
    x_train = C.model_input(model, data.train.images)
    task = data.task
    units = int(model.output_shape[-1])
    rng = np.random.default_rng(args.seed)
    big = x_test[:LARGE_BATCH] if len(x_test) >= LARGE_BATCH else np.resize(x_test, (LARGE_BATCH, *x_test.shape[1:]))
    one = x_test[:1]
    results, reference, notes = {}, {}, []

    original = C.plain_copy(model)
    orig_file = out / "original.keras"
    original.save(orig_file)
    predict = C.keras_predictor(original)
    p = np.concatenate([predict(x_test[i:i + 512]) for i in range(0, len(x_test), 512)])
    base = C.evaluate(y_test, p, task)
    results["original"] = _row("original", orig_file.stat().st_size, C.latency_ms(predict, one),
                               C.latency_ms(predict, big), base, orig_file,
                               size_bytes_zipped=C.file_sizes(orig_file)["compressed"])

    if args.int8:
        calib = x_train[rng.choice(len(x_train), size=min(256, len(x_train)), replace=False)]
        file = out / "int8.tflite"
        C.to_litert(model, calib, int8=True, path=file)
        lite = C.LiteRTModel(file)
        q_one, q_big = lite.quantize_input(one), lite.quantize_input(big)
        metrics = C.evaluate(y_test, lite.predict(x_test), task)
        results["int8"] = _row("int8", file.stat().st_size, C.latency_ms(lambda _: lite.invoke(q_one), one),
                               C.latency_ms(lambda _: lite.invoke(q_big), big), metrics, file)
        # the same runtime without quantisation: what of the speed-up is LiteRT, what is int8
        flat = C.to_litert(model, int8=False)
        ref = C.LiteRTModel(flat)
        reference["litert-f32"] = _row("litert-f32", len(flat),
                                       C.latency_ms(lambda _: ref.invoke(one), one),
                                       C.latency_ms(lambda _: ref.invoke(big), big),
                                       C.evaluate(y_test, ref.predict(x_test), task), "(not written)")
        _, names = C.keras_int8(model)
        notes.append(f"Keras' own model.quantize('int8') supports {len(names)} of this model's layers"
                     + (f" ({', '.join(names[:4])}{' ...' if len(names) > 4 else ''})" if names else "")
                     + "; LiteRT quantises every Conv2D/Dense and the activations.")

    if args.prune is not None:
        pruned = C.plain_copy(model)
        masks = C.prune(pruned, args.prune)
        epochs = args.fine_tune_epochs if args.fine_tune_epochs is not None else fast(2, 1)
        if epochs:
            n_classes = 2 if units == 1 else units
            targets = encode_labels(data.train.labels, task, n_classes)
            C.fine_tune(pruned, masks, x_train, targets, epochs=epochs, loss=output_spec(task, n_classes).loss)
        file = out / "pruned.keras"
        clean = C.plain_copy(pruned)                          # no optimizer state in the file
        clean.save(file)
        sizes = C.file_sizes(file)
        predict = C.keras_predictor(clean)
        p = np.concatenate([predict(x_test[i:i + 512]) for i in range(0, len(x_test), 512)])
        metrics = C.evaluate(y_test, p, task)
        results["pruned"] = _row("pruned", sizes["dense"], C.latency_ms(predict, one), C.latency_ms(predict, big),
                                 metrics, file, size_bytes_zipped=sizes["compressed"],
                                 sparsity=round(C.sparsity(clean), 4), fine_tune_epochs=int(epochs))
        notes.append(f"pruned: {C.sparsity(clean):.0%} of the kernel weights are zero, yet the dense file is "
                     f"{sizes['dense'] / results['original']['size_bytes']:.0%} of the original's; zipped "
                     f"{sizes['compressed']:,} B vs the original zipped {results['original']['size_bytes_zipped']:,} B. "
                     "Dense kernels run at dense speed: latency does not drop without sparse kernels.")

    _print_table(results, reference, base, len(y_test), args, notes)
    if json_path is not None:
        write_json(json_path, results)
    return 0


def _print_table(results, reference, base, n_test, args, notes) -> None:
    from medlearn.compress import TOLERANCE, within_tolerance

    print(f"medlearn compress: {args.model} on {args.dataset} ({n_test} test images, threshold 0.5 / argmax); "
          f"latency batch 1 and {LARGE_BATCH}, median of 7 runs")
    head = f"{'model':10s} {'size':>11s} {'x smaller':>9s} {'ms b=1':>8s} {'ms b=' + str(LARGE_BATCH):>9s} " \
           f"{'ACC':>6s} {'AUC':>6s} {'sens':>6s} {'spec':>6s}  file"
    print(head)
    print("-" * len(head))
    orig = results["original"]["size_bytes"]
    for name, row in {**results, **reference}.items():
        print(f"{name:10s} {row['size_bytes']:>11,d} {orig / row['size_bytes']:>9.2f} {row['latency_ms_batch1']:>8.2f} "
              f"{row['latency_ms_batch']:>9.2f} {row['acc']:>6.3f} {row['auc']:>6.3f} {row['sensitivity']:>6.3f} "
              f"{row['specificity']:>6.3f}  {row['file']}")
    if reference:
        notes.insert(0, "litert-f32: the float model in the same runtime, for reference (not in --json): it "
                        "separates what the runtime saves from what int8 saves.")
    for note in notes:
        print(note)
    for name, row in results.items():
        if name == "original":
            continue
        lost = within_tolerance(base, row)
        if lost:
            print(f"{name}: LOSES MORE THAN THE TOLERANCE on " + ", ".join(
                f"{k.upper()} ({base[k]:.3f} -> {row[k]:.3f}, tolerance {TOLERANCE[k]})" for k in lost))
        else:
            print(f"{name}: within tolerance (ACC and AUC each lose at most {TOLERANCE['acc']})")
