"""The grader leaves out source statements no check or student's cell can observe (medlearn.grading.prune).

Each needed-statement test fails if the analysis drops that statement; the sandbox tests grade real
notebooks, so a dropped helper, seed or in-place update fails a check there too.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook

sys.path.insert(0, str(Path(__file__).resolve().parent))
from attacks import demo_exercises  # noqa: E402,F401  (registers demo.identity)

from medlearn.grading import Assignment, Limits  # noqa: E402
from medlearn.grading.grader import grade_submission  # noqa: E402
from medlearn.grading.prune import prune_steps  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FAST = Limits(timeout=120, memory_mb=4096)


def _job(*cells):
    """Steps from ("setup"|"student"|"check", source) pairs, numbered like the grader's."""
    steps = []
    for i, (kind, source) in enumerate(cells):
        if kind == "check":
            steps.append({"kind": "check", "expr": source, "where": f"check {i}"})
        elif kind == "student":
            steps.append({"kind": "code", "source": source, "where": f"exercise cell {i}", "student": True})
        else:
            steps.append({"kind": "code", "source": source, "where": f"cell {i}"})
    return steps


def _kept(*cells) -> str:
    """The source statements that still run, all setup cells joined (blank lines removed)."""
    steps, report = prune_steps(_job(*cells))
    assert report.active, report.reason
    return "\n".join(line for s in steps if s["kind"] == "code" and not s.get("student")
                     for line in s["source"].splitlines() if line.strip())


IDENT = ("student", "def ident(x):\n    return x")


# ------------------------------------------------------------------------------ what is left out
def test_unneeded_imports_and_data_cells_are_left_out():
    kept = _kept(("setup", "import numpy as np\nimport matplotlib.pyplot as plt\n"
                           "from sklearn.model_selection import train_test_split\nimport json"),
                 ("setup", "X = np.arange(10.0)\nXa, Xb = train_test_split(X, random_state=0)\nplt.plot(Xa)\nplt.show()"),
                 ("student", "def ident(x):\n    return np.asarray(x)"), ("check", "ident"))
    assert kept == "import numpy as np"


def test_lesson_03_skips_sklearn_and_pyplot_but_keeps_what_the_solutions_use():
    a = Assignment(ROOT / "lessons" / "03_backpropagation.ipynb")
    steps = []
    for step in a.steps:
        if step.kind == "check":
            steps.append({"kind": "check", "expr": step.check.expr, "where": "check"})
        else:
            steps.append({"kind": "code", "source": step.source, "where": f"cell {step.cell}",
                          "student": step.kind == "solution"})
    new, report = prune_steps(steps)
    assert report.active, report.reason
    kept = "\n".join(s["source"] for s in new if s["kind"] == "code" and not s["student"])
    assert "import numpy as np" in kept and "import medlearn.scratch as scratch" in kept
    assert "medlearn.setup(seed=42)" in kept  # seeds the global RNGs: always kept
    assert "sklearn" not in kept and "matplotlib" not in kept and "train_test_split(" not in kept
    assert [s["expr"] for s in new if s["kind"] == "check"] == [s["expr"] for s in steps if s["kind"] == "check"]
    assert all(s["source"] == t["source"] for s, t in zip([s for s in new if s.get("student")],
                                                          [s for s in steps if s.get("student")]))


def test_blanked_lines_keep_the_cells_line_numbers():
    steps, _ = prune_steps(_job(("setup", "import json\nimport numpy as np\n\nY = 1"), IDENT,
                                ("student", "def g(x):\n    return np.abs(x) + Y"), ("check", "g")))
    assert steps[0]["source"].splitlines() == ["", "import numpy as np", "", "Y = 1"]


def test_a_setup_cell_with_nothing_needed_is_removed_and_student_cells_are_untouched():
    student = "import json\nUNUSED = 1\ndef ident(x):\n    return x"
    steps, report = prune_steps(_job(("setup", "import json\nTHING = 3"), ("student", student), ("check", "ident")))
    assert [s["where"] for s in steps] == ["exercise cell 1", "check 2"] and steps[0]["source"] == student
    assert report.dropped == ["cell 0: import json", "cell 0: THING = 3"]


# ------------------------------------------------------------------------------ what must be kept
def test_a_setup_helper_the_students_own_code_uses_is_kept():
    # the source's solution does not use the helper; this student's code does
    kept = _kept(("setup", "def helper(x):\n    return x * SCALE\nSCALE = 1.0\nOTHER = 2"),
                 ("student", "def ident(x):\n    return helper(x)"), ("check", "ident"))
    assert "def helper" in kept and "SCALE = 1.0" in kept and "OTHER" not in kept


def test_names_read_through_functions_are_followed_transitively_and_after_the_student_cell():
    kept = _kept(("setup", "def inner():\n    return BASE\ndef outer():\n    return inner()"),
                 ("student", "def ident(x):\n    return x + outer() - 5.0"),
                 ("setup", "BASE = 5.0"),  # bound after the student's cell, before the check
                 ("check", "ident"))
    assert "def inner" in kept and "def outer" in kept and "BASE = 5.0" in kept


def test_a_check_expression_reading_setup_names_keeps_them():
    kept = _kept(("setup", "import functools\nWRAP = functools.partial"), IDENT, ("check", "WRAP(ident)"))
    assert "WRAP = functools.partial" in kept and "import functools" in kept


@pytest.mark.parametrize("seeding", ["np.random.seed(3)", "medlearn.setup(seed=42)", "random.seed(1)",
                                     "np.random.normal(size=3)", "rs = np.random.seed\nrs(3)",
                                     "from numpy.random import seed as s\ns(3)",
                                     "Xa, Xb = train_test_split(np.arange(4))", "np.seterr(all='raise')",
                                     "plt.rcParams['lines.linewidth'] = 2", "plt.rcParams.update({})",
                                     "fig = plt.figure()\nfig.savefig('shared.png')", "open('notes.txt', 'w').write('x')",
                                     "rc = plt.rcParams\nrc['lines.linewidth'] = 2", "from matplotlib import rcParams as RC\ndict.update(RC, {})",
                                     "from medlearn.config import REGISTRY\nREGISTRY.append(1)"])
def test_global_state_changes_are_kept_even_when_nothing_reads_their_names(seeding):
    setup = ("import random\nimport numpy as np\nimport medlearn\nimport matplotlib.pyplot as plt\n"
             "from sklearn.model_selection import train_test_split\n")
    kept = _kept(("setup", setup + seeding), IDENT, ("check", "ident"))
    for line in seeding.splitlines():
        assert line in kept


def test_module_functions_named_like_list_methods_are_not_mutations_of_the_module():
    kept = _kept(("setup", "import numpy as np\nv = np.append(np.zeros(2), 1.0)\nw = np.sort(v)"), IDENT, ("check", "ident"))
    assert kept == ""


def test_generators_with_their_own_seed_are_not_global_state():
    kept = _kept(("setup", "import numpy as np\nrng = np.random.default_rng(0)\nw = rng.normal(size=3)"),
                 IDENT, ("check", "ident"))
    assert kept == ""


@pytest.mark.parametrize("update", ["TABLE += 1", "alias = TABLE\nalias += 1", "TABLE[0] = 1.0",
                                    "TABLE.fill(1.0)", "def bump(a):\n    a += 1\nbump(TABLE)",
                                    "box = {'t': TABLE}\nbox['t'] += 1", "np.add(TABLE, 1, out=TABLE)"])
def test_in_place_updates_of_an_object_the_student_reads_are_kept(update):
    kept = _kept(("setup", "import numpy as np\nTABLE = np.zeros(3)\nUNRELATED = np.zeros(3)\nUNRELATED += 1"),
                 ("setup", update), ("student", "def ident(x):\n    return x * TABLE[0]"), ("check", "ident"))
    for line in update.splitlines():
        assert line in kept
    assert "UNRELATED" not in kept


def test_a_setup_call_into_a_stateful_student_function_is_kept():
    kept = _kept(("setup", "import numpy as np"),
                 ("student", "def ident(x):\n    np.random.seed(0)\n    return x"),
                 ("setup", "_ = ident(np.zeros(2))"), ("check", "ident"))
    assert "_ = ident(np.zeros(2))" in kept


def test_a_statement_that_may_raise_before_a_kept_one_in_its_cell_is_kept():
    kept = _kept(IDENT, ("setup", "assert ident(1) == 1\nHELPER = 2.0"),
                 ("student", "def g(x):\n    return x * HELPER"), ("check", "g"))
    assert "assert ident(1) == 1" in kept and "HELPER = 2.0" in kept


@pytest.mark.parametrize("cells, reason", [
    ((("setup", "import numpy as np\nSCALE = 1"), ("student", "def ident(x):\n    return x * globals()['SCALE']"),
      ("check", "ident")), "globals"),
    ((("setup", "SCALE = 1\nimport sys"), IDENT, ("check", "ident")), "sys"),
    ((("setup", "import keras\nm = keras.Sequential()"), IDENT, ("check", "ident")), "keras"),
    ((("setup", "import medlearn\nm = medlearn.models.build('x')"), IDENT, ("check", "ident")), "medlearn.models"),
    ((("setup", "def broken(:\n  pass"), IDENT, ("check", "ident")), "does not parse"),
])
def test_pruning_is_off_when_names_may_be_reached_dynamically_or_a_framework_is_used(cells, reason):
    steps = _job(*cells)
    new, report = prune_steps(steps)
    assert not report.active and reason in report.reason
    assert new == steps


# ------------------------------------------------------------------------------ in the sandbox
SETUP_CELLS = [
    "import numpy as np\nimport matplotlib.pyplot as plt\nfrom medlearn.checks import check\n"
    "def helper(x):\n    return x * ONE\nONE = 1.0",
    "TABLE = np.zeros(3)\nalias = TABLE\nalias += 1           # TABLE[0] is now 1",
    "np.random.seed(7)",
    "import medlearn_pruning_probe_not_installed   # never needed: skipped, or it raises",
]


def _notebook(student_sources: dict) -> nbformat.NotebookNode:
    def exercise(name, body):
        return f"def {name}(x):\n    ### BEGIN SOLUTION\n    {body}\n    ### END SOLUTION"

    solutions = {"via_helper": "return x", "via_table": "return x", "via_seed": "return x"}
    solutions.update(student_sources)
    cells = [new_code_cell(src) for src in SETUP_CELLS]
    cells.append(new_code_cell("DRAW = np.random.rand()   # after np.random.seed(7)"))
    for name in ("via_helper", "via_table", "via_seed"):
        cells.append(new_code_cell(exercise(name, solutions[name])))
        cells.append(new_code_cell(f'check("demo.identity", {name})'))
    for i, cell in enumerate(cells):
        cell.id = f"prune-{i}"
    return new_notebook(cells=cells)


def _write(path: Path, nb) -> Path:
    nbformat.write(nb, path)
    return path


def test_graded_in_the_sandbox_needed_statements_run_and_unneeded_ones_do_not(tmp_path):
    source = _write(tmp_path / "source.ipynb", _notebook({}))
    expected_draw = np.random.RandomState(7).random_sample()
    submission = _write(tmp_path / "student.ipynb", _notebook({
        "via_helper": "return helper(x)",                       # a setup helper the source solution does not use
        "via_table": "return x * TABLE[0]",                     # in-place update through an alias
        "via_seed": f"return x + (DRAW - {expected_draw!r})",  # the global seed before the student's draw
    }))
    assignment = Assignment(source)
    pruned = grade_submission(assignment, submission, student="s", limits=FAST)
    assert pruned.status == "graded", pruned.reason
    assert [c.passed for c in pruned.checks] == [True, True, True], [c.hint for c in pruned.checks]
    assert not any(c.earlier_errors for c in pruned.checks)  # the probe import never ran
    full = grade_submission(assignment, submission, student="s", limits=FAST, prune=False)
    assert [c.passed for c in full.checks] == [True, True, True]
    assert any("ModuleNotFoundError" in e for e in full.checks[0].earlier_errors)  # ... it does without pruning


def test_environment_switch_runs_every_statement(tmp_path, monkeypatch):
    source = _write(tmp_path / "source.ipynb", _notebook({}))
    monkeypatch.setenv("MEDLEARN_GRADE_ALL_SETUP", "1")
    result = grade_submission(Assignment(source), source, student="s", limits=FAST)
    assert result.status == "graded" and result.score == result.max_score
    assert any("ModuleNotFoundError" in e for e in result.checks[0].earlier_errors)
