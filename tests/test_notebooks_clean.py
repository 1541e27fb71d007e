"""Lessons are committed clean and follow the lesson conventions (CONTRIBUTING.md)."""
import re
from pathlib import Path

import nbformat
import pytest

LESSONS = sorted((Path(__file__).resolve().parents[1] / "lessons").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_lessons():
    assert LESSONS, "no lessons found in lessons/"


@pytest.mark.parametrize("path", LESSONS, ids=[p.name for p in LESSONS])
def test_lesson_is_clean_and_conventional(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a lesson without code"
    for cell in code:
        assert cell.outputs == [], f"stored outputs in cell {cell.get('id')}: commit lessons without outputs"
        assert cell.execution_count is None
        for line in cell.source.splitlines():
            assert not re.match(r"\s*[%!]", line), f"IPython magic/shell escape: {line!r} (the grader runs plain Python)"
    assert "medlearn.setup(" in code[0].source, "the first code cell must call medlearn.setup(...)"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.lstrip().startswith("#"), "start with a title"
