"""Build student copies of lessons: solutions stubbed, outputs cleared, hidden checks removed.

``medlearn assign lessons/*.ipynb --out release/`` writes one student copy per
notebook under the same file name. Cell ids are kept, so the grader can find
each exercise cell in a submission.

Used for lessons 01-08.
"""
from __future__ import annotations

import copy
from pathlib import Path

import nbformat

from medlearn.course import mark_copy
from medlearn.grading.errors import GradingError
from medlearn.grading.markers import has_solution, is_hidden_cell, strip_solutions
from medlearn.grading.safeio import atomic_write_text
from medlearn.grading.source import Assignment

__all__ = ["student_copy", "assign"]


def student_copy(notebook, *, name: str = "notebook") -> nbformat.NotebookNode:
    """Return the student version of an instructor notebook (the input is not modified).

    Every ``### BEGIN SOLUTION`` … ``### END SOLUTION`` block becomes
    ``# YOUR CODE HERE`` + ``raise NotImplementedError()`` at the marker's
    indentation (``YOUR ANSWER HERE`` in markdown), the first markdown cell's
    "Instructor copy" line becomes the "Student copy" line, cells starting with
    ``### HIDDEN CHECKS`` are removed, outputs and execution counts cleared.
    Check cells and cell ids are kept.

    Args:
        notebook: an nbformat v4 notebook with ids (see :func:`medlearn.grading.source.read_notebook`).
        name: names the notebook in error messages.

    Returns:
        A new ``NotebookNode``.

    Raises:
        AssignmentError: unbalanced solution markers.
    """
    nb = copy.deepcopy(notebook)
    cells = []
    first_markdown = True
    for index, cell in enumerate(nb.cells):
        where = f"{name}, cell {index}"
        if cell.cell_type == "markdown" and first_markdown:
            first_markdown = False
            cell.source = mark_copy(cell.source, student=True)   # "Instructor copy" -> "Student copy"
        if cell.cell_type == "code":
            if is_hidden_cell(cell.source):
                continue
            if has_solution(cell.source):
                cell.source = strip_solutions(cell.source, where=where)
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown" and has_solution(cell.source):
            cell.source = strip_solutions(cell.source, where=where, markdown=True)
        cell.get("metadata", {}).pop("medlearn", None)
        cells.append(cell)
    nb.cells = cells
    nb.metadata["medlearn"] = {"student_copy": True}
    return nb


def assign(notebooks, out: str | Path) -> list[Path]:
    """Write the student copy of each instructor notebook into ``out`` (same file names).

    Each source is fully validated first (markers balanced, check cells parse,
    check ids registered), so a typo is caught before anything is released.

    Args:
        notebooks: paths of instructor ``.ipynb`` files.
        out: the output folder (created if missing). Must not hold a source.

    Returns:
        The written paths, in input order.

    Raises:
        GradingError: no notebooks, a duplicate file name, or ``out`` would overwrite a source.
        AssignmentError: a source is not a valid instructor notebook.

    Example:
        >>> assign(["lessons/01_neurons.ipynb"], "release")   # doctest: +SKIP
        [PosixPath('release/01_neurons.ipynb')]
    """
    sources = [Path(p) for p in notebooks]
    if not sources:
        raise GradingError("assign needs at least one notebook. Received: none. Fix: `medlearn assign lessons/*.ipynb --out release`.")
    out = Path(out)
    names = [p.name for p in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise GradingError(f"notebooks must have distinct file names (copies share one folder). Received duplicates: {dupes}.")
    for src in sources:
        if not src.is_file():
            raise GradingError(f"notebook not found. Received: {str(src)!r}. Fix: check the path.")
        target = out / src.name
        if target.exists() and target.resolve() == src.resolve():
            raise GradingError(
                f"--out would overwrite the instructor source. Received: out={str(out)!r} holding {src.name!r}. "
                "Fix: choose another folder, e.g. `--out release`."
            )
    copies = []
    for src in sources:
        assignment = Assignment(src)  # validates markers, check cells and ids
        copies.append(student_copy(assignment.notebook, name=src.name))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for src, nb in zip(sources, copies):
        target = out / src.name
        atomic_write_text(target, nbformat.writes(nb) + "\n")
        written.append(target)
    return written
