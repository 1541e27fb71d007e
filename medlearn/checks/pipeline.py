"""Exercises of lesson 08 (training on a GPU): input pipelines and throughput.

* ``pipeline.make_pipeline`` - build a ``tf.data`` pipeline in the right order
  (preprocess, cache, shuffle, augment, batch, prefetch; validation data neither
  shuffled nor augmented). ``run`` feeds it a small array whose labels are the
  image indices and whose images are left-to-right ramps, so the order and
  every flip can be read back; ``judge`` diagnoses the classic mistakes
  (shuffling after batching, caching after shuffling or after augmenting,
  a tiny shuffle buffer, augmenting validation data, no prefetch, no cache,
  preprocessing after batching, an endless ``.repeat()``). It is judged on an
  artifact: ``run`` exports the dataset graph (``DatasetToGraphV2``, a serialised
  GraphDef) and the materialised elements for the grader's inputs, reading at most
  one epoch's worth of batches (an infinite dataset is not read at all); ``judge``
  recomputes every property from the raw elements and parses the graph as data.
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


_PRE, _AUG = "medlearn_preprocess", "medlearn_augment"  # node names that mark the grader's functions


def _pipeline_run(answer, case):
    """Build both pipelines and export them as an artifact: the dataset graph (serialised GraphDef,
    data only) and the materialised elements, with iteration bounded (an infinite dataset is not read)."""
    import tensorflow as tf

    gen = tf.random.Generator.from_seed(int(case["seed"]))  # a variable: new flips every epoch

    def preprocess(image, label):
        return tf.identity(tf.cast(image, tf.float32) / 255.0, name=_PRE), label

    def augment(image, label):  # one coin per image, whether mapped before or after batching
        coins = gen.uniform(tf.shape(image)[:-3]) < 0.5
        flipped = tf.reverse(image, axis=[-2])
        return tf.identity(tf.where(coins[..., None, None, None], flipped, image), name=_AUG), label

    images, labels, batch = case["images"], case["labels"], int(case["batch_size"])
    limit = len(labels) // batch + 2  # batches per epoch worth reading; more means repeat()
    outputs = {}
    for split, training, epochs in (("train", True, 2), ("val", False, 1)):
        ds = answer(images, labels, training=training, batch_size=batch, preprocess=preprocess, augment=augment)
        outputs[f"{split}_tf_data"] = np.array(isinstance(ds, tf.data.Dataset))
        if not isinstance(ds, tf.data.Dataset):
            continue
        graph = tf.raw_ops.DatasetToGraphV2(input_dataset=ds._variant_tensor, external_state_policy=1,
                                            strip_device_assignment=True)
        outputs[f"{split}_graph"] = np.frombuffer(graph.numpy(), dtype=np.uint8).copy()
        infinite = int(ds.cardinality()) == int(tf.data.INFINITE_CARDINALITY)
        outputs[f"{split}_infinite"] = np.array(infinite)
        if infinite:
            continue
        for epoch in range(1, epochs + 1):
            xs, ys, sizes = [], [], []
            for i, element in enumerate(ds):
                if i >= limit:
                    break
                x, y = (np.asarray(v) for v in element)
                xs.append(x if x.ndim == 4 else x[None])
                ys.append(np.atleast_1d(y))
                sizes.append(len(y) if x.ndim == 4 else 0)  # 0: a single, unbatched image
            outputs[f"{split}_x_{epoch}"] = np.concatenate(xs) if xs else np.zeros((0,) + images.shape[1:])
            outputs[f"{split}_y_{epoch}"] = np.concatenate(ys).astype(np.int64) if ys else np.zeros(0, np.int64)
            outputs[f"{split}_sizes_{epoch}"] = np.array(sizes, dtype=np.int64)
    return outputs


def dataset_chain(graph_bytes) -> list:
    """The dataset ops from source to sink, each ``(op, markers)``: which of the grader's functions
    (``"preprocess"``, ``"augment"``) a map runs. Parses the GraphDef as data (protobuf), runs nothing."""
    from tensorflow.core.framework import graph_pb2

    graph = graph_pb2.GraphDef()
    graph.ParseFromString(bytes(np.asarray(graph_bytes, dtype=np.uint8).tolist()))
    nodes = {n.name: n for n in graph.node}
    functions = {f.signature.name: f for f in graph.library.function}

    def marks(name, seen):
        if name in seen or name not in functions:
            return set()
        seen.add(name)
        found = set()
        for node in functions[name].node_def:
            found |= {tag for tag, marker in (("preprocess", _PRE), ("augment", _AUG)) if node.name.startswith(marker)}
            for attr in node.attr.values():
                if attr.func.name:
                    found |= marks(attr.func.name, seen)
        return found

    sink = next((n for n in graph.node if n.op == "_Retval"), None)
    chain, name = [], sink.input[0] if sink is not None and sink.input else None
    while name is not None and len(chain) < 50:
        node = nodes.get(name.split(":")[0].lstrip("^"))
        if node is None or not node.op.endswith(("Dataset", "DatasetV2", "DatasetV3", "DatasetV4")):
            break
        tags = set()
        for attr in node.attr.values():
            if attr.func.name:
                tags |= marks(attr.func.name, set())
        chain.append((node.op, frozenset(tags)))
        name = node.input[0] if node.input else None
    return chain[::-1]


def _flips_by_label(order, flips, n):
    by_label = np.zeros(n, dtype=bool)
    by_label[order] = flips
    return by_label


def _position(chain, test) -> int:
    return next((i for i, item in enumerate(chain) if test(item)), -1)


def _structure_hint(chain, training: bool) -> str | None:
    """Cache/order rules of the lesson's table, read from the dataset graph."""
    what = "training" if training else "validation"
    pre = _position(chain, lambda it: "preprocess" in it[1])
    cache = _position(chain, lambda it: it[0].startswith("CacheDataset"))
    batch = _position(chain, lambda it: it[0].startswith(("BatchDataset", "PaddedBatchDataset")))
    if pre >= 0 and batch >= 0 and pre > batch:
        return (f"The {what} pipeline maps preprocess after batch(): preprocess single images, right after "
                "from_tensor_slices, then cache() the result (the lesson's table: preprocess -> cache -> "
                "shuffle -> augment -> batch -> prefetch).")
    if cache < 0:
        return (f"The {what} pipeline has no cache(): without it the preprocessing is redone every epoch. "
                "Cache right after preprocess (the data fits in memory here).")
    if pre >= 0 and cache < pre:
        return "cache() comes before preprocess: cache after it, so the preprocessed images are what is stored."
    if not chain or not chain[-1][0].startswith("PrefetchDataset"):
        return ("End both pipelines with .prefetch(tf.data.AUTOTUNE) so the next batch is prepared while the "
                "model trains on this one.")
    return None


def _pipeline_judge(case, out):
    n, batch = len(case["labels"]), int(case["batch_size"])
    images = np.asarray(case["images"], np.float64) / 255.0
    expected_sizes = [batch] * (n // batch) + ([n % batch] if n % batch else [])
    views = {}
    for split in ("train", "val"):
        what = "training" if split == "train" else "validation"
        if not bool(out[f"{split}_tf_data"]):
            return Verdict(False, "Return a tf.data.Dataset (start from tf.data.Dataset.from_tensor_slices).")
        if bool(out[f"{split}_infinite"]):
            return Verdict(False, f"The {what} dataset never ends: .repeat() without a count makes it infinite, "
                                  "so one epoch never finishes. Return one pass over the data; model.fit(epochs=...) "
                                  "does the repeating.")
        for epoch in ((1, 2) if split == "train" else (1,)):
            x, y, sizes = (np.asarray(out[f"{split}_{k}_{epoch}"]) for k in ("x", "y", "sizes"))
            if len(sizes) and (sizes == 0).any():
                return Verdict(False, f"The {what} dataset yields single images: batch it with .batch(batch_size).")
            if sorted(y.tolist()) != list(range(n)):
                return Verdict(False, f"Each epoch of the {what} data must hold every image exactly once "
                                      "(no repeat(), take() or drop_remainder).")
            if sorted(sizes.tolist()) != sorted(expected_sizes):
                return Verdict(False, f"The {what} batches should hold batch_size images each "
                                      "(only the last one may be smaller).")
            if x.dtype != np.float32 or x.shape != (n,) + images.shape[1:]:
                return Verdict(False, f"The {what} images are not float32 in [0, 1]: map preprocess over the "
                                      "dataset (before cache(), so the work is done once).")
            x64 = x.astype(np.float64)
            plain = np.isclose(x64, images[y], atol=1e-6).all(axis=(1, 2, 3))
            flip = np.isclose(x64, images[y][:, :, ::-1], atol=1e-6).all(axis=(1, 2, 3))
            if not (plain | flip).all():
                return Verdict(False, f"The {what} images are not float32 in [0, 1]: map preprocess over the "
                                      "dataset (before cache(), so the work is done once).")
            views[(split, epoch)] = (y, flip & ~plain, sizes)
    order_v, flip_v, _ = views[("val", 1)]
    if order_v.tolist() != list(range(n)):
        return Verdict(False, "The validation data is shuffled: keep it in order (shuffle only when training).")
    if flip_v.any():
        return Verdict(False, "The validation images are augmented: apply augment only when training=True.")
    (order1, f1, sizes), (order2, f2, _) = views[("train", 1)], views[("train", 2)]
    if order1.tolist() == list(range(n)):
        return Verdict(False, "The training data is not shuffled: add shuffle() when training=True.")
    starts = np.cumsum([0] + sizes.tolist()[:-1])
    blocks = [np.sort(order1[s:s + k]) for s, k in zip(starts, sizes.tolist())]
    if all(b[0] % batch == 0 and np.array_equal(b, np.arange(b[0], b[0] + len(b))) for b in blocks):
        return Verdict(False, "Only whole batches move: you shuffled after batching, so the same images always "
                              "train together. Shuffle single images, before batch().")
    flips1, flips2 = _flips_by_label(order1, f1, n), _flips_by_label(order2, f2, n)
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
    for split, training in (("train", True), ("val", False)):
        try:
            chain = dataset_chain(out[f"{split}_graph"])
        except Exception:  # a malformed graph (forged or truncated) cannot be judged: fail
            return Verdict(False, "The pipeline's structure could not be read back, so it cannot be judged.")
        hint = _structure_hint(chain, training)
        if hint:
            return Verdict(False, hint)
    return Verdict(True)


MAKE_PIPELINE = register(Exercise(
    id="pipeline.make_pipeline",
    title="a tf.data pipeline in the right order",
    make_cases=_pipeline_cases,
    run=_pipeline_run,
    judge=_pipeline_judge,
    points=2.0,
    timeout=120.0,
    artifact=True,
    forbidden=("medlearn",),
    arg_names=("images", "labels"),
    teaches="chain the tf.data steps yourself",
    timeout_hint="most likely a tf.data pipeline that never ends (.repeat() without a count, or a filter "
                 "that never lets an element through); return one pass over the data",
    next_hint="the next cells feed your pipeline to a CNN and measure whether input is the bottleneck.",
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
    forbidden=("medlearn",),
    arg_names=("step_s", "wait_s"),
    teaches="compute the two figures from the timings yourself",
    next_hint="the rest of the lesson reads such timings for mixed precision, XLA and several devices.",
))
