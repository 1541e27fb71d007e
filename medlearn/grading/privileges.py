"""Dropping privileges in the grading child, before any student code runs.

* :func:`drop_to` switches real, effective and saved uid/gid to an
  unprivileged pair (the grader gives each submission its own uid when it runs
  as root, so ``RLIMIT_NPROC`` counts that submission's processes only and the
  grader can find and kill all of them by uid);
* :func:`clear_capabilities` empties the permitted, effective, inheritable and
  ambient sets and the bounding set, and locks the securebits so that uid 0
  (inside a user namespace) does not get capabilities back on ``execve``;
* :func:`no_new_privs` sets ``PR_SET_NO_NEW_PRIVS`` (no set-uid, no file
  capabilities from here on).

:func:`capabilities` reads the effective set back, for the sandbox level and
the tests. Linux only; every function reports failure instead of raising.

Used by ``medlearn grade``.
"""
from __future__ import annotations

import ctypes
import os

__all__ = ["drop_to", "drop_bounding_set", "clear_capabilities", "no_new_privs", "capabilities", "sandbox_uid"]

PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 4, 24, 28, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
# SECBIT_NOROOT | _LOCKED, SECBIT_NO_SETUID_FIXUP | _LOCKED, SECBIT_KEEP_CAPS_LOCKED, SECBIT_NO_CAP_AMBIENT_RAISE | _LOCKED
_SECUREBITS = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80
_SYS_CAPSET = 126  # x86-64; arm64 uses 91
UID_BASE, UID_SPAN = 0x3A000000, 0x00FFFFFF  # far above any distribution's users


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def sandbox_uid(token: int) -> int:
    """A per-submission uid (and gid) for a root grader: no user and no file owns it."""
    return UID_BASE + (int(token) % UID_SPAN)


def drop_to(uid: int, gid: int) -> bool:
    """Become ``uid``/``gid`` for real, effective and saved ids, with no supplementary groups."""
    try:
        if os.getuid() == 0 or os.geteuid() == 0:
            os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    except OSError:
        return False
    _libc().prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # a uid change cleared it; /proc/self must stay ours (uid_map)
    return os.getresuid() == (uid, uid, uid) and os.getresgid() == (gid, gid, gid)


def drop_bounding_set() -> None:
    """Empty the capability bounding set (needs ``CAP_SETPCAP``: call it before giving up root)."""
    libc = _libc()
    for cap in range(64):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == 22:  # EINVAL: past the last cap
            break


def clear_capabilities() -> bool:
    """Empty every capability set and the bounding set; lock the securebits. True when all sets are empty."""
    libc = _libc()
    libc.prctl(PR_SET_SECUREBITS, _SECUREBITS, 0, 0, 0)  # needs CAP_SETPCAP; harmless when missing
    drop_bounding_set()
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    number = 91 if os.uname().machine in ("aarch64", "arm64") else _SYS_CAPSET
    libc.syscall(number, ctypes.byref(header), data)
    return capabilities() == {"CapEff": 0, "CapPrm": 0, "CapInh": 0, "CapAmb": 0, "CapBnd": 0}


def no_new_privs() -> bool:
    """``PR_SET_NO_NEW_PRIVS``: nothing this process executes can gain privileges."""
    return _libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0


def capabilities() -> dict:
    """The capability sets of this process as integers (``CapEff``, ``CapPrm``, ``CapInh``, ``CapBnd``, ``CapAmb``)."""
    sets = {}
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                name, _, value = line.partition(":")
                if name in ("CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"):
                    sets[name] = int(value.strip(), 16)
    except (OSError, ValueError):
        pass
    return sets
