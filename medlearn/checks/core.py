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

**One policy for every check.** An exercise *declares* it in fields, and the
machinery here and in :mod:`medlearn.checks.policy` enforces it, never the
exercise's own code (the grader can read the same fields):

* ``dtype`` (e.g. ``"float64"``) with ``dtype_why``: every floating array the
  answer returns must have at least that precision;
* ``no_mutation``: the answer must leave its array arguments as it got them
  (compared after each call);
* ``no_loops_over`` (``"samples"``, ``"pixels"``): on a case with ``n_big``
  items the answer may run at most ``n_big // 2`` Python events;
* ``timeout``: seconds for all cases; ``check()`` stops a hang there and FAILs
  with ``timeout_hint``;
* ``forbidden`` / ``allowed`` / ``teaches``: the library callables that would do
  the work (dotted names; ``"medlearn"`` covers the whole package) and the ones
  the exercise builds on legitimately. Found statically
  (:func:`medlearn.checks.integrity.find_delegation`, which the grader runs on the
  submitted cell) and dynamically (calls profiled while the answer runs);
* ``next_hint``: what the next exercise builds on, printed with a full PASS.

Shapes other than the lesson's and extreme inputs that only the numerically
stable form survives are part of each exercise's ``make_cases``.

Used in lessons 01-08.
"""
from __future__ import annotations

import dataclasses
import hashlib
import warnings
from typing import Any, Callable

import numpy as np

from medlearn.errors import MedlearnError
from medlearn.checks import policy as _policy

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
    "CheckError",
    "UnknownExerciseError",
]


class CheckError(MedlearnError):
    """A check was called wrongly or an exercise was registered wrongly."""


class UnknownExerciseError(CheckError, KeyError):
    """``check("...")`` names no registered exercise; the message suggests close ids."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


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
        timeout: seconds for all cases together, in ``check()`` and in the sandbox.
        dtype: required floating precision of what the answer returns (``"float64"``), or ``""``.
        dtype_why: why, in one sentence (shown in the hint).
        no_mutation: the answer must not change its array arguments.
        no_loops_over: ``"samples"`` / ``"pixels"``: cases with ``n_big`` items must not loop over them.
        loop_cpu_s: with ``no_loops_over``, the most CPU seconds the whole check may take in grading,
            measured by the grader from outside the child (``RunResult.check_cpu``), so switching the
            in-process loop detector off (``sys.settrace(None)``) does not hide a loop; 0: not judged.
        forbidden: dotted names of library callables that would do the work.
        allowed: dotted names the answer may call although ``forbidden`` covers them.
        teaches: what the learner writes, completing "the exercise is to ...".
        arg_names: the answer's argument names (named in mutation hints).
        timeout_hint: what most likely makes this check hang.
        mutation_hint: replaces the generic hint when the answer changes its arguments.
        next_hint: what the next exercise builds on (printed with a PASS).
        artifact: ``run`` exports what the learner built (a model's config and weights,
            a pipeline's elements) and ``judge`` observes it, with no learner code.
    """

    id: str
    title: str
    make_cases: Callable[[np.random.Generator], list]
    run: Callable[[Any, Case], Outputs]
    judge: Callable[[Case, Outputs], Verdict]
    points: float = 1.0
    timeout: float = 60.0
    dtype: str = ""
    dtype_why: str = ""
    no_mutation: bool = True
    no_loops_over: str = ""
    loop_cpu_s: float = 0.0
    forbidden: tuple = ()
    allowed: tuple = ()
    teaches: str = ""
    arg_names: tuple = ()
    timeout_hint: str = ""
    mutation_hint: str = ""
    next_hint: str = ""
    artifact: bool = False


_REGISTRY: dict[str, Exercise] = {}
_MODULES = (  # topic modules that register exercises when imported
    "medlearn.checks.scratch",
    "medlearn.checks.keras_ex",
    "medlearn.checks.pipeline",
    "medlearn.checks.calibration",
    "medlearn.checks.compress",
    "medlearn.checks.attention",
    "medlearn.checks.explain",
    "medlearn.checks.segmentation",
)


def register(exercise: Exercise) -> Exercise:
    """Add an exercise to the registry (ids are unique)."""
    if exercise.id in _REGISTRY and _REGISTRY[exercise.id] is not exercise:
        raise CheckError(f"Exercise id {exercise.id!r} is registered twice. Received: a second Exercise "
                         f"from {exercise.run.__module__}. Fix: give it its own id.")
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
        UnknownExerciseError: unknown id (a :class:`~medlearn.errors.MedlearnError` and a
            ``KeyError``); the message suggests close matches.
    """
    _load_all()
    if not isinstance(exercise_id, str):
        raise CheckError(f"exercise_id must be a string such as 'scratch.sigmoid'. "
                         f"Received: exercise_id={exercise_id!r}")
    try:
        return _REGISTRY[exercise_id]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(exercise_id, list(_REGISTRY), n=1)
        if close:
            hint = f"did you mean {close[0]!r}?"
        else:
            topic = exercise_id.split(".")[0]
            same = [k for k in sorted(_REGISTRY) if k.startswith(topic + ".")]
            hint = "known ids: " + ", ".join(same or sorted(_REGISTRY)[:8]) + ("" if same else ", ...")
        raise UnknownExerciseError(f"no exercise {exercise_id!r}; {hint}") from None


def student_seed(student: str, exercise_id: str, salt: str = "") -> int:
    """A stable per-student seed for hidden checks (same student, same inputs)."""
    digest = hashlib.sha256(f"{salt}\0{student}\0{exercise_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _plain(outputs: Any) -> Outputs:
    """Coerce ``run``'s result into a dict of plain numeric arrays (no objects, no pickles)."""
    if not isinstance(outputs, dict):
        raise CheckError(f"run() must return a dict of arrays. Received: {type(outputs).__name__}")
    plain = {}
    for key, value in outputs.items():
        arr = np.array(value, copy=True)  # detaches subclasses / __eq__ tricks
        if arr.dtype == object or arr.dtype.hasobject:
            raise CheckError(f"output {key!r} is not numeric. Received: dtype=object")
        plain[str(key)] = np.asarray(arr).view(np.ndarray)
    return plain


def _describe_error(exc: BaseException) -> str:
    """``Type: first line of the message`` - never a traceback, never more than 300 characters."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    # Keras/TF put the useful line first and a long call trace after it
    text = lines[0] if lines else ""
    if len(text) > 300:
        text = text[:297].rsplit(" ", 1)[0] + " ..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _copy_case(case):
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in case.items()}


def run_cases(exercise: Exercise, answer: Any, cases: list, *, time_limit: float | None = None) -> list:
    """Run an answer on every case; each item is a plain-output dict or an ``__error__`` dict.

    The answer is wrapped in a :class:`medlearn.checks.policy.Watch` per case, whose
    measurements join that case's outputs (``__events__``, ``__mutated__``, ...).
    ``time_limit`` (default ``exercise.timeout``) bounds all cases together in the main
    thread; a hang becomes ``{"__error__": "CheckTimeout: ..."}`` for the remaining cases.
    """
    results = []
    limit = exercise.timeout if time_limit is None else time_limit
    try:
        with _policy.time_limit(limit):
            for case in cases:
                watch = _policy.Watch(exercise)
                try:
                    with warnings.catch_warnings(), np.errstate(all="ignore"):
                        warnings.simplefilter("ignore")
                        out = _plain(exercise.run(watch.wrap(answer), _copy_case(case)))
                    out.update(_plain(watch.outputs()))
                    results.append(out)
                except NotImplementedError:
                    results.append({"__error__": "NotImplementedError: the exercise is not done yet"})
                except RecursionError:
                    results.append({"__error__": "RecursionError: your function calls itself without end"})
                except Exception as exc:  # the student's code may raise anything; report, never crash
                    delegated = _plain(watch.outputs()).get("__delegated__")
                    results.append({"__error__": _describe_error(exc),
                                    **({"__delegated__": delegated} if delegated is not None and delegated.size else {})})
    except _policy.CheckTimeout:
        results += [{"__error__": f"CheckTimeout: stopped after {limit:g} s"}] * (len(cases) - len(results))
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
        if self.passed:
            return f"{text}\n  next: {self.exercise.next_hint}" if self.exercise.next_hint else text
        return f"{text}\n  hint: {self.hint}" if self.hint else text


def _timeout_hint(exercise: Exercise) -> str:
    cause = exercise.timeout_hint or ("most likely a loop that never ends (a `while` whose condition "
                                      "never changes) or one over far more items than needed")
    return (f"{exercise.id} did not finish within its {exercise.timeout:g} s limit and was stopped: "
            f"{cause}.")


def _error_hint(exercise: Exercise, error: str) -> str:
    if error.startswith("CheckTimeout"):
        return _timeout_hint(exercise)
    if error.startswith("NotImplementedError"):
        return ("NotImplementedError: the exercise is not done yet - replace `raise NotImplementedError()` "
                "with your code.")
    return f"Your code raised {error}"


def judge_cases(exercise: Exercise, cases: list, outputs: list, *, code: str | None = None,
                context: str = "") -> CheckResult:
    """Judge every case (in the grader's own process); the first failure's hint is kept.

    Args:
        exercise, cases: what the outputs answer.
        outputs: one dict per case, as :func:`run_cases` returns them.
        code: the answer's source when known (the submitted exercise cell): checked with
            :func:`medlearn.checks.integrity.find_delegation` first.
        context: trusted code whose imports define names in ``code`` (setup cells).
    """
    if code is not None:
        from medlearn.checks.integrity import find_delegation

        findings = find_delegation(code, exercise, context=context)
        if findings:
            return CheckResult(exercise, False, _policy.delegation_hint(findings, exercise))
    if len(outputs) != len(cases) or not cases:
        return CheckResult(exercise, False, f"{exercise.id}: the check produced no result.")
    for case, out in zip(cases, outputs):
        if not isinstance(out, dict):
            return CheckResult(exercise, False, f"{exercise.id}: the check produced no result.")
        policy_hint = _policy.judge_policy(exercise, case, out)
        if "__error__" in out:
            if policy_hint and policy_hint.startswith("You called"):
                return CheckResult(exercise, False, policy_hint)  # delegation seen before the crash
            return CheckResult(exercise, False, _error_hint(exercise, str(out["__error__"])))
        missing = [k for k in _policy.required_keys(exercise) if k not in out]
        if missing:
            return CheckResult(exercise, False, f"{exercise.id}: the result is incomplete (no {missing[0]}), "
                                                "so it scores zero.")
        if policy_hint:
            return CheckResult(exercise, False, policy_hint)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                verdict = exercise.judge(case, out)
            except Exception as exc:  # malformed outputs (wrong keys/shapes) are a fail
                return CheckResult(exercise, False, f"{exercise.id}: unexpected result "
                                                    f"({_describe_error(exc)}); return what the exercise asks for.")
        if not verdict.passed:
            return CheckResult(exercise, False, verdict.hint)
        loop = _policy.loop_hint(exercise, case, out)
        if loop:
            return CheckResult(exercise, False, loop)
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
    from medlearn.checks.integrity import delegation_of

    findings = delegation_of(answer, exercise)
    if findings:
        result = CheckResult(exercise, False, _policy.delegation_hint(findings, exercise))
    else:
        result = judge_cases(exercise, cases, run_cases(exercise, answer, cases))
    if not quiet:
        print(repr(result))
        result = dataclasses.replace(result, printed=True)
    return result
