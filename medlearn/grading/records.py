"""Signed grade records and the files published from them.

The grader keeps one record per student: the :class:`SubmissionResult`, the
cache key it was graded under, the source's SHA-256 and the file stem, signed
with an HMAC-SHA256 whose key lives in ``out/.grading-key`` (a folder the
sandbox covers). The record travels inside ``results/<stem>.json`` under
``extra_data.medlearn`` (Gradescope ignores ``extra_data``), and everything else
in that file and in ``feedback/<stem>.md`` is *derived* from it:

* on every run each verified record's files are regenerated; a published file
  that differs (someone edited ``score``, ``tests`` or the feedback) is
  rewritten and a :class:`PublishedFileWarning` says which;
* a results file whose record does not verify (edited, forged, another
  grader's key) and a feedback file with no verified record are moved to
  ``out/rejected/`` with a warning, so nothing unsigned stays published;
* the gradebook is rebuilt from every verified record of the assignment in the
  folder, so students graded by an earlier run stay in it.

Used by ``medlearn grade``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import secrets
import warnings
from pathlib import Path

from medlearn.grading.grader import SubmissionResult
from medlearn.grading.intake import InvalidFile, read_regular
from medlearn.grading.names import markdown_text
from medlearn.grading.safeio import atomic_write_text

__all__ = ["PublishedFileWarning", "Record", "grading_key", "gradescope_json", "feedback_markdown",
           "published_files", "read_records", "publish", "reject", "RECORD_VERSION"]

RECORD_VERSION = 2
MAX_RESULT_BYTES = 8 * 2**20


class PublishedFileWarning(UserWarning):
    """A published file differed from its signed record (rewritten), or had none (moved to ``rejected/``)."""


@dataclasses.dataclass
class Record:
    """A verified record: the ``result``, its ``cache`` key, the ``stem`` and the file it was read from."""

    result: SubmissionResult
    cache: str
    stem: str
    path: Path


def grading_key(out: Path) -> bytes:
    """The HMAC key of an output folder (created on first use, ``0o600``; a damaged key is replaced)."""
    path = Path(out) / ".grading-key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    try:
        key = bytes.fromhex(read_regular(path, 4096).decode().strip())
    except (InvalidFile, ValueError):
        key = b""
    if len(key) < 16:  # damaged: start a new key (stored results are then regraded)
        key = secrets.token_bytes(32)
        atomic_write_text(path, key.hex())
        os.chmod(path, 0o600)
    return key


def _payload(cache: str, assignment: str, stem: str, result: dict) -> dict:
    return {"v": RECORD_VERSION, "key": cache, "assignment": assignment, "stem": stem, "result": result}


def _sign(key: bytes, payload: dict) -> str:
    return hmac.new(key, json.dumps(payload, sort_keys=True).encode(), hashlib.sha256).hexdigest()


def gradescope_json(result: SubmissionResult, *, key: bytes | None = None, cache: str = "", assignment: str = "",
                    stem: str = "") -> dict:
    """The Gradescope results document for one submission (``extra_data.medlearn`` carries the signed record).

    Args:
        result: the :class:`SubmissionResult`.
        key: the HMAC key; ``None`` leaves the record unsigned.
        cache: the cache key the result was graded under.
        assignment: the source's SHA-256.
        stem: the file stem the document is published under.

    Returns:
        A ``dict`` in Gradescope's ``results.json`` format: ``score``, ``execution_time``, ``output``,
        ``tests`` (one per check: ``name``, ``score``, ``max_score``, ``status``, ``output``) and ``extra_data``.
    """
    tests = [{
        "name": f"{c.name}: {c.title}",
        "score": c.points,
        "max_score": c.max_points,
        "status": "passed" if c.passed else "failed",
        "output": "Passed." if c.passed else c.hint,
        "visibility": "visible",
    } for c in result.checks]
    summary = f"Status: {result.status}." + (f" {result.reason}." if result.reason else "")
    record = _payload(cache, assignment, stem, {**result.to_dict(), "log": ""})
    if key is not None:
        record["signature"] = _sign(key, dict(record))
    return {"score": result.score, "execution_time": result.wall, "output": summary, "stdout_visibility": "hidden",
            "tests": tests, "extra_data": {"medlearn": record}}


def feedback_markdown(result: SubmissionResult, assignment: str) -> str:
    """Per-check feedback for the student (hints only, never expected values).

    Every text that can come from a file name or from the student's code (name, reason,
    hints) is escaped: HTML and Markdown syntax are shown literally, line breaks removed.
    """
    lines = [f"# Feedback: {markdown_text(assignment)}", "", f"Student: **{markdown_text(result.student)}**  ",
             f"Score: **{result.score:g} / {result.max_score:g}**  ", f"Status: {markdown_text(result.status)}"]
    if result.reason:
        lines.append(f"\nNote: {markdown_text(result.reason)}")
    lines += ["", "| check | result | points | hint |", "|---|---|---|---|"]
    for c in result.checks:
        mark = "PASS" if c.passed else "FAIL"
        lines.append(f"| {markdown_text(c.name)} {markdown_text(c.title)} | {mark} | {c.points:g} / {c.max_points:g} "
                     f"| {markdown_text(c.hint or '')} |")
    return "\n".join(lines) + "\n"


def published_files(result: SubmissionResult, *, key: bytes, cache: str, assignment_sha: str, assignment_name: str,
                    stem: str) -> dict:
    """``{relative path: text}`` of everything published for one record."""
    doc = gradescope_json(result, key=key, cache=cache, assignment=assignment_sha, stem=stem)
    return {f"results/{stem}.json": json.dumps(doc, indent=1) + "\n",
            f"feedback/{stem}.md": feedback_markdown(result, assignment_name)}


def _warn(message: str) -> None:
    warnings.warn(message, PublishedFileWarning, stacklevel=3)


def reject(out: Path, path: Path, why: str) -> None:
    """Move an untrusted published file to ``out/rejected/`` and warn."""
    target_dir = Path(out) / "rejected"
    target_dir.mkdir(exist_ok=True)
    target = target_dir / f"{path.parent.name}-{path.name}"
    try:
        os.replace(path, target)
    except OSError:
        try:
            os.unlink(path)
        except OSError:
            pass
    _warn(f"{path.parent.name}/{path.name} {why}; it was moved to {target_dir.name}/ and is not published.")


def read_records(out: Path, key: bytes, assignment_sha: str) -> list:
    """Every verified record of this assignment in ``out/results``, rejecting files that do not verify.

    A file of another assignment (same folder reused) is left alone; a file whose name is not
    its record's stem, or that is no regular file, is rejected like a forged one.
    """
    records = []
    folder = Path(out) / "results"
    for path in sorted(folder.glob("*.json")):
        try:
            doc = json.loads(read_regular(path, MAX_RESULT_BYTES))
            record = doc["extra_data"]["medlearn"]
            payload = _payload(record["key"], record["assignment"], record["stem"], record["result"])
            good = record.get("v") == RECORD_VERSION and hmac.compare_digest(str(record["signature"]), _sign(key, payload))
        except (InvalidFile, ValueError, KeyError, TypeError, AttributeError):
            reject(out, path, "is not a results file this grader wrote (unreadable or no record)")
            continue
        if not good:
            reject(out, path, "does not match its signature (edited, forged or signed with another key)")
            continue
        if record["assignment"] != assignment_sha:
            continue
        if path.name != f"{record['stem']}.json":
            reject(out, path, "is a signed record under another file name (renamed or copied)")
            continue
        try:
            result = SubmissionResult.from_dict(record["result"])
        except (TypeError, KeyError, ValueError):
            reject(out, path, "holds a record this version cannot read")
            continue
        records.append(Record(result, str(record["key"]), str(record["stem"]), path))
    return records


def publish(out: Path, files: dict, *, expect_new: bool = False) -> None:
    """Write derived files atomically; warn for each existing file that differed (unless ``expect_new``)."""
    for rel, text in files.items():
        path = Path(out) / rel
        try:
            current = read_regular(path, MAX_RESULT_BYTES).decode("utf-8", "replace")
        except InvalidFile:
            current = None
        if current == text:
            continue
        if current is not None and not expect_new:
            _warn(f"{rel} differed from its signed record (edited after grading); it was regenerated.")
        atomic_write_text(path, text)  # os.replace swaps a link for the file, never writes through it
