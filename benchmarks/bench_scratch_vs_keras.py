#!/usr/bin/env python
"""One training epoch of the NumPy MLP (medlearn.scratch) vs the same MLP in Keras, on the CPU.

Same data (the standardised breast-cancer training set, repeated ``--repeat`` times), same
architecture (30 -> hidden ReLU -> 1 logit), same initial weights, same optimiser (SGD with
momentum), same batch size. Each framework trains ``--epochs`` epochs; the first Keras epoch
(graph tracing) is reported separately and the median of the others is compared. Both are
measured side by side in one run, because the machines are shared and noisy.

Prints one JSON object. ``ratio_keras_over_scratch`` > 1 means the NumPy engine is faster per
epoch (typical for a network this small: Keras pays a fixed cost per batch).

Usage:
    python benchmarks/bench_scratch_vs_keras.py [--epochs 6] [--repeat 10] [--hidden 16] [--batch-size 32]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")          # CPU only, for both
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402


def load_data(repeat: int):
    from sklearn.model_selection import train_test_split

    from medlearn.datasets import load_breast_cancer

    X, target = load_breast_cancer(return_X_y=True)
    y = (target == 0).astype(np.float64)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    X_train = (X_train - X_train.mean(axis=0)) / X_train.std(axis=0)
    return np.tile(X_train, (repeat, 1)), np.tile(y_train, repeat)[:, None]


def bench_scratch(X, y, hidden, batch_size, epochs, lr, momentum, dtype):
    from medlearn import scratch

    net = scratch.MLP([X.shape[1], hidden, 1], activation="relu", seed=0, dtype=dtype)
    initial = {k: v.copy() for k, v in net.parameters().items()}
    loss, opt = scratch.BinaryCrossEntropy(), scratch.SGD(lr, momentum=momentum)
    X, y = X.astype(dtype), y.astype(dtype)
    rng = np.random.default_rng(0)
    times, losses = [], []
    for _ in range(epochs):
        start = time.perf_counter()
        losses.append(scratch.train_epoch(net, loss, opt, X, y, batch_size=batch_size, seed=rng))
        times.append(time.perf_counter() - start)
    return initial, times, losses


def bench_keras(X, y, hidden, batch_size, epochs, lr, momentum, initial):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((X.shape[1],)), keras.layers.Dense(hidden, activation="relu"),
                              keras.layers.Dense(1)])
    model.set_weights([initial["W1"], initial["b1"], initial["W2"], initial["b2"]])
    model.compile(optimizer=keras.optimizers.SGD(lr, momentum=momentum),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True))
    times, starts = [], {}
    timer = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: starts.__setitem__(epoch, time.perf_counter()),
        on_epoch_end=lambda epoch, logs: times.append(time.perf_counter() - starts[epoch]))
    history = model.fit(X.astype("float32"), y.astype("float32"), batch_size=batch_size, epochs=epochs,
                        shuffle=True, verbose=0, callbacks=[timer])
    return times, history.history["loss"], keras.backend.backend(), keras.__version__


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6, help="epochs per framework (>= 2)")
    parser.add_argument("--repeat", type=int, default=10, help="repeat the 426 training rows this many times")
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error(f"--epochs must be >= 2 (the first Keras epoch is tracing). Received: {args.epochs}")
    X, y = load_data(args.repeat)
    lr, momentum = 0.01, 0.9
    initial, scratch_times, scratch_losses = bench_scratch(X, y, args.hidden, args.batch_size, args.epochs,
                                                           lr, momentum, np.float32)
    keras_times, keras_losses, backend, version = bench_keras(X, y, args.hidden, args.batch_size, args.epochs,
                                                              lr, momentum, initial)
    scratch_epoch = statistics.median(scratch_times[1:])
    keras_epoch = statistics.median(keras_times[1:])
    print(json.dumps({
        "benchmark": "one training epoch, scratch NumPy MLP vs Keras, CPU",
        "samples": int(X.shape[0]), "features": int(X.shape[1]), "hidden": args.hidden,
        "batch_size": args.batch_size, "batches_per_epoch": -(-X.shape[0] // args.batch_size),
        "epochs_timed": args.epochs - 1, "dtype": "float32",
        "scratch_epoch_s": round(scratch_epoch, 4),
        "keras_epoch_s": round(keras_epoch, 4),
        "keras_first_epoch_s": round(keras_times[0], 4),
        "ratio_keras_over_scratch": round(keras_epoch / scratch_epoch, 2),
        "final_loss": {"scratch": round(scratch_losses[-1], 4), "keras": round(float(keras_losses[-1]), 4)},
        "keras_backend": backend, "keras_version": version, "numpy_version": np.__version__,
        "cpu_count": os.cpu_count(), "python": platform.python_version(),
    }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
