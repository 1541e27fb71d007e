"""A seccomp filter for the grading child, installed after the sandbox is set up and before student code.

Built with libseccomp through the ``pyseccomp`` bindings (no hand-written BPF).
The default action is *allow*: the filter only takes away what a notebook has
no use for and what would reach outside the sandbox:

* ``socket()`` of any family but ``AF_INET``/``AF_INET6`` fails with
  ``EAFNOSUPPORT``: no ``AF_UNIX`` sockets (a pathname ``connect`` would reach
  ``docker.sock``, D-Bus or an ssh agent outside the sandbox; seccomp cannot
  read the address, so the socket itself is refused), no ``AF_NETLINK``,
  ``AF_PACKET``, ``AF_VSOCK``, ``AF_ALG``, Bluetooth, ... ``socketpair()``
  stays (multiprocessing and subprocess use it). The internet families only
  reach the network namespace's down loopback;
* ``io_uring_*`` fail (``ENOSYS``): io_uring submits socket and file
  operations without passing through seccomp;
* new namespaces (``unshare``, ``setns``, ``clone`` with a namespace flag) and
  ``clone3`` (its flags are out of seccomp's sight; C libraries fall back to
  ``clone``) are refused, as are ``mount``-family calls, ``bpf``,
  ``perf_event_open``, ``userfaultfd``, keyrings, ``ptrace``, module and
  kexec loading, ``acct``, ``swapon``, ``reboot`` and ``*_clock``/``settimeofday``;
* ``setsid`` is refused: where the kernel groups CPU time by session
  (``sched_autogroup``), a submission's whole tree then competes as one
  group, however many processes it starts.

System calls of other architectures (x32, i386 on x86-64) kill the process.

Used by ``medlearn grade``.
"""
from __future__ import annotations

import errno

__all__ = ["install", "available", "DENIED_FAMILIES"]

AF_INET, AF_INET6 = 2, 10
DENIED_FAMILIES = "every family but AF_INET/AF_INET6 (AF_UNIX, AF_NETLINK, AF_PACKET, AF_VSOCK, ...)"
_NAMESPACE_FLAGS = 0x7E020080  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME
_EPERM = (
    "unshare", "setns", "mount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsmount",
    "fsconfig", "fspick", "mount_setattr", "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key",
    "request_key", "ptrace", "process_vm_readv", "process_vm_writev", "init_module", "finit_module",
    "delete_module", "kexec_load", "kexec_file_load", "acct", "swapon", "swapoff", "reboot",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname",
    "open_by_handle_at", "name_to_handle_at", "quotactl", "lookup_dcookie", "vhangup", "syslog",
    "setsid",  # a new session is a new scheduler autogroup: burners would outweigh a classmate's notebook
)
_ENOSYS = ("io_uring_setup", "io_uring_enter", "io_uring_register", "clone3")


def available() -> bool:
    """True when libseccomp and its Python bindings can be loaded."""
    try:
        import pyseccomp  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def install() -> str:
    """Load the filter into this process (inherited by every child); return ``"seccomp"`` or ``""``.

    Needs ``PR_SET_NO_NEW_PRIVS`` (set by the caller) or ``CAP_SYS_ADMIN``.
    """
    try:
        import pyseccomp as sc
    except (ImportError, OSError):
        return ""
    try:
        f = sc.SyscallFilter(defaction=sc.ALLOW)
        no_family = sc.ERRNO(errno.EAFNOSUPPORT)
        f.add_rule(no_family, "socket", sc.Arg(0, sc.LT, AF_INET))
        for family in range(AF_INET + 1, AF_INET6):
            f.add_rule(no_family, "socket", sc.Arg(0, sc.EQ, family))
        f.add_rule(no_family, "socket", sc.Arg(0, sc.GT, AF_INET6))
        for bit in (b for b in range(32) if _NAMESPACE_FLAGS >> b & 1):
            bit = 1 << bit
            f.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, bit, bit))
        for name in _EPERM:
            _rule(f, sc.ERRNO(errno.EPERM), name)
        for name in _ENOSYS:
            _rule(f, sc.ERRNO(errno.ENOSYS), name)
        f.load()
    except (OSError, RuntimeError, ValueError) as exc:
        import os

        os.write(2, f"medlearn sandbox: seccomp filter not installed ({type(exc).__name__}: {exc})\n".encode())
        return ""
    return "seccomp"


def _rule(f, action, name: str) -> None:
    try:
        f.add_rule(action, name)
    except (OSError, RuntimeError, ValueError):  # a system call this kernel/libseccomp does not know
        pass
