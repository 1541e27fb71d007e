"""One cgroup v2 per submission, where the host delegates a cgroup to the grader.

With a delegated cgroup (``memory``, ``pids`` and ``cpu`` controllers enabled
for its children) each submission gets its own child cgroup before any of its
code runs:

* ``memory.max`` = ``Limits.memory_mb`` for the whole tree (``memory.swap.max`` 0),
* ``pids.max`` = ``Limits.nproc`` processes and threads,
* ``cpu.max`` = ``Limits.threads`` CPUs, so one student's busy loops cannot
  starve a classmate graded at the same time,

and the whole cgroup is killed at once (``cgroup.kill``) when the run ends.

Where to find one: ``MEDLEARN_GRADING_CGROUP`` names a cgroup v2 folder
delegated to the grader (for example the one of ``systemd-run --user --scope
-p Delegate=yes medlearn grade ...``); otherwise none is used. Without it the
sandbox falls back to a dedicated uid (``RLIMIT_NPROC``, kill by uid) and a
supervisor summing the memory of the submission's processes
(:mod:`medlearn.grading.sandbox`).

Used by ``medlearn grade``.
"""
from __future__ import annotations

import errno
import os
import secrets
import signal
import time
from pathlib import Path

__all__ = ["delegated_parent", "Cgroup"]

_NEEDED = {"memory", "pids", "cpu"}


def delegated_parent(environ=os.environ) -> Path | None:
    """The delegated cgroup v2 folder to create submission cgroups in, or ``None``."""
    path = environ.get("MEDLEARN_GRADING_CGROUP")
    if not path:
        return None
    folder = Path(path)
    try:
        enabled = set((folder / "cgroup.subtree_control").read_text().split())
    except OSError:
        return None
    if not _NEEDED <= enabled or not os.access(folder, os.W_OK):
        return None
    return folder


class Cgroup:
    """A submission's own cgroup under ``parent``, with its limits written."""

    def __init__(self, parent: Path, *, memory_mb: int, nproc: int, cpus: float):
        self.path = Path(parent) / f"medlearn-{secrets.token_hex(6)}"
        self.path.mkdir(mode=0o755)
        if memory_mb:
            self._write("memory.max", str(int(memory_mb) * 2**20))
            self._write("memory.swap.max", "0", required=False)
        if nproc:
            self._write("pids.max", str(int(nproc)))
        if cpus:
            self._write("cpu.max", f"{int(cpus * 100000)} 100000")

    def _write(self, name: str, value: str, required: bool = True) -> None:
        try:
            (self.path / name).write_text(value)
        except OSError:
            if required:
                raise

    def add(self, pid: int) -> None:
        """Move ``pid`` into the cgroup (before it runs anything of the student's)."""
        self._write("cgroup.procs", str(int(pid)))

    def memory_mb(self) -> float:
        try:
            return int((self.path / "memory.current").read_text()) / 2**20
        except (OSError, ValueError):
            return 0.0

    def cpu_s(self) -> float:
        try:
            for line in (self.path / "cpu.stat").read_text().splitlines():
                if line.startswith("usage_usec"):
                    return int(line.split()[1]) / 1e6
        except (OSError, ValueError, IndexError):
            pass
        return 0.0

    def pids(self) -> list[int]:
        try:
            return [int(x) for x in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def kill(self) -> None:
        """Kill every process in the cgroup (``cgroup.kill`` where the kernel has it, else one by one)."""
        try:
            (self.path / "cgroup.kill").write_text("1")
            return
        except OSError:
            pass
        for _ in range(20):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)

    def remove(self) -> None:
        self.kill()
        for _ in range(40):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError as exc:
                if exc.errno == errno.ENOTEMPTY:  # a plain folder standing in for a cgroup (tests): empty it
                    for child in self.path.iterdir():
                        if child.is_file():
                            child.unlink()
                else:  # EBUSY: processes still exiting
                    time.sleep(0.05)
