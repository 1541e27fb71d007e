"""Run one grading job in a separate, resource-limited process.

The parent side of the sandbox: it starts ``python -I`` on
:mod:`medlearn.grading.runner` in a fresh working folder, with a scrubbed
environment (nothing that tells a grading run from a normal one), sends the
job on stdin, enforces the wall-time limit by killing the whole process tree,
and reports how the child ended. What each OS can promise is written in
``SANDBOX.md`` next to this file:

=========  ==========================================================================
Linux      wall time, address-space/CPU/file-size limits, no network, PID isolation,
           instructor files and other submissions hidden (user namespaces)
macOS      wall time, CPU/file-size limits; network and hidden paths through
           ``sandbox-exec`` when present (address-space limits are not enforced)
Windows    not supported: grade on Linux or WSL2
=========  ==========================================================================

Used by ``medlearn grade``.
"""
from __future__ import annotations

import dataclasses
import glob
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from medlearn.grading.channel import Caps, ChannelError, Reader
from medlearn.grading.isolation import is_full

__all__ = ["Limits", "RunResult", "run_job", "child_env", "landlock_rules", "is_full"]

# Variables a normal notebook run may rely on; everything else is dropped.
_PASS_ENV = (
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "SYSTEMROOT",
    "MEDLEARN_DATA", "MEDLEARN_FAST", "MEDLEARN_OFFLINE", "KERAS_BACKEND", "KERAS_HOME",
    "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "CUDA_VISIBLE_DEVICES", "XDG_CACHE_HOME",
    "SCIKIT_LEARN_DATA",
)
# What the dynamic loader, Python, NumPy, matplotlib and TensorFlow read in /etc (nothing with secrets).
_ETC = tuple(f"/etc/{name}" for name in (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "ld.so.preload", "localtime", "timezone", "passwd", "group",
    "nsswitch.conf", "host.conf", "hosts", "resolv.conf", "gai.conf", "protocols", "services", "mime.types",
    "os-release", "alternatives", "ssl", "ca-certificates", "pki", "matplotlibrc", "fonts", "OpenCL", "nvidia",
    "machine-id", "debian_version", "lsb-release", "python3", "xdg",
))
_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits and sandbox policy for one submission.

    Args:
        timeout: wall-clock seconds for the whole notebook (float > 0); the grader-side deadline too.
        memory_mb: address-space limit in MiB per process, and the limit on the summed resident memory of
            the submission's whole process tree (``0`` = none); TensorFlow lessons need ~4 GiB or more.
        fsize_mb: the largest file the child may write, MiB (also bounds its printed output).
        threads: BLAS/OpenMP threads per child (parallel grading keeps this at 1).
        nproc: processes and threads the submission may run at once.
        work_mb: size of the private work folder (a tmpfs, Linux); ``/dev/shm`` gets a quarter, at most 64 MiB.
        results_mb: everything the child may send back (outputs and events), MiB.
        job_mb: the largest job (the cells' code) the grader hands to one child, MiB.
        allow_degraded: grade even when user namespaces or Landlock are missing (every row says so).
    """

    timeout: float = 300.0
    memory_mb: int = 6144
    fsize_mb: int = 256
    threads: int = 1
    nproc: int = 256
    work_mb: int = 512
    results_mb: int = 512
    job_mb: int = 16
    allow_degraded: bool = False


@dataclasses.dataclass
class RunResult:
    """How the child ended.

    ``returncode`` (negative = signal), ``timed_out`` (whole-run deadline), ``wall`` seconds, the
    ``sandbox`` level the runner reached before any student code ran, whether it is ``degraded``
    (no user namespaces or no Landlock) and whether the run was ``refused`` for that, its ``events``,
    the tail of its output ``log``, ``channel`` (the parsed result stream), ``killed`` (why the
    supervisor ended the run early: ``""``, ``"memory"``, ``"results"``, ``"check-timeout"``),
    ``check_cpu`` (check number -> CPU seconds of the whole tree during that check, measured by the
    grader), ``overrun`` (checks stopped by the grader's own per-check deadline) and ``timings``
    (seconds after the start, by the grader's clock, at which the child reported ``start`` - sandbox
    in place -, ``ready`` - exercise modules imported - and ``done``) and ``cpu_s`` (CPU seconds of the
    whole tree, the supervisor's last sample: exact with a cgroup, else summed from ``/proc`` every
    0.2 s, so a lower bound - the CPU of processes that end between samples is not seen).
    """

    returncode: int | None
    timed_out: bool
    wall: float
    sandbox: str
    events: list
    log: str
    channel: Reader
    degraded: bool = False
    refused: bool = False
    killed: str = ""
    detail: str = ""
    check_cpu: dict = dataclasses.field(default_factory=dict)
    overrun: list = dataclasses.field(default_factory=list)
    peak_memory_mb: float = 0.0
    timings: dict = dataclasses.field(default_factory=dict)
    cpu_s: float = 0.0

    @property
    def outputs(self) -> Reader:
        """The result channel (what :func:`medlearn.grading.safeio.load_outputs` reads when given it)."""
        return self.channel

    def check_outputs(self, k: int, n_cases: int) -> list | None:
        """Check ``k``'s outputs (one dict of plain arrays or ``{"__error__": ...}`` per case), or ``None``."""
        return self.channel.outputs(k, n_cases)


def child_env(threads: int = 1, workdir: Path | None = None) -> dict:
    """The environment of the grading child: a whitelist of the caller's, nothing grading-specific.

    ``TMPDIR`` and matplotlib's config folder point into the working folder (the
    only place the child may write); BLAS/OpenMP use ``threads`` threads.
    """
    env = {k: v for k, v in os.environ.items() if k in _PASS_ENV or k.startswith("LC_")}
    env.setdefault("PATH", os.defpath)
    env["MPLBACKEND"] = "Agg"
    if workdir is not None:
        env["TMPDIR"] = str(workdir)
        env["MPLCONFIGDIR"] = str(Path(workdir) / ".matplotlib")
    for name in _THREAD_ENV:
        env[name] = str(max(1, int(threads)))
    return env


def landlock_rules(extra_read=(), sys_path=()) -> dict:
    """The file allow-list the Linux child runs under (when the kernel has Landlock); see :func:`_landlock_rules`."""
    return _landlock_rules(extra_read, sys_path)


def _landlock_rules(extra_read=(), sys_path=()) -> dict:
    """The file allow-list the Linux child runs under (when the kernel has Landlock).

    Readable: the Python installation and its site-packages, medlearn, the
    exercise modules' folders, system folders (``/usr``, ``/lib*``, ``/bin``,
    ``/proc``, ``/sys``), the few files of ``/etc`` the dynamic loader, Python,
    NumPy and matplotlib open (:data:`_ETC`; not ``/etc/shadow``), the
    medlearn/Keras/scikit-learn data folders and ``extra_read``. Not ``/opt``,
    ``/home``, ``/root``, ``/run``, ``/tmp``. Writable: the working folder and ``/dev/shm``. Devices:
    ``/dev/null``-like files and GPUs only (never disks). Nothing else - in
    particular not the instructor's course folder, the submissions or the
    output folder.
    """
    import site

    import medlearn
    from medlearn.config import data_home

    home = Path.home()
    read = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
            str(Path(os.path.realpath(sys.executable)).parent.parent), str(Path(medlearn.__file__).resolve().parent),
            "/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/proc", "/sys", *_ETC}
    read.update(site.getsitepackages() if hasattr(site, "getsitepackages") else [])
    read.update(str(p) for p in sys_path)
    read.update(str(p) for p in extra_read)
    for name, default in (("KERAS_HOME", home / ".keras"), ("SCIKIT_LEARN_DATA", home / "scikit_learn_data")):
        read.add(os.environ.get(name) or str(default))
    try:
        read.add(str(data_home()))
    except Exception:  # a bad MEDLEARN_DATA is the lesson's problem, not the sandbox's
        pass
    too_broad = {"/", str(home)}
    read = sorted(os.path.realpath(p) for p in read if p and os.path.realpath(p) not in too_broad)
    devices = ["/dev"] + [f"/dev/{name}" for name in ("null", "zero", "full", "random", "urandom", "tty")]
    devices += sorted(glob.glob("/dev/nvidia*")) + sorted(glob.glob("/dev/dri/*"))  # GPUs, for lesson 08
    return {"read": read, "write": ["/dev/shm"], "devices": devices}


def _keep_read(extra_read, sys_path) -> list:
    """What the child must read even under the covers of /tmp, /home, /root, /opt ... (Landlock or not)."""
    return list(_landlock_rules(extra_read, sys_path)["read"])


def _macos_profile(hide: list[str]) -> str:
    rules = ["(version 1)", "(allow default)", "(deny network*)"]
    for path in hide:
        quoted = json.dumps(os.path.realpath(path))
        rules.append(f"(deny file-read* file-write* (subpath {quoted}))")
    return "".join(rules)


def _command(hide: list[str]) -> list[str]:
    import medlearn

    boot = "from medlearn.grading.runner import main; main()"
    if not _installed():  # running from a source tree: let the child find the package
        root = str(Path(medlearn.__file__).resolve().parent.parent)
        boot = f"import sys; sys.path.append({root!r}); " + boot
    cmd = [sys.executable, "-I", "-c", boot]
    if sys.platform == "darwin" and shutil.which("sandbox-exec"):
        cmd = ["sandbox-exec", "-p", _macos_profile(hide)] + cmd
    return cmd


def _installed() -> bool:
    from importlib import metadata

    try:
        metadata.distribution("medlearn")
        return True
    except metadata.PackageNotFoundError:
        return False


# ----------------------------------------------------------------------------- the child's processes
def _sandbox_pids(uid: int | None, root_pid: int) -> list[int]:
    """Every live process of the submission: all processes of its own uid, else the tree under ``root_pid``."""
    if uid is not None:  # the real uid from status: /proc/PID's owner changes with the process's dumpable flag
        pids, want = [], str(uid).encode()
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    with open(f"/proc/{name}/status", "rb") as fh:
                        for line in fh:
                            if line.startswith(b"Uid:"):
                                if line.split()[1] == want:
                                    pids.append(int(name))
                                break
                except OSError:
                    continue
        return pids
    pids, todo = [], [root_pid]
    while todo and len(pids) < 100000:
        pid = todo.pop()
        pids.append(pid)
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return pids


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _usage(pids: list[int]) -> tuple[float, float]:
    """(resident MiB summed, CPU seconds summed incl. waited-for children) over ``pids``."""
    rss, cpu = 0, 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            cpu += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
            rss += int(fields[21])
        except (OSError, ValueError, IndexError):
            continue
    return rss * _PAGE / 2**20, cpu / _TICK


def _kill_uid(uid: int) -> None:
    """SIGKILL every process of ``uid`` at once: ``kill(-1)`` sent *as* that uid cannot race with its forks.

    Only when a process of that uid is left (a PID namespace normally takes them all with it); the
    helper is a fresh interpreter, not a fork of this multi-threaded grader.
    """
    if not _sandbox_pids(uid, 0):
        return
    code = f"import os; os.setgroups([]); os.setresgid({uid}, {uid}, {uid}); os.setresuid({uid}, {uid}, {uid}); os.kill(-1, 9)"
    try:
        subprocess.run([sys.executable, "-I", "-S", "-c", code], timeout=10, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        pass
    for pid in _sandbox_pids(uid, 0):  # anything that was not reached
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _kill_all(proc: subprocess.Popen, uid: int | None) -> None:
    if os.name == "posix":
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if uid is not None:
            _kill_uid(uid)
        else:  # no dedicated uid: every process still reachable through the tree
            for pid in _sandbox_pids(None, proc.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
    elif proc.poll() is None:  # Windows: end the whole tree, not just the direct child
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)], capture_output=True, check=False)
        proc.kill()


def _cgroup(limits: Limits):
    """The submission's own cgroup v2 where the host delegates one (:mod:`medlearn.grading.cgroups`), else ``None``."""
    from medlearn.grading import cgroups

    parent = cgroups.delegated_parent()
    if parent is None:
        return None
    try:
        return cgroups.Cgroup(parent, memory_mb=limits.memory_mb, nproc=limits.nproc, cpus=max(1, limits.threads))
    except OSError:
        return None


def _uid_for_this_run() -> int | None:
    """A fresh unprivileged uid when the grader is root on Linux (``None`` otherwise)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return None
    from medlearn.grading.privileges import sandbox_uid

    return sandbox_uid(secrets.randbits(24))


def run_job(job: dict, workdir: Path, limits: Limits, *, hide_dirs=(), hide_files=(), extra_read=(),
            allow_userns: bool = True) -> RunResult:
    """Run ``job`` with :mod:`medlearn.grading.runner` in ``workdir`` and wait for it, within a grader-side deadline.

    The child gets the job on stdin and sends events and outputs back over a
    pipe (:mod:`medlearn.grading.channel`); its stdout/stderr come over another
    pipe, of which the last 64 KiB are kept. The grader reads both with
    ``poll`` until ``limits.timeout`` - nothing the child does (a FIFO, a
    symlink, a grandchild keeping a pipe open) can make it wait longer - and
    meanwhile sums the memory of the child's processes (killing them all above
    ``memory_mb``), measures the CPU time of each check from outside and
    enforces each check's time budget itself.

    Args:
        job: the runner's job (steps, nonce, imports); limits and hidden paths are added here.
        workdir: an empty folder the child may use (it holds the case files).
        limits: a :class:`Limits`.
        hide_dirs: folders the child must not see (Linux/macOS).
        hide_files: files the child must not see (Linux/macOS).
        extra_read: more folders the Linux child may read (e.g. a course data folder).
        allow_userns: ``False`` skips the user namespace (tests of the degraded path).

    Returns:
        A :class:`RunResult`; never raises for anything the child does.
    """
    if os.name != "posix":
        from medlearn.grading.errors import GradingError

        raise GradingError("grading needs a POSIX system (the result channel is an inherited pipe, the deadline a "
                           f"poll loop). Received: os.name={os.name!r}. Fix: grade on Linux or in WSL2 (SANDBOX.md).")
    job = dict(job)
    linux = sys.platform.startswith("linux")
    job["isolate"] = linux
    job["allow_userns"] = bool(allow_userns)
    job["landlock"] = landlock_rules(extra_read, job.get("sys_path", ())) if linux else None
    job["keep_read"] = _keep_read(extra_read, job.get("sys_path", ())) if linux else []
    job["require_full"] = linux and not limits.allow_degraded
    job["hide_dirs"], job["hide_files"] = [str(p) for p in hide_dirs], [str(p) for p in hide_files]
    uid = _uid_for_this_run()
    job["uid"] = uid
    job["limits"] = {
        "memory_mb": limits.memory_mb,
        "cpu_s": int(limits.timeout * max(1, limits.threads)) + 5,
        "fsize_mb": limits.fsize_mb,
        "nproc": limits.nproc,
        "work_mb": limits.work_mb,
        "shm_mb": max(1, min(64, limits.work_mb // 4)),
    }
    budgets = {step["k"]: float(step.get("timeout") or 0) for step in job.get("steps", []) if step.get("kind") == "check"}
    start = time.monotonic()
    reader = Reader(Caps(total_bytes=limits.results_mb * 2**20, array_bytes=min(limits.results_mb * 2**20, 256 * 2**20)))
    chan_r, chan_w = os.pipe()
    job["channel_fd"] = chan_w
    data = json.dumps(job).encode()
    if len(data) > limits.job_mb * 2**20:
        os.close(chan_r)
        os.close(chan_w)
        return RunResult(None, False, 0.0, "not started", [], "", reader, refused=True,
                         detail=f"the job is {len(data) // 2**20} MiB, over the cap of {limits.job_mb} MiB")
    if uid is not None:
        os.chown(workdir, uid, uid)  # the child writes here only where no private tmpfs covers it
    group = _cgroup(limits) if linux else None
    kwargs = {"start_new_session": True} if os.name == "posix" else {
        "creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}
    try:
        proc = subprocess.Popen(
            _command(job["hide_dirs"] + job["hide_files"]), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, cwd=workdir, env=child_env(limits.threads, workdir), pass_fds=(chan_w,),
            **kwargs,
        )
    finally:
        os.close(chan_w)
    if group is not None:
        try:
            group.add(proc.pid)  # before the job is sent: the runner waits for it on stdin
        except OSError:
            group.remove()
            group = None
    state = _Supervision(proc, reader, chan_r, data, uid, limits, budgets, start, group)
    try:
        state.loop()
    finally:
        if group is not None:
            group.kill()
        _kill_all(proc, uid)  # also ends leftovers of a normal exit
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        state.close()
        if group is not None:
            group.remove()
    wall = time.monotonic() - start
    events = reader.events
    first = events[0] if events else {}
    sandbox = str(first.get("sandbox", "unknown")) if first.get("event") in ("start", "refused") else "unknown"
    refused = first.get("event") == "refused" and proc.returncode is not None and proc.returncode != 0
    degraded = linux and not is_full(sandbox)
    if group is not None and sandbox != "unknown":
        sandbox += "+cgroup"
    return RunResult(proc.returncode, state.timed_out, wall, sandbox, events, state.tail(), reader,
                     degraded=degraded, refused=refused, killed=state.killed, detail=state.detail,
                     check_cpu=state.check_cpu, overrun=state.overrun, peak_memory_mb=round(state.peak, 1),
                     timings=state.timings, cpu_s=round(state.last_cpu, 3))


class _Supervision:
    """The grader's side of one run: feeds stdin, drains both pipes, watches memory, CPU and deadlines."""

    TAIL = 64 * 2**10

    def __init__(self, proc, reader, chan_r, data, uid, limits, budgets, start, group=None):
        self.proc, self.reader, self.uid, self.limits, self.budgets = proc, reader, uid, limits, budgets
        self.group = group
        self.started, self.timings, self.last_cpu = start, {}, 0.0
        self.deadline = start + limits.timeout
        self.data, self.sent = memoryview(data), 0
        self.stdin = proc.stdin.fileno()
        self.out = proc.stdout.fileno()
        self.chan = chan_r
        self.open = {self.out, chan_r}
        self.log = bytearray()
        self.timed_out, self.killed, self.detail = False, "", ""
        self.check_cpu, self.overrun, self.peak = {}, [], 0.0
        self.current: tuple | None = None  # (k, started, cpu at start)
        self.seen_events = 0
        self.next_watch = 0.0
        for fd in (self.stdin, self.out, chan_r):
            os.set_blocking(fd, False)

    def tail(self) -> str:
        return bytes(self.log[-self.TAIL:]).decode("utf-8", "replace")

    def close(self) -> None:
        for fh in (self.proc.stdin, self.proc.stdout):
            try:
                fh.close()
            except OSError:
                pass
        try:
            os.close(self.chan)
        except OSError:
            pass

    def _stop(self, why: str, detail: str) -> None:
        self.killed, self.detail = why, detail
        if self.group is not None:
            self.group.kill()
        _kill_all(self.proc, self.uid)

    def _measure(self) -> tuple[float, float]:
        """(memory MiB, CPU s) of the whole submission: its cgroup where it has one, else its processes summed.

        The CPU figure never goes down: once the processes have exited (the grader may read their last
        events late) the last figure seen stands.
        """
        if self.group is not None:
            rss, cpu = self.group.memory_mb(), self.group.cpu_s()
        else:
            rss, cpu = _usage(_sandbox_pids(self.uid, self.proc.pid))
        self.last_cpu = max(self.last_cpu, cpu)
        return rss, self.last_cpu

    def _events(self, now: float, cpu: float | None = None) -> None:
        """Open/close the CPU window of a check as its events arrive (sampled right then, from outside)."""
        events = self.reader.events
        while self.seen_events < len(events):
            e = events[self.seen_events]
            self.seen_events += 1
            if e.get("event") in ("start", "ready", "done") and e["event"] not in self.timings:
                self.timings[e["event"]] = round(now - self.started, 3)
            start = e.get("event") == "check-start" and isinstance(e.get("k"), int) and self.current is None
            end = e.get("event") == "check" and self.current is not None and e.get("k") == self.current[0]
            if not (start or end):
                continue
            if cpu is None:
                cpu = self._measure()[1]
            if start:
                self.current = (e["k"], now, cpu)
            else:
                self.check_cpu[self.current[0]] = round(max(0.0, cpu - self.current[2]), 3)
                self.current = None

    def _watch(self, now: float) -> bool:
        """Memory of the whole tree; each check's CPU time and grader-side deadline. False: stop now."""
        rss, cpu = self._measure()
        self.peak = max(self.peak, rss)
        if self.limits.memory_mb and rss > self.limits.memory_mb:
            self._stop("memory", f"the submission's processes used {rss:.0f} MiB together "
                                 f"(limit {self.limits.memory_mb} MiB)")
            return False
        self._events(now, cpu)
        if self.current is not None:
            k, started, _ = self.current
            budget = self.budgets.get(k, 0.0)
            if budget and now - started > budget + 2.0:  # the child's own alarm had 2 s to fire
                self.overrun.append(k)
                self.check_cpu[k] = round(max(0.0, cpu - self.current[2]), 3)
                self._stop("check-timeout", f"a check ran past its time budget ({budget:g} s) and was stopped "
                                            "by the grader")
                return False
        return True

    def loop(self) -> None:
        poller = select.poll()
        poller.register(self.out, select.POLLIN)
        poller.register(self.chan, select.POLLIN)
        if self.data:
            poller.register(self.stdin, select.POLLOUT)
        else:
            self.proc.stdin.close()
        exited_at = None
        while True:
            now = time.monotonic()
            if now >= self.deadline:
                self.timed_out = True
                return
            if now >= self.next_watch:
                self.next_watch = now + 0.2
                if not self._watch(now):
                    return
            if exited_at is None and self.proc.poll() is not None:
                exited_at = now
            if exited_at is not None and (not self.open or now - exited_at > 1.0):
                self._watch(now)  # the last events' CPU figures
                return
            for fd, flags in poller.poll(max(1, int(1000 * min(0.2, self.deadline - now)))):
                if fd == self.stdin:
                    try:
                        self.sent += os.write(fd, self.data[self.sent:self.sent + 2**16])
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        self.sent = len(self.data)
                    if self.sent >= len(self.data):
                        poller.unregister(fd)
                        self.proc.stdin.close()
                    continue
                try:
                    chunk = os.read(fd, 2**16)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    poller.unregister(fd)
                    self.open.discard(fd)
                    continue
                if fd == self.out:
                    self.log += chunk
                    if len(self.log) > 2 * self.TAIL:
                        del self.log[:-self.TAIL]
                    continue
                try:
                    self.reader.feed(chunk)
                except ChannelError as exc:
                    self._stop("results", str(exc))
                    return
                self._events(time.monotonic())
