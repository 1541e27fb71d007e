"""Helpers shared by the exercise-check tests: a wrong answer must FAIL, a right one PASS."""
from __future__ import annotations

from medlearn.checks import check


def failing_hint(exercise_id, answer):
    """Run ``check`` on a wrong answer; assert it FAILs and return its hint."""
    result = check(exercise_id, answer, quiet=True)
    assert not result.passed, f"{exercise_id} passed a wrong answer"
    return result.hint


def assert_passes(exercise_id, answer, seeds=(0, 1, 7)):
    """Assert that ``answer`` PASSes the check for every seed."""
    for seed in seeds:
        result = check(exercise_id, answer, seed=seed, quiet=True)
        assert result.passed, (seed, result.hint)
