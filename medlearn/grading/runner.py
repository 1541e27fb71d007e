"""The grading child: runs one submission's code and reports plain outputs.

Started by :mod:`medlearn.grading.sandbox` as ``python -I -m
medlearn.grading.runner`` in an empty working folder. It reads its job (one
JSON object) from stdin, then, **before any student code runs**:

1. enters the OS isolation (:func:`medlearn.grading.isolation.isolate_linux`);
2. sets resource limits (address space, CPU seconds, file size, no core dumps);
3. imports the exercise modules the job names.

It then executes the job's steps in order as plain Python in one namespace
(``__name__ == "__main__"``, no IPython: input transformers and event hooks do
not exist, ``get_ipython`` is undefined; ``display`` is a no-op, as outputs are
never graded). An exception in a cell is recorded
and the next step runs, as in a notebook run. A check step evaluates the
answer expression and calls the exercise's ``run`` on the grader's cases; the
outputs are written as ``.npy`` files and a JSON manifest in a folder named by
a nonce the child only learns from stdin. A check that runs past its
exercise's ``timeout`` is stopped (``CheckTimeout``) and the next step runs.

Nothing the child writes is trusted: the grader judges the outputs itself on
the cases it drew, so a forged manifest scores only if its numbers are right.

Used by ``medlearn grade``.
"""
from __future__ import annotations

import json
import os
import sys


def _limits(limits: dict) -> None:
    try:
        import resource
    except ImportError:  # Windows
        return
    pairs = [("RLIMIT_CORE", 0)]
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


class _Reporter:
    """Writes events and check outputs; holds its own references so casual patching cannot break it."""

    def __init__(self, folder: str):
        import numpy as np

        self.folder = folder
        self.save = np.save
        self.asarray = np.asarray
        self.dumps = json.dumps
        self.replace = os.replace
        self.events = os.open(os.path.join(folder, "events.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def event(self, **fields) -> None:
        try:
            os.write(self.events, (self.dumps(fields, default=str) + "\n").encode())
        except (OSError, TypeError, ValueError):
            pass

    def outputs(self, k: int, results: list) -> None:
        entries = []
        for i, result in enumerate(results):
            if "__error__" in result:
                entries.append({"error": str(result["__error__"])[:2000]})
                continue
            files = {}
            for j, (key, value) in enumerate(result.items()):
                name = f"out_{k}_{i}_{j}.npy"
                self.save(os.path.join(self.folder, name), self.asarray(value), allow_pickle=False)
                files[str(key)] = name
            entries.append({"outputs": files})
        path = os.path.join(self.folder, f"check_{k}.json")
        with open(path + ".tmp", "w") as fh:
            fh.write(self.dumps(entries))
        self.replace(path + ".tmp", path)


def _load_cases(manifest: str) -> list:
    import numpy as np

    with open(manifest) as fh:
        entries = json.load(fh)
    cases = []
    for entry in entries:
        case = {}
        for key, spec in entry.items():
            if "json" in spec:
                case[key] = spec["json"]
            elif "float" in spec:
                case[key] = float(spec["float"])
            else:
                arr = np.load(spec["npy"], allow_pickle=False)
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


def main() -> None:
    job = json.loads(sys.stdin.buffer.read())
    sys.stdin.close()
    level = "limits-only"
    if job.get("isolate"):
        from medlearn.grading.isolation import isolate_linux

        level = isolate_linux(job.get("hide_dirs", []), job.get("hide_files", []))
    if job.get("landlock"):
        from medlearn.grading.isolation import landlock

        rules = job["landlock"]
        applied = landlock(rules["read"], [os.getcwd()] + rules["write"], rules["devices"])
        if applied:
            level = applied if level == "limits-only" else f"{level}+{applied}"
    _limits(job.get("limits", {}))
    folder = os.path.abspath(job["nonce"])
    os.mkdir(folder, 0o700)
    for path in job.get("sys_path", []):
        sys.path.append(path)
    import builtins

    report = _Reporter(folder)
    report.event(event="start", sandbox=level)
    from medlearn.checks.core import get_exercise, run_cases

    for module in job.get("imports", []):
        __import__(module)
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
            cases = _load_cases(step["cases"])
            n = len(cases)
            answer = eval(compile(step["expr"], f"<{where}>", "eval"), namespace)
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
    report.event(event="done")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    os._exit(0)  # no atexit hooks, no waiting on threads the student started


if __name__ == "__main__":
    main()
