"""Where the course files live, and copies of the lessons for a learner.

A source checkout keeps the lessons in ``lessons/`` and the embedded phantoms in
``data/phantoms.npz`` next to the ``medlearn`` package. A wheel carries the same
files inside the package, under ``medlearn/_course/`` (``setup.py`` copies them
there at build time). :func:`course_root` finds whichever is present, so
``load_phantoms`` and ``medlearn lessons`` work the same after ``pip install``.

Each lesson's first markdown cell says which copy it is, on one line that
starts with :data:`INSTRUCTOR_LINE`'s marker; ``medlearn assign`` swaps it for
:data:`STUDENT_LINE` in the student copy.

Used in every lesson's first cell (the copy line); ``medlearn lessons`` copies the lessons
(:func:`medlearn.grading.copies.copy_lessons`).
"""
from __future__ import annotations

import platform
import re
from pathlib import Path

from medlearn.errors import MedlearnError

__all__ = [
    "CourseError", "INSTRUCTOR_LINE", "STUDENT_LINE", "COPY_LINE_RE", "course_root", "lessons_dir",
    "lesson_paths", "mark_copy", "KERNELSPEC", "language_info", "set_kernel_metadata", "IMPORT_GUARD",
]

_PACKAGE = Path(__file__).resolve().parent
_BUNDLED = _PACKAGE / "_course"          # inside a wheel / a non-editable install
_CHECKOUT = _PACKAGE.parent              # a source checkout (and editable installs)

INSTRUCTOR_LINE = ("> **Instructor copy** — solutions and hidden checks included. Learners: open the "
                   "student copy instead (`python3 dev.py lessons`, or `medlearn lessons DIR --student`).")
STUDENT_LINE = ("> **Student copy** — the exercises are yours to solve: replace each "
                "`raise NotImplementedError()`, then run the check cell below it for PASS or FAIL with a hint.")
COPY_LINE_RE = re.compile(r"^> \*\*(Instructor|Student) copy\*\*.*$", re.M)


# The start of every lesson's first code cell (tests/test_lesson_copies.py checks it). A lesson opened
# on its own (Colab, a downloaded file) without medlearn installed shows one line saying what to
# install -- Jupyter prints what _render_traceback_ returns instead of a ModuleNotFoundError traceback.
IMPORT_GUARD = """try:
    import medlearn
except ImportError:  # opened on its own (Colab, a downloaded file): say in one line what to install
    class NotInstalled(ImportError):
        _render_traceback_ = lambda self: [str(self)]   # Jupyter shows this line, not a traceback
    raise NotInstalled("medlearn is not installed in this Python: run `pip install medlearn` (or install "
                       "the medlearn wheel your course gives you), then restart the kernel.") from None
"""


class CourseError(MedlearnError):
    """The course files cannot be found or copied."""


def course_root() -> Path:
    """The folder holding ``lessons/`` and ``data/phantoms.npz``.

    Returns:
        ``medlearn/_course`` in an installed wheel, else the source checkout's root.
    """
    return _BUNDLED if (_BUNDLED / "lessons").is_dir() else _CHECKOUT


def lessons_dir() -> Path:
    """The folder of the instructor lessons (``NN_title.ipynb``)."""
    return course_root() / "lessons"


def lesson_paths() -> list[Path]:
    """The instructor lessons, sorted by number.

    Raises:
        CourseError: none found (a broken install).
    """
    found = sorted(lessons_dir().glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise CourseError(f"no lessons found in {lessons_dir()}. Fix: reinstall medlearn "
                          "(`pip install --force-reinstall medlearn`) or run from a clone of the course.")
    return found


def mark_copy(source: str, *, student: bool) -> str:
    """Rewrite the "which copy" line of a lesson's first markdown cell.

    Args:
        source: the cell's markdown.
        student: write :data:`STUDENT_LINE` (True) or :data:`INSTRUCTOR_LINE` (False).

    Returns:
        The markdown with its copy line replaced (unchanged when it has none).
    """
    line = STUDENT_LINE if student else INSTRUCTOR_LINE
    return COPY_LINE_RE.sub(lambda _m: line, source, count=1)


# What ipykernel's "python3" kernel reports. JupyterLab writes the kernel's own values into the
# notebook when it connects; a notebook that already holds them is not marked modified on open.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def language_info(version: str | None = None) -> dict:
    """The ``language_info`` metadata ipykernel reports for this (or the given) Python version."""
    return {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
            "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
            "pygments_lexer": "ipython3", "version": version or platform.python_version()}


def set_kernel_metadata(nb, version: str | None = None):
    """Give a notebook the kernelspec and language_info its kernel will report (in place; returns it).

    Args:
        nb: an nbformat notebook.
        version: the Python version to record; default this interpreter's, which is the
            kernel's when the copy is made in the environment that runs it.
    """
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = language_info(version)
    return nb
