"""The grading child: runs one submission's code and reports plain outputs.

Started by :mod:`medlearn.grading.sandbox` as ``python -I -m
medlearn.grading.runner`` in an empty working folder. It reads its job (one
JSON object) from stdin and the grader's case files into memory, then,
**before any student code runs**:

1. enters the OS isolation (:func:`medlearn.grading.isolation.isolate_linux`):
   unprivileged uid, namespaces, private capped tmpfs work folder and
   ``/dev/shm``, covered paths, no capabilities;
2. applies Landlock (:func:`medlearn.grading.isolation.landlock`) and the
   seccomp filter (:mod:`medlearn.grading.seccomp`);
3. reports the level reached as its first event - or, when the grader requires
   a full sandbox and this one is not, reports ``refused`` and exits with
   :data:`~medlearn.grading.isolation.EXIT_DEGRADED` without running anything;
4. sets resource limits (address space, CPU seconds, file size, processes,
   no core dumps) and a lower CPU priority (``nice`` 10);
5. imports the exercise modules the job names.

It then executes the job's steps in order as plain Python in one namespace
(``__name__ == "__main__"``, no IPython: input transformers and event hooks do
not exist, ``get_ipython`` is undefined; ``display`` is a no-op, as outputs are
never graded). An exception in a cell is recorded
and the next step runs, as in a notebook run. A check step evaluates the
answer expression and calls the exercise's ``run`` on the grader's cases; the
outputs are streamed to the grader over the result pipe it owns
(:mod:`medlearn.grading.channel`), never left in files for it to open. A check
that runs past its exercise's ``timeout`` is stopped (``CheckTimeout``) and the
next step runs; the grader enforces the same budget from outside (disarming
the alarm only gets the whole run killed). For a check whose CPU time the grader judges (the
step's ``cpu_window``: an exercise with ``loop_cpu_s``) the child sleeps that long after its
``check-start`` and ``check`` events, so the grader's CPU samples fall before and after the check's
work, not inside it or in the next cell, and it collects and freezes its garbage just before, so no
full collection of earlier cells' objects is counted against the answer; a child that skips the
sleeps can only shorten its window.

Nothing the child writes is trusted: the grader judges the outputs itself on
the cases it drew. What a forged output can still achieve depends on the kind of
exercise (value, artifact, policy measurement): see SANDBOX.md, "The shape".

Used by ``medlearn grade``.
"""
from __future__ import annotations

import gc
import json
import os
import sys
import time


def _user_processes(uid: int) -> int:
    try:
        return sum(1 for name in os.listdir("/proc") if name.isdigit() and os.stat(f"/proc/{name}").st_uid == uid)
    except OSError:
        return 0


def _limits(limits: dict, own_uid: bool) -> None:
    try:
        import resource
    except ImportError:  # Windows
        return
    pairs = [("RLIMIT_CORE", 0)]
    if limits.get("nproc"):  # counted per real uid: a dedicated uid counts this submission only
        extra = 0 if own_uid else _user_processes(os.getuid())
        pairs.append(("RLIMIT_NPROC", int(limits["nproc"]) + extra))
    if limits.get("memory_mb"):
        pairs.append(("RLIMIT_AS", int(limits["memory_mb"]) * 2**20))
    if limits.get("cpu_s"):
        pairs.append(("RLIMIT_CPU", int(limits["cpu_s"])))
    if limits.get("fsize_mb"):
        pairs.append(("RLIMIT_FSIZE", int(limits["fsize_mb"]) * 2**20))
    for name, value in pairs:
        if hasattr(resource, name):
            try:
                resource.setrlimit(getattr(resource, name), (value, value))
            except (ValueError, OSError):
                pass


def _read_inputs(names: list) -> dict:
    """The grader's case files, read into memory before the work folder becomes a private tmpfs."""
    inputs = {}
    for name in names:
        if "/" in name or name.startswith("."):
            continue
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        with os.fdopen(fd, "rb") as fh:
            inputs[name] = fh.read()
    return inputs


def _load_cases(manifest: str, inputs: dict) -> list:
    import io

    import numpy as np

    entries = json.loads(inputs[manifest])
    cases = []
    for entry in entries:
        case = {}
        for key, spec in entry.items():
            if "json" in spec:
                case[key] = spec["json"]
            elif "float" in spec:
                case[key] = float(spec["float"])
            else:
                arr = np.load(io.BytesIO(inputs[spec["npy"]]), allow_pickle=False)
                case[key] = arr.tolist() if spec.get("list") else (arr[()] if spec.get("scalar") else arr)
        cases.append(case)
    return cases


class CheckTimeout(BaseException):
    """A check ran past its exercise's ``timeout`` (a BaseException: ``except Exception`` won't hide it)."""


def _on_alarm(signum, frame):
    raise CheckTimeout("the check ran past its time budget")


def _budget(seconds) -> None:
    """Arm (``seconds`` > 0) or disarm (0) the per-check alarm, where the OS has one."""
    import signal

    if hasattr(signal, "setitimer"):
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, float(seconds or 0))


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 500 else text[:497] + "..."


def _case_files(job: dict) -> list:
    names = set()
    for step in job["steps"]:
        if step["kind"] == "check":
            names.add(step["cases"])
    for name in list(names):
        try:
            with open(name, "rb") as fh:
                for entry in json.loads(fh.read()):
                    names.update(spec["npy"] for spec in entry.values() if isinstance(spec, dict) and "npy" in spec)
        except (OSError, ValueError, TypeError, AttributeError):
            continue
    return sorted(names)


def main() -> None:
    job = json.loads(sys.stdin.buffer.read())
    sys.stdin.close()
    from medlearn.grading.channel import Writer

    report = Writer(int(job["channel_fd"]))
    inputs = _read_inputs(_case_files(job))
    parts, limits = [], job.get("limits", {})
    own_uid = False
    if job.get("isolate"):
        from medlearn.grading.isolation import isolate_linux

        info = isolate_linux(job.get("hide_dirs", []), job.get("hide_files", []), uid=job.get("uid"),
                             workdir=os.getcwd(), keep_read=job.get("keep_read", ()),
                             work_mb=limits.get("work_mb", 512), shm_mb=limits.get("shm_mb", 64),
                             allow_userns=job.get("allow_userns", True))
        own_uid = job.get("uid") is not None
        if info["userns"]:
            parts.append("userns")
        if info["namespaces"]:
            parts.append("namespaces")
        if own_uid:
            parts.append("uid-drop")
        if not info["caps"]:
            parts.append("capabilities-kept")
    if job.get("landlock"):
        from medlearn.grading.isolation import landlock

        rules = job["landlock"]
        applied = landlock(rules["read"], [os.getcwd()] + rules["write"], rules["devices"])
        if applied:
            parts.append(applied)
    if job.get("isolate"):
        from medlearn.grading import seccomp

        if seccomp.install():
            parts.append("seccomp")
    level = "+".join(parts) or "limits-only"
    if job.get("require_full"):
        from medlearn.grading.isolation import is_full

        if not is_full(level):
            report.event(event="refused", sandbox=level)
            from medlearn.grading.isolation import EXIT_DEGRADED

            os._exit(EXIT_DEGRADED)
    report.event(event="start", sandbox=level)
    _limits(limits, own_uid)
    try:
        os.nice(10)  # below the grader: a busy submission cannot starve the grading of the others
    except (AttributeError, OSError):
        pass
    try:  # the same for the session's scheduler group, where the kernel groups CPU time by session
        with open("/proc/self/autogroup", "w") as fh:
            fh.write("10")
    except OSError:
        pass
    for path in job.get("sys_path", []):
        sys.path.append(path)
    import builtins

    from medlearn.checks.core import get_exercise, run_cases

    for module in job.get("imports", []):
        __import__(module)
    report.event(event="ready")
    namespace = {"__name__": "__main__", "__builtins__": builtins, "__doc__": None,
                 "display": lambda *objects, **kwargs: None}
    for step in job["steps"]:
        where = step["where"]
        if step["kind"] == "code":
            try:
                exec(compile(step["source"], f"<{where}>", "exec"), namespace)
            except BaseException as exc:  # student code may raise anything, SystemExit included
                report.event(event="error", where=where, type=type(exc).__name__, message=_describe(exc)[:300])
            continue
        k, n = step["k"], None
        try:
            cases = _load_cases(step["cases"], inputs)
            n = len(cases)
            answer = eval(compile(step["expr"], f"<{where}>", "eval"), namespace)
            settle = float(step.get("cpu_window", 0) or 0)
            if settle:  # a full garbage collection inside the window would count against the answer
                gc.collect()
                gc.freeze()
            report.event(event="check-start", k=k)
            if settle:  # idle (no CPU) while the grader samples the tree's CPU for this check's window
                time.sleep(settle)
            _budget(step.get("timeout"))
            try:
                results = run_cases(get_exercise(step["exercise"]), answer, cases)
            finally:
                _budget(0)
        except BaseException as exc:
            results = [{"__error__": _describe(exc)}] * (n or 1)
            report.event(event="error", where=where, type=type(exc).__name__, message=_describe(exc)[:300])
        try:
            report.outputs(k, results)
        except BaseException as exc:
            report.event(event="error", where=where, type=type(exc).__name__, message="could not save outputs")
        report.event(event="check", k=k)
        if step.get("cpu_window"):  # ... and closes it, before the next cell's CPU could count
            time.sleep(float(step["cpu_window"]))
    report.event(event="done")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    os._exit(0)  # no atexit hooks, no waiting on threads the student started


if __name__ == "__main__":
    main()
