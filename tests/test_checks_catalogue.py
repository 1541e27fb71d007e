"""Every exercise of lessons 01-08 rejects the catalogue of wrong answers in tests/wrong_answers.py with the expected hint.

Also: the lesson solutions and the shapes of the catalogue (a correct numerical gradient that perturbs a copy
passes, and lesson 03's gradient check accepts it).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import wrong_answers  # noqa: E402

from medlearn.checks import check  # noqa: E402

ENTRIES = [(ex, what, answer, fragment) for ex, rows in wrong_answers.CATALOGUE.items()
           for what, answer, fragment in rows]


def test_every_exercise_of_lessons_01_to_08_has_a_catalogue():
    ids = {"scratch.sigmoid", "scratch.sigmoid_grad", "scratch.softmax", "scratch.binary_cross_entropy",
           "scratch.gd_step", "scratch.momentum_step", "scratch.clip_by_global_norm", "scratch.numerical_gradient",
           "scratch.two_layer_backward", "scratch.fix_broken", "keras.tape_gradients", "keras.train_step",
           "keras.residual_block", "keras.output_head", "keras.conv2d", "keras.max_pool", "keras.clinical_metrics",
           "keras.threshold_for_sensitivity", "pipeline.make_pipeline", "pipeline.throughput"}
    assert ids <= set(wrong_answers.CATALOGUE)
    assert all(len(wrong_answers.CATALOGUE[i]) >= 2 for i in ids)


@pytest.mark.parametrize("exercise_id, what, answer, fragment", ENTRIES,
                         ids=[f"{e}:{w}" for e, w, _, _ in ENTRIES])
def test_wrong_answer_is_rejected_with_its_hint(exercise_id, what, answer, fragment):
    result = check(exercise_id, answer, quiet=True)
    assert not result.passed, f"{exercise_id} passed a wrong answer: {what}"
    assert fragment.lower() in result.hint.lower(), f"{what}: hint {result.hint!r} lacks {fragment!r}"
    assert "Traceback" not in result.hint and len(result.hint) < 700
    assert not re.search(r"\d\.\d{5,}", result.hint), f"hint may reveal a value: {result.hint!r}"


def _ng_copy(f, x, eps=1e-6):
    """A correct numerical gradient that never touches the caller's x."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = eps
        grad[idx] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


def test_numerical_gradient_on_a_copy_is_correct_and_lesson_03_grad_check_accepts_it():
    import nbformat

    assert check("scratch.numerical_gradient", _ng_copy, quiet=True).passed
    nb = nbformat.read(Path(__file__).resolve().parents[1] / "lessons" / "03_backpropagation.ipynb", as_version=4)
    source = next(c.source for c in nb.cells if c.cell_type == "code" and "def grad_check" in c.source)
    source = source[:source.index("def yours")]   # just grad_check, not the cell's own call
    assert "lambda _:" not in source, "grad_check must pass the perturbed array to the loss, not ignore it"
    import medlearn.scratch as scratch

    namespace = {"np": np, "scratch": scratch, "numerical_gradient": _ng_copy}
    exec(compile(source, "<lesson 03 grad_check>", "exec"), namespace)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(6, 3)), np.eye(2)[rng.integers(0, 2, 6)]
    params = {"W1": rng.normal(size=(3, 4)), "b1": rng.normal(size=4), "W2": rng.normal(size=(4, 2)),
              "b2": rng.normal(size=2)}

    def loss_and_grads(X, Y, W1, b1, W2, b2):
        return wrong_answers._fixed(X, Y, W1, b1, W2, b2)

    errors = namespace["grad_check"](loss_and_grads, X, Y, params)
    assert max(errors.values()) < 1e-7, errors
