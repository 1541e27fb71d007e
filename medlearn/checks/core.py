"""The exercise-check machinery shared by lessons (instant feedback) and the grader.

An :class:`Exercise` is split in three so that grading never trusts the
student's process:

* ``make_cases(rng)`` - draws the inputs (plain NumPy arrays / numbers) from a
  random generator. The grader seeds it per student for hidden checks.
* ``run(answer, case)`` - calls the student's answer (a function, a model, a
  value) on one case and returns a ``dict`` of plain NumPy arrays. In grading
  this is the only part executed inside the sandbox.
* ``judge(case, outputs)`` - decides pass/fail and picks a hint, *outside* the
  student's process. It computes the expected answer itself and never puts it
  in the hint.

In a lesson, ``check("scratch.sigmoid", sigmoid)`` runs all three in-process
and prints ``PASS`` or ``FAIL`` with a hint.

Used in lessons 01-08.
"""
from __future__ import annotations

import dataclasses
import hashlib
import warnings
from typing import Any, Callable

import numpy as np

__all__ = [
    "Exercise",
    "Verdict",
    "CheckResult",
    "register",
    "get_exercise",
    "list_exercises",
    "check",
    "student_seed",
    "run_cases",
    "judge_cases",
]

Case = dict  # name -> np.ndarray | number | str
Outputs = dict  # name -> np.ndarray


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A judgement on one case: ``passed`` and a hint for the learner (never the answer)."""

    passed: bool
    hint: str = ""


@dataclasses.dataclass(frozen=True)
class Exercise:
    """One checkable exercise.

    Args:
        id: dotted id, e.g. ``"scratch.sigmoid"``; what ``check(id, ...)`` names.
        title: one line shown with the result.
        make_cases: ``rng -> list[Case]``; each case holds plain arrays/numbers only.
        run: ``(answer, case) -> dict[str, np.ndarray]``; may raise.
        judge: ``(case, outputs) -> Verdict``; ``outputs`` holds what ``run``
            returned as plain arrays, or ``{"__error__": "TypeName: message"}``
            when ``run`` raised.
        points: weight in the gradebook.
        timeout: seconds the sandbox allows for all cases together.
    """

    id: str
    title: str
    make_cases: Callable[[np.random.Generator], list]
    run: Callable[[Any, Case], Outputs]
    judge: Callable[[Case, Outputs], Verdict]
    points: float = 1.0
    timeout: float = 60.0


_REGISTRY: dict[str, Exercise] = {}
_MODULES = (  # topic modules that register exercises when imported
    "medlearn.checks.scratch",
    "medlearn.checks.keras_ex",
    "medlearn.checks.pipeline",
)


def register(exercise: Exercise) -> Exercise:
    """Add an exercise to the registry (ids are unique)."""
    if exercise.id in _REGISTRY and _REGISTRY[exercise.id] is not exercise:
        raise ValueError(f"Exercise id {exercise.id!r} is registered twice.")
    _REGISTRY[exercise.id] = exercise
    return exercise


def _load_all() -> None:
    import importlib

    for name in _MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a topic module not written yet
            if exc.name != name:
                raise


def list_exercises() -> list[str]:
    """All registered exercise ids, sorted."""
    _load_all()
    return sorted(_REGISTRY)


def get_exercise(exercise_id: str) -> Exercise:
    """Look an exercise up by id.

    Raises:
        KeyError: unknown id; the message lists close matches.
    """
    _load_all()
    try:
        return _REGISTRY[exercise_id]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(exercise_id, list(_REGISTRY), n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(f"Unknown exercise id {exercise_id!r}.{hint}") from None


def student_seed(student: str, exercise_id: str, salt: str = "") -> int:
    """A stable per-student seed for hidden checks (same student, same inputs)."""
    digest = hashlib.sha256(f"{salt}\0{student}\0{exercise_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _plain(outputs: Any) -> Outputs:
    """Coerce ``run``'s result into a dict of plain numeric arrays (no objects, no pickles)."""
    if not isinstance(outputs, dict):
        raise TypeError(f"run() must return a dict of arrays, got {type(outputs).__name__}")
    plain = {}
    for key, value in outputs.items():
        arr = np.array(value, copy=True)  # detaches subclasses / __eq__ tricks
        if arr.dtype == object or arr.dtype.hasobject:
            raise TypeError(f"output {key!r} is not numeric (dtype=object)")
        plain[str(key)] = np.asarray(arr).view(np.ndarray)
    return plain


def run_cases(exercise: Exercise, answer: Any, cases: list) -> list:
    """Run an answer on every case; each item is a plain-output dict or an ``__error__`` dict."""
    results = []
    for case in cases:
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                results.append(_plain(exercise.run(answer, case)))
        except NotImplementedError:
            results.append({"__error__": "NotImplementedError: the exercise is not done yet"})
        except Exception as exc:  # the student's code may raise anything; report, never crash
            results.append({"__error__": f"{type(exc).__name__}: {exc}"})
    return results


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``passed`` (all cases), a ``hint`` and the exercise."""

    exercise: Exercise
    passed: bool
    hint: str
    printed: bool = dataclasses.field(default=False, compare=False)

    def __bool__(self) -> bool:
        return self.passed

    def _ipython_display_(self) -> None:
        # check() has already printed the result; a notebook must not show it twice.
        if not self.printed:
            print(repr(self))

    def __repr__(self) -> str:
        mark = "PASS" if self.passed else "FAIL"
        text = f"{mark} {self.exercise.id}: {self.exercise.title}"
        return text if self.passed or not self.hint else f"{text}\n  hint: {self.hint}"


def judge_cases(exercise: Exercise, cases: list, outputs: list) -> CheckResult:
    """Judge every case (in the grader's own process); the first failure's hint is kept."""
    if len(outputs) != len(cases) or not cases:
        return CheckResult(exercise, False, "The check produced no result.")
    for case, out in zip(cases, outputs):
        if "__error__" in out:
            return CheckResult(exercise, False, f"Your code raised {out['__error__']}")
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                verdict = exercise.judge(case, out)
            except Exception as exc:  # malformed outputs (wrong keys/shapes) are a fail
                return CheckResult(exercise, False, f"Unexpected result ({type(exc).__name__}: {exc}).")
        if not verdict.passed:
            return CheckResult(exercise, False, verdict.hint)
    return CheckResult(exercise, True, "")


def check(exercise_id: str, answer: Any, *, seed: int = 0, quiet: bool = False) -> CheckResult:
    """Check an exercise answer now and print PASS or FAIL with a hint.

    Args:
        exercise_id: the exercise id, e.g. ``"scratch.sigmoid"``.
        answer: what the exercise asks for (usually the function you wrote).
        seed: seed for the test inputs.
        quiet: do not print; just return the result.

    Returns:
        A :class:`CheckResult`; truthy when passed.

    Example:
        >>> check("scratch.sigmoid", sigmoid)   # doctest: +SKIP
        PASS scratch.sigmoid: sigmoid and its derivative
    """
    exercise = get_exercise(exercise_id)
    cases = exercise.make_cases(np.random.default_rng(seed))
    result = judge_cases(exercise, cases, run_cases(exercise, answer, cases))
    if not quiet:
        print(repr(result))
        result = dataclasses.replace(result, printed=True)
    return result
