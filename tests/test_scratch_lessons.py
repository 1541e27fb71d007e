"""Lessons 01-03: every exercise's reference solution passes its check, and the student copy
(solutions replaced by ``raise NotImplementedError()``) fails only with NotImplementedError.

Runs the exercise cells alone (no kernel), so it is fast; nbval runs the whole lessons.
"""
import ast
from pathlib import Path

import nbformat
import numpy as np
import pytest

import medlearn.scratch as scratch
from medlearn import course
from medlearn.checks import check
from medlearn.grading.markers import has_solution, strip_solutions

LESSONS = Path(__file__).resolve().parents[1] / "lessons"
NOTEBOOKS = ["01_neurons_and_losses.ipynb", "02_gradient_descent.ipynb", "03_backpropagation.ipynb"]


def _cells(name):
    nb = nbformat.read(LESSONS / name, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


def _exercises_and_checks(name):
    cells = _cells(name)
    exercises = [src for src in cells if has_solution(src)]
    checks = [src for src in cells if src.lstrip().startswith("check(")]
    return exercises, checks


def _run_checks(exercises, checks):
    namespace = {"np": np, "scratch": scratch, "check": check}
    for src in exercises:
        exec(compile(src, "<exercise>", "exec"), namespace)
    results = []
    for src in checks:
        for node in ast.parse(src).body:
            call = node.value
            exercise_id = call.args[0].value
            answer = eval(compile(ast.Expression(call.args[1]), "<check>", "eval"), namespace)
            results.append((exercise_id, check(exercise_id, answer, quiet=True)))
    return results


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_lesson_structure(name):
    exercises, checks = _exercises_and_checks(name)
    assert len(exercises) >= 2 and len(checks) >= len(exercises)
    for src in checks:  # a check cell holds check(...) calls only
        assert all(isinstance(n, ast.Expr) and n.value.func.id == "check" for n in ast.parse(src).body), src
    first = _cells(name)[0]
    assert first.startswith(course.IMPORT_GUARD + "medlearn.setup(seed=42)")  # the guard, then the seed
    assert "from medlearn.checks import check" in first


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_instructor_solutions_pass_every_check(name):
    results = _run_checks(*_exercises_and_checks(name))
    assert results and all(r.passed for _, r in results), [(i, r.hint) for i, r in results if not r.passed]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_student_copy_fails_only_with_not_implemented(name):
    exercises, checks = _exercises_and_checks(name)
    results = _run_checks([strip_solutions(src) for src in exercises], checks)
    for exercise_id, result in results:
        assert not result.passed, exercise_id
        assert "NotImplementedError" in result.hint, (exercise_id, result.hint)
