"""Assignments and grading: student copies, a sandboxed grader, gradebooks.

Two commands cover the instructor's workflow::

    medlearn assign lessons/01_neurons.ipynb --out release/
    medlearn grade --assignment lessons/01_neurons.ipynb --out grades/ submissions/*.ipynb
    medlearn grade --assignment lessons/01_neurons.ipynb --autograder-bundle autograder.zip   # Gradescope

The same from Python::

    from medlearn.grading import assign, grade
    assign(["lessons/01_neurons.ipynb"], "release")
    df = grade("lessons/01_neurons.ipynb", "submissions/", "grades")

Submissions are treated as hostile: the student's exercise code runs in a
separate, limited process that only receives inputs and only returns plain
arrays, and every check is judged in the grader's own process. See
``SANDBOX.md`` in this folder for what the sandbox promises on each OS.

Importing this package is light; the parts load on first use.

Used for lessons 01-08.
"""
from __future__ import annotations

import importlib

__all__ = [
    "assign", "student_copy", "Assignment", "grade", "grade_submission", "Limits",
    "SubmissionResult", "AssignmentError", "GradingError", "write_bundle",
]

_WHERE = {
    "assign": "medlearn.grading.release",
    "student_copy": "medlearn.grading.release",
    "Assignment": "medlearn.grading.source",
    "grade": "medlearn.grading.gradebook",
    "grade_submission": "medlearn.grading.grader",
    "SubmissionResult": "medlearn.grading.grader",
    "Limits": "medlearn.grading.sandbox",
    "AssignmentError": "medlearn.grading.errors",
    "GradingError": "medlearn.grading.errors",
    "write_bundle": "medlearn.grading.autograder",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'medlearn.grading' has no attribute {name!r}")
