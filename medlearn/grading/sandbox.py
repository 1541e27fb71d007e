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
Windows    wall time only: grade on Linux or WSL2
=========  ==========================================================================

Used by ``medlearn grade``.
"""
from __future__ import annotations

import dataclasses
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["Limits", "RunResult", "run_job", "child_env", "landlock_rules"]

# Variables a normal notebook run may rely on; everything else is dropped.
_PASS_ENV = (
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "SYSTEMROOT",
    "MEDLEARN_DATA", "MEDLEARN_FAST", "MEDLEARN_OFFLINE", "KERAS_BACKEND", "KERAS_HOME",
    "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "CUDA_VISIBLE_DEVICES", "XDG_CACHE_HOME",
    "SCIKIT_LEARN_DATA",
)
_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits for one submission.

    Args:
        timeout: wall-clock seconds for the whole notebook (float > 0).
        memory_mb: address-space limit in MiB (``0`` = none); TensorFlow lessons need ~4 GiB or more.
        fsize_mb: the largest file the child may write, MiB (also bounds its printed output).
        threads: BLAS/OpenMP threads per child (parallel grading keeps this at 1).
    """

    timeout: float = 300.0
    memory_mb: int = 6144
    fsize_mb: int = 256
    threads: int = 1


@dataclasses.dataclass
class RunResult:
    """How the child ended: ``returncode`` (negative = signal), ``timed_out``, ``wall`` seconds,
    ``sandbox`` level reported by the runner, its ``events``, and the tail of its output ``log``."""

    returncode: int | None
    timed_out: bool
    wall: float
    sandbox: str
    events: list
    log: str
    outputs: Path


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
    """The file allow-list the Linux child runs under (when the kernel has Landlock).

    Readable: the Python installation and its site-packages, medlearn, the
    exercise modules' folders, system folders (``/usr``, ``/lib*``, ``/etc``,
    ``/opt``, ``/proc``, ``/sys``), medlearn/Keras/scikit-learn data folders
    and ``extra_read``. Writable: the working folder and ``/dev/shm``. Devices:
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
            "/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/opt", "/proc", "/sys"}
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


def _kill_tree(proc: subprocess.Popen) -> None:
    if os.name == "posix":
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    elif proc.poll() is None:  # Windows: end the whole tree, not just the direct child
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)], capture_output=True, check=False)
        proc.kill()


def run_job(job: dict, workdir: Path, limits: Limits, *, hide_dirs=(), hide_files=(), extra_read=()) -> RunResult:
    """Run ``job`` with :mod:`medlearn.grading.runner` in ``workdir`` and wait for it.

    Args:
        job: the runner's job (steps, nonce, imports); limits and hidden paths are added here.
        workdir: an empty folder the child may use (it holds the case files).
        limits: a :class:`Limits`.
        hide_dirs: folders the child must not see (Linux/macOS).
        hide_files: files the child must not see (Linux/macOS).
        extra_read: more folders the Linux child may read (e.g. a course data folder).

    Returns:
        A :class:`RunResult`; never raises for anything the child does.
    """
    job = dict(job)
    job["isolate"] = sys.platform.startswith("linux")
    if job["isolate"]:
        job["landlock"] = landlock_rules(extra_read, job.get("sys_path", ()))
    job["hide_dirs"], job["hide_files"] = [str(p) for p in hide_dirs], [str(p) for p in hide_files]
    job["limits"] = {
        "memory_mb": limits.memory_mb,
        "cpu_s": int(limits.timeout * max(1, limits.threads)) + 5,
        "fsize_mb": limits.fsize_mb,
    }
    data = json.dumps(job).encode()
    log_path = workdir / "log.txt"
    kwargs = {"start_new_session": True} if os.name == "posix" else {
        "creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}
    start = time.monotonic()
    timed_out = False
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            _command(job["hide_dirs"] + job["hide_files"]), stdin=subprocess.PIPE, stdout=log,
            stderr=subprocess.STDOUT, cwd=workdir, env=child_env(limits.threads, workdir), **kwargs,
        )
        try:
            proc.communicate(input=data, timeout=limits.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_tree(proc)  # also ends leftovers of a normal exit
            proc.wait()
    wall = time.monotonic() - start
    outputs = workdir / job["nonce"]
    events = _read_events(outputs / "events.jsonl")
    sandbox = next((e.get("sandbox") for e in events if e.get("event") == "start"), "unknown")
    return RunResult(proc.returncode, timed_out, wall, str(sandbox), events, _tail(log_path), outputs)


def _read_events(path: Path, limit: int = 2**20) -> list:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(limit)
    except OSError:
        return []
    events = []
    for line in raw.decode("utf-8", "replace").splitlines()[:2000]:
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            events.append(item)
    return events


def _tail(path: Path, size: int = 4000) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, os.fstat(fh.fileno()).st_size - size))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
