"""Grade one submitted notebook against the instructor's source.

The pipeline, in the grader's own (trusted) process except for step 3:

1. read the submission as untrusted JSON; find the student's code for each
   solution cell of the source (:meth:`Assignment.match`);
2. build the job: the source's cells in order, each solution cell replaced by
   the student's code, each check replaced by "evaluate the answer, run the
   exercise on these cases, save the outputs"; draw the cases here (seed 0, as
   ``check()`` in the lesson, or :func:`medlearn.checks.student_seed` for
   hidden checks) and write them as ``.npy`` files into an empty folder;
   leave out the source's own statements that no check, no student's cell
   and no statement kept for them can observe (:func:`medlearn.grading.prune.prune_steps`:
   a statement is kept when it binds a name one of them reads, may mutate an
   object they can reach, may change global state such as an RNG seed, or may
   raise before a kept statement of its cell; the student's cells always run in
   full; pruning is off for dynamic name access and for Keras/TensorFlow/PyTorch/JAX
   lessons; ``prune=False`` or ``MEDLEARN_GRADE_ALL_SETUP=1`` runs everything);
3. run the job in the sandbox (:mod:`medlearn.grading.sandbox`);
4. read the outputs back as plain arrays and judge them with the exercise's
   ``judge`` here. A check that reported nothing scores zero.

Used by ``medlearn grade``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from medlearn.checks.core import CheckResult, get_exercise, judge_cases, student_seed
from medlearn.checks.policy import cpu_loop_hint
from medlearn.grading.intake import DEFAULT_MAX_BYTES, InvalidFile, read_regular
from medlearn.grading.isolation import EXIT_ISOLATION
from medlearn.grading.names import student_name
from medlearn.grading.prune import prune_steps
from medlearn.grading.safeio import force_rmtree, load_outputs, save_cases
from medlearn.grading.sandbox import Limits, run_job
from medlearn.grading.source import Assignment

__all__ = ["CheckOutcome", "SubmissionResult", "grade_submission", "read_submission", "STATUSES"]

STATUSES = ("graded", "timeout", "memory", "crashed", "invalid", "error")
# The child idles this long after a CPU-judged check starts and ends, so that the grader's samples bracket
# the check even when the grader is scheduled late on a loaded machine (0.05 s once let a late read count
# the next cell's CPU against an honest answer in a loaded CI-like run).
CPU_WINDOW_S = 0.15
_JUDGE_LOCK = threading.Lock()  # exercise code (make_cases/judge) is not assumed thread-safe


@dataclasses.dataclass
class CheckOutcome:
    """One check's result: ``points`` earned of ``max_points``, ``passed``, the ``hint`` shown to the
    student, whether the child ``reported`` outputs, and the ``error`` type when the student's code raised."""

    name: str
    exercise_id: str
    title: str
    hidden: bool
    points: float
    max_points: float
    passed: bool
    hint: str
    reported: bool
    error: str | None = None
    earlier_errors: tuple = ()


@dataclasses.dataclass
class SubmissionResult:
    """Everything the gradebook, feedback and Gradescope files need for one submission."""

    student: str
    status: str
    reason: str
    score: float
    max_score: float
    checks: list
    sandbox: str = ""
    wall: float = 0.0
    log: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SubmissionResult":
        data = dict(data)
        data["checks"] = [CheckOutcome(**{**c, "earlier_errors": tuple(c.get("earlier_errors", ()))}) for c in data["checks"]]
        return cls(**data)


class InvalidSubmission(ValueError):
    """The file is not a usable notebook (its message becomes the gradebook reason)."""


def read_submission(data: bytes):
    """Parse untrusted bytes as a v4 notebook; raise :class:`InvalidSubmission` with a reason."""
    import nbformat

    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidSubmission(f"not valid JSON ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise InvalidSubmission("not a Jupyter notebook (no list of 'cells')")
    try:
        return nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as exc:  # nbformat raises many types on malformed input
        raise InvalidSubmission(f"not a readable notebook ({type(exc).__name__}: {str(exc)[:120]})") from None


def _empty(assignment: Assignment, student: str, status: str, reason: str) -> SubmissionResult:
    checks = []
    for call in assignment.checks:
        ex = get_exercise(call.exercise_id)
        checks.append(CheckOutcome(call.name, call.exercise_id, ex.title, call.hidden, 0.0, ex.points, False,
                                   reason, False))
    return SubmissionResult(student, status, reason, 0.0, sum(c.max_points for c in checks), checks)


def _cases_for(assignment: Assignment, call, student: str, salt: str, cache: dict) -> list:
    exercise = get_exercise(call.exercise_id)
    with _JUDGE_LOCK:
        if call.hidden:
            label = call.exercise_id if call.occurrence == 0 else f"{call.exercise_id}#{call.occurrence}"
            return exercise.make_cases(np.random.default_rng(student_seed(student, label, salt)))
        key = (call.exercise_id, call.seed)
        if key not in cache:
            cache[key] = exercise.make_cases(np.random.default_rng(call.seed))
        return cache[key]


def _status(run, n_reported: int, n_checks: int, limits: Limits) -> tuple[str, str]:
    rc = run.returncode
    memory = any(e.get("type") == "MemoryError" for e in run.events if e.get("event") == "error")
    if rc == EXIT_ISOLATION and not run.events:
        return "error", "the sandbox could not hide the grader's files; nothing was run"
    if getattr(run, "refused", False):
        detail = getattr(run, "detail", "") or f"sandbox level {run.sandbox}"
        return "error", f"not graded: the sandbox is not complete here ({detail}); see SANDBOX.md"
    if getattr(run, "killed", "") == "memory":
        return "memory", getattr(run, "detail", "") or f"ran out of memory (limit {limits.memory_mb} MiB)"
    if getattr(run, "killed", "") in ("results", "check-timeout"):  # stopped by the grader's supervisor
        return ("timeout" if run.killed == "check-timeout" else "crashed"), run.detail
    if run.timed_out or rc == -getattr(signal, "SIGXCPU", 999):
        return "timeout", f"stopped after the time limit ({limits.timeout:g} s)"
    if memory:
        return "memory", f"ran out of memory (limit {limits.memory_mb} MiB)"
    if rc == -getattr(signal, "SIGKILL", 9):
        return "crashed", (f"killed (SIGKILL) after {n_reported} of {n_checks} checks: the code killed itself "
                           "or the machine ran out of memory")
    done = any(e.get("event") == "done" for e in run.events)
    if rc != 0 or not done or n_reported < n_checks:
        how = f"signal {-rc}" if rc is not None and rc < 0 else f"exit code {rc}"
        return "crashed", f"the notebook stopped early ({how}) after {n_reported} of {n_checks} checks"
    return "graded", ""


def grade_submission(assignment: Assignment, path, *, student: str | None = None, limits: Limits = Limits(),
                     salt: str | None = None, hide_dirs=(), hide_files=(), case_cache: dict | None = None,
                     data: bytes | None = None, extra_read=(), max_bytes: int = DEFAULT_MAX_BYTES,
                     prune: bool | None = None) -> SubmissionResult:
    """Grade one submitted notebook.

    Args:
        assignment: the parsed instructor source.
        path: the submission ``.ipynb`` (untrusted).
        student: the student's name; default the file name without ``.ipynb``.
        limits: sandbox :class:`Limits`.
        salt: mixed into hidden-check seeds; default the source's SHA-256.
        hide_dirs, hide_files: paths the child must not see (the source is always added).
        case_cache: shared dict for visible cases across submissions.
        data: the file's bytes when already read.
        extra_read: more folders the Linux child may read (a course data folder, say).
        max_bytes: the largest submission read (only a regular file, never through a link).
        prune: leave out the source statements no check or student's cell depends on (step 2 above);
            default True unless the environment sets ``MEDLEARN_GRADE_ALL_SETUP=1``.

    Returns:
        A :class:`SubmissionResult`; an unusable file gives status ``invalid``, never an exception.
    """
    path = Path(path)
    student = student or student_name(path.name)
    salt = assignment.sha256 if salt is None else salt
    try:
        nb = read_submission(read_regular(path, max_bytes) if data is None else data)
    except (InvalidFile, InvalidSubmission) as exc:
        return _empty(assignment, student, "invalid", str(exc))
    match = assignment.match(nb)
    solutions = assignment.solution_steps
    if solutions and len(match.missing) == len(solutions):
        return _empty(assignment, student, "invalid",
                      f"none of the {len(solutions)} exercise cells of {assignment.name} were found; is this the right notebook?")
    notes = []
    if match.missing:
        notes.append(f"exercise cell(s) {match.missing} not found (graded as unanswered)")
    workdir = Path(tempfile.mkdtemp(prefix="medlearn-grade-"))
    modules = Path(tempfile.mkdtemp(prefix="medlearn-modules-"))
    try:
        os.chmod(modules, 0o755)  # readable by the sandbox's own uid, writable by nobody but the grader
        if prune is None:
            prune = os.environ.get("MEDLEARN_GRADE_ALL_SETUP", "") not in ("1", "true", "yes")
        return _run_and_judge(assignment, match, student, salt, limits, workdir, notes,
                              [*hide_dirs], [assignment.path.resolve(), *hide_files],
                              {} if case_cache is None else case_cache, extra_read, modules, prune)
    finally:
        force_rmtree(workdir)  # permissions reset first: a chmod-0 folder of the child's cannot stay
        shutil.rmtree(modules, ignore_errors=True)


def _run_and_judge(assignment, match, student, salt, limits, workdir, notes, hide_dirs, hide_files, cache, extra_read,
                   module_dir=None, prune=True):
    steps, plan = [], []
    modules = set()
    for step in assignment.steps:
        if step.kind == "code":
            steps.append({"kind": "code", "source": step.source, "where": f"cell {step.cell}"})
        elif step.kind == "solution":
            code = match.codes.get(step.cell, assignment.stub(step))
            steps.append({"kind": "code", "source": code, "where": f"exercise cell {step.cell}", "student": True})
        else:
            call, k = step.check, len(plan)
            cases = _cases_for(assignment, call, student, salt, cache)
            manifest = save_cases(cases, workdir, f"cases_{k}")
            plan.append((call, cases))
            exercise = get_exercise(call.exercise_id)
            modules.add(exercise.run.__module__)
            steps.append({"kind": "check", "k": k, "expr": call.expr, "exercise": call.exercise_id,
                          "cases": manifest, "where": f"check {call.name}", "timeout": exercise.timeout,
                          "cpu_window": CPU_WINDOW_S if getattr(exercise, "loop_cpu_s", 0) else 0})
    if prune:
        steps, _ = prune_steps(steps)
    imports, paths = _importable(modules, module_dir)
    job = {"nonce": secrets.token_hex(16), "steps": steps, "imports": imports, "sys_path": paths}
    run = run_job(job, workdir, limits, hide_dirs=hide_dirs, hide_files=hide_files, extra_read=extra_read)
    outcomes = []
    errors_before, seen = [], 0
    for k, (call, cases) in enumerate(plan):
        exercise = get_exercise(call.exercise_id)
        while seen < len(run.events) and not (run.events[seen].get("event") == "check" and run.events[seen].get("k") == k):
            e = run.events[seen]
            if e.get("event") == "error" and str(e.get("where", "")).startswith(("cell", "exercise")):
                errors_before.append(f"{e.get('where')}: {e.get('type')}")
            seen += 1
        read = getattr(run, "check_outputs", None)  # the sandbox's result channel, where it has one
        outputs = read(k, len(cases)) if read is not None else load_outputs(run.outputs, f"check_{k}.json", len(cases))
        error = None
        if outputs is None:
            result = CheckResult(exercise, False, "This check reported no result, so it scores zero.")
        else:
            error = next((o["__error__"].split(":")[0] for o in outputs if "__error__" in o), None)
            with _JUDGE_LOCK:
                result = judge_cases(exercise, cases, outputs)
            loop = result.passed and cpu_loop_hint(exercise, getattr(run, "check_cpu", {}).get(k))
            if loop:  # CPU measured from outside: the child cannot switch this off (issue 17 item 7)
                result = CheckResult(exercise, False, loop)
        hint = result.hint
        if error and call.hidden:
            hint = f"Your code raised {error} (details are not shown for hidden checks)."
        elif error and errors_before:
            hint = f"{hint} (an earlier cell failed: {errors_before[0]})"
        outcomes.append(CheckOutcome(call.name, call.exercise_id, exercise.title, call.hidden,
                                     exercise.points if result.passed else 0.0, exercise.points, bool(result.passed),
                                     hint, outputs is not None, error, tuple(errors_before)))
    _mark_delegation(assignment, match, plan, outcomes)
    reported = sum(o.reported for o in outcomes)
    status, reason = _status(run, reported, len(plan), limits)
    for o in outcomes:
        if not o.reported:
            o.hint = f"This check did not run: {reason or 'no result was reported'}."
    if getattr(run, "degraded", "namespaces" not in run.sandbox) and sys.platform.startswith("linux"):
        notes.append(f"degraded sandbox: level {run.sandbox} (see SANDBOX.md)")
    reason = "; ".join(x for x in [reason, *notes] if x)
    score = float(sum(o.points for o in outcomes))
    return SubmissionResult(student, status, reason, score, float(sum(o.max_points for o in outcomes)), outcomes,
                            run.sandbox, round(run.wall, 3), run.log[-2000:])


def _delegation_finder():
    """``find_delegation(code, exercise, *, context) -> list[str]`` from :mod:`medlearn.checks.integrity`, or ``None``."""
    try:
        from medlearn.checks.integrity import find_delegation
    except ImportError:
        return None
    return find_delegation


def _mark_delegation(assignment: Assignment, match, plan: list, outcomes: list) -> None:
    """FAIL a passed check whose answer hands the work to a library callable the exercise forbids.

    The static analysis runs here, in the grader, on the code read from the submission, so
    nothing in the student's process can hide a call. An analysis that fails on the code
    fails the check (closed), with a hint saying so.
    """
    find = _delegation_finder()
    if find is None:
        return
    stubs = {s.cell: assignment.stub(s) for s in assignment.solution_steps}
    context = assignment.import_context()  # the names the lesson's own cells import
    seen: dict = {}  # a visible and a hidden check of one exercise share the analysis
    for (call, _), outcome in zip(plan, outcomes):
        if not outcome.passed:
            continue
        code = "\n\n".join(match.codes.get(cell, stubs[cell]) for cell in assignment.answer_cells(call))
        key = (call.exercise_id, code)
        if key not in seen:
            try:
                with _JUDGE_LOCK:
                    seen[key] = list(find(code, get_exercise(call.exercise_id), context=context))
            except Exception as exc:  # hostile code must not switch the analysis off
                seen[key] = [f"The grader could not analyse your code for library calls ({type(exc).__name__}); "
                             "simplify the exercise cell."]
        found = seen[key]
        if found:
            outcome.passed, outcome.points, outcome.hint = False, 0.0, str(found[0])


def _importable(modules: set, target: Path | None = None) -> tuple[list, list]:
    """Exercise modules the child must import, with the sys.path roots it needs for them.

    A module outside medlearn is given to the child as a copy of its own top-level
    package's ``.py`` files (or of its single file) in ``target`` (a fresh folder per
    submission, outside the work folder); the folder it came from (a course folder,
    next to the solved notebooks and their ``.ipynb_checkpoints``) stays covered.
    """
    imports, paths = [], []
    for name in sorted(modules):
        module = sys.modules.get(name)
        if module is None or name == "__main__":
            continue
        imports.append(name)
        if name.startswith("medlearn."):
            continue
        if target is None:
            continue
        for rel, file in module_files(name):
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, dest)
        if str(target) not in paths:
            paths.append(str(target))
    return imports, paths


def module_files(name: str) -> list:
    """``(relative path, file)`` of the ``.py`` files that make up module ``name``'s top-level package.

    A package contributes every ``.py`` file under its folder (not notebooks, data or
    hidden folders); a top-level module its one file; a module of a namespace package
    the files on the way to it.
    """
    top = sys.modules.get(name.split(".")[0])
    file = getattr(top, "__file__", None)
    if file:
        file = Path(file).resolve()
        if file.name != "__init__.py":
            return [(Path(file.name), file)]
        root = file.parent
        found = []
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root.parent)
            if not any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                found.append((rel, path))
        return found
    module = sys.modules.get(name)
    file = getattr(module, "__file__", None)
    if not file:
        return []
    return [(Path(*name.split(".")[:-1]) / Path(file).name, Path(file).resolve())]


def code_digest(modules=()) -> str:
    """SHA-256 over the source of everything that judges: ``medlearn/checks``, ``medlearn/grading``
    and the files of the exercise ``modules`` outside medlearn (so a fixed judge regrades)."""
    import medlearn

    root = Path(medlearn.__file__).resolve().parent
    files = [(Path("medlearn") / p.relative_to(root), p) for sub in ("checks", "grading")
             for p in sorted((root / sub).rglob("*.py")) if "__pycache__" not in p.parts]
    for name in sorted(modules):
        if not name.startswith("medlearn.") and name != "__main__":
            files += [(Path("modules") / rel, p) for rel, p in module_files(name)]
    h = hashlib.sha256()
    for rel, path in files:
        try:
            data = path.read_bytes()
        except OSError:
            data = b"<unreadable>"
        h.update(rel.as_posix().encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


def exercise_modules(assignment: Assignment) -> set:
    """The modules defining the ``run`` of every exercise the assignment checks."""
    return {get_exercise(c.exercise_id).run.__module__ for c in assignment.checks}


def cache_key(assignment: Assignment, data: bytes, student: str, salt: str, limits: Limits, code: str = "") -> str:
    """What makes a grade reusable: submission, source, medlearn version, student, salt, limits and
    ``code`` (:func:`code_digest` of the exercise and judging code)."""
    from medlearn import __version__

    h = hashlib.sha256()
    for part in (__version__, assignment.sha256, hashlib.sha256(data).hexdigest(), student, salt,
                 json.dumps(dataclasses.asdict(limits), sort_keys=True), code):
        h.update(str(part).encode() + b"\0")
    return h.hexdigest()
