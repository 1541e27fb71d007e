"""Collect the submitted files of a batch: every file gets a row, only regular files are read.

A submissions folder is untrusted: a student (or an upload tool) can leave a
symbolic link to a solved notebook, a FIFO that blocks whoever opens it, a
device such as ``/dev/zero``, a folder named ``x.ipynb`` or a file of several
gigabytes. :func:`collect` lists every entry without following links and
:func:`read_regular` reads one file only when ``lstat`` and ``fstat`` agree
that it is a regular file within the size cap (opened with ``O_NOFOLLOW |
O_NONBLOCK``, so neither a link swapped in after the check nor a FIFO can
redirect or block the read). Anything else becomes a :class:`Submission` with
a ``problem``, which the gradebook shows as an ``invalid`` row.

Used by ``medlearn grade``.
"""
from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

from medlearn.grading.errors import GradingError
from medlearn.grading.names import file_stems, student_name

__all__ = ["Submission", "collect", "read_regular", "InvalidFile", "DEFAULT_MAX_BYTES"]

DEFAULT_MAX_BYTES = 16 * 2**20  # a lesson notebook without outputs is well under 1 MiB


class InvalidFile(ValueError):
    """A submitted path that is not a readable regular file (the message is the gradebook reason)."""


@dataclasses.dataclass
class Submission:
    """One submitted path: the gradebook ``student`` name, its file ``stem``, the ``data`` read, or a ``problem``."""

    path: Path
    student: str
    stem: str = ""
    data: bytes | None = None
    problem: str = ""


def _kind(mode: int) -> str:
    for test, what in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "not a regular file"


def read_regular(path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Read ``path`` if it is a regular file (not a link) of at most ``max_bytes`` bytes.

    Args:
        path: the file (``str`` or ``Path``).
        max_bytes: the size cap (``int`` > 0).

    Returns:
        The file's bytes.

    Raises:
        InvalidFile: a link, FIFO, device, socket or folder, a file over the cap, or unreadable;
            the message says which.
    """
    path = os.fspath(path)
    try:
        before = os.lstat(path)
    except OSError as exc:
        raise InvalidFile(f"unreadable file ({exc.strerror})") from None
    if not stat.S_ISREG(before.st_mode):
        raise InvalidFile(f"{_kind(before.st_mode)}, not a regular file: not read")
    if before.st_size > max_bytes:
        raise InvalidFile(f"file too big ({before.st_size} bytes; the limit is {max_bytes})")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise InvalidFile(f"unreadable file ({exc.strerror})") from None
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino):
            raise InvalidFile("the file changed while it was read (replaced by something else): not read")
        chunks, total = [], 0
        while total <= max_bytes:
            chunk = os.read(fd, min(2**20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes:
            raise InvalidFile(f"file too big (over {max_bytes} bytes)")
        return b"".join(chunks)
    except OSError as exc:
        raise InvalidFile(f"unreadable file ({exc.strerror})") from None
    finally:
        os.close(fd)


def _same_file(a: os.stat_result, path: Path) -> bool:
    try:
        b = os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def collect(submissions, source, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list:
    """List and read a batch: one :class:`Submission` per submitted path, none dropped.

    Args:
        submissions: paths (files or folders of them; ``str``/``Path`` or a list). A folder
            contributes every entry whose name does not start with ``.`` (so
            ``.ipynb_checkpoints`` is skipped), without following links.
        source: the instructor source; a submission that *is* that file gets a ``problem``.
        max_bytes: the size cap per file.

    Returns:
        The submissions sorted by path, each with ``student`` and ``stem`` set; ``data``
        holds the bytes of each readable regular ``.ipynb`` file, ``problem`` the reason otherwise.
        Two files with the same student name: the second and later ones get a ``problem``.

    Raises:
        GradingError: a path given explicitly does not exist at all.
    """
    if isinstance(submissions, (str, os.PathLike)):
        submissions = [submissions]
    paths = []
    for item in submissions:
        item = Path(item)
        if not os.path.lexists(item):
            raise GradingError(f"submission not found. Received: {str(item)!r}. Fix: pass .ipynb files or a folder of them.")
        if item.is_dir() and not item.is_symlink():
            with os.scandir(item) as entries:
                paths.extend(sorted(item / e.name for e in entries if not e.name.startswith(".")))
        else:
            paths.append(item)
    try:
        source_stat = os.stat(source)
    except OSError:
        source_stat = None
    items, seen = [], set()
    for path in dict.fromkeys(paths):
        sub = Submission(path, student_name(path.name))
        if sub.student in seen:
            k = 2
            while f"{sub.student} (duplicate {k})" in seen:
                k += 1
            sub.student = f"{sub.student} (duplicate {k})"
            sub.problem = f"duplicate student name: another submission has the same file name ({path})"
        seen.add(sub.student)
        if not sub.problem:
            try:
                mode = os.lstat(path).st_mode
            except OSError as exc:
                mode, sub.problem = 0, f"unreadable file ({exc.strerror})"
            if sub.problem:
                pass
            elif not stat.S_ISREG(mode):
                sub.problem = f"{_kind(mode)}, not a regular file: not read"
            elif not path.name.lower().endswith(".ipynb"):
                sub.problem = "not a notebook (the file name does not end in .ipynb)"
            elif source_stat is not None and not path.is_symlink() and _same_file(source_stat, path):
                sub.problem = "this is the instructor's source notebook, not a submission"
            else:
                try:
                    sub.data = read_regular(path, max_bytes)
                except InvalidFile as exc:
                    sub.problem = str(exc)
        items.append(sub)
    stems = file_stems([s.student for s in items])
    for sub in items:
        sub.stem = stems[sub.student]
    return items
