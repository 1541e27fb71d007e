"""Lesson 08 exercises: the reference answers pass, the classic wrong answers fail with the right hint."""
import os

import numpy as np
import pytest

from medlearn.checks import check, get_exercise

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def assert_fails(exercise_id, answer, needle):
    result = check(exercise_id, answer, quiet=True)
    assert not result.passed, f"a wrong answer passed {exercise_id}"
    assert needle in result.hint, result.hint


# ---------------------------------------------------------------- make_pipeline
tf = pytest.importorskip("tensorflow")
AUTOTUNE = tf.data.AUTOTUNE


def reference(images, labels, *, training, batch_size, preprocess, augment):
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).map(preprocess).cache()
    if training:
        ds = ds.shuffle(len(images)).map(augment, num_parallel_calls=AUTOTUNE)
    return ds.batch(batch_size).prefetch(AUTOTUNE)


def batched_augment(images, labels, *, training, batch_size, preprocess, augment):
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).map(preprocess).cache()
    if training:
        ds = ds.shuffle(len(images))
    ds = ds.batch(batch_size)
    if training:
        ds = ds.map(augment)  # augmenting whole batches (one coin per image) is fine
    return ds.prefetch(AUTOTUNE)


def make_variant(order, buffer=None):
    """A pipeline built from a list of steps, to write the wrong answers compactly."""

    def answer(images, labels, *, training, batch_size, preprocess, augment):
        ds = tf.data.Dataset.from_tensor_slices((images, labels))
        for step in order:
            if step == "pre":
                ds = ds.map(preprocess)
            elif step == "cache":
                ds = ds.cache()
            elif step == "shuffle" and (training or "shuffle_val" in order):
                ds = ds.shuffle(buffer or len(images))
            elif step == "aug" and (training or "aug_val" in order):
                ds = ds.map(augment)
            elif step == "batch":
                ds = ds.batch(batch_size)
            elif step == "prefetch":
                ds = ds.prefetch(AUTOTUNE)
            elif step == "repeat":
                ds = ds.repeat(2)
        return ds

    return answer


def test_reference_pipelines_pass():
    assert check("pipeline.make_pipeline", reference, quiet=True).passed
    assert check("pipeline.make_pipeline", batched_augment, quiet=True).passed
    assert check("pipeline.make_pipeline", reference, seed=7, quiet=True).passed


@pytest.mark.parametrize("order, buffer, needle", [
    (["pre", "cache", "batch", "shuffle", "aug", "prefetch"], None, "shuffled after batching"),
    (["pre", "shuffle", "cache", "aug", "batch", "prefetch"], None, "same in every epoch"),
    (["pre", "aug", "cache", "shuffle", "batch", "prefetch"], None, "same 'random' flips"),
    (["pre", "shuffle", "aug", "cache", "batch", "prefetch"], None, "order and the flips are the same"),
    (["pre", "cache", "shuffle", "aug", "batch", "prefetch"], 8, "buffer is too small"),
    (["pre", "cache", "shuffle", "aug", "aug_val", "batch", "prefetch"], None, "validation images are augmented"),
    (["pre", "cache", "shuffle", "shuffle_val", "aug", "batch", "prefetch"], None, "validation data is shuffled"),
    (["pre", "cache", "shuffle", "aug", "batch"], None, "prefetch"),
    (["pre", "cache", "shuffle", "batch", "prefetch"], None, "not augmented"),
    (["pre", "cache", "aug", "batch", "prefetch"], None, "not shuffled"),
    (["pre", "cache", "shuffle", "aug", "prefetch"], None, "batch it"),
    (["cache", "shuffle", "aug", "batch", "prefetch"], None, "float32 in [0, 1]"),
    (["pre", "cache", "shuffle", "aug", "batch", "repeat", "prefetch"], None, "exactly once"),
])
def test_wrong_pipelines_fail_with_the_right_hint(order, buffer, needle):
    assert_fails("pipeline.make_pipeline", make_variant(order, buffer), needle)


def test_not_a_dataset_and_not_done():
    def numpy_batches(images, labels, *, training, batch_size, preprocess, augment):
        return [(images[i:i + batch_size] / 255, labels[i:i + batch_size]) for i in range(0, len(images), batch_size)]

    def stub(*args, **kwargs):
        raise NotImplementedError()

    assert_fails("pipeline.make_pipeline", numpy_batches, "tf.data.Dataset")
    assert_fails("pipeline.make_pipeline", stub, "not done yet")


def test_cases_hold_plain_arrays_and_labels_are_indices():
    for case in get_exercise("pipeline.make_pipeline").make_cases(np.random.default_rng(3)):
        assert case["images"].dtype == np.uint8 and case["images"].ndim == 4
        np.testing.assert_array_equal(case["labels"], np.arange(len(case["images"])))


# ---------------------------------------------------------------- throughput
def throughput(step_s, wait_s, *, batch_size, warmup):
    s, q = step_s[warmup:], wait_s[warmup:]
    return batch_size * len(s) / s.sum(), q.sum() / s.sum()


def test_reference_throughput_passes():
    for seed in (0, 1, 2):
        assert check("pipeline.throughput", throughput, seed=seed, quiet=True).passed


def _good_fraction(step_s, wait_s, warmup):
    return wait_s[warmup:].sum() / step_s[warmup:].sum()


@pytest.mark.parametrize("answer, needle", [
    (lambda s, q, *, batch_size, warmup: (batch_size * len(s) / s.sum(), _good_fraction(s, q, warmup)),
     "warm-up steps include"),
    (lambda s, q, *, batch_size, warmup: (np.mean(batch_size / s[warmup:]), _good_fraction(s, q, warmup)),
     "Averaging per-step rates"),
    (lambda s, q, *, batch_size, warmup: (len(s[warmup:]) / s[warmup:].sum(), _good_fraction(s, q, warmup)),
     "steps per second"),
    (lambda s, q, *, batch_size, warmup: (batch_size * len(s[warmup:]) / (s - q)[warmup:].sum(),
                                          _good_fraction(s, q, warmup)), "full step time"),
    (lambda s, q, *, batch_size, warmup: (throughput(s, q, batch_size=batch_size, warmup=warmup)[0],
                                          np.mean(q[warmup:] / s[warmup:])), "Weight by time"),
    (lambda s, q, *, batch_size, warmup: (throughput(s, q, batch_size=batch_size, warmup=warmup)[0],
                                          q.sum() / s.sum()), "warm-up steps out of the input fraction"),
    (lambda s, q, *, batch_size, warmup: (throughput(s, q, batch_size=batch_size, warmup=warmup)[0],
                                          q[warmup:].sum() / (s - q)[warmup:].sum()), "not waiting / compute"),
    (lambda s, q, *, batch_size, warmup: (throughput(s, q, batch_size=batch_size, warmup=warmup)[0],
                                          100 * _good_fraction(s, q, warmup)), "not a percentage"),
    (lambda s, q, *, batch_size, warmup: (1.0, 0.5), "images_per_s is wrong"),
])
def test_wrong_throughput_fails_with_the_right_hint(answer, needle):
    assert_fails("pipeline.throughput", answer, needle)


def test_hints_never_contain_the_answer():
    wrong = lambda s, q, *, batch_size, warmup: (1.0, 0.5)  # noqa: E731
    ex = get_exercise("pipeline.throughput")
    case = ex.make_cases(np.random.default_rng(0))[0]
    expected = case["batch_size"] * len(case["step_s"][case["warmup"]:]) / case["step_s"][case["warmup"]:].sum()
    hint = check("pipeline.throughput", wrong, quiet=True).hint
    assert f"{expected:.1f}" not in hint and f"{expected:.0f}" not in hint


@pytest.mark.parametrize("order, needle", [
    (["pre", "shuffle", "aug", "batch", "prefetch"], "no cache()"),
    (["cache", "shuffle", "aug", "batch", "pre", "prefetch"], "after batch()"),
])
def test_lesson_table_order_is_enforced(order, needle):
    assert_fails("pipeline.make_pipeline", make_variant(order), needle)


def test_an_endless_repeat_fails_fast_with_a_hint():
    import time

    def endless(images, labels, *, training, batch_size, preprocess, augment):
        return reference(images, labels, training=training, batch_size=batch_size, preprocess=preprocess,
                         augment=augment).repeat()

    t0 = time.perf_counter()
    assert_fails("pipeline.make_pipeline", endless, "never ends")
    assert time.perf_counter() - t0 < 60


def test_a_hang_inside_check_becomes_a_fail_with_a_hint():
    from medlearn.checks import core

    def hangs(images, labels, **kwargs):
        while True:
            pass

    ex = get_exercise("pipeline.make_pipeline")
    cases = ex.make_cases(np.random.default_rng(0))
    result = core.judge_cases(ex, cases, core.run_cases(ex, hangs, cases, time_limit=1.0))
    assert not result.passed and "did not finish within" in result.hint and "repeat()" in result.hint
