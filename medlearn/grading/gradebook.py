"""Grade a batch of submissions and publish the gradebook, feedback and Gradescope results.

``grade(source, submissions, out)`` grades every notebook in parallel (one
sandboxed child per submission, ``jobs`` at a time) and writes, atomically:

* ``out/gradebook.csv`` - one row per submission: ``student``, ``score``,
  ``max_score``, ``status``, ``reason``, then one column per check (points);
* ``out/feedback/<student>.md`` - each check's result and hint, for the student;
* ``out/results/<student>.json`` - the Gradescope autograder results format.

A re-run reuses a result when the submission, the source, medlearn's version,
the salt and the limits are unchanged; the stored result carries an HMAC made
with a key kept in ``out/.grading-key`` (a folder the sandbox hides), so a
forged result file is regraded, not trusted.

Used by ``medlearn grade``.
"""
from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import secrets
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from medlearn.grading.errors import GradingError
from medlearn.grading.grader import SubmissionResult, _empty, cache_key, grade_submission
from medlearn.grading.safeio import atomic_write_text
from medlearn.grading.sandbox import Limits
from medlearn.grading.source import Assignment

__all__ = ["grade", "gradebook_frame", "feedback_markdown", "gradescope_json", "FIXED_COLUMNS"]

FIXED_COLUMNS = ("student", "score", "max_score", "status", "reason")


def _submission_paths(submissions, source: Path) -> list[Path]:
    if isinstance(submissions, (str, os.PathLike)):
        submissions = [submissions]
    paths = []
    for item in submissions:
        item = Path(item)
        if item.is_dir():
            paths.extend(sorted(p for p in item.glob("*.ipynb") if p.is_file()))
        elif item.exists():
            paths.append(item)
        else:
            raise GradingError(f"submission not found. Received: {str(item)!r}. Fix: pass .ipynb files or a folder of them.")
    return [p for p in paths if p.resolve() != source.resolve()]


def _safe_to_hide(folder: Path, keep: list[Path]) -> bool:
    """A folder may be hidden when it holds none of the paths the child needs."""
    folder = folder.resolve()
    for path in keep:
        try:
            path.resolve().relative_to(folder)
            return False
        except ValueError:
            continue
    return folder != Path(folder.anchor)


def _hidden_paths(source: Path, paths: list[Path], out: Path | None) -> tuple[list, list]:
    import tempfile

    import medlearn

    keep = [Path(sys.prefix), Path(sys.base_prefix), Path(medlearn.__file__).parent, Path(tempfile.gettempdir()),
            Path.home() / ".cache", Path.home() / ".keras"]
    keep += [Path(p) for p in sys.path if p]
    dirs = {str(out.resolve())} if out is not None else set()
    for folder in {source.parent, *(p.parent for p in paths)}:
        if _safe_to_hide(folder, keep):
            dirs.add(str(folder.resolve()))
    files = [str(p.resolve()) for p in [source, *paths]]
    return sorted(dirs), files


def _key(out: Path) -> bytes:
    path = out / ".grading-key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    try:
        key = bytes.fromhex(path.read_text().strip())
    except ValueError:
        key = b""
    if len(key) < 16:  # damaged: start a new key (stored results are then regraded)
        key = secrets.token_bytes(32)
        atomic_write_text(path, key.hex())
        os.chmod(path, 0o600)
    return key


def _sign(key: bytes, payload: dict) -> str:
    return hmac.new(key, json.dumps(payload, sort_keys=True).encode(), hashlib.sha256).hexdigest()


def gradescope_json(result: SubmissionResult, *, key: bytes | None = None, cache: str = "") -> dict:
    """The Gradescope results document for one submission (``extra_data`` carries medlearn's record)."""
    tests = [{
        "name": f"{c.name}: {c.title}",
        "score": c.points,
        "max_score": c.max_points,
        "status": "passed" if c.passed else "failed",
        "output": "Passed." if c.passed else c.hint,
        "visibility": "visible",
    } for c in result.checks]
    summary = f"Status: {result.status}." + (f" {result.reason}." if result.reason else "")
    record = {"key": cache, "result": {**result.to_dict(), "log": ""}}
    doc = {"score": result.score, "execution_time": result.wall, "output": summary,
           "stdout_visibility": "hidden", "tests": tests, "extra_data": {"medlearn": record}}
    if key is not None:
        record["signature"] = _sign(key, {"key": cache, "result": record["result"]})
    return doc


def feedback_markdown(result: SubmissionResult, assignment: str) -> str:
    """Per-check feedback for the student (hints only, never expected values)."""
    lines = [f"# Feedback: {assignment}", "", f"Student: **{result.student}**  ",
             f"Score: **{result.score:g} / {result.max_score:g}**  ", f"Status: {result.status}"]
    if result.reason:
        lines.append(f"\nNote: {result.reason}")
    lines += ["", "| check | result | points | hint |", "|---|---|---|---|"]
    for c in result.checks:
        hint = (c.hint or "").replace("|", "\\|").replace("\n", " ")
        mark = "PASS" if c.passed else "FAIL"
        lines.append(f"| `{c.name}` {c.title} | {mark} | {c.points:g} / {c.max_points:g} | {hint} |")
    return "\n".join(lines) + "\n"


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


def _cached(out: Path, key: bytes, student: str, want: str) -> SubmissionResult | None:
    path = out / "results" / f"{student}.json"
    try:
        doc = json.loads(path.read_text())
        record = doc["extra_data"]["medlearn"]
        if record["key"] != want:
            return None
        if not hmac.compare_digest(record["signature"], _sign(key, {"key": want, "result": record["result"]})):
            return None
        return SubmissionResult.from_dict(record["result"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def grade(assignment, submissions, out=None, *, jobs: int | None = None, limits: Limits | None = None,
          salt: str | None = None, progress: bool = True, force: bool = False, extra_read=()):
    """Grade notebooks against an instructor source; return the gradebook as a DataFrame.

    Args:
        assignment: the instructor source (path or :class:`Assignment`).
        submissions: ``.ipynb`` paths and/or folders of them; the student is the file name without ``.ipynb``.
        out: folder for ``gradebook.csv``, ``feedback/`` and ``results/``; ``None`` writes nothing.
        jobs: submissions graded at once (default: CPU count).
        limits: sandbox :class:`~medlearn.grading.sandbox.Limits`.
        salt: mixed into the hidden-check seeds (default: the source's SHA-256).
        progress: show a progress bar on stderr.
        force: regrade even when a stored result matches.
        extra_read: more folders the sandbox may read on Linux (e.g. a course data folder).

    Returns:
        ``pandas.DataFrame`` with columns ``student, score, max_score, status, reason`` and one per check.

    Raises:
        AssignmentError: the source is not a valid instructor notebook.
        GradingError: a submission path does not exist.

    Example:
        >>> df = grade("lessons/01_neurons.ipynb", "submissions/", "grades")   # doctest: +SKIP
        >>> df[["student", "score", "status"]]                                 # doctest: +SKIP
    """
    assignment = assignment if isinstance(assignment, Assignment) else Assignment(assignment)
    limits = limits or Limits()
    salt = assignment.sha256 if salt is None else salt
    paths = _submission_paths(submissions, assignment.path)
    jobs = max(1, int(jobs or os.cpu_count() or 1))
    out = Path(out) if out is not None else None
    key = b""
    if out is not None:
        for sub in ("feedback", "results"):
            (out / sub).mkdir(parents=True, exist_ok=True)
        key = _key(out)
    hide_dirs, hide_files = _hidden_paths(assignment.path, paths, out)
    case_cache: dict = {}
    results: dict[str, SubmissionResult] = {}
    todo = []
    for path in paths:
        student = path.stem
        if student in results or any(t[1] == student for t in todo):
            results[f"{student} ({path})"] = _empty(assignment, f"{student} ({path.parent.name})", "invalid",
                                                     "duplicate student name: another submission has the same file name")
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            results[student] = _empty(assignment, student, "invalid", f"unreadable file ({exc.strerror})")
            continue
        want = cache_key(assignment, data, student, salt, limits)
        hit = None if (force or out is None) else _cached(out, key, student, want)
        if hit is not None:
            results[student] = hit
        else:
            todo.append((path, student, data, want))

    def work(item):
        path, student, data, want = item
        try:
            result = grade_submission(assignment, path, student=student, limits=limits, salt=salt, hide_dirs=hide_dirs,
                                      hide_files=hide_files, case_cache=case_cache, data=data,
                                      extra_read=extra_read)
        except Exception as exc:  # a grader bug on one file must not stop the batch
            result = _empty(assignment, student, "error", f"grader error: {type(exc).__name__}: {exc}")
        if out is not None:
            _publish(out, key, assignment, result, want)
        return result

    from tqdm.auto import tqdm

    with ThreadPoolExecutor(max_workers=jobs) as pool, tqdm(total=len(todo), disable=not progress or not todo,
                                                             desc=f"grading {assignment.name}", unit="nb") as bar:
        for future in as_completed([pool.submit(work, item) for item in todo]):
            result = future.result()
            results[result.student] = result
            bar.update(1)
    frame = gradebook_frame(list(results.values()), assignment)
    if out is not None:
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False, quoting=csv.QUOTE_MINIMAL)
        atomic_write_text(out / "gradebook.csv", buffer.getvalue())
    return frame


def _publish(out: Path, key: bytes, assignment: Assignment, result: SubmissionResult, want: str) -> None:
    doc = gradescope_json(result, key=key, cache=want)
    atomic_write_text(out / "results" / f"{result.student}.json", json.dumps(doc, indent=1))
    atomic_write_text(out / "feedback" / f"{result.student}.md", feedback_markdown(result, assignment.name))
