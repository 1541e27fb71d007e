"""Copies of the lessons for a learner or an instructor, safe to re-run.

``medlearn lessons DIR [--student]`` and ``python3 dev.py lessons`` call
:func:`copy_lessons`. A copy the learner has edited (or run and saved) is never
overwritten: ``DIR/.medlearn-lessons.json`` records the digest of each file as
written, and only a file still equal to it is refreshed.

Used by ``medlearn lessons`` (the README's learner path).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat

from medlearn.course import CourseError, lesson_paths, set_kernel_metadata
from medlearn.grading.release import student_copy
from medlearn.grading.source import read_notebook

__all__ = ["copy_lessons", "STAMP"]

STAMP = ".medlearn-lessons.json"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def copy_lessons(dest, *, student: bool = False, lessons=None) -> list[tuple[Path, str]]:
    """Copy the lessons into ``dest``, never overwriting one a learner has edited.

    ``dest/.medlearn-lessons.json`` records the digest of each file as written. A file
    still equal to it is refreshed (the course may have been updated); a file that
    differs (edited, run and saved) or that was not written here is kept.

    Args:
        dest: the target folder (created if missing).
        student: write student copies (solutions stubbed, hidden checks removed, outputs
            cleared) instead of the instructor copies.
        lessons: source notebooks; default :func:`lesson_paths`.

    Returns:
        ``(path, status)`` per lesson, status ``"written"``, ``"updated"``, ``"unchanged"``
        or ``"kept (edited)"``.

    Raises:
        CourseError: ``dest`` is the instructor lessons folder, or is not a folder.

    Example:
        >>> copy_lessons("my-lessons", student=True)      # doctest: +SKIP
        [(PosixPath('my-lessons/01_neurons_and_losses.ipynb'), 'written'), ...]
    """
    dest = Path(dest)
    sources = [Path(p) for p in (lessons if lessons is not None else lesson_paths())]
    if dest.exists() and not dest.is_dir():
        raise CourseError(f"the lessons' destination must be a folder. Received: {str(dest)!r} (a file). "
                          "Fix: pick a new folder name.")
    if any(dest.resolve() == p.resolve().parent for p in sources):
        raise CourseError(f"the destination is the instructor lessons folder. Received: {str(dest)!r}. "
                          "Fix: pick another folder, e.g. `work/`.")
    dest.mkdir(parents=True, exist_ok=True)
    stamp_path = dest / STAMP
    try:
        stamp = json.loads(stamp_path.read_text())
    except (OSError, ValueError):
        stamp = {}
    out = []
    for src in sources:
        nb = read_notebook(src)
        nb = student_copy(nb, name=src.name) if student else nb
        set_kernel_metadata(nb)   # what this environment's kernel reports: not "modified" on open
        data = (nbformat.writes(nb) + "\n").encode()
        target = dest / src.name
        if target.exists():
            current = _digest(target.read_bytes())
            if current == _digest(data):
                status = "unchanged"
            elif stamp.get(src.name) == current:
                status = "updated"
            else:
                out.append((target, "kept (edited)"))
                continue
        else:
            status = "written"
        if status != "unchanged":
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(target)
        stamp[src.name] = _digest(data)
        out.append((target, status))
    stamp_path.write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n")
    return out
