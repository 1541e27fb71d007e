"""Student and instructor copies: every lesson says which copy it is, opens clean, starts safely.

* the first markdown cell of every lesson holds the instructor line; its student copy the student line;
* the first code cell starts with the import guard (a lesson opened alone says in one line what to
  install — checked in a real kernel);
* the committed kernel metadata is what ipykernel reports (JupyterLab does not mark it modified);
* ``copy_lessons`` (``medlearn lessons``, ``dev.py lessons``) never overwrites an edited copy.
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from medlearn import course
from medlearn.grading import student_copy
from medlearn.grading.copies import STAMP, copy_lessons
from medlearn.grading.source import read_notebook

LESSONS = sorted((Path(__file__).resolve().parents[1] / "lessons").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", LESSONS, ids=[p.name for p in LESSONS])
def test_lesson_says_which_copy_and_guards_its_import(path):
    nb = nbformat.read(path, as_version=4)
    first_md = next(c for c in nb.cells if c.cell_type == "markdown")
    assert first_md.source.count(course.INSTRUCTOR_LINE) == 1, (
        f"the first markdown cell needs this line (after the title):\n{course.INSTRUCTOR_LINE}")
    assert len(course.COPY_LINE_RE.findall(first_md.source)) == 1
    student = student_copy(read_notebook(path), name=path.name)
    first_md = next(c for c in student.cells if c.cell_type == "markdown")
    assert course.STUDENT_LINE in first_md.source and course.INSTRUCTOR_LINE not in first_md.source
    code = next(c for c in nb.cells if c.cell_type == "code")
    assert code.source.startswith(course.IMPORT_GUARD), (
        f"the first code cell must start with medlearn.course.IMPORT_GUARD:\n{course.IMPORT_GUARD}")


@pytest.mark.parametrize("path", LESSONS, ids=[p.name for p in LESSONS])
def test_committed_kernel_metadata_is_what_the_kernel_reports(path):
    meta = nbformat.read(path, as_version=4).metadata
    assert meta.get("kernelspec") == course.KERNELSPEC
    info = dict(meta.get("language_info", {}))
    assert info.pop("version", None), "language_info needs the version ipykernel reports"
    expected = course.language_info()
    expected.pop("version")
    assert info == expected


def test_mark_copy_swaps_only_the_copy_line():
    md = f"# Lesson 99\n\n{course.INSTRUCTOR_LINE}\n\n> **Instructor copy** is not at the start here"
    out = course.mark_copy(md, student=True)
    assert out.count(course.STUDENT_LINE) == 1 and course.INSTRUCTOR_LINE not in out
    assert course.mark_copy(out, student=False) == md
    assert course.mark_copy("# no line", student=True) == "# no line"


def test_import_guard_shows_one_line_in_a_kernel():
    """Run the guard in a real kernel where medlearn cannot be imported: one line, no traceback."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import sys\nsys.modules['medlearn'] = None  # as if not installed"),
                nbformat.v4.new_code_cell(course.IMPORT_GUARD + "medlearn.setup(seed=42)"),
                nbformat.v4.new_code_cell("print('not reached')")]
    client = NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True)
    client.execute()
    (err,) = nb.cells[1].outputs
    assert err.output_type == "error" and err.ename == "NotInstalled"
    assert len(err.traceback) == 1 and "pip install medlearn" in err.traceback[0], err.traceback
    assert "ModuleNotFoundError" not in json.dumps(err)


def _lesson(tmp_path, name="01_demo.ipynb", text="one"):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# Demo\n\n{course.INSTRUCTOR_LINE}"),
                nbformat.v4.new_code_cell(f"x = 1\n### BEGIN SOLUTION\nanswer = '{text}'\n### END SOLUTION")]
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    nbformat.write(nb, src / name)
    return src / name


def test_copy_lessons_never_overwrites_an_edited_copy(tmp_path):
    src = _lesson(tmp_path)
    dest = tmp_path / "work"
    assert copy_lessons(dest, student=True, lessons=[src]) == [(dest / src.name, "written")]
    copy = read_notebook(dest / src.name)
    assert "NotImplementedError" in copy.cells[1].source and "answer = 'one'" not in copy.cells[1].source
    assert course.STUDENT_LINE in copy.cells[0].source
    assert copy.metadata["language_info"] == course.language_info()
    assert copy_lessons(dest, student=True, lessons=[src]) == [(dest / src.name, "unchanged")]

    _lesson(tmp_path, text="two")  # the course is updated; the copy is untouched -> refreshed
    assert copy_lessons(dest, student=False, lessons=[src]) == [(dest / src.name, "updated")]
    assert "answer = 'two'" in (dest / src.name).read_text()

    edited = (dest / src.name).read_text().replace("x = 1", "x = 2  # my work")
    (dest / src.name).write_text(edited)
    _lesson(tmp_path, text="three")
    assert copy_lessons(dest, student=True, lessons=[src]) == [(dest / src.name, "kept (edited)")]
    assert (dest / src.name).read_text() == edited
    assert json.loads((dest / STAMP).read_text())[src.name]


def test_copy_lessons_keeps_a_file_it_did_not_write(tmp_path):
    src = _lesson(tmp_path)
    dest = tmp_path / "work"
    dest.mkdir()
    (dest / src.name).write_text("{}")
    assert copy_lessons(dest, lessons=[src]) == [(dest / src.name, "kept (edited)")]
    assert (dest / src.name).read_text() == "{}"


def test_copy_lessons_refuses_the_source_folder(tmp_path):
    src = _lesson(tmp_path)
    with pytest.raises(course.CourseError, match="instructor lessons folder"):
        copy_lessons(src.parent, lessons=[src])


def test_lessons_command_copies_the_course(tmp_path, capsys):
    from medlearn.cli import main

    assert main(["lessons", str(tmp_path / "mine"), "--student"]) == 0
    out = capsys.readouterr().out
    copies = sorted((tmp_path / "mine").glob("*.ipynb"))
    assert [p.name for p in copies] == [p.name for p in LESSONS]
    assert "student copies" in out and "written" in out
    assert all("### BEGIN SOLUTION" not in p.read_text() for p in copies)
