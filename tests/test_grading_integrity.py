"""Grades that cannot be faked (issue 15): hostile file names and special files, published files
that are derived (never trusted), one grader per output folder, course folders that stay covered,
a cache keyed on the judging code, library delegation judged in the grader, the similarity report.

Every hostile submission is built here from the student copy (tests/attacks/catalog.py), so each
test fails when its defence is removed.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

sys.path.insert(0, str(Path(__file__).resolve().parent))
from attacks import catalog, demo_exercises  # noqa: E402,F401  (registers demo.*)

import medlearn  # noqa: E402

from medlearn.grading import GradingError, Limits, grade  # noqa: E402
from medlearn.grading import gradebook as gb  # noqa: E402
from medlearn.grading import grader  # noqa: E402
from medlearn.grading.lock import OutputLock  # noqa: E402
from medlearn.grading.records import PublishedFileWarning  # noqa: E402

FAST = Limits(timeout=60, memory_mb=2048)
SOLVED_SIGMOID = catalog.GOOD_SIGMOID
SOLVED_STD = "def standardize(x):\n    return (x - x.mean(axis=0)) / x.std(axis=0)\n"
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the covering sandbox is Linux-only")


def _solved():
    return catalog._edit({"ex-sigmoid": SOLVED_SIGMOID, "ex-standardize": SOLVED_STD})


@pytest.fixture
def source(tmp_path):
    (tmp_path / "instructor").mkdir()
    path = tmp_path / "instructor" / "source.ipynb"
    nbformat.write(catalog.source_notebook(), path)
    return path


class _FifoWatch:
    """Fails the test if anyone opens the FIFO for reading; unblocks such a reader so nothing hangs."""

    def __init__(self, path: Path, seconds: float = 120.0):
        self.path, self.opened, self.stop = path, False, threading.Event()
        self.thread = threading.Thread(target=self._run, args=(seconds,), daemon=True)
        self.thread.start()

    def _run(self, seconds):
        end = time.monotonic() + seconds
        while not self.stop.is_set() and time.monotonic() < end:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)  # succeeds only while a reader waits
            except OSError:
                time.sleep(0.05)
                continue
            self.opened = True
            os.close(fd)

    def close(self):
        self.stop.set()
        self.thread.join()


# --------------------------------------------------------------------- every path gets a row
HOSTILE_NAMES = {  # file name -> solved?
    '=HYPERLINK("evil")': True,
    "+1+1": False,
    "-2+3": False,
    "@SUM(A1)": False,
    "<img src=x onerror=alert(1)>": True,
    "eve\nmallory,4,4,graded": False,
    "a" * 240: True,
    "C:\\Users\\dan\\dan": True,
    "tab\tand\rreturn": False,
}


def test_every_submitted_path_gets_a_row_and_no_name_breaks_the_batch(tmp_path, source):
    subs = tmp_path / "subs"
    subs.mkdir()
    for name, solved in HOSTILE_NAMES.items():
        nbformat.write(_solved() if solved else catalog.student_notebook(), subs / f"{name}.ipynb")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    nbformat.write(_solved(), elsewhere / "solved.ipynb")
    (subs / "link_solved.ipynb").symlink_to(elsewhere / "solved.ipynb")
    (subs / "link_source.ipynb").symlink_to(source)
    os.mkfifo(subs / "fifo.ipynb")
    (subs / "folder.ipynb").mkdir()
    (subs / "notes.txt").write_text("my answers are in the notebook")
    big = _solved()
    big.cells.append(new_markdown_cell("x" * 300_000))
    nbformat.write(big, subs / "big.ipynb")
    watch = _FifoWatch(subs / "fifo.ipynb")
    try:
        frame = grade(source, subs, tmp_path / "out", jobs=2, limits=FAST, progress=False,
                      max_submission_bytes=200_000)
    finally:
        watch.close()
    assert not watch.opened, "the grader opened a FIFO (it would block the batch)"
    assert len(frame) == len(HOSTILE_NAMES) + 6  # nothing dropped, nothing aborted
    rows = frame.set_index("student")
    reasons = {
        "link_solved": "symbolic link", "link_source": "symbolic link", "fifo": "FIFO", "folder": "folder",
        "notes.txt": "not a notebook", "big": "too big",
    }
    for student, words in reasons.items():
        assert rows.loc[student, "status"] == "invalid" and words in rows.loc[student, "reason"], student
        assert rows.loc[student, "score"] == 0.0
    assert rows.loc["dan", "score"] == 4.0  # a Windows path as a name: the last component is the student
    assert rows.loc['=HYPERLINK("evil")', "score"] == 4.0
    assert rows.loc["<img src=x onerror=alert(1)>", "score"] == 4.0
    long_name = next(s for s in rows.index if s.startswith("aaaa"))
    assert rows.loc[long_name, "score"] == 4.0 and len(long_name) <= 120
    assert not any("\n" in s or "\r" in s or "\t" in s for s in rows.index)

    out = tmp_path / "out"
    text = (out / "gradebook.csv").read_text()
    table = list(csv.reader(io.StringIO(text)))
    assert len(text.splitlines()) == len(table) == len(frame) + 1  # a newline in a name forges no line
    for row in table[1:]:
        for cell in row[:1] + row[3:5]:  # student, status, reason: text written by or about students
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert {r[0] for r in table[1:]} >= {"'" + '=HYPERLINK("evil")', "'+1+1", "'-2+3", "'@SUM(A1)"}
    stems = sorted(p.name for p in (out / "feedback").iterdir())
    assert len(stems) == len(frame) and len({s.lower() for s in stems}) == len(stems)
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\.md", s) for s in stems), stems
    assert sorted(p.stem for p in (out / "results").iterdir()) == sorted(Path(s).stem for s in stems)
    feedback = "".join(p.read_text() for p in (out / "feedback").iterdir())
    assert "<img" not in feedback and "&lt;img src=x onerror=alert\\(1\\)&gt;" in feedback


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_named_as_a_submission_is_an_invalid_row_never_read(tmp_path, source):
    frame = grade(source, ["/dev/zero", "/dev/null"], None, jobs=1, limits=FAST, progress=False)
    assert list(frame["status"]) == ["invalid", "invalid"]
    assert all("character device" in r for r in frame["reason"])


# --------------------------------------------------------------------- derived, never trusted
def _batch(tmp_path, source, names=("ann", "bob")):
    subs = tmp_path / "subs"
    subs.mkdir(exist_ok=True)
    for name in names:
        nbformat.write(_solved() if name == "ann" else catalog.student_notebook(), subs / f"{name}.ipynb")
    return subs


def test_published_files_are_regenerated_from_the_signed_record(tmp_path, source, monkeypatch):
    monkeypatch.setattr(gb, "code_digest", lambda modules=(): "fixed")
    subs, out = _batch(tmp_path, source), tmp_path / "out"
    grade(source, subs, out, jobs=2, limits=FAST, progress=False)
    original = {p: p.read_bytes() for p in [*(out / "results").iterdir(), *(out / "feedback").iterdir()]}
    doc = json.loads((out / "results" / "bob.json").read_text())
    doc["score"] = 4.0  # what Gradescope reads
    for t in doc["tests"]:
        t.update(score=t["max_score"], status="passed")
    (out / "results" / "bob.json").write_text(json.dumps(doc))
    (out / "feedback" / "bob.md").write_text("# Feedback\nScore: **4 / 4**\n")
    forged = json.loads((out / "results" / "ann.json").read_text())
    forged["extra_data"]["medlearn"]["result"]["student"] = "mallory"
    forged["extra_data"]["medlearn"]["stem"] = "mallory"
    (out / "results" / "mallory.json").write_text(json.dumps(forged))
    (out / "feedback" / "mallory.md").write_text("Score: **4 / 4**")
    calls = []
    real = gb.grade_submission
    monkeypatch.setattr(gb, "grade_submission", lambda *a, **k: calls.append(k["student"]) or real(*a, **k))
    with pytest.warns(PublishedFileWarning) as caught:
        frame = grade(source, subs, out, jobs=2, limits=FAST, progress=False)
    messages = " | ".join(str(w.message) for w in caught)
    assert calls == []  # the signed records were reused ...
    assert {p: p.read_bytes() for p in original} == original  # ... and every published file rebuilt from them
    assert "results/bob.json differed" in messages and "feedback/bob.md differed" in messages
    assert "mallory.json does not match its signature" in messages and "mallory.md has no signed record" in messages
    assert not (out / "results" / "mallory.json").exists() and (out / "rejected" / "results-mallory.json").exists()
    assert frame.set_index("student")["score"].to_dict() == {"ann": 4.0, "bob": 0.0}
    assert "mallory" not in (out / "gradebook.csv").read_text()


def test_the_gradebook_keeps_the_students_of_earlier_runs(tmp_path, source):
    subs, out = _batch(tmp_path, source), tmp_path / "out"
    grade(source, [subs / "ann.ipynb"], out, jobs=1, limits=FAST, progress=False)
    frame = grade(source, [subs / "bob.ipynb"], out, jobs=1, limits=FAST, progress=False)
    assert frame.set_index("student")["score"].to_dict() == {"ann": 4.0, "bob": 0.0}
    assert list(csv.reader(io.StringIO((out / "gradebook.csv").read_text())))[1][0] == "ann"
    assert sorted(p.name for p in (out / "results").iterdir()) == ["ann.json", "bob.json"]


def test_a_second_grader_on_the_same_out_is_refused_and_named(tmp_path, source):
    subs, out = _batch(tmp_path, source, ["ann"]), tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from medlearn.grading.lock import OutputLock\n"
         "lock = OutputLock(sys.argv[1]).__enter__(); print('locked', flush=True); time.sleep(60)", str(out)],
        stdout=subprocess.PIPE, text=True, cwd=Path(medlearn.__file__).parent.parent)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(GradingError, match=rf"another grader .*process {holder.pid} "):
            grade(source, subs, out, jobs=1, limits=FAST, progress=False)
        assert not (out / "gradebook.csv").exists()
    finally:
        holder.kill()
        holder.wait()
    assert grade(source, subs, out, jobs=1, limits=FAST, progress=False)["score"].tolist() == [4.0]  # freed by the kernel
    with OutputLock(out), pytest.raises(GradingError, match="another grader"):
        grade(source, subs, out, jobs=1, limits=FAST, progress=False)  # also within one process


# ---------------------------------------------------------- a course with its own exercise module
COURSE_MODULE = '''"""The course's own exercise (registered as coursework.triple)."""
import numpy as np
from medlearn.checks import Exercise, Verdict, list_exercises, register


def _judge(case, out):
    ok = np.allclose(np.asarray(out.get("y")), 3 * case["x"])
    return Verdict(bool(ok), "Multiply every element by three.")


if "coursework.triple" not in list_exercises():
    register(Exercise("coursework.triple", "triple each element", lambda rng: [{"x": rng.normal(size=5)}],
                      lambda answer, case: {"y": answer(case["x"])}, _judge))
'''
TRIPLE = "def triple(x):\n    ### BEGIN SOLUTION\n    return x + x + x\n    ### END SOLUTION"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course folder: lesson source, its exercise module, solved checkpoint copy, a solutions file."""
    root = tmp_path_factory.mktemp("course")
    folder = root / "course"
    (folder / ".ipynb_checkpoints").mkdir(parents=True)
    (folder / "coursework_ex.py").write_text(COURSE_MODULE)
    cells = [new_code_cell("import numpy as np\nfrom medlearn.checks import check\nimport coursework_ex"),
             new_code_cell(TRIPLE), new_code_cell('check("coursework.triple", triple)'),
             new_code_cell('### HIDDEN CHECKS\ncheck("coursework.triple", triple)')]
    for cell, cid in zip(cells, ("setup", "ex-triple", "check-triple", "hidden")):
        cell.id = cid
    source = new_notebook(cells=cells)
    nbformat.write(source, folder / "lesson.ipynb")
    nbformat.write(source, folder / ".ipynb_checkpoints" / "lesson-checkpoint.ipynb")
    (folder / "solutions.py").write_text("def triple(x):\n    return x + x + x\n")
    sys.path.insert(0, str(folder))  # how an instructor makes the module importable for the grader
    import coursework_ex  # noqa: F401

    yield folder
    sys.path.remove(str(folder))


def _course_copy(course: Path, code: str):
    from medlearn.grading.release import student_copy

    nb = student_copy(nbformat.read(course / "lesson.ipynb", as_version=4))
    next(c for c in nb.cells if c.id == "ex-triple").source = code
    return nb


def _steal(course: Path) -> str:
    """Exercise-cell code that looks for a solved copy anywhere near the course and runs it."""
    return f'''import glob, json, os
def triple(x):
    raise NotImplementedError()
places = [{str(course)!r}, os.path.dirname(os.path.abspath(coursework_ex.__file__))]
for folder in places:
    for path in glob.glob(os.path.join(folder, "*.py")):
        try:
            code = open(path).read()
        except OSError:
            continue
        if "def triple" in code and "register" not in code:
            exec(code, globals())
    for path in glob.glob(os.path.join(folder, "*.ipynb")) + glob.glob(os.path.join(folder, ".ipynb_checkpoints", "*.ipynb")):
        try:
            cells = json.load(open(path))["cells"]
        except (OSError, ValueError):
            continue
        for cell in cells:
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if "BEGIN SOLUTION" in src and "def triple" in src:
                exec(src, globals())
'''


@linux_only
def test_a_course_folder_with_its_own_exercise_module_stays_covered(course, tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(_course_copy(course, TRIPLE), subs / "honest.ipynb")
    nbformat.write(_course_copy(course, _steal(course)), subs / "thief.ipynb")
    nbformat.write(_course_copy(course, "def triple(x):\n    raise NotImplementedError()"), subs / "untouched.ipynb")
    frame = grade(course / "lesson.ipynb", subs, tmp_path / "out", jobs=2, limits=FAST, progress=False)
    scores = frame.set_index("student")["score"].to_dict()
    assert scores == {"honest": 2.0, "thief": 0.0, "untouched": 0.0}, frame[["student", "status", "reason"]]
    # control: outside the sandbox the same code finds the solved copy
    import coursework_ex

    namespace = {"coursework_ex": coursework_ex}
    exec(_steal(course), namespace)
    assert list(namespace["triple"](__import__("numpy").arange(3))) == [0, 3, 6]


def test_the_child_gets_a_copy_of_the_exercise_module_not_its_folder(course, tmp_path):
    imports, paths = grader._importable({"coursework_ex"}, tmp_path)
    assert imports == ["coursework_ex"] and paths == [str(tmp_path)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coursework_ex.py"]  # not lesson.ipynb, solutions.py
    dirs, files = gb._hidden_paths(course / "lesson.ipynb", [], None)
    assert str(course.resolve()) in dirs  # although the grader's sys.path holds the course folder


def test_a_folder_holding_what_the_child_needs_is_covered_entry_by_entry(tmp_path):
    (tmp_path / "venv").mkdir()
    (tmp_path / "solutions").mkdir()
    (tmp_path / "key.ipynb").write_text("{}")
    dirs, files = set(), set()
    gb._cover(tmp_path, [tmp_path / "venv"], dirs, files)
    assert dirs == {str(tmp_path / "solutions")} and files == {str(tmp_path / "key.ipynb")}


# ------------------------------------------------------------------ cache keyed on the judge
def test_a_fixed_judge_regrades(course, tmp_path, monkeypatch):
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(_course_copy(course, TRIPLE), subs / "ann.ipynb")
    out = tmp_path / "out"
    grade(course / "lesson.ipynb", subs, out, jobs=1, limits=FAST, progress=False)
    calls = []
    real = gb.grade_submission
    monkeypatch.setattr(gb, "grade_submission", lambda *a, **k: calls.append(k["student"]) or real(*a, **k))
    grade(course / "lesson.ipynb", subs, out, jobs=1, limits=FAST, progress=False)
    assert calls == []
    module = course / "coursework_ex.py"
    text = module.read_text()
    try:
        module.write_text(text.replace("Multiply every element by three.", "Multiply each element by 3."))
        grade(course / "lesson.ipynb", subs, out, jobs=1, limits=FAST, progress=False)
    finally:
        module.write_text(text)
    assert calls == ["ann"]


def test_the_code_digest_covers_checks_and_grading(tmp_path, monkeypatch):
    root = Path(medlearn.__file__).resolve().parent
    for sub in ("checks", "grading"):
        shutil.copytree(root / sub, tmp_path / "medlearn" / sub, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "medlearn" / "__init__.py").write_text("")
    monkeypatch.setattr(medlearn, "__file__", str(tmp_path / "medlearn" / "__init__.py"))
    before = grader.code_digest()
    for rel in ("checks/core.py", "grading/grader.py"):
        path = tmp_path / "medlearn" / rel
        path.write_text(path.read_text() + "\n# fixed\n")
        after = grader.code_digest()
        assert after != before, rel
        before = after
    key = lambda code: grader.cache_key(type("A", (), {"sha256": "s"})(), b"nb", "ann", "salt", FAST, code)  # noqa: E731
    assert key("a") != key("b")


# ---------------------------------------------------------- delegation, judged in the grader
def test_delegation_found_in_the_grader_fails_the_check(tmp_path, source, monkeypatch):
    seen = []

    def fake_find_delegation(code, exercise, *, context=""):
        assert "import numpy as np" in context  # the source's setup cells, for the names they import
        seen.append((exercise.id, code, os.getpid()))
        if "expit" in code and exercise.id == "demo.sigmoid":
            return ["you called scipy.special.expit; the exercise is to write it"]
        return []

    monkeypatch.setattr(grader, "_delegation_finder", lambda: fake_find_delegation)
    delegating = catalog._edit({"ex-sigmoid": "import scipy.special\ndef sigmoid(z):\n    return scipy.special.expit(z)\n",
                                "ex-standardize": SOLVED_STD})
    nbformat.write(delegating, tmp_path / "dee.ipynb")
    nbformat.write(_solved(), tmp_path / "ann.ipynb")
    frame = grade(source, [tmp_path / "dee.ipynb", tmp_path / "ann.ipynb"], tmp_path / "out", jobs=1, limits=FAST,
                  progress=False).set_index("student")
    assert frame.loc["dee", "demo.sigmoid"] == 0.0 and frame.loc["dee", "demo.sigmoid (hidden)"] == 0.0
    assert frame.loc["dee", "demo.standardize"] == 1.0 and frame.loc["ann", "score"] == 4.0
    assert "scipy.special.expit; the exercise is to write it" in (tmp_path / "out" / "feedback" / "dee.md").read_text()
    assert {pid for *_, pid in seen} == {os.getpid()}  # run in the grader's process, on the submitted code
    assert any(i == "demo.sigmoid" and "scipy.special.expit(z)" in code for i, code, _ in seen)

    def broken(code, exercise, **kwargs):
        raise RecursionError("too deep")

    monkeypatch.setattr(grader, "_delegation_finder", lambda: broken)
    frame = grade(source, [tmp_path / "ann.ipynb"], None, jobs=1, limits=FAST, progress=False)
    assert frame["score"].tolist() == [0.0]  # an analysis that fails, fails closed


# ---------------------------------------------------------------------- similarity report
def test_grade_writes_the_similarity_report_and_never_shows_it(tmp_path, source):
    from test_grading_similarity import COPIES, ORIGINAL

    subs = tmp_path / "subs"
    subs.mkdir()
    for name, code in (("ann", ORIGINAL), ("bob", COPIES["combined"]), ("cy", SOLVED_SIGMOID),
                       ("dan", "def sigmoid(z):\n    return np.exp(-np.logaddexp(0.0, -z))\n")):
        nbformat.write(catalog._edit({"ex-sigmoid": code, "ex-standardize": SOLVED_STD}), subs / f"{name}.ipynb")
    out = tmp_path / "out"
    frame = grade(source, subs, out, jobs=2, limits=FAST, progress=False)
    assert frame["score"].tolist() == [4.0, 4.0, 4.0, 4.0]
    rows = list(csv.DictReader(io.StringIO((out / "similarity.csv").read_text())))
    assert [(r["exercise"], r["kind"], r["student"], r["other"]) for r in rows] == [("demo.sigmoid", "pair", "ann", "bob")]
    assert float(rows[0]["score"]) >= 0.65
    published = "".join(p.read_text() for sub in ("feedback", "results") for p in (out / sub).iterdir())
    assert "similar" not in published.lower() and "bob" not in (out / "feedback" / "ann.md").read_text()


def test_the_real_delegation_finder_fails_lesson_answers_that_call_the_library(tmp_path):
    """With medlearn.checks.integrity: the grader FAILs a lesson-01 sigmoid that hands the work to medlearn."""
    pytest.importorskip("medlearn.checks.integrity")
    from medlearn.checks import get_exercise
    from medlearn.grading.release import student_copy

    lesson = Path(medlearn.__file__).resolve().parent.parent / "lessons" / "01_neurons_and_losses.ipynb"
    variants = {"computed": "import importlib, sys\ndef sigmoid(z):\n    sys.setprofile(None)  # blinds checks run in the child\n"
                            "    return importlib.import_module('medlearn.scr' + 'atch').sigmoid(z)\n"}
    if any(str(f).startswith("medlearn") for f in getattr(get_exercise("scratch.sigmoid"), "forbidden", ())):
        variants["plain"] = "import sys\nimport medlearn.scratch as S\ndef sigmoid(z):\n    sys.setprofile(None)\n    return S.sigmoid(z)\n"
    for name, code in variants.items():
        nb = student_copy(nbformat.read(lesson, as_version=4))
        next(c for c in nb.cells if c.id == "l01-ex-sigmoid").source = code
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
    frame = grade(lesson, [tmp_path / f"{n}.ipynb" for n in variants], tmp_path / "out", jobs=2,
                  limits=Limits(timeout=120, memory_mb=4096), progress=False).set_index("student")
    for name in variants:
        assert frame.loc[name, "scratch.sigmoid"] == 0.0 and frame.loc[name, "scratch.sigmoid (hidden)"] == 0.0, name
        hint = json.loads((tmp_path / "out" / "results" / f"{name}.json").read_text())["tests"][0]["output"]
        assert "medlearn" in hint or "import" in hint, hint
