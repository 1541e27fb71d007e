"""Markers, student copies, the grading plan, matching, the gradebook and its resume, the CLI."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook

sys.path.insert(0, str(Path(__file__).resolve().parent))
from attacks import catalog, demo_exercises  # noqa: E402,F401

from medlearn.checks import check, get_exercise, student_seed  # noqa: E402
from medlearn.cli import main as cli_main  # noqa: E402
from medlearn.grading import AssignmentError, Assignment, GradingError, Limits, assign, grade, student_copy  # noqa: E402
from medlearn.grading import gradebook as gb  # noqa: E402
from medlearn.grading.grader import _cases_for, read_submission, InvalidSubmission  # noqa: E402
from medlearn.grading.markers import has_solution, is_hidden_cell, strip_solutions  # noqa: E402
from medlearn.grading.safeio import atomic_write_text, safe_load_npy  # noqa: E402

FAST = Limits(timeout=60, memory_mb=2048)


# --------------------------------------------------------------------------- markers
def test_strip_keeps_indentation_and_surroundings():
    src = "def f(x):\n    y = 2\n    ### BEGIN SOLUTION\n    return x * y\n    ### END SOLUTION\n# after"
    assert strip_solutions(src) == "def f(x):\n    y = 2\n    # YOUR CODE HERE\n    raise NotImplementedError()\n# after"


def test_strip_several_blocks_and_markdown():
    src = "### BEGIN SOLUTION\na = 1\n### END SOLUTION\nb = 2\n  ## BEGIN SOLUTION\n  c = 3\n  ##END SOLUTION"
    assert strip_solutions(src).splitlines() == ["# YOUR CODE HERE", "raise NotImplementedError()", "b = 2",
                                                 "  # YOUR CODE HERE", "  raise NotImplementedError()"]
    assert strip_solutions("### BEGIN SOLUTION\nIt is 42.\n### END SOLUTION", markdown=True) == "YOUR ANSWER HERE"


@pytest.mark.parametrize("src, words", [
    ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ("x = 1\n### END SOLUTION", "without a '### BEGIN SOLUTION'"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "nested"),
])
def test_unbalanced_markers_are_errors_naming_the_cell(src, words):
    with pytest.raises(AssignmentError, match=words) as info:
        strip_solutions(src, where="lesson.ipynb, cell 4")
    assert "cell 4" in str(info.value)


def test_marker_detection():
    assert has_solution("  ### BEGIN SOLUTION  \n") and not has_solution("# BEGIN SOLUTIONS? no")
    assert is_hidden_cell("\n\n### HIDDEN CHECKS\ncheck('a', b)") and not is_hidden_cell("x = 1\n### HIDDEN CHECKS")


# --------------------------------------------------------------------- student copies
def test_student_copy_strips_clears_removes_hidden_and_keeps_ids():
    source = catalog.source_notebook()
    source.cells[3].outputs = [nbformat.v4.new_output("stream", text="PASS\n")]
    source.cells[3].execution_count = 7
    copy = student_copy(source)
    assert [c.id for c in copy.cells] == list(catalog.IDS[:-1])  # hidden cell gone, ids kept
    text = "\n".join(c.source for c in copy.cells)
    assert "BEGIN SOLUTION" not in text and "logaddexp" not in text and "HIDDEN" not in text
    assert copy.cells[2].source.splitlines()[-2:] == ["    # YOUR CODE HERE", "    raise NotImplementedError()"]
    assert all(c.outputs == [] and c.execution_count is None for c in copy.cells if c.cell_type == "code")
    assert copy.cells[3].source == 'check("demo.sigmoid", sigmoid)'
    assert source.cells[3].outputs  # the input is not modified


def test_assign_writes_same_names_and_refuses_to_overwrite_the_source(tmp_path):
    src = tmp_path / "lesson.ipynb"
    nbformat.write(catalog.source_notebook(), src)
    written = assign([src], tmp_path / "release")
    assert written == [tmp_path / "release" / "lesson.ipynb"]
    nb = nbformat.read(written[0], as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["medlearn"]["student_copy"] is True
    with pytest.raises(GradingError, match="overwrite the instructor source"):
        assign([src], tmp_path)


def test_assign_validates_check_ids_before_writing(tmp_path):
    nb = catalog.source_notebook()
    nb.cells[3].source = 'check("demo.sigmoyd", sigmoid)'
    nbformat.write(nb, tmp_path / "bad.ipynb")
    with pytest.raises(AssignmentError, match="demo.sigmoid"):  # suggests the close match
        assign([tmp_path / "bad.ipynb"], tmp_path / "out")
    assert not (tmp_path / "out" / "bad.ipynb").exists()


def test_cli_assign(tmp_path, capsys):
    nbformat.write(catalog.source_notebook(), tmp_path / "a.ipynb")
    assert cli_main(["assign", str(tmp_path / "a.ipynb"), "--out", str(tmp_path / "rel")]) == 0
    assert "wrote" in capsys.readouterr().out and (tmp_path / "rel" / "a.ipynb").exists()
    assert cli_main(["assign", str(tmp_path / "missing.ipynb"), "--out", str(tmp_path / "rel")]) == 1


# ----------------------------------------------------------------- the grading plan
def _write(tmp_path, nb, name="source.ipynb"):
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def test_assignment_classifies_cells(tmp_path):
    a = Assignment(_write(tmp_path, catalog.source_notebook()))
    assert [s.kind for s in a.steps] == ["code", "solution", "check", "solution", "check", "check", "check"]
    assert [c.name for c in a.checks] == ["demo.sigmoid", "demo.standardize", "demo.sigmoid (hidden)",
                                          "demo.standardize (hidden)"]
    assert [c.hidden for c in a.checks] == [False, False, True, True]


def test_check_cells_may_mix_statements(tmp_path):
    nb = catalog.source_notebook()
    nb.cells[3].source = 'z = np.zeros(3)\nok = check("demo.sigmoid", sigmoid, seed=3)\nassert medlearn_ok if False else True\ncheck("demo.sigmoid", lambda v: sigmoid(v))'
    a = Assignment(_write(tmp_path, nb))
    kinds = [(s.kind, s.source) for s in a.steps if s.cell == 3]
    assert kinds[0] == ("code", "z = np.zeros(3)") and kinds[1][0] == "check" and kinds[2][0] == "code"
    assert a.checks[0].seed == 3 and a.checks[1].name == "demo.sigmoid #2"


@pytest.mark.parametrize("cell, words", [
    ("%matplotlib inline", "magics"),
    ("check(name, sigmoid)", "literal id"),
    ('check("nope.nothing", sigmoid)', "nope.nothing"),
])
def test_bad_instructor_cells(tmp_path, cell, words):
    nb = catalog.source_notebook()
    nb.cells[3].source = cell
    with pytest.raises(AssignmentError, match=words):
        Assignment(_write(tmp_path, nb))


def test_not_a_notebook_source(tmp_path):
    (tmp_path / "x.ipynb").write_text("nope")
    with pytest.raises(AssignmentError, match="readable Jupyter notebook"):
        Assignment(tmp_path / "x.ipynb")


def test_matching_by_id_then_by_definitions(tmp_path):
    a = Assignment(_write(tmp_path, catalog.source_notebook()))
    sub = catalog.student_notebook()
    sub.cells[2].source = "def sigmoid(z):\n    return 'by id'"
    sub.cells[4].id = "renamed"  # e.g. copied into a new notebook
    sub.cells[4].source = "import numpy as np\ndef standardize(x):\n    return 'by name'"
    sub.cells.insert(1, new_code_cell("def standardize(x):\n    return 'older draft'"))
    match = a.match(sub)
    assert match.codes[2].endswith("'by id'") and match.codes[4].endswith("'by name'")  # the last definition wins
    assert match.by_name == [4] and match.missing == []
    del sub.cells[5]
    del sub.cells[1]
    assert a.match(sub).missing == [4]


def test_read_submission_rejects_non_notebooks():
    for data, words in ((b"\xff\xfe", "JSON"), (b"[1, 2]", "cells"), (b'{"cells": "x"}', "cells")):
        with pytest.raises(InvalidSubmission, match=words):
            read_submission(data)


# ----------------------------------------------------------------------- seeds/cases
def test_visible_cases_are_the_lessons_and_hidden_ones_are_per_student(tmp_path):
    a = Assignment(_write(tmp_path, catalog.source_notebook()))
    visible, hidden = a.checks[0], a.checks[2]
    ex = get_exercise("demo.sigmoid")
    mine = _cases_for(a, visible, "ann", "salt", {})
    same = ex.make_cases(np.random.default_rng(0))  # what check() uses in the lesson
    assert all(np.array_equal(x["z"], y["z"]) for x, y in zip(mine, same))
    ann, bob = (_cases_for(a, hidden, s, "salt", {}) for s in ("ann", "bob"))
    assert not np.array_equal(ann[0]["z"], bob[0]["z"])
    again = ex.make_cases(np.random.default_rng(student_seed("ann", "demo.sigmoid", "salt")))
    assert np.array_equal(ann[0]["z"], again[0]["z"])
    assert not np.array_equal(_cases_for(a, hidden, "ann", "other salt", {})[0]["z"], ann[0]["z"])


def test_check_in_the_lesson_never_prints_the_expected_value(capsys):
    result = check("demo.sigmoid", lambda z: z * 0 + 0.25)
    out = capsys.readouterr().out
    assert not result and "FAIL" in out and "0.5" in out  # the hint cites the definition sigmoid(0)=0.5 ...
    z = get_exercise("demo.sigmoid").make_cases(np.random.default_rng(0))[0]["z"]
    assert f"{1 / (1 + np.exp(-z.flat[0])):.4f}" not in out  # ... never an expected value


# ------------------------------------------------------------------- files and resume
def test_safe_load_refuses_pickles_and_lying_headers(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="object"):
        safe_load_npy(tmp_path / "obj.npy")
    np.save(tmp_path / "big.npy", np.zeros(10))
    raw = (tmp_path / "big.npy").read_bytes().replace(b"(10,)", b"(10000000000,)".ljust(5))
    (tmp_path / "big.npy").write_bytes(raw)
    with pytest.raises(ValueError):
        safe_load_npy(tmp_path / "big.npy")


def test_atomic_write_leaves_no_temp_files(tmp_path):
    atomic_write_text(tmp_path / "f.txt", "one")
    atomic_write_text(tmp_path / "f.txt", "two")
    assert (tmp_path / "f.txt").read_text() == "two" and [p.name for p in tmp_path.iterdir()] == ["f.txt"]


@pytest.fixture
def course(tmp_path):
    (tmp_path / "instructor").mkdir()
    src = _write(tmp_path / "instructor", catalog.source_notebook())
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(catalog.source_notebook(), subs / "ann.ipynb")
    nbformat.write(catalog.student_notebook(), subs / "bob.ipynb")
    half = catalog._edit({"ex-sigmoid": catalog.GOOD_SIGMOID, "ex-standardize": "def standardize(x):\n    return (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)"})
    nbformat.write(half, subs / "cy.ipynb")
    return src, subs, tmp_path / "out"


def test_grade_batch_outputs_and_resume(course, monkeypatch):
    src, subs, out = course
    monkeypatch.setattr(gb, "code_digest", lambda modules=(): "judge code unchanged")  # others edit the tree meanwhile
    frame = grade(src, subs, out, jobs=2, limits=FAST, progress=False)
    assert list(frame.columns) == ["student", "score", "max_score", "status", "reason", "demo.sigmoid",
                                   "demo.standardize", "demo.sigmoid (hidden)", "demo.standardize (hidden)"]
    assert frame.set_index("student")["score"].to_dict() == {"ann": 4.0, "bob": 0.0, "cy": 2.0}
    csv = pd.read_csv(out / "gradebook.csv")
    assert csv.shape == (3, 9) and list(csv["student"]) == ["ann", "bob", "cy"]
    feedback = (out / "feedback" / "cy.md").read_text()
    assert "2 / 4" in feedback and "axis=0" in feedback  # the row-wise mistake gets its hint
    doc = json.loads((out / "results" / "cy.json").read_text())
    assert doc["score"] == 2.0 and [t["status"] for t in doc["tests"]] == ["passed", "failed", "passed", "failed"]

    # a re-run regrades nothing unchanged; a changed or forged result is regraded
    calls = []
    real = gb.grade_submission
    monkeypatch.setattr(gb, "grade_submission", lambda *a, **k: calls.append(k["student"]) or real(*a, **k))
    assert grade(src, subs, out, jobs=2, limits=FAST, progress=False).equals(frame) and calls == []
    nbformat.write(catalog.source_notebook(), subs / "bob.ipynb")  # bob resubmits a correct notebook
    forged = json.loads((out / "results" / "cy.json").read_text())
    forged["extra_data"]["medlearn"]["result"]["score"] = 4.0
    (out / "results" / "cy.json").write_text(json.dumps(forged))
    again = grade(src, subs, out, jobs=2, limits=FAST, progress=False).set_index("student")["score"]
    assert sorted(calls) == ["bob", "cy"] and again.to_dict() == {"ann": 4.0, "bob": 4.0, "cy": 2.0}


def test_grade_without_out_writes_nothing(course):
    src, subs, out = course
    frame = grade(src, [subs / "cy.ipynb"], None, jobs=1, limits=FAST, progress=False)
    assert frame["score"].tolist() == [2.0] and not out.exists()


def test_cli_grade(course, capsys):
    src, subs, out = course
    rc = cli_main(["grade", "--assignment", str(src), "--out", str(out), "--jobs", "2", "--timeout", "60",
                   "--memory-mb", "2048", "--quiet", str(subs / "ann.ipynb"), str(subs / "bob.ipynb")])
    assert rc == 0
    text = capsys.readouterr().out
    assert "graded 2 submission(s): 2 graded" in text and (out / "gradebook.csv").exists()
    assert cli_main(["grade", "--assignment", str(src), "--out", str(out), str(subs / "nobody.ipynb")]) == 1
    assert "submission not found" in capsys.readouterr().err


def test_a_slow_check_is_stopped_at_its_budget_and_grading_goes_on(tmp_path):
    cells = [new_code_cell(catalog.SETUP + "\nimport time"),
             new_code_cell("def ident(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"),
             new_code_cell('check("demo.identity", ident)'),
             new_code_cell(catalog.SIGMOID), new_code_cell('check("demo.sigmoid", sigmoid)')]
    src = _write(tmp_path, new_notebook(cells=cells))
    slow = new_notebook(cells=[c.copy() for c in cells])
    slow.cells[1].source = "def ident(x):\n    time.sleep(30)\n    return x"
    _write(tmp_path, slow, "slow.ipynb")
    frame = grade(src, [tmp_path / "slow.ipynb"], tmp_path / "out", jobs=1, limits=FAST, progress=False)
    row = frame.iloc[0]
    assert row["demo.identity"] == 0.0 and row["demo.sigmoid"] == 1.0 and row["status"] == "graded"
    assert re.search(r"time budget|within its .{1,12} limit", (tmp_path / "out" / "feedback" / "slow.md").read_text())


def test_warnings_never_fail_a_correct_answer(tmp_path):
    (tmp_path / "instructor").mkdir()
    src = _write(tmp_path / "instructor", catalog.source_notebook())
    noisy = catalog._edit({"ex-sigmoid": "import warnings\nwarnings.simplefilter('error')\n" + catalog.GOOD_SIGMOID.replace(
        "    return", "    warnings.warn('careful', RuntimeWarning)\n    np.exp(np.array([1000.0]))  # overflows\n    return")})
    _write(tmp_path, noisy, "noisy.ipynb")
    frame = grade(src, [tmp_path / "noisy.ipynb"], None, jobs=1, limits=FAST, progress=False)
    assert frame.iloc[0]["demo.sigmoid"] == 1.0 and frame.iloc[0]["demo.sigmoid (hidden)"] == 1.0


def test_a_check_inside_an_exercise_cell_is_refused(tmp_path):
    nb = catalog.source_notebook()
    nb.cells[2].source += '\ncheck("demo.sigmoid", sigmoid)'
    with pytest.raises(AssignmentError, match="own cell"):
        Assignment(_write(tmp_path, nb))
