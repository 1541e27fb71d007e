#!/usr/bin/env python3
"""Training throughput (images/s) of the reference CNN: batch size x precision x XLA x input feed.

For every configuration the same model trains ``--warmup`` untimed steps and
``--steps`` timed steps, fed either

* ``memory``:   one ready-made batch repeated (no input work at all: the ceiling), or
* ``pipeline``: the real input pipeline - uint8 phantoms, shuffled, scaled to
  float32, augmented (chest-X-ray policy), batched and prefetched. With TensorFlow
  installed that is ``medlearn.datasets.to_tf_dataset``; without it (a JAX or
  PyTorch GPU box) a ``keras.utils.PyDataset`` doing the same steps in NumPy.

Prints one JSON object per configuration, then a summary object (pipeline /
memory ratio, mixed-precision speed-up, best images/s per image size) and
saves a plot to ``benchmarks/out/throughput_<backend>.png`` (or ``--out``).

``--mode train`` measures instead exactly what ``medlearn train`` feeds
(:func:`medlearn.train.steps.train_model`), on the reference model with ``Rescaling``
inside, side by side in one run, each feed ``--repeats`` times interleaved (best kept):

* ``memory``:  one ready-made batch (float32 0..255, sample weights) repeated: the ceiling;
* ``array``:   the small-data path: one float array handed to ``model.fit`` (Keras batches it);
* ``batches``: the large-data path: :class:`medlearn.train.batches.Batches` over the uint8
  images (class weights as sample weights, wrapping permutations).

and prints ``pipeline_over_memory`` (batches / memory; the issue-16 target is >= 0.9) and
``array_over_memory``.

    python benchmarks/bench_throughput.py --mode train --batch-sizes 128 --precision float32 --xla off

    MEDLEARN_FAST=1 python benchmarks/bench_throughput.py                 # CPU smoke run
    KERAS_BACKEND=jax python benchmarks/bench_throughput.py --sizes 28,64 # a GPU box

Mixed precision or XLA that the hardware/backend cannot use is reported as a
``"status": "skipped"`` line (``--force-mixed`` measures mixed precision on a CPU anyway).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

import numpy as np  # noqa: E402

from medlearn import backend as mb  # noqa: E402
from medlearn.config import is_fast  # noqa: E402


def installed(name):
    """True when ``import name`` would find the package (False when absent or hidden)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _csv(kind):
    return lambda text: [kind(v) for v in text.split(",") if v.strip()]


def parse_args(argv=None):
    fast = is_fast()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=_csv(int), default=[28] if fast else [28, 64], help="image sides, e.g. 28,64")
    p.add_argument("--batch-sizes", type=_csv(int), default=[64] if fast else [32, 64, 128, 256, 512])
    p.add_argument("--precision", type=_csv(str), default=["float32", "mixed"], help="float32,mixed")
    p.add_argument("--xla", type=_csv(str), default=None,
                   help="off,on (default: off,on on TensorFlow; on for JAX; off for torch)")
    p.add_argument("--mode", choices=["tf-dataset", "train"], default="tf-dataset",
                   help="tf-dataset: to_tf_dataset vs memory; train: what medlearn train feeds vs memory")
    p.add_argument("--feed", type=_csv(str), default=None,
                   help="memory,pipeline (--mode train: memory,array,batches); default: all of the mode's")
    p.add_argument("--repeats", type=int, default=None,
                   help="measurements per feed, interleaved, best kept (default 1; 3 with --mode train)")
    p.add_argument("--pipeline", choices=["auto", "tf.data", "pydataset"], default="auto",
                   help="the real pipeline: tf.data if TensorFlow is installed, else a PyDataset")
    p.add_argument("--model", choices=["cnn", "resnet"], default="cnn")
    p.add_argument("--steps", type=int, default=5 if fast else 40)
    p.add_argument("--warmup", type=int, default=2 if fast else 5)
    p.add_argument("--images", type=int, default=512 if fast else 4096, help="phantoms in the pipeline")
    p.add_argument("--force-mixed", action="store_true", help="measure mixed precision without a GPU/TPU")
    p.add_argument("--out", type=Path, default=None, help="plot path (default benchmarks/out/throughput_<backend>.png)")
    args = p.parse_args(argv)
    feeds = TRAIN_FEEDS if args.mode == "train" else ("memory", "pipeline")
    args.feed = args.feed or list(feeds)
    if args.repeats is None:
        args.repeats = 3 if args.mode == "train" else 1
    for name in ("precision", "feed", "xla"):
        allowed = {"precision": {"float32", "mixed"}, "feed": set(feeds), "xla": {"off", "on"}}[name]
        bad = set(getattr(args, name) or ()) - allowed
        if bad:
            p.error(f"--{name} takes {sorted(allowed)}. Received: {sorted(bad)}")
    for name in ("sizes", "batch_sizes"):
        if not getattr(args, name) or min(getattr(args, name)) < 1:
            p.error(f"--{name.replace('_', '-')} takes positive integers. Received: {getattr(args, name)}")
    for name in ("steps", "warmup", "images", "repeats"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1. Received: {getattr(args, name)}")
    return args


TRAIN_FEEDS = ("memory", "array", "batches")


class ArrayPipeline:
    """The real pipeline without TensorFlow: shuffle, gather uint8, scale, shift-augment, batch."""

    @staticmethod
    def make(images, labels, batch_size, seed=0):
        import keras

        class _Pipe(keras.utils.PyDataset):
            def __init__(self):
                super().__init__(workers=2, use_multiprocessing=False, max_queue_size=8)  # threads prefetch
                self.rng = np.random.default_rng(seed)
                self.order = self.rng.permutation(len(images))

            def __len__(self):
                return len(images) // batch_size

            def __getitem__(self, i):
                idx = self.order[i * batch_size:(i + 1) * batch_size]
                x = images[idx].astype(np.float32)[..., None] / 255.0
                pad = max(1, round(0.06 * x.shape[1]))  # random shifts of up to 6 %, reflected border
                padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
                dy, dx = self.rng.integers(0, 2 * pad + 1, size=(2, len(idx)))
                side = x.shape[1]
                x = np.stack([padded[k, dy[k]:dy[k] + side, dx[k]:dx[k] + side] for k in range(len(idx))])
                return x, labels[idx]

            def on_epoch_end(self):
                self.order = self.rng.permutation(len(images))

        return _Pipe()


def make_feed(kind, pipeline, data, batch_size, size):
    """An endless source of (x, y) batches for ``measure_throughput``."""
    y_all = data.labels.astype("float32")[:, None]
    if kind == "memory":
        x = data.images[:batch_size].astype("float32")[..., None] / 255.0
        y = y_all[:batch_size]
        if pipeline == "tf.data":
            import tensorflow as tf

            return tf.data.Dataset.from_tensors((x, y)).repeat()
        return _repeat(x, y)
    if pipeline == "tf.data":
        from medlearn.datasets import to_tf_dataset
        from medlearn.models import augmentation_layers

        steps = augmentation_layers("chest-xray", seed=0).layers

        def augment(xb):  # layer by layer: each Keras preprocessing layer runs in tf.data on any backend
            for layer in steps:
                xb = layer(xb, training=True)
            return xb

        ds = to_tf_dataset(data, batch_size=batch_size, shuffle=True, augment=augment,
                           cache=True, drop_remainder=True, seed=0)
        return ds.map(lambda xb, yb: (xb, tf_cast(yb)[:, None])).repeat()
    return ArrayPipeline.make(data.images, y_all, batch_size)


def tf_cast(y):
    import tensorflow as tf

    return tf.cast(y, tf.float32)


def _repeat(x, y):
    while True:
        yield x, y


def build(args, size, xla, rescale=False):
    import keras

    from medlearn.models import build_model, output_spec

    keras.backend.clear_session()
    # rescale=False: both feeds scale to [0, 1] themselves (the pipeline's scaling is part of what is timed);
    # rescale=True (--mode train): the reference model, Rescaling inside, as medlearn train builds it
    model = build_model(args.model, (size, size, 1), 2, "binary-class", compile=False, rescale=rescale)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=output_spec("binary-class", 2).loss,
                  **mb.compile_options(xla, verbose=False))
    return model


def fill_row(row, measure):
    """Mark ``row`` skipped (mixed precision without a GPU/TPU, XLA on torch) or ``measure()`` it; print it."""
    if row["precision"] == "mixed" and row["policy"] == "float32":
        row.update(status="skipped", reason="no GPU/TPU for mixed precision (use --force-mixed)")
    elif row["xla"] and row["backend"] == "torch":
        row.update(status="skipped", reason="the torch backend has no XLA")
    else:
        row.update(status="ok", **measure())
        row["images_per_s"] = round(row["images_per_s"], 1)
        row["ms_per_step"] = round(row["ms_per_step"], 2)
    print(json.dumps(row), flush=True)
    return row


def device_name(backend):
    """The accelerators Keras sees, else the CPU."""
    return (", ".join(d.description or d.name for d in mb.devices(backend))
            or f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()})")


def run(args):
    import keras

    name = keras.config.backend()
    has_tf = installed("tensorflow")
    pipeline = {"auto": "tf.data" if has_tf else "pydataset"}.get(args.pipeline, args.pipeline)
    xla_list = args.xla or {"tensorflow": ["off", "on"], "jax": ["on"], "torch": ["off"]}[name]
    device = device_name(name)
    from medlearn.datasets import make_phantoms

    results = []
    for size in args.sizes:
        data = make_phantoms(max(args.images, 2 * max(args.batch_sizes)), size=size, seed=0)
        for precision in args.precision:
            policy = mb.use_mixed_precision(precision == "mixed", force=args.force_mixed, verbose=False)
            for xla in xla_list:
                for batch in args.batch_sizes:
                    for feed in args.feed:
                        row = {"bench": "throughput", "backend": name, "device": device, "model": args.model,
                               "size": size, "batch_size": batch, "precision": precision, "policy": policy,
                               "xla": xla == "on", "feed": feed, "pipeline": pipeline if feed == "pipeline" else "memory"}
                        def measure():
                            model = build(args, size, xla == "on")
                            source = make_feed(feed, pipeline, data, batch, size)
                            return mb.measure_throughput(model, source, batch_size=batch, steps=args.steps,
                                                         warmup=args.warmup)

                        results.append(fill_row(row, measure))
    mb.use_mixed_precision(False, verbose=False)
    return results


def train_inputs(data, batch, steps):
    """uint8 images (N, H, W) and the targets/sample weights ``train_model`` builds, N >= ``steps`` batches."""
    from medlearn.models import encode_labels

    n = max(len(data.images), steps * batch)
    idx = np.arange(n) % len(data.images)          # phantoms repeated up to one pass of ``steps`` batches
    images, labels = data.images[idx], data.labels[idx].astype(np.int64)
    counts = np.bincount(labels, minlength=2)
    weights = (len(labels) / (2.0 * np.maximum(counts, 1)))[labels].astype(np.float32)  # "balanced"
    return images, encode_labels(labels, "binary-class", 2), weights


def timed_fit(model, fit_kwargs, *, batch_size, steps, warmup):
    """``model.fit(**fit_kwargs)`` for ``warmup + steps`` steps; wall and CPU time of the last ``steps``.

    CPU time (this process, every thread: the input pipeline's included) is the figure that a
    shared, loaded machine disturbs least: images per CPU-second compares the work each feed costs.
    """
    import time

    import keras

    class Timer(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == warmup - 1:
                self.t0, self.c0 = time.perf_counter(), time.process_time()

        def on_train_end(self, logs=None):
            self.t1, self.c1 = time.perf_counter(), time.process_time()

    timer = Timer()
    model.fit(**fit_kwargs, epochs=1, steps_per_epoch=warmup + steps, verbose=0, callbacks=[timer])
    wall, cpu = timer.t1 - timer.t0, timer.c1 - timer.c0
    return {"images_per_s": batch_size * steps / wall, "ms_per_step": 1000.0 * wall / steps,
            "images_per_cpu_s": round(batch_size * steps / cpu, 1), "steps": steps, "batch_size": batch_size}


def measure_train_feed(feed, model, images, y, w, *, batch_size, steps, warmup):
    """Images/s of ``model`` trained on one of :data:`TRAIN_FEEDS` (see the module docstring)."""
    import keras

    from medlearn.train.batches import Batches, as_float_nhwc, pixel_scale

    scale = pixel_scale(model)
    timing = dict(batch_size=batch_size, steps=steps, warmup=warmup)
    if feed == "batches":  # exactly train_model's large-data call
        source = Batches(images, y, w, batch_size=batch_size, steps_per_epoch=warmup + steps, seed=0, scale=scale)
        out = timed_fit(model, dict(x=source, shuffle=False), **timing)
        # the producer alone (no model): its share of a training step, robust to a loaded machine
        alone = Batches(images, y, w, batch_size=batch_size, steps_per_epoch=steps + 1, seed=1, scale=scale)
        out["input_ms_per_batch"] = round(mb.measure_input(alone, batches=steps)["ms_per_batch"], 3)
        return out
    if feed == "array":    # exactly train_model's small-data call
        return timed_fit(model, dict(x=as_float_nhwc(images, scale=scale), y=y, sample_weight=w,
                                     batch_size=batch_size, shuffle=True), **timing)
    x = as_float_nhwc(images[:batch_size], scale=scale)
    batch = (x, y[:batch_size], w[:batch_size])
    if keras.config.backend() == "tensorflow":
        import tensorflow as tf

        source = tf.data.Dataset.from_tensors(batch).repeat()
    else:
        source = _repeat_batch(batch)
    return timed_fit(model, dict(x=source, shuffle=False), **timing)


def _repeat_batch(batch):
    while True:
        yield batch


def run_train(args):
    """``--mode train``: memory / array / batches, each ``args.repeats`` times, interleaved."""
    import keras

    name = keras.config.backend()
    xla_list = args.xla or {"tensorflow": ["off"], "jax": ["on"], "torch": ["off"]}[name]
    device = device_name(name)
    from medlearn.datasets import make_phantoms

    results = []
    for size in args.sizes:
        data = make_phantoms(args.images, size=size, seed=0)
        for precision in args.precision:
            policy = mb.use_mixed_precision(precision == "mixed", force=args.force_mixed, verbose=False)
            for xla in xla_list:
                for batch in args.batch_sizes:
                    images, y, w = train_inputs(data, batch, args.warmup + args.steps)
                    for repeat in range(args.repeats):
                        for feed in args.feed:
                            row = {"bench": "throughput", "mode": "train", "backend": name, "device": device,
                                   "model": args.model, "size": size, "batch_size": batch, "precision": precision,
                                   "policy": policy, "xla": xla == "on", "feed": feed, "repeat": repeat}
                            def measure():
                                model = build(args, size, xla == "on", rescale=True)
                                return measure_train_feed(feed, model, images, y, w, batch_size=batch,
                                                          steps=args.steps, warmup=args.warmup)

                            results.append(fill_row(row, measure))
    mb.use_mixed_precision(False, verbose=False)
    return results


def summarize_train(results, target=0.9):
    """Best and median of the repeats per configuration and feed, and the pipeline / memory ratios.

    On a shared machine other jobs only ever slow a measurement down, but not every feed alike:
    the best of the repeats and their median are both given, in wall-clock images/s and in images
    per CPU-second (this process's threads only: less disturbed by other jobs).

    Returns:
        ``{"bench": "throughput_train_summary", "configs": [...], "pipeline_over_memory_min",
        "median_pipeline_over_memory_min", "array_over_memory_min", "target_pipeline_over_memory",
        "meets_target"}``; each config has ``images_per_s`` (best per feed), ``pipeline_over_memory``
        (batches / memory, best), ``array_over_memory``, their ``median_*`` versions, the same in
        CPU time (``cpu_*``) when measured, and Batches' own cost per batch. ``meets_target``: every
        config's median ``pipeline_over_memory`` >= ``target``.
    """
    import statistics

    runs = {}  # (config, metric) -> feed -> [values]
    for r in results:
        if r["status"] == "ok":
            key = (r["size"], r["batch_size"], r["precision"], r["xla"])
            for metric in ("images_per_s", "images_per_cpu_s"):
                if r.get(metric):
                    runs.setdefault((key, metric), {}).setdefault(r["feed"], []).append(r[metric])

    def ratio(feeds, feed):
        return round(feeds[feed] / feeds["memory"], 3) if feed in feeds and feeds.get("memory") else None

    configs = []
    for (key, metric), values in runs.items():
        if metric != "images_per_s":
            continue
        size, batch, precision, xla = key
        c = {"size": size, "batch_size": batch, "precision": precision, "xla": xla}
        for m, prefix in (("images_per_s", ""), ("images_per_cpu_s", "cpu_")):
            if (key, m) not in runs:
                continue
            best = {f: max(v) for f, v in runs[(key, m)].items()}
            median = {f: round(statistics.median(v), 1) for f, v in runs[(key, m)].items()}
            c[m], c[f"median_{m}"] = best, median
            for feed, label in (("batches", "pipeline_over_memory"), ("array", "array_over_memory")):
                c[prefix + label] = ratio(best, feed)
                c[f"median_{prefix}{label}"] = ratio(median, feed)
        alone = [r["input_ms_per_batch"] for r in results if r.get("input_ms_per_batch") is not None
                 and (r["size"], r["batch_size"], r["precision"], r["xla"]) == key]
        if alone and c["images_per_s"].get("memory"):  # Batches' own cost against a step fed from memory
            c["input_ms_per_batch"] = min(alone)
            c["input_share_of_step"] = round(min(alone) / (1000.0 * batch / c["images_per_s"]["memory"]), 4)
        configs.append(c)

    def lo(k):
        return min((c[k] for c in configs if c.get(k) is not None), default=None)

    worst = lo("median_pipeline_over_memory")
    return {"bench": "throughput_train_summary", "configs": configs, "pipeline_over_memory_min": lo("pipeline_over_memory"),
            "median_pipeline_over_memory_min": worst, "array_over_memory_min": lo("array_over_memory"),
            "median_array_over_memory_min": lo("median_array_over_memory"), "target_pipeline_over_memory": target,
            "meets_target": worst is not None and worst >= target}


def summarize(results):
    ok = [r for r in results if r["status"] == "ok"]
    key = lambda r: (r["size"], r["batch_size"], r["precision"], r["xla"])  # noqa: E731
    by = {}
    for r in ok:
        by.setdefault(key(r), {})[r["feed"]] = r["images_per_s"]
    ratios = [v["pipeline"] / v["memory"] for v in by.values() if "pipeline" in v and "memory" in v]
    speedups = []
    for (size, batch, precision, xla), v in by.items():
        base = by.get((size, batch, "float32", xla), {}).get("memory")
        if precision == "mixed" and base and "memory" in v:
            speedups.append(v["memory"] / base)
    xla_gain = [v["memory"] / by[(s, b, p, False)]["memory"] for (s, b, p, x), v in by.items()
                if x and "memory" in v and "memory" in by.get((s, b, p, False), {})]
    best = {}
    for r in ok:
        if r["feed"] == "pipeline" or not any(q["feed"] == "pipeline" for q in ok):
            cur = best.get(str(r["size"]))
            if cur is None or r["images_per_s"] > cur["images_per_s"]:
                best[str(r["size"])] = {k: r[k] for k in ("images_per_s", "batch_size", "precision", "xla", "feed")}
    gm = lambda xs: round(math.exp(sum(map(math.log, xs)) / len(xs)), 3) if xs else None  # noqa: E731
    return {"bench": "throughput_summary", "configs": len(results), "measured": len(ok),
            "pipeline_over_memory_geomean": gm(ratios), "pipeline_over_memory_min": round(min(ratios), 3) if ratios else None,
            "target_pipeline_over_memory": 0.9, "mixed_speedup_geomean": gm(speedups), "xla_speedup_geomean": gm(xla_gain),
            "best_real_pipeline_images_per_s": best}


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in results if r["status"] == "ok"]
    sizes = sorted({r["size"] for r in ok})
    if not sizes:
        return None
    fig, axes = plt.subplots(1, len(sizes), figsize=(5.5 * len(sizes), 4), squeeze=False)
    for ax, size in zip(axes[0], sizes):
        lines = sorted({(r["precision"], r["xla"], r["feed"]) for r in ok if r["size"] == size})
        colors = {k: f"C{i}" for i, k in enumerate(sorted({(p, x) for p, x, _ in lines}))}
        for precision, xla, feed in lines:
            pts = sorted((r["batch_size"], r["images_per_s"]) for r in ok if r["size"] == size
                         and (r["precision"], r["xla"], r["feed"]) == (precision, xla, feed))
            ax.plot(*zip(*pts), marker="o", linestyle="-" if feed == "memory" else "--",
                    color=colors[(precision, xla)],
                    label=f"{precision}{' +XLA' if xla else ''}, {feed}")
        ax.set(xscale="log", xlabel="batch size", ylabel="training images / s", title=f"{size}x{size}")
        ax.minorticks_off()
        ax.set_xticks(sorted({r["batch_size"] for r in ok}), labels=map(str, sorted({r["batch_size"] for r in ok})))
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    fig.suptitle(f"{ok[0]['model']} on {ok[0]['device']} (backend {ok[0]['backend']})", fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None):
    args = parse_args(argv)
    if args.mode == "train":
        print(json.dumps(summarize_train(run_train(args))), flush=True)
        return 0
    results = run(args)
    summary = summarize(results)
    import keras

    out = args.out or ROOT / "out" / f"throughput_{keras.config.backend()}.png"
    summary["plot"] = str(plot(results, out))
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
