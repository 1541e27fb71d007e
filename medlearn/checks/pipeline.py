"""Exercises of lesson 08 (training on a GPU): input pipelines and throughput.

* ``pipeline.make_pipeline`` - build a ``tf.data`` pipeline in the right order
  (preprocess, cache, shuffle, augment, batch, prefetch; validation data neither
  shuffled nor augmented). ``run`` feeds it a small array whose labels are the
  image indices and whose images are left-to-right ramps, so the order and
  every flip can be read back; ``judge`` diagnoses the classic mistakes
  (shuffling after batching, caching after shuffling or after augmenting,
  a tiny shuffle buffer, augmenting validation data, no prefetch).
* ``pipeline.throughput`` - training images/s and the input-bound fraction
  from per-step timings (warm-up excluded, totals not averages of rates).

Used in lesson 08.
"""
from __future__ import annotations

import numpy as np

from medlearn.checks.core import Exercise, Verdict, register

__all__ = ["MAKE_PIPELINE", "THROUGHPUT"]


# ---------------------------------------------------------------- make_pipeline
def _pipeline_cases(rng):
    cases = []
    for _ in range(2):
        n = int(rng.integers(64, 97))
        height, width = 6, 8
        ramp = (10 + 30 * np.arange(width)).astype(np.uint8)  # 10 .. 220, left to right
        images = np.broadcast_to(ramp[None, None, :, None], (n, height, width, 1)).copy()
        cases.append({
            "images": images,
            "labels": np.arange(n, dtype=np.int64),  # label == index: the order can be read back
            "batch_size": int(rng.choice([8, 16])),
            "seed": int(rng.integers(0, 2**31 - 1)),
        })
    return cases


def _pipeline_run(answer, case):
    import tensorflow as tf

    gen = tf.random.Generator.from_seed(int(case["seed"]))  # a variable: new flips every epoch

    def preprocess(image, label):
        return tf.cast(image, tf.float32) / 255.0, label

    def augment(image, label):  # one coin per image, whether mapped before or after batching
        coins = gen.uniform(tf.shape(image)[:-3]) < 0.5
        flipped = tf.reverse(image, axis=[-2])
        return tf.where(coins[..., None, None, None], flipped, image), label

    def read(ds, epochs):
        out = {"tf_data": np.array(isinstance(ds, tf.data.Dataset)),
               "prefetch": np.array("Prefetch" in type(ds).__name__)}
        for epoch in range(1, epochs + 1):
            order, flips, sizes, batched, lo, hi, f32 = [], [], [], True, np.inf, -np.inf, True
            for x, y in ds:
                x, y = np.asarray(x), np.asarray(y)
                if x.ndim == 3:
                    batched, x, y = False, x[None], y[None]
                f32 = f32 and x.dtype == np.float32
                lo, hi = min(lo, float(x.min())), max(hi, float(x.max()))
                order.extend(y.astype(np.int64).tolist())
                flips.extend((x[:, 0, 0, 0] > x[:, 0, -1, 0]).tolist())
                sizes.append(len(y))
            out.update({f"order_{epoch}": np.array(order, dtype=np.int64),
                        f"flip_{epoch}": np.array(flips, dtype=bool),
                        f"sizes_{epoch}": np.array(sizes, dtype=np.int64),
                        "batched": np.array(batched), "float32": np.array(f32),
                        "min": np.array(lo), "max": np.array(hi)})
        return out

    images, labels, batch = case["images"], case["labels"], int(case["batch_size"])
    train = answer(images, labels, training=True, batch_size=batch, preprocess=preprocess, augment=augment)
    val = answer(images, labels, training=False, batch_size=batch, preprocess=preprocess, augment=augment)
    outputs = {f"train_{k}": v for k, v in read(train, 2).items()}
    outputs.update({f"val_{k}": v for k, v in read(val, 1).items()})
    return outputs


def _flips_by_label(order, flips, n):
    by_label = np.zeros(n, dtype=bool)
    by_label[order] = flips
    return by_label


def _pipeline_judge(case, out):
    n, batch = len(case["labels"]), int(case["batch_size"])
    expected_sizes = [batch] * (n // batch) + ([n % batch] if n % batch else [])
    for split in ("train", "val"):
        what = "training" if split == "train" else "validation"
        if not bool(out[f"{split}_tf_data"]):
            return Verdict(False, "Return a tf.data.Dataset (start from tf.data.Dataset.from_tensor_slices).")
        if not bool(out[f"{split}_batched"]):
            return Verdict(False, f"The {what} dataset yields single images: batch it with .batch(batch_size).")
        for epoch in ((1, 2) if split == "train" else (1,)):
            if sorted(out[f"{split}_order_{epoch}"].tolist()) != list(range(n)):
                return Verdict(False, f"Each epoch of the {what} data must hold every image exactly once "
                                      "(no repeat(), take() or drop_remainder).")
            if sorted(out[f"{split}_sizes_{epoch}"].tolist()) != sorted(expected_sizes):
                return Verdict(False, f"The {what} batches should hold batch_size images each "
                                      "(only the last one may be smaller).")
        if not bool(out[f"{split}_float32"]) or out[f"{split}_min"] < 0 or out[f"{split}_max"] > 1:
            return Verdict(False, f"The {what} images are not float32 in [0, 1]: map preprocess over the "
                                  "dataset (before cache(), so the work is done once).")
    if out["val_order_1"].tolist() != list(range(n)):
        return Verdict(False, "The validation data is shuffled: keep it in order (shuffle only when training).")
    if out["val_flip_1"].any():
        return Verdict(False, "The validation images are augmented: apply augment only when training=True.")
    order1, order2 = out["train_order_1"], out["train_order_2"]
    if order1.tolist() == list(range(n)):
        return Verdict(False, "The training data is not shuffled: add shuffle() when training=True.")
    sizes = out["train_sizes_1"].tolist()
    starts = np.cumsum([0] + sizes[:-1])
    blocks = [np.sort(order1[s:s + k]) for s, k in zip(starts, sizes)]
    if all(b[0] % batch == 0 and np.array_equal(b, np.arange(b[0], b[0] + len(b))) for b in blocks):
        return Verdict(False, "Only whole batches move: you shuffled after batching, so the same images always "
                              "train together. Shuffle single images, before batch().")
    flips1 = _flips_by_label(order1, out["train_flip_1"], n)
    flips2 = _flips_by_label(order2, out["train_flip_2"], n)
    if np.array_equal(order1, order2) and flips1.any() and np.array_equal(flips1, flips2):
        return Verdict(False, "The order and the flips are the same in every epoch: cache() placed after shuffle() "
                              "and augment stores the first epoch. Cache right after preprocess.")
    if np.array_equal(order1, order2):
        return Verdict(False, "The training order is the same in every epoch: cache() placed after shuffle() "
                              "stores the first order (so does reshuffle_each_iteration=False). Shuffle after cache().")
    if (order1 - np.arange(n)).max() < n / 3:
        return Verdict(False, "Images barely move from their original place: the shuffle buffer is too small. "
                              "Use a buffer as large as the dataset (it fits in memory here).")
    if not flips1.any():
        return Verdict(False, "The training images are not augmented: map augment when training=True.")
    if np.array_equal(flips1, flips2):
        return Verdict(False, "Every epoch sees the same 'random' flips: cache() after augment stores them. "
                              "Cache before the random map, augment after it.")
    if not (bool(out["train_prefetch"]) and bool(out["val_prefetch"])):
        return Verdict(False, "End both pipelines with .prefetch(tf.data.AUTOTUNE) so the next batch is "
                              "prepared while the model trains on this one.")
    return Verdict(True)


MAKE_PIPELINE = register(Exercise(
    id="pipeline.make_pipeline",
    title="a tf.data pipeline in the right order",
    make_cases=_pipeline_cases,
    run=_pipeline_run,
    judge=_pipeline_judge,
    points=2.0,
    timeout=120.0,
))


# ---------------------------------------------------------------- throughput
def _throughput_cases(rng):
    cases = []
    for _ in range(3):
        steps, warmup = int(rng.integers(20, 41)), int(rng.integers(1, 4))
        step_s = rng.lognormal(np.log(0.05), 0.5, size=steps)
        step_s[:warmup] += rng.uniform(1.0, 3.0, size=warmup)  # tracing + compilation
        wait_s = step_s * rng.uniform(0.0, 0.6, size=steps)
        cases.append({"step_s": step_s, "wait_s": wait_s,
                      "batch_size": int(rng.choice([32, 64, 128])), "warmup": warmup})
    return cases


def _throughput_run(answer, case):
    result = answer(case["step_s"].copy(), case["wait_s"].copy(), batch_size=int(case["batch_size"]),
                    warmup=int(case["warmup"]))
    images_per_s, fraction = result
    return {"images_per_s": np.float64(images_per_s), "input_fraction": np.float64(fraction)}


def _close(a, b):
    return bool(np.isfinite(a)) and abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(b)))


def _throughput_judge(case, out):
    step, wait = np.asarray(case["step_s"], float), np.asarray(case["wait_s"], float)
    batch, w = int(case["batch_size"]), int(case["warmup"])
    s, q = step[w:], wait[w:]
    ips, frac = out["images_per_s"], out["input_fraction"]
    if not _close(ips, batch * len(s) / s.sum()):
        wrong = {
            batch * len(step) / step.sum(): "The warm-up steps include tracing and compilation: leave the "
                                            "first `warmup` steps out.",
            float(np.mean(batch / s)): "Averaging per-step rates over-weights the fast steps: divide the total "
                                       "images by the total time.",
            len(s) / s.sum(): "That is steps per second: each step trains batch_size images.",
            batch * len(s) / (s - q).sum(): "Waiting for input is part of the step: use the full step time.",
        }
        hint = next((h for v, h in wrong.items() if _close(ips, v)), "images_per_s is wrong: it is the images "
                    "trained after warm-up divided by the time those steps took.")
        return Verdict(False, hint)
    if not _close(frac, q.sum() / s.sum()):
        wrong = {
            float(np.mean(q / s)): "Weight by time: total waiting divided by total step time, not the mean "
                                   "of per-step ratios.",
            wait.sum() / step.sum(): "Leave the warm-up steps out of the input fraction too.",
            q.sum() / (s - q).sum(): "The fraction is waiting / whole step time, not waiting / compute time.",
            100 * q.sum() / s.sum(): "Return a fraction between 0 and 1, not a percentage.",
        }
        hint = next((h for v, h in wrong.items() if _close(frac, v)), "input_fraction is wrong: it is the share "
                    "of the (post-warm-up) step time spent waiting for input.")
        return Verdict(False, hint)
    return Verdict(True)


THROUGHPUT = register(Exercise(
    id="pipeline.throughput",
    title="images per second and the input-bound fraction",
    make_cases=_throughput_cases,
    run=_throughput_run,
    judge=_throughput_judge,
))
