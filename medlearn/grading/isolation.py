"""Operating-system isolation for the grading child (called by the trusted runner).

Linux (user namespaces available - the default on current distributions):

* ``unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID)``
  before any student code runs;
* a **new network namespace** holds only a loopback interface that is down:
  no Internet, no 127.0.0.1, no access to the grader's local services;
* a **new PID namespace**: the student's process is PID 1 of its own tree,
  cannot see or signal the grader, and every process it starts dies with it
  (``PR_SET_PDEATHSIG`` ties it to the supervisor the grader kills on timeout);
* a **private mount namespace** in which the instructor source, the output
  folder and any other path the grader names are covered (an empty ``tmpfs``
  over a folder, ``/dev/null`` bound over a file), so they cannot be read or
  written. Mounting fails closed: if a path cannot be hidden the child exits
  with :data:`EXIT_ISOLATION` and the submission is reported, not graded.

When namespaces are refused (some containers, hardened kernels) the child
still runs with resource limits but without these guards; the grader records
``sandbox: "limits-only"`` for that submission and warns.

macOS and Windows: see ``SANDBOX.md`` in this folder.

Used by ``medlearn grade``.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys

__all__ = ["isolate_linux", "EXIT_ISOLATION"]

EXIT_ISOLATION = 70
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x10000000, 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG = 1


def _supervise(pid: int) -> None:
    """The outer process: wait for the isolated child and exit the same way it did."""
    for fd in (0,):
        try:
            os.close(fd)
        except OSError:
            pass
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def isolate_linux(hide_dirs: list[str], hide_files: list[str]) -> str:
    """Enter new user/mount/network/PID namespaces and hide paths; return the level reached.

    Must be called while the process has a single thread (before NumPy starts
    its thread pools). Forks once: the caller's process becomes a supervisor
    that never returns; the function returns in the isolated child.

    Args:
        hide_dirs: folders covered by an empty ``tmpfs``.
        hide_files: files covered by ``/dev/null``.

    Returns:
        ``"namespaces"`` (network, PID and mount isolation in place) or
        ``"limits-only"`` (the kernel refused namespaces; nothing was changed).
    """
    if not sys.platform.startswith("linux"):
        return "limits-only"
    libc = ctypes.CDLL(None, use_errno=True)
    base = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID
    if libc.unshare(CLONE_NEWUSER | base) != 0 and libc.unshare(base) != 0:
        return "limits-only"
    pid = os.fork()
    if pid:
        _supervise(pid)
    # Dies with the supervisor. Until setsid() below it shares the supervisor's process
    # group, so a timeout kill that lands before prctl() still reaches it.
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    os.setsid()  # kill(0, ...) now reaches this tree only

    def mount(source, target, fstype, flags, data):
        if libc.mount(source, target, fstype, flags, data) == 0:
            return True
        err = ctypes.get_errno()
        os.write(2, f"medlearn sandbox: mount {target!r} failed: {os.strerror(err)}\n".encode())
        return err

    if mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) is not True:
        os._exit(EXIT_ISOLATION)
    mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)  # best effort
    for path in hide_dirs:
        if os.path.isdir(path):
            if mount(b"tmpfs", os.fsencode(path), b"tmpfs", MS_NOSUID | MS_NODEV, b"size=64k,mode=0555") is not True:
                os._exit(EXIT_ISOLATION)
    for path in hide_files:
        if os.path.isfile(path):
            if mount(b"/dev/null", os.fsencode(path), None, MS_BIND, None) is not True:
                os._exit(EXIT_ISOLATION)
    return "namespaces"


# ----------------------------------------------------------------------------- Landlock
_SYS_CREATE, _SYS_ADD_RULE, _SYS_RESTRICT = 444, 445, 446  # same numbers on x86-64 and arm64
PR_SET_NO_NEW_PRIVS = 38
_FS_READ = (1 << 0) | (1 << 2) | (1 << 3)  # EXECUTE | READ_FILE | READ_DIR


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _handled_fs(abi: int) -> int:
    bits = (1 << 13) - 1  # ABI 1: EXECUTE ... MAKE_SYM
    if abi >= 2:
        bits |= 1 << 13  # REFER
    if abi >= 3:
        bits |= 1 << 14  # TRUNCATE
    if abi >= 5:
        bits |= 1 << 15  # IOCTL_DEV
    return bits


def landlock(read_paths: list[str], write_paths: list[str], device_paths: list[str]) -> str:
    """Restrict this process (and its children) with Landlock; return what was applied.

    Files: only ``read_paths`` (read/execute), ``write_paths`` (everything) and
    ``device_paths`` (read/write/ioctl on those files; a folder among them may
    only be listed) are reachable.
    Network (ABI >= 4): TCP ``bind``/``connect`` denied. Scope (ABI >= 6): no
    signals to, and no abstract Unix sockets of, processes outside the sandbox.
    Must run while the process has a single thread.

    Returns:
        ``""`` when Landlock is unavailable, else e.g. ``"landlock-v7"``.
    """
    if not sys.platform.startswith("linux"):
        return ""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(_SYS_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        return ""
    fs = _handled_fs(abi)
    attr = _RulesetAttr(fs, 3 if abi >= 4 else 0, 3 if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    fd = libc.syscall(_SYS_CREATE, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if fd < 0:
        return ""
    device = (1 << 1) | (1 << 2) | (1 << 3) | (fs & ((1 << 14) | (1 << 15)))
    try:
        for paths, access in ((read_paths, _FS_READ), (write_paths, fs), (device_paths, device)):
            for path in paths:
                try:
                    pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue
                if not os.path.isdir(path):
                    allowed = access & ((1 << 0) | (1 << 1) | (1 << 2) | (1 << 14) | (1 << 15))  # file rights only
                elif access == device:
                    allowed = 1 << 3  # a device folder (``/dev``) may be listed, not opened beneath
                else:
                    allowed = access
                rule = _PathBeneath(allowed, pfd)
                libc.syscall(_SYS_ADD_RULE, ctypes.c_int(fd), ctypes.c_int(1), ctypes.byref(rule), ctypes.c_uint32(0))
                os.close(pfd)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return ""
        if libc.syscall(_SYS_RESTRICT, ctypes.c_int(fd), ctypes.c_uint32(0)) != 0:
            return ""
    finally:
        os.close(fd)
    return f"landlock-v{abi}"
