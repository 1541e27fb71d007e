"""The policy every check shares, measured around the learner's function.

An :class:`~medlearn.checks.core.Exercise` *declares* its policy in fields
(``dtype``, ``no_mutation``, ``no_loops_over``, ``timeout``, ``forbidden``,
``allowed``); nothing here is re-coded per exercise. ``run_cases`` wraps a
callable answer in a :class:`Watch` for each case, and the watch adds plain
arrays to that case's outputs:

=====================  =====================================================================
``__events__``         Python events (calls + lines) run inside the answer, summed over its
                       calls in the case; only when ``no_loops_over`` is declared. A case with
                       ``n_big`` items fails the loop policy above ``n_big // 2`` events
                       (a Python loop runs >= 2 events per item, vectorised code a few dozen).
``__mutated__``        1-based position of the first array argument the answer changed and
                       did not restore (0: none); only when ``no_mutation``.
``__float_bits__``     the narrowest floating dtype (bits) in what the answer returned
                       (0: no floats); judged when ``dtype`` is declared.
``__delegated__``      UTF-8 bytes of the names (newline-separated) of library callables the
                       answer called (profiled: Python functions, and builtins such as
                       ``__import__``/``exec`` called from the learner's own code).
=====================  =====================================================================

All of these are measured *in the process that runs the answer*. In a lesson
that is the point (instant feedback). In grading the child reports them and
the grader judges them (:func:`judge_policy`); a forged value can only make a
check fail (an honest answer passes with ``0``), never pass. The grader's
independent measurements come from outside the child (``medlearn/grading``)
and from :func:`medlearn.checks.integrity.find_delegation` on the cell's source.

Used in lessons 01-08 (through ``check``).
"""
from __future__ import annotations

import os
import signal
import sys
import sysconfig
import threading
from contextlib import contextmanager

import numpy as np

__all__ = ["Watch", "POLICY_KEYS", "judge_policy", "cpu_loop_hint", "time_limit", "CheckTimeout", "matches"]

POLICY_KEYS = ("__events__", "__mutated__", "__float_bits__", "__delegated__")

# Called from the learner's own code, these reach code by a computed name: always refused.
ALWAYS_FORBIDDEN = (
    "importlib", "builtins.__import__", "builtins.exec", "builtins.eval", "builtins.compile",
    "runpy", "medlearn.checks",
)


def matches(name: str, pattern: str) -> bool:
    """Does the dotted ``name`` fall under ``pattern``?

    ``"medlearn"`` covers every ``medlearn.*``; ``"medlearn.scratch.sigmoid"`` also covers
    where it is defined (``medlearn.scratch.activations.sigmoid``): same package prefix,
    same last component.
    """
    if name == pattern or name.startswith(pattern + "."):
        return True
    head, _, last = pattern.rpartition(".")
    return bool(head) and name.startswith(head + ".") and name.endswith("." + last)


def forbidden_name(name: str, exercise) -> bool:
    """``name`` is one the exercise refuses (declared or always refused) and does not allow."""
    patterns = tuple(getattr(exercise, "forbidden", ())) + ALWAYS_FORBIDDEN
    allowed = tuple(getattr(exercise, "allowed", ())) + ("medlearn.checks.check",)
    return any(matches(name, p) for p in patterns) and not any(matches(name, a) for a in allowed)


def public_name(name: str) -> str:
    """The shortest public spelling of a dotted name (``medlearn.scratch.activations.sigmoid`` ->
    ``medlearn.scratch.sigmoid``) when a parent package re-exports the same object."""
    module, _, attr = name.rpartition(".")
    obj = getattr(sys.modules.get(module), attr, None)
    if obj is None:
        return name
    parts = module.split(".")
    for i in range(1, len(parts)):
        parent = sys.modules.get(".".join(parts[:i]))
        if parent is not None and getattr(parent, attr, None) is obj:
            return ".".join(parts[:i] + [attr])
    return name


# ----------------------------------------------------------------------------- whose code is it?
def _library_roots() -> tuple:
    import medlearn

    roots = {os.path.dirname(os.path.abspath(medlearn.__file__))}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(os.path.abspath(path))
    for path in sys.path:
        if path and ("site-packages" in path or "dist-packages" in path):
            roots.add(os.path.abspath(path))
    return tuple(sorted(roots))


_ROOTS: tuple | None = None
_LEARNER: dict = {}  # file name -> is it the learner's code (the profiler asks on every call)


def _is_learner(code) -> bool:
    """Code written in the notebook (or a test), not in an installed library."""
    filename = code.co_filename
    known = _LEARNER.get(filename)
    if known is not None:
        return known
    global _ROOTS
    if _ROOTS is None:
        _ROOTS = _library_roots()
    if filename.startswith("<frozen"):
        known = False
    elif filename.startswith("<"):
        known = True  # "<exercise cell 5>" in grading, "<string>"
    else:
        known = not os.path.abspath(filename).startswith(_ROOTS)
    if len(_LEARNER) < 100_000:
        _LEARNER[filename] = known
    return known


def _callee_name(frame) -> str:
    code = frame.f_code
    module = frame.f_globals.get("__name__", "?")
    return f"{module}.{getattr(code, 'co_qualname', code.co_name)}"


def _c_name(fn) -> str:
    module = getattr(fn, "__module__", None) or type(getattr(fn, "__self__", None)).__module__
    return f"{module}.{getattr(fn, '__qualname__', getattr(fn, '__name__', '?'))}"


# ----------------------------------------------------------------------------- snapshots
def _snapshot(obj, depth=0):
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if depth < 2 and isinstance(obj, (list, tuple)):
        return [_snapshot(o, depth + 1) for o in obj]
    if depth < 2 and isinstance(obj, dict):
        return {k: _snapshot(v, depth + 1) for k, v in obj.items()}
    return None


def _unchanged(before, obj) -> bool:
    if before is None:
        return True
    if isinstance(before, np.ndarray):
        return (isinstance(obj, np.ndarray) and obj.shape == before.shape
                and bool(np.array_equal(obj, before, equal_nan=before.dtype.kind in "fc")))
    if isinstance(before, list):
        return isinstance(obj, (list, tuple)) and len(obj) == len(before) and all(
            _unchanged(b, o) for b, o in zip(before, obj))
    if isinstance(before, dict):
        return isinstance(obj, dict) and all(k in obj and _unchanged(b, obj[k]) for k, b in before.items())
    return True


def _float_bits(obj, depth=0) -> int:
    """Narrowest floating width in ``obj`` (arrays, tensors, numbers, containers); 0 if none."""
    if isinstance(obj, float):
        return 64
    if depth < 3 and isinstance(obj, (list, tuple)):
        bits = [b for b in (_float_bits(o, depth + 1) for o in obj) if b]
        return min(bits) if bits else 0
    if depth < 3 and isinstance(obj, dict):
        return _float_bits(list(obj.values()), depth)
    dtype = getattr(obj, "dtype", None)
    if dtype is None:
        return 0
    try:
        dtype = np.dtype(getattr(dtype, "as_numpy_dtype", dtype))
    except TypeError:
        try:
            dtype = np.dtype(str(dtype).replace("torch.", ""))
        except TypeError:
            return 0
    return dtype.itemsize * 8 if dtype.kind == "f" else 0


def _callable_codes(objs, depth=0) -> set:
    codes = set()
    for obj in objs:
        code = getattr(obj, "__code__", None)
        if code is not None:
            codes.add(code)
        elif depth < 2 and isinstance(obj, (list, tuple)):
            codes |= _callable_codes(obj, depth + 1)
    return codes


# ----------------------------------------------------------------------------- the watch
class Watch:
    """Wraps a callable answer for one case and records what the policy needs.

    Example:
        >>> watch = Watch(exercise)            # doctest: +SKIP
        >>> outputs = exercise.run(watch.wrap(answer), case)
        >>> outputs.update(watch.outputs())
    """

    def __init__(self, exercise):
        self.exercise = exercise
        self.events = 0
        self.mutated = 0
        self.bits = None
        self.delegated: list = []
        self.count_events = bool(getattr(exercise, "no_loops_over", ""))
        self.no_mutation = bool(getattr(exercise, "no_mutation", True))

    def wrap(self, answer):
        if not callable(answer) or isinstance(answer, type):
            return answer
        watch = self

        def watched(*args, **kwargs):
            return watch.call(answer, args, kwargs)

        watched.__wrapped__ = answer
        watched.__name__ = getattr(answer, "__name__", "answer")
        return watched

    def _note(self, name: str) -> None:
        if name.startswith(("importlib._bootstrap", "_frozen_importlib")):
            return  # run by every plain `import` statement; the static analysis judges imports
        if forbidden_name(name, self.exercise):
            name = public_name(name)
            if name not in self.delegated:
                self.delegated.append(name)

    def call(self, fn, args, kwargs):
        values = list(args) + list(kwargs.values())
        before = [_snapshot(v) for v in values] if self.no_mutation else []
        passed_in = _callable_codes(values)
        count = [0]

        def tracer(frame, event, arg):
            count[0] += 1
            return tracer

        def profiler(frame, event, arg):
            if event == "call":
                caller = frame.f_back
                if (caller is not None and frame.f_code not in passed_in and _is_learner(caller.f_code)
                        and not _is_learner(frame.f_code)):
                    self._note(_callee_name(frame))
            elif event == "c_call" and _is_learner(frame.f_code):
                self._note(_c_name(arg))

        old_trace, old_profile = sys.gettrace(), sys.getprofile()
        if self.count_events:
            sys.settrace(tracer)
        sys.setprofile(profiler)
        try:
            result = fn(*args, **kwargs)
        finally:
            sys.setprofile(old_profile)
            if self.count_events:
                sys.settrace(old_trace)
        self.events += count[0]
        if self.no_mutation and not self.mutated:
            for i, (b, v) in enumerate(zip(before, values)):
                if not _unchanged(b, v):
                    self.mutated = i + 1
                    break
        bits = _float_bits(result)
        if bits:
            self.bits = bits if self.bits is None else min(self.bits, bits)
        return result

    def outputs(self) -> dict:
        out = {"__mutated__": np.array(self.mutated), "__float_bits__": np.array(self.bits or 0),
               "__delegated__": np.frombuffer("\n".join(self.delegated).encode()[:2000], dtype=np.uint8).copy()}
        if self.count_events:
            out["__events__"] = np.array(self.events)
        return out


# ----------------------------------------------------------------------------- judging the policy
def _arg_name(exercise, position: int) -> str:
    names = getattr(exercise, "arg_names", ())
    return repr(names[position - 1]) if 0 < position <= len(names) else f"number {position}"


def delegation_hint(names, exercise) -> str:
    shown = ", ".join(names[:3])
    what = getattr(exercise, "teaches", "") or "write it yourself"
    return (f"You called {shown}; the exercise is to {what}, not to call a library function that does it. "
            "Write the computation in the exercise cell (NumPy operations are fine).")


def judge_policy(exercise, case, outputs) -> str | None:
    """The hint of the first policy the outputs break (delegation, mutation, dtype), else ``None``.

    Runs in the judging process; the loop policy is judged after correctness
    (:func:`loop_hint`), so a wrong answer gets the hint about its mistake first.
    """
    raw = outputs.get("__delegated__")
    if raw is not None and np.size(raw):
        text = bytes(np.asarray(raw, dtype=np.uint8).tolist()).decode("utf-8", "replace")
        names = [n for n in text.split("\n") if n and forbidden_name(n, exercise)]
        if names:
            return delegation_hint(names, exercise)
    mutated = int(np.asarray(outputs.get("__mutated__", 0)).reshape(-1)[0]) if np.size(outputs.get("__mutated__", 0)) else 0
    if getattr(exercise, "no_mutation", True) and mutated:
        if getattr(exercise, "mutation_hint", ""):
            return exercise.mutation_hint
        return (f"Your function changed its argument {_arg_name(exercise, mutated)} in place (e.g. `w -= ...`, "
                "`g *= ...`, `x[i] = ...` without putting it back). The caller still needs its arrays as they were: "
                "compute new arrays (`w - lr * dw`) and return them, or restore every entry you changed.")
    want = getattr(exercise, "dtype", "")
    bits = int(np.asarray(outputs.get("__float_bits__", 0)).reshape(-1)[0]) if np.size(outputs.get("__float_bits__", 0)) else 0
    if want and bits and bits < np.dtype(want).itemsize * 8:
        why = getattr(exercise, "dtype_why", "") or "the lesson works in that precision."
        return f"Your function returns float{bits} values; return {want}: {why}"
    return None


def required_keys(exercise) -> tuple:
    """The policy outputs every honest run of this exercise reports."""
    keys = ("__mutated__", "__float_bits__", "__delegated__")
    return keys + (("__events__",) if getattr(exercise, "no_loops_over", "") else ())


def loop_hint(exercise, case, outputs) -> str | None:
    """The loop policy: a case with ``n_big`` items must not run a Python loop over them."""
    over = getattr(exercise, "no_loops_over", "")
    n = int(case.get("n_big", 0) or 0) if isinstance(case, dict) else 0
    if not over or n <= 0 or "__events__" not in outputs:
        return None
    if int(np.asarray(outputs["__events__"]).reshape(-1)[0]) > n // 2:
        return _loop_message(over)
    return None


def _loop_message(over: str) -> str:
    return (f"Your function runs Python code once per {over[:-1] if over.endswith('s') else over} "
            "(a for loop, a comprehension, np.vectorize or map). Use whole-array NumPy operations "
            "instead (slicing, @, .sum(axis=...), np.where, broadcasting): they are 10-100x faster and "
            "are what the rest of the course builds on.")


def cpu_loop_hint(exercise, cpu_s) -> str | None:
    """The loop policy judged in grading from the check's CPU seconds as the grader measured them
    from outside the child (switching the in-process tracer off cannot hide a loop from it):
    above the exercise's ``loop_cpu_s``, the loop hint; else ``None``."""
    over, bound = getattr(exercise, "no_loops_over", ""), float(getattr(exercise, "loop_cpu_s", 0.0) or 0.0)
    if over and bound > 0 and cpu_s is not None and float(cpu_s) > bound:
        return _loop_message(over)
    return None


# ----------------------------------------------------------------------------- the time limit
class CheckTimeout(BaseException):
    """A check ran past its exercise's ``timeout`` (a BaseException, so ``except Exception`` cannot hide it)."""


@contextmanager
def time_limit(seconds: float):
    """Raise :class:`CheckTimeout` in the main thread after ``seconds`` (where the OS has ``setitimer``).

    Nested use keeps the earlier, outer limit (the grading child arms its own).
    Elsewhere (Windows, a worker thread) no limit applies.
    """
    usable = (seconds and seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread()
              and signal.getitimer(signal.ITIMER_REAL)[0] == 0)
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise CheckTimeout(f"ran past {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
