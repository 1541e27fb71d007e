"""Grade a batch of submissions and publish the gradebook, feedback and Gradescope results.

``grade(source, submissions, out)`` grades every notebook in parallel (one
sandboxed child per submission, ``jobs`` at a time) and writes, atomically:

* ``out/gradebook.csv`` - one row per submission: ``student``, ``score``,
  ``max_score``, ``status``, ``reason``, then one column per check (points);
  rebuilt on every run from all signed results of the assignment in ``out``;
* ``out/feedback/<stem>.md`` - each check's result and hint, for the student;
* ``out/results/<stem>.json`` - the Gradescope autograder results format;
* ``out/similarity.csv`` - near-identical exercise code (instructor only).

``<stem>`` is the student's name made safe for a file name
(:mod:`medlearn.grading.names`). Every submitted path gets a row
(:mod:`medlearn.grading.intake`). A re-run reuses a result when the submission,
the source, medlearn's version, the exercise and judging code, the student,
the salt and the limits are unchanged; results are signed records
(:mod:`medlearn.grading.records`) from which every published file is
regenerated, so an edited or forged file is rewritten or rejected, never
trusted. ``out`` is locked for the run (:mod:`medlearn.grading.lock`).

Used by ``medlearn grade``.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import os
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from medlearn.grading.grader import SubmissionResult, _empty, cache_key, code_digest, exercise_modules, grade_submission
from medlearn.grading.intake import DEFAULT_MAX_BYTES, collect
from medlearn.grading.lock import OutputLock
from medlearn.grading.names import csv_cell, file_stems
from medlearn.grading.records import (PublishedFileWarning, feedback_markdown, gradescope_json, grading_key,
                                      publish, published_files, read_records, reject)
from medlearn.grading.safeio import atomic_write_text
from medlearn.grading.sandbox import Limits
from medlearn.grading.similarity import similarity_report
from medlearn.grading.source import Assignment

__all__ = ["grade", "gradebook_frame", "gradebook_csv", "feedback_markdown", "gradescope_json", "FIXED_COLUMNS",
           "PublishedFileWarning"]

FIXED_COLUMNS = ("student", "score", "max_score", "status", "reason")


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def _cover(folder: Path, keep: list, dirs: set, files: set) -> None:
    """Cover ``folder`` for the child: whole when it holds nothing the child needs, else entry by entry.

    Entries that are, or lead to, a path in ``keep`` (Python, medlearn, data folders, ``--allow-read``)
    stay visible; every other entry (file or folder, links excepted) is covered.
    """
    folder = Path(os.path.realpath(folder))
    if folder == Path(folder.anchor):
        return
    if not any(_inside(k, folder) for k in keep):
        dirs.add(str(folder))
        return
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        path = folder / entry.name
        if entry.is_symlink():
            continue  # a link's target is what a mount would cover; Landlock still guards it
        if any(k == path for k in keep):
            continue
        if any(_inside(k, path) for k in keep):
            if entry.is_dir(follow_symlinks=False):
                _cover(path, keep, dirs, files)
            continue
        if entry.is_dir(follow_symlinks=False):
            dirs.add(str(path))
        elif entry.is_file(follow_symlinks=False):
            files.add(str(path))


def _hidden_paths(source: Path, paths: list, out: Path | None, extra_read=()) -> tuple[list, list]:
    """What the child must not see: the source's folder, every submission's folder, the output folder
    and the ``.ipynb_checkpoints`` next to them and one level up - always, whatever the grader's sys.path."""
    import site
    import tempfile

    import medlearn
    from medlearn.config import data_home

    keep = [sys.prefix, sys.base_prefix, sys.exec_prefix, Path(medlearn.__file__).parent, tempfile.gettempdir(),
            Path.home() / ".cache", Path.home() / ".keras", os.environ.get("KERAS_HOME", ""), *extra_read]
    keep += site.getsitepackages() if hasattr(site, "getsitepackages") else []
    try:
        keep.append(data_home())
    except Exception:  # a bad MEDLEARN_DATA is the lesson's problem, not the grader's
        pass
    keep = [Path(os.path.realpath(k)) for k in keep if k]
    dirs, files = set(), set()
    if out is not None:
        dirs.add(os.path.realpath(out))
    folders = {Path(os.path.realpath(source)).parent, *(Path(os.path.realpath(p.parent)) for p in paths)}
    for folder in folders:
        _cover(folder, keep, dirs, files)
        for near in (folder, folder.parent):
            checkpoints = near / ".ipynb_checkpoints"
            if checkpoints.is_dir() and not checkpoints.is_symlink():
                dirs.add(str(checkpoints))
    for p in [source, *paths]:
        if os.path.isfile(p) and not os.path.islink(p):
            files.add(os.path.realpath(p))
    return sorted(dirs), sorted(files)


def gradebook_frame(results: list, assignment: Assignment):
    """A pandas DataFrame, one row per submission, fixed columns then one column per check."""
    import pandas as pd

    names = [c.name for c in assignment.checks]
    rows = []
    for r in sorted(results, key=lambda r: r.student):
        row = {"student": r.student, "score": r.score, "max_score": r.max_score, "status": r.status, "reason": r.reason}
        row.update({c.name: c.points for c in r.checks})
        rows.append(row)
    return pd.DataFrame(rows, columns=[*FIXED_COLUMNS, *names])


def gradebook_csv(frame) -> str:
    """The gradebook as CSV text; text cells are neutralised for spreadsheets (:func:`~medlearn.grading.names.csv_cell`)."""
    import pandas as pd

    safe = frame.copy()
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(csv_cell).astype(object)
    buffer = io.StringIO()
    safe.to_csv(buffer, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    return buffer.getvalue()


def grade(assignment, submissions, out=None, *, jobs: int | None = None, limits: Limits | None = None,
          salt: str | None = None, progress: bool = True, force: bool = False, extra_read=(),
          max_submission_bytes: int = DEFAULT_MAX_BYTES, similarity: bool = True,
          allow_degraded_sandbox: bool = False):
    """Grade notebooks against an instructor source; return the gradebook as a DataFrame.

    Args:
        assignment: the instructor source (path or :class:`Assignment`).
        submissions: ``.ipynb`` paths and/or folders of them; the student is the file name without ``.ipynb``
            (see :func:`medlearn.grading.names.student_name`). Every path gets a row: links, FIFOs,
            devices, folders, files over ``max_submission_bytes`` and non-notebooks are ``invalid`` rows.
        out: folder for ``gradebook.csv``, ``feedback/``, ``results/`` and ``similarity.csv``; ``None``
            writes nothing. Locked for the run: a second grader on it stops with a :class:`GradingError`.
        jobs: submissions graded at once (default: CPU count).
        limits: sandbox :class:`~medlearn.grading.sandbox.Limits`.
        salt: mixed into the hidden-check seeds (default: the source's SHA-256).
        progress: show a progress bar on stderr.
        force: regrade even when a stored result matches.
        extra_read: more folders the sandbox may read on Linux (e.g. a course data folder).
        max_submission_bytes: the largest submission file read (``int``, bytes; default 16 MiB).
        similarity: write ``similarity.csv`` (near-identical exercise code; never shown to students).
        allow_degraded_sandbox: grade even where user namespaces or Landlock are missing (refused by
            default: such rows get status ``error``); every affected row says ``degraded sandbox``.

    Returns:
        ``pandas.DataFrame`` with columns ``student, score, max_score, status, reason`` and one per check:
        every submission of this run plus every other signed result of this assignment in ``out``.

    Raises:
        AssignmentError: the source is not a valid instructor notebook.
        GradingError: a submission path does not exist, or another grader holds ``out``.

    Example:
        >>> df = grade("lessons/01_neurons.ipynb", "submissions/", "grades")   # doctest: +SKIP
        >>> df[["student", "score", "status"]]                                 # doctest: +SKIP
    """
    assignment = assignment if isinstance(assignment, Assignment) else Assignment(assignment)
    limits = limits or Limits()
    if allow_degraded_sandbox:
        limits = dataclasses.replace(limits, allow_degraded=True)
    salt = assignment.sha256 if salt is None else salt
    items = collect(submissions, assignment.path, max_bytes=max_submission_bytes)
    jobs = max(1, int(jobs or os.cpu_count() or 1))
    out = Path(out) if out is not None else None
    if out is None:
        return _grade(assignment, items, None, jobs, limits, salt, progress, True, extra_read, False)
    for sub in ("feedback", "results"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    with OutputLock(out):
        return _grade(assignment, items, out, jobs, limits, salt, progress, force, extra_read, similarity)


def _grade(assignment, items, out, jobs, limits, salt, progress, force, extra_read, similarity):
    key = grading_key(out) if out is not None else b""
    code = code_digest(exercise_modules(assignment))
    stored = read_records(out, key, assignment.sha256) if out is not None else []
    by_student: dict = {}
    for record in stored:  # sorted by path: a later duplicate wins
        by_student[record.result.student] = record
    stems = file_stems([*(i.student for i in items), *(s for s in by_student if s not in {i.student for i in items})])
    hide_dirs, hide_files = _hidden_paths(assignment.path, [i.path for i in items], out, extra_read)
    case_cache: dict = {}
    results: dict = {}
    wants: dict = {}
    todo = []
    for item in items:
        if item.problem:
            results[item.student] = _empty(assignment, item.student, "invalid", item.problem)
            wants[item.student] = ""
            continue
        want = wants[item.student] = cache_key(assignment, item.data, item.student, salt, limits, code)
        old = by_student.get(item.student)
        if not force and old is not None and old.cache == want:
            results[item.student] = old.result
        else:
            todo.append(item)

    def work(item):
        try:
            result = grade_submission(assignment, item.path, student=item.student, limits=limits, salt=salt,
                                      hide_dirs=hide_dirs, hide_files=hide_files, case_cache=case_cache,
                                      data=item.data, extra_read=extra_read)
        except Exception as exc:  # a grader bug on one file must not stop the batch
            result = _empty(assignment, item.student, "error", f"grader error: {type(exc).__name__}: {exc}")
        if out is not None:
            _publish(out, key, assignment, result, wants[item.student], stems[item.student], expect_new=True)
        return result

    from tqdm.auto import tqdm

    with ThreadPoolExecutor(max_workers=jobs) as pool, tqdm(total=len(todo), disable=not progress or not todo,
                                                             desc=f"grading {assignment.name}", unit="nb") as bar:
        for future in as_completed([pool.submit(work, item) for item in todo]):
            result = future.result()
            results[result.student] = result
            bar.update(1)
    if out is None:
        return gradebook_frame(list(results.values()), assignment)
    for student, record in by_student.items():  # earlier runs' students stay in the gradebook
        if student not in results:
            results[student], wants[student] = record.result, record.cache
    published = set()
    for student, result in results.items():
        _publish(out, key, assignment, result, wants[student], stems[student])
        published.add(stems[student])
    for record in stored:  # a record now published under another stem
        if record.stem not in published:
            for rel in (f"results/{record.stem}.json", f"feedback/{record.stem}.md"):
                (out / rel).unlink(missing_ok=True)
    for path in sorted((out / "feedback").glob("*.md")):
        if path.stem not in published and not (out / "results" / f"{path.stem}.json").exists():
            reject(out, path, "has no signed record")
    frame = gradebook_frame(list(results.values()), assignment)
    atomic_write_text(out / "gradebook.csv", gradebook_csv(frame))
    if similarity:
        try:
            atomic_write_text(out / "similarity.csv", similarity_report(assignment, items))
        except Exception as exc:  # the report is a lead for the instructor; the gradebook is already written
            warnings.warn(f"similarity.csv was not written: {type(exc).__name__}: {exc}", PublishedFileWarning, stacklevel=2)
    return frame


def _publish(out: Path, key: bytes, assignment: Assignment, result: SubmissionResult, want: str, stem: str,
             expect_new: bool = False) -> None:
    files = published_files(result, key=key, cache=want, assignment_sha=assignment.sha256,
                            assignment_name=assignment.name, stem=stem)
    try:
        publish(out, files, expect_new=expect_new)
    except OSError as exc:  # e.g. a folder planted under a result's name: report, go on
        warnings.warn(f"could not publish {stem}: {exc}", PublishedFileWarning, stacklevel=2)
