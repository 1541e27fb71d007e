"""Lesson cell ids follow the scheme lNN-<slug> and are unique; old submissions still match by names.

The grader matches a submission's exercise cells by cell id first, then by the names the cell defines
(medlearn.grading.source.Assignment.match), so a notebook saved before the ids were renamed still grades.
"""
from __future__ import annotations

import random
import re
from pathlib import Path

import nbformat
import pytest

LESSONS = sorted((Path(__file__).resolve().parents[1] / "lessons").glob("[0-9][0-9]_*.ipynb"))
ID = re.compile(r"^l(\d\d)-[a-z0-9]+(?:-[a-z0-9]+)*$")


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_cell_ids_follow_the_scheme_and_are_unique(path):
    nb = nbformat.read(path, as_version=4)
    ids = [cell.get("id", "") for cell in nb.cells]
    bad = [i for i in ids if not ID.match(i or "") or ID.match(i).group(1) != path.name[:2] or len(i) > 64]
    assert not bad, f"{path.name}: ids not of the form l{path.name[:2]}-<slug>: {bad}"
    assert len(set(ids)) == len(ids), f"{path.name}: duplicate ids"
    assert not any(re.fullmatch(r"l\d\d-\d+", i) for i in ids), "ids must be descriptive, not positional"


@pytest.mark.parametrize("path", [p for p in LESSONS if p.name[:2] <= "08"], ids=lambda p: p.stem)
def test_a_submission_with_the_old_random_ids_still_matches_every_exercise_cell(path):
    from medlearn.grading import Assignment

    assignment = Assignment(path)
    old = nbformat.read(path, as_version=4)
    rng = random.Random(0)
    for cell in old.cells:
        cell["id"] = "%08x" % rng.getrandbits(32)   # ids as Jupyter made them before the renaming
    match = assignment.match(old)
    assert not match.missing, f"exercise cells not found by name: {match.missing}"
    assert set(match.by_name) == {s.cell for s in assignment.solution_steps}
