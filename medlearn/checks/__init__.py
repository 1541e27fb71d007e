"""Exercise checks: ``check(id, answer)`` prints PASS/FAIL with a hint.

See :mod:`medlearn.checks.core` for how a check is split so that grading never
trusts the student's process.
"""
from medlearn.checks.core import (
    CheckResult,
    Exercise,
    Verdict,
    check,
    get_exercise,
    list_exercises,
    register,
    student_seed,
)

__all__ = [
    "CheckResult",
    "Exercise",
    "Verdict",
    "check",
    "get_exercise",
    "list_exercises",
    "register",
    "student_seed",
]
