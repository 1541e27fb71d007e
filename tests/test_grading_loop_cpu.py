"""The loop policy in grading is judged from CPU time the grader measures outside the child.

Issue 17 item 7: ``sys.settrace(None)`` (and ``sys.setprofile(None)``) in the answer switches the
in-process loop detector off; the check's CPU seconds as the supervisor sees them
(``RunResult.check_cpu``) against the exercise's ``loop_cpu_s`` still fail a per-sample loop.
"""
from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from medlearn.checks import get_exercise
from medlearn.checks.policy import cpu_loop_hint
from medlearn.grading import Assignment
from medlearn.grading import grader as grader_module
from medlearn.grading.grader import grade_submission
from medlearn.grading.sandbox import Limits

SETUP = "import numpy as np\nimport medlearn.scratch as scratch\nfrom medlearn.checks import check\n"
VECTORISED = '''def two_layer_backward(X, Y, W1, b1, W2, b2):
    ### BEGIN SOLUTION
    n = X.shape[0]
    a1 = scratch.sigmoid(X @ W1 + b1)
    dlogits = (scratch.softmax(a1 @ W2 + b2) - Y) / n
    dz1 = dlogits @ W2.T * a1 * (1 - a1)
    return {"dW1": X.T @ dz1, "db1": dz1.sum(axis=0), "dW2": a1.T @ dlogits, "db2": dlogits.sum(axis=0)}
    ### END SOLUTION
'''
# a per-sample loop that first switches the in-process loop detector (and the profiler) off
HIDDEN_LOOP = '''def two_layer_backward(X, Y, W1, b1, W2, b2):
    import sys
    sys.settrace(None)
    sys.setprofile(None)
    n = X.shape[0]
    grads = {"dW1": np.zeros_like(W1), "db1": np.zeros_like(b1), "dW2": np.zeros_like(W2), "db2": np.zeros_like(b2)}
    for i in range(n):
        x, y = X[i:i + 1], Y[i:i + 1]
        a1 = scratch.sigmoid(x @ W1 + b1)
        dlogits = (scratch.softmax(a1 @ W2 + b2) - y) / n
        dz1 = dlogits @ W2.T * a1 * (1 - a1)
        grads["dW1"] += x.T @ dz1
        grads["db1"] += dz1.sum(axis=0)
        grads["dW2"] += a1.T @ dlogits
        grads["db2"] += dlogits.sum(axis=0)
    return grads
'''
CHECK = 'check("scratch.two_layer_backward", two_layer_backward)'


def _notebook(answer: str):
    cells = [new_code_cell(SETUP, id="t-setup"), new_code_cell(answer, id="t-ex"), new_code_cell(CHECK, id="t-check")]
    return new_notebook(cells=cells)


@pytest.fixture(scope="module")
def assignment(tmp_path_factory):
    folder = tmp_path_factory.mktemp("loop-cpu")
    nbformat.write(_notebook(VECTORISED), folder / "source.ipynb")
    return Assignment(folder / "source.ipynb"), folder


def _grade(assignment, answer: str, name: str):
    source, folder = assignment
    path = folder / f"{name}.ipynb"
    nbformat.write(_notebook(answer), path)
    result = grade_submission(source, path, limits=Limits(timeout=120))
    assert result.status == "graded", (result.status, result.reason, result.log)
    (outcome,) = result.checks
    return outcome


def test_the_bound_is_declared_for_a_case_that_separates_loops():
    exercise = get_exercise("scratch.two_layer_backward")
    assert exercise.no_loops_over == "samples" and 0 < exercise.loop_cpu_s < 1
    assert cpu_loop_hint(exercise, exercise.loop_cpu_s * 2).startswith("Your function runs Python code once per sample")
    assert cpu_loop_hint(exercise, exercise.loop_cpu_s / 2) is None
    assert cpu_loop_hint(exercise, None) is None
    assert cpu_loop_hint(get_exercise("scratch.fix_broken"), 100.0) is None  # no bound declared: not judged


def test_vectorised_reference_passes(assignment):
    outcome = _grade(assignment, VECTORISED, "vectorised")
    assert outcome.passed, outcome.hint


def test_a_loop_hidden_from_the_tracer_fails_on_the_outside_cpu_measure(assignment):
    outcome = _grade(assignment, HIDDEN_LOOP, "hidden_loop")
    assert not outcome.passed
    assert "once per sample" in outcome.hint


def test_without_the_outside_measure_the_hidden_loop_would_pass(assignment, monkeypatch):
    """What the CPU bound adds: with the grader's measurement blanked, the same loop passes
    (the in-child detector was switched off), so the FAIL above comes from the outside measure."""
    original = grader_module.run_job

    def blind_run_job(*args, **kwargs):
        run = original(*args, **kwargs)
        run.check_cpu = {}
        return run

    monkeypatch.setattr(grader_module, "run_job", blind_run_job)
    outcome = _grade(assignment, HIDDEN_LOOP, "hidden_loop_blind")
    assert outcome.passed, outcome.hint
