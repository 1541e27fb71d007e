"""One grader per output folder: an exclusive lock on ``out/.grading.lock``.

Two ``medlearn grade`` runs on the same ``--out`` would each write the
gradebook from what they graded, and the last one to finish would win. The
lock is an ``fcntl.flock`` on a file in the output folder, held for the whole
run and released by the kernel when the process ends (a crash leaves no stale
lock). The file holds the holder's process id, host and start time, so the
second grader's error names the first one.

On systems without ``fcntl`` (Windows) ``msvcrt.locking`` is used instead.

Used by ``medlearn grade``.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

from medlearn.grading.errors import GradingError

__all__ = ["OutputLock", "LOCK_NAME"]

LOCK_NAME = ".grading.lock"


class OutputLock:
    """Context manager holding the exclusive lock of an output folder.

    Args:
        out: the output folder (must exist).

    Raises:
        GradingError: another process holds the lock; the message names it (pid, host, start time).

    Example:
        >>> with OutputLock("grades"):          # doctest: +SKIP
        ...     grade(...)
    """

    def __init__(self, out):
        self.path = Path(out) / LOCK_NAME
        self.fd: int | None = None

    def __enter__(self) -> "OutputLock":
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            _lock(fd)
        except OSError:
            holder = _read_holder(fd)
            os.close(fd)
            raise GradingError(
                f"another grader is writing to this output folder ({holder}). Received: out={str(self.path.parent)!r}. "
                "Fix: wait for it to finish, or grade into another --out folder."
            ) from None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                "command": " ".join(sys.argv)[:300]}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(info).encode())
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            try:
                os.ftruncate(self.fd, 0)
                _unlock(self.fd)
            finally:
                os.close(self.fd)
                self.fd = None


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096).decode())
        return f"process {int(info['pid'])} on {str(info['host'])[:64]}, started {str(info['started'])[:32]}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that is still starting"


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, 0)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
