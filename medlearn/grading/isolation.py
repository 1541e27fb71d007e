"""Operating-system isolation for the grading child (called by the trusted runner).

Linux, in this order, before any student code runs (:func:`isolate_linux`):

1. **No privileges.** A root grader gives each submission its own unprivileged
   uid/gid (``job["uid"]``); the child clears its capability bounding set and
   switches real, effective and saved ids to it. From then on it owns no file
   on the host and cannot read root's files (``/etc/shadow``, ``/root``).
2. ``unshare(CLONE_NEWUSER | NEWNS | NEWNET | NEWPID | NEWIPC | NEWUTS)`` with
   the uid mapped to 0 inside, and a fork: a **network namespace** with only a
   down loopback, a **PID namespace** (the student's process is PID 1 of its
   own tree; ``PR_SET_PDEATHSIG`` ties it to the supervisor the grader kills),
   own System V IPC and hostname.
3. A **private mount namespace**: ``/tmp``, ``/var/tmp``, ``/run``, ``/home``,
   ``/root``, ``/opt``, ``/srv``, ``/mnt``, ``/media`` are covered by empty
   read-only ``tmpfs`` (a folder the child needs to read - the Python
   installation, an exercise module - keeps its cover off and is left to
   Landlock); the working folder and ``/dev/shm`` are **private tmpfs with a
   size and an inode cap**, so nothing the child writes reaches the host's
   disk or RAM beyond the caps, and all of it vanishes with the namespace; the
   instructor source, the output folder and other paths the grader names are
   covered (``tmpfs`` over a folder, ``/dev/null`` over a file). A cover that
   fails makes the child exit with :data:`EXIT_ISOLATION` (fail closed).
4. Every capability set (also inside the user namespace) and the bounding set
   are cleared, securebits locked, ``PR_SET_NO_NEW_PRIVS`` set.

When the kernel refuses user namespaces the child keeps steps 1 and 4 (an
unprivileged uid without capabilities) and says so in the level it returns;
the grader refuses such a run unless degraded sandboxes were allowed.

macOS and Windows: see ``SANDBOX.md`` in this folder.

Used by ``medlearn grade``.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys

from medlearn.grading import privileges

__all__ = ["isolate_linux", "is_full", "EXIT_ISOLATION", "EXIT_DEGRADED", "COVERED", "landlock"]

EXIT_ISOLATION = 70
EXIT_DEGRADED = 71  # the sandbox is below what the grader requires; nothing was run
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x10000000, 0x20000000, 0x40000000
CLONE_NEWUTS, CLONE_NEWIPC = 0x04000000, 0x08000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG = 1
COVERED = ("/tmp", "/var/tmp", "/run", "/var/run", "/home", "/root", "/opt", "/srv", "/mnt", "/media")
_SECRET_FILES = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/sudoers")


def _supervise(pid: int) -> None:
    """The outer process: wait for the isolated child and exit the same way it did."""
    keep = {2}
    for fd in range(0, 256):  # the result channel and stdout must reach EOF when the child's tree ends
        if fd not in keep:
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


def is_full(level: str) -> bool:
    """Is a sandbox level a full one: user namespace, mount/network/PID namespaces, Landlock, no capabilities?"""
    parts = level.split("+")
    return ("userns" in parts and "namespaces" in parts and "capabilities-kept" not in parts
            and any(p.startswith("landlock-v") for p in parts))


def _write(path: str, text: str) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
        return True
    except OSError:
        return False


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _outermost(paths) -> list[str]:
    out = []
    for path in sorted({os.path.realpath(p) for p in paths if p and os.path.exists(p)}, key=len):
        if not any(_under(path, o) for o in out):
            out.append(path)
    return out


def _mounter(libc):
    def mount(source, target, fstype, flags, data):
        if libc.mount(source, target, fstype, flags, data) == 0:
            return True
        err = ctypes.get_errno()
        os.write(2, f"medlearn sandbox: mount {target!r} failed: {os.strerror(err)}\n".encode())
        return False

    return mount


def _cover(libc, info: dict, *, hide_dirs, hide_files, workdir: str, keep_read, owner: int | None,
           work_mb: int, work_inodes: int, shm_mb: int) -> bool:
    """Build the child's view of the file system in the current (new) mount namespace. False: failed."""
    mount = _mounter(libc)
    if not mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None):
        return False
    mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)  # this PID namespace's processes only
    own = f",uid={owner},gid={owner}" if owner is not None else ""
    covered = []
    for folder in COVERED:
        real = os.path.realpath(folder)
        if real != "/" and os.path.isdir(real) and real not in covered and not any(_under(real, c) for c in covered):
            covered.append(real)
    keep = [p for p in _outermost(keep_read) if any(_under(p, c) and p != c for c in covered)]
    keep_fds = {}
    for path in keep:  # opened before the covers go on: they stay reachable through the descriptor
        try:
            keep_fds[path] = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
    for folder in covered:
        if not mount(b"tmpfs", folder.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"size=1m,nr_inodes=256,mode=0755"):
            return False
        for path, fd in keep_fds.items():
            if not _under(path, folder):
                continue
            try:
                if os.path.isdir(f"/proc/self/fd/{fd}"):
                    os.makedirs(path, 0o755, exist_ok=True)
                else:
                    os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
                    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
            except OSError:
                return False
            if not mount(f"/proc/self/fd/{fd}".encode(), path.encode(), None, MS_BIND | MS_REC, None):
                return False
            libc.mount(None, path.encode(), None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
        if workdir and _under(workdir, folder):
            try:
                os.makedirs(workdir, 0o755, exist_ok=True)
            except OSError:
                return False
        libc.mount(None, folder.encode(), None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
                   b"size=1m,nr_inodes=256,mode=0755")
        info["covered"].append(folder)
    for fd in keep_fds.values():
        os.close(fd)
    info["uncovered"] = keep
    if workdir:
        opts = f"size={int(work_mb)}m,nr_inodes={int(work_inodes)},mode=0700{own}".encode()
        if not mount(b"tmpfs", workdir.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, opts):
            return False
        info["work_tmpfs"] = True
    if os.path.isdir("/dev/shm"):
        opts = f"size={int(shm_mb)}m,nr_inodes=1000,mode=1777".encode()
        if not mount(b"tmpfs", b"/dev/shm", b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts):
            return False
    for path in hide_dirs:
        if os.path.isdir(path):
            if not mount(b"tmpfs", os.fsencode(path), b"tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, b"size=4k,mode=0555"):
                return False
    for path in [*hide_files, *_SECRET_FILES]:
        if os.path.isfile(path):
            if not mount(b"/dev/null", os.fsencode(path), None, MS_BIND, None):
                return False
    return True


def _map_user(outer_uid: int, outer_gid: int) -> bool:
    return (_write("/proc/self/setgroups", "deny") and _write("/proc/self/uid_map", f"0 {outer_uid} 1")
            and _write("/proc/self/gid_map", f"0 {outer_gid} 1"))


def _enter_child(libc) -> None:
    pid = os.fork()
    if pid:
        _supervise(pid)
    # Dies with the supervisor. Until setsid() below it shares the supervisor's process
    # group, so a timeout kill that lands before prctl() still reaches it.
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    os.setsid()  # kill(0, ...) now reaches this tree only


def isolate_linux(hide_dirs: list[str], hide_files: list[str], *, uid: int | None = None, workdir: str = "",
                  keep_read=(), work_mb: int = 512, work_inodes: int = 20000, shm_mb: int = 64,
                  allow_userns: bool = True) -> dict:
    """Drop privileges, enter new namespaces, cover paths; return what was reached.

    Must be called while the process has a single thread (before NumPy starts
    its thread pools). Forks once when namespaces are entered: the caller's
    process becomes a supervisor that never returns; the function returns in
    the isolated child, whose working directory is then the private work tmpfs.

    A root grader builds the namespaces and the covers as root (so folders only
    root can traverse, such as a Python under ``/root``, can be re-exposed
    read-only), then drops to ``uid`` and clears every capability, then enters
    a user namespace on top. Any other grader does it the unprivileged way: user
    namespace first, then the rest inside it.

    Args:
        hide_dirs: folders covered by an empty ``tmpfs``.
        hide_files: files covered by ``/dev/null``.
        uid: the unprivileged uid (= gid) to become when running as root.
        workdir: the working folder (absolute); it becomes a private capped tmpfs.
        keep_read: folders the child must still read (re-exposed read-only under a cover).
        work_mb, work_inodes: size and inode caps of the work tmpfs.
        shm_mb: size cap of the private ``/dev/shm``.
        allow_userns: ``False`` skips the user namespace (used to test the degraded path).

    Returns:
        ``{"namespaces", "userns", "caps", "work_tmpfs"}`` flags, ``"uid"`` and the ``"covered"`` folders.
    """
    info = {"namespaces": False, "userns": False, "uid": os.getuid(), "caps": False, "work_tmpfs": False,
            "covered": [], "uncovered": []}
    if not sys.platform.startswith("linux"):
        return info
    libc = ctypes.CDLL(None, use_errno=True)
    workdir = os.path.realpath(workdir) if workdir else ""
    cover = dict(hide_dirs=hide_dirs, hide_files=hide_files, workdir=workdir, keep_read=keep_read,
                 work_mb=work_mb, work_inodes=work_inodes, shm_mb=shm_mb)
    ns = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if os.geteuid() == 0:
        if not uid:  # never run student code as root
            os.write(2, b"medlearn sandbox: refusing to run as root without a sandbox uid\n")
            os._exit(EXIT_ISOLATION)
        if libc.unshare(ns) == 0:
            _enter_child(libc)
            if not _cover(libc, info, owner=uid, **cover):
                os._exit(EXIT_ISOLATION)
            info["namespaces"] = True
        privileges.drop_bounding_set()  # first: dropping it needs CAP_SETPCAP, which the uid change takes away
        if not privileges.drop_to(uid, uid):
            os.write(2, b"medlearn sandbox: could not drop to the sandbox uid\n")
            os._exit(EXIT_ISOLATION)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the uid change cleared it
        info["uid"] = uid
        if allow_userns and libc.unshare(CLONE_NEWUSER) == 0:
            info["userns"] = _map_user(uid, uid)
            if not info["userns"]:
                os._exit(EXIT_ISOLATION)
    elif allow_userns and libc.unshare(CLONE_NEWUSER | ns) == 0:
        outer_uid, outer_gid = os.getuid(), os.getgid()
        if not _map_user(outer_uid, outer_gid):
            os.write(2, b"medlearn sandbox: could not map the sandbox uid\n")
            os._exit(EXIT_ISOLATION)
        _enter_child(libc)
        if not _cover(libc, info, owner=None, **cover):
            os._exit(EXIT_ISOLATION)
        info["namespaces"] = info["userns"] = True
    if workdir and info["work_tmpfs"]:
        os.chdir(workdir)  # into the tmpfs now mounted there
    cleared, nnp = privileges.clear_capabilities(), privileges.no_new_privs()
    info["caps"] = cleared and nnp
    return info


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
