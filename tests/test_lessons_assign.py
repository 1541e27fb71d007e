"""Every lesson with exercises: the instructor copy scores full marks, the student copy zero.

For each ``lessons/*.ipynb`` holding solution markers, the student copy is built
with :func:`medlearn.grading.assign` and both copies are graded in the sandbox
(as ``medlearn grade`` would). The student copy must fail *only* because of
``NotImplementedError``: each check either raised it, or an earlier cell did
(a later cell that uses an unfinished function fails in turn).

One test class per lesson (``TestLesson01`` ...): ``dev.py test`` runs pytest-xdist with
``--dist loadscope``, which keeps a module's parametrized tests on one worker but spreads classes,
so the lessons' gradings (lesson 13: 76 s, lesson 09: 55 s, lesson 12: 6 s on 2 cores, 2026-12-01)
share both workers instead of queueing on one.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from medlearn.grading import Limits, assign, grade
from medlearn.grading.markers import has_solution
from medlearn.grading.source import read_notebook

LESSONS = Path(__file__).resolve().parent.parent / "lessons"


def _with_exercises() -> list[Path]:
    found = []
    for path in sorted(LESSONS.glob("*.ipynb")):
        if any(has_solution(c.source) for c in read_notebook(path).cells):
            found.append(path)
    return found


def _instructor_full_marks_student_zero(lesson, tmp_path):
    release = tmp_path / "release"
    (student_copy,) = assign([lesson], release)
    subs = tmp_path / "submissions"
    subs.mkdir()
    shutil.copy(lesson, subs / "instructor.ipynb")
    shutil.copy(student_copy, subs / "student.ipynb")
    out = tmp_path / "grades"
    frame = grade(lesson, subs, out, jobs=2, limits=Limits(timeout=600, memory_mb=8192), progress=False)
    rows = frame.set_index("student")
    teacher, student = rows.loc["instructor"], rows.loc["student"]
    assert teacher["max_score"] > 0
    assert teacher["status"] == "graded" and teacher["score"] == teacher["max_score"], (
        (out / "feedback" / "instructor.md").read_text())
    assert student["score"] == 0.0, (out / "feedback" / "student.md").read_text()

    record = json.loads((out / "results" / "student.json").read_text())["extra_data"]["medlearn"]["result"]
    for check in record["checks"]:
        own = check["error"] == "NotImplementedError"
        earlier = bool(check["earlier_errors"]) and check["earlier_errors"][0].endswith("NotImplementedError")
        assert own or earlier, f"{check['name']} failed for another reason: {check['hint']}"


def _lesson_class(lesson: Path) -> type:
    @pytest.mark.slow
    def test_instructor_full_marks_student_zero(self, tmp_path):
        _instructor_full_marks_student_zero(lesson, tmp_path)

    name = f"TestLesson{lesson.stem[:2]}"
    return type(name, (), {"__doc__": f"{lesson.name}: full marks for the instructor copy, zero for the student copy.",
                           "__module__": __name__, "__qualname__": name, "lesson": lesson,
                           "test_instructor_full_marks_student_zero": test_instructor_full_marks_student_zero})


LESSON_CLASSES = [_lesson_class(p) for p in _with_exercises()]
globals().update({cls.__name__: cls for cls in LESSON_CLASSES})


def test_every_lesson_with_exercises_has_its_class():
    assert LESSON_CLASSES, "no lesson with solution markers found"
    assert len({cls.__name__ for cls in LESSON_CLASSES}) == len(LESSON_CLASSES), "two lessons share a number"
