"""The instructor's notebook, read as a grading plan, and matching a submission to it.

The instructor source is the only trusted notebook. Its code cells are sorted
into four kinds:

* **solution** cells hold ``### BEGIN SOLUTION`` blocks; in grading they are
  the only code taken from the student's notebook;
* **check** statements are ``check("topic.name", <expr>)`` calls (also
  ``medlearn.check(...)``, ``x = check(...)``, ``assert check(...)``); the
  grader evaluates ``<expr>`` in the student's process and judges outside it;
* **hidden** cells start with ``### HIDDEN CHECKS``: their checks use inputs
  drawn from :func:`medlearn.checks.student_seed` and never reach students;
* everything else is **setup** code, always taken from the source, so edits a
  student makes to it have no effect.

Used by ``medlearn assign`` / ``medlearn grade`` (lessons 01-08).
"""
from __future__ import annotations

import ast
import dataclasses
import hashlib
import re
from pathlib import Path

import nbformat

from medlearn.grading.errors import AssignmentError
from medlearn.grading.markers import has_solution, is_hidden_cell, strip_solutions

__all__ = ["CheckCall", "Step", "Assignment", "Match", "read_notebook"]


@dataclasses.dataclass(frozen=True)
class CheckCall:
    """One graded check: ``name`` (gradebook column), exercise id, answer expression, seed, hidden."""

    name: str
    exercise_id: str
    expr: str
    seed: int
    hidden: bool
    occurrence: int
    cell: int


@dataclasses.dataclass(frozen=True)
class Step:
    """One unit of the grading job: ``kind`` is ``"code"``, ``"solution"`` or ``"check"``."""

    kind: str
    cell: int
    source: str = ""
    cell_id: str | None = None
    check: CheckCall | None = None
    names: frozenset = frozenset()


@dataclasses.dataclass
class Match:
    """Which submission code answers each solution cell of the source.

    ``codes`` maps a source cell index to the student's code; ``missing`` lists
    source cells with no counterpart (graded with the unsolved stub).
    """

    codes: dict
    missing: list
    by_name: list


_DEF_RE = re.compile(r"^(?:async[ \t]+def|def|class)[ \t]+(\w+)|^(\w+)[ \t]*(?::[^=\n]*)?=(?!=)", re.M)


def _defined_names(source: str) -> frozenset:
    """Top-level names a cell defines (regex based, so it works on code that does not parse)."""
    return frozenset(a or b for a, b in _DEF_RE.findall(source))


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """Read a notebook file as nbformat v4, giving cells without ids a stable ``cell-<index>`` id."""
    nb = nbformat.read(str(path), as_version=4)
    _ensure_ids(nb)
    return nb


def _ensure_ids(nb) -> None:
    for index, cell in enumerate(nb.cells):
        if not cell.get("id"):
            cell["id"] = f"cell-{index}"
    nb.nbformat, nb.nbformat_minor = 4, max(5, nb.get("nbformat_minor", 5))


def _check_target(call: ast.AST) -> bool:
    if not isinstance(call, ast.Call):
        return False
    func = call.func
    return (isinstance(func, ast.Name) and func.id == "check") or (
        isinstance(func, ast.Attribute) and func.attr == "check"
    )


def _check_call_of(stmt: ast.stmt):
    if isinstance(stmt, ast.Expr) and _check_target(stmt.value):
        return stmt.value
    if isinstance(stmt, ast.Assign) and _check_target(stmt.value):
        return stmt.value
    if isinstance(stmt, ast.Assert) and _check_target(stmt.test):
        return stmt.test
    return None


def _stmt_lines(stmt: ast.stmt) -> tuple[int, int]:
    first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
    return first - 1, stmt.end_lineno


class Assignment:
    """An instructor notebook parsed into grading steps.

    Args:
        path: the instructor source (``.ipynb``) with solution markers.

    Attributes:
        name: the file name (``01_neurons.ipynb``).
        steps: the :class:`Step` list in execution order.
        checks: the :class:`CheckCall` list (visible and hidden) in order.
        sha256: hex digest of the source file's bytes.

    Raises:
        AssignmentError: the file is not a notebook, a marker is unbalanced, a
            cell does not parse, or a check names an unknown exercise.

    Example:
        >>> a = Assignment("lessons/01_neurons.ipynb")      # doctest: +SKIP
        >>> [c.name for c in a.checks]                        # doctest: +SKIP
        ['scratch.sigmoid', 'scratch.sigmoid (hidden)']
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            data = self.path.read_bytes()
            self.notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise AssignmentError(
                f"assignment must be a readable Jupyter notebook. Received: {str(self.path)!r} "
                f"({type(exc).__name__}: {exc}). Fix: pass the instructor's .ipynb source."
            ) from None
        _ensure_ids(self.notebook)
        self.name = self.path.name
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.steps: list[Step] = []
        self.checks: list[CheckCall] = []
        self._parse()

    # ------------------------------------------------------------------ parsing
    def _parse(self) -> None:
        from medlearn.checks import get_exercise

        counts: dict[str, int] = {}
        for index, cell in enumerate(self.notebook.cells):
            where = f"{self.name}, cell {index}"
            if cell.cell_type == "markdown" and has_solution(cell.source):
                strip_solutions(cell.source, where=where, markdown=True)  # validates markers
            if cell.cell_type != "code":
                continue
            source = cell.source
            if has_solution(source):
                self._no_checks_in(strip_solutions(source, where=where), where)
                self.steps.append(Step("solution", index, source, cell.id, names=_defined_names(source)))
                continue
            hidden = is_hidden_cell(source)
            try:
                tree = ast.parse(source)
            except SyntaxError as exc:
                raise AssignmentError(
                    f"{where} does not parse as Python (line {exc.lineno}: {exc.msg}). The grader runs cells "
                    "as plain Python, so IPython magics ('%', '!') are not allowed. Fix: rewrite the cell."
                ) from None
            lines = source.splitlines()
            pending: list[ast.stmt] = []

            def flush():
                if pending:
                    start, end = _stmt_lines(pending[0])[0], _stmt_lines(pending[-1])[1]
                    self.steps.append(Step("code", index, "\n".join(lines[start:end]), cell.id))
                    pending.clear()

            for stmt in tree.body:
                call = _check_call_of(stmt)
                if call is None:
                    pending.append(stmt)
                    continue
                flush()
                check = self._check_call(call, index, hidden, counts, where)
                get_exercise_or_raise(get_exercise, check.exercise_id, where)
                self.checks.append(check)
                self.steps.append(Step("check", index, ast.unparse(call), cell.id, check=check))
            flush()

    @staticmethod
    def _no_checks_in(stub: str, where: str) -> None:
        """A check inside an exercise cell would run the student's copy of it: refuse it."""
        try:
            tree = ast.parse(stub)
        except SyntaxError:
            return  # the student's version is what runs; a broken stub only hurts the untouched copy
        if any(_check_call_of(stmt) is not None for stmt in tree.body):
            raise AssignmentError(
                f"{where} holds a solution and a check(...) call. Received both in one cell. Fix: move the "
                "check(...) calls into their own cell, so the grader runs them from your source."
            )

    @staticmethod
    def _check_call(call: ast.Call, index: int, hidden: bool, counts: dict, where: str) -> CheckCall:
        args = list(call.args)
        kwargs = {kw.arg: kw.value for kw in call.keywords if kw.arg}
        id_node = args[0] if args else kwargs.get("exercise_id")
        answer = args[1] if len(args) > 1 else kwargs.get("answer")
        if not (isinstance(id_node, ast.Constant) and isinstance(id_node.value, str)) or answer is None:
            raise AssignmentError(
                f"{where}: a check must read check(\"topic.name\", answer) with a literal id. "
                f"Received: {ast.unparse(call)}. Fix: write the exercise id as a string literal."
            )
        seed = 0
        if "seed" in kwargs:
            node = kwargs["seed"]
            if not (isinstance(node, ast.Constant) and isinstance(node.value, int)):
                raise AssignmentError(f"{where}: seed= must be an int literal. Received: {ast.unparse(node)}")
            seed = node.value
        exercise_id = id_node.value
        base = f"{exercise_id} (hidden)" if hidden else exercise_id
        counts[base] = counts.get(base, 0) + 1
        name = base if counts[base] == 1 else f"{base} #{counts[base]}"
        occurrence = counts[base] - 1
        return CheckCall(name, exercise_id, ast.unparse(answer), seed, hidden, occurrence, index)

    # ----------------------------------------------------------------- matching
    @property
    def solution_steps(self) -> list[Step]:
        return [s for s in self.steps if s.kind == "solution"]

    def import_context(self) -> str:
        """The ``import`` statements of the source's own code (setup and check cells), one per line.

        What a static analysis of an exercise cell needs to know the names the lesson imported
        (``import medlearn.scratch as scratch``), without re-reading every setup cell.
        """
        if getattr(self, "_imports", None) is None:
            lines = []
            for step in self.steps:
                if step.kind == "code":
                    lines += [ast.unparse(n) for n in ast.parse(step.source).body if isinstance(n, (ast.Import, ast.ImportFrom))]
            self._imports = "\n".join(dict.fromkeys(lines))
        return self._imports

    def answer_cells(self, call: CheckCall) -> list:
        """Solution cells that define the names ``call``'s answer expression uses (its exercise code).

        Falls back to the last solution cell before the check when the expression names none.
        """
        try:
            used = {n.id for n in ast.walk(ast.parse(call.expr, mode="eval")) if isinstance(n, ast.Name)}
        except SyntaxError:
            used = set()
        cells = [s.cell for s in self.solution_steps if s.names & used]
        return cells or [s.cell for s in self.solution_steps if s.cell < call.cell][-1:]

    def stub(self, step: Step) -> str:
        """The student-copy version of a solution cell (what an untouched submission holds)."""
        return strip_solutions(step.source, where=f"{self.name}, cell {step.cell}")

    def match(self, submission) -> Match:
        """Find the student's code for each solution cell: by cell id, then by the names it defines.

        Args:
            submission: an nbformat v4 notebook (untrusted).

        Returns:
            A :class:`Match`.
        """
        cells = [
            (i, c.get("id"), c.get("source", ""))
            for i, c in enumerate(submission.get("cells", []))
            if c.get("cell_type") == "code" and isinstance(c.get("source", ""), str)
        ]
        used: set[int] = set()
        codes, missing, by_name = {}, [], []
        by_id = {cid: (i, src) for i, cid, src in cells if cid}
        pending = []
        for step in self.solution_steps:
            hit = by_id.get(step.cell_id)
            if hit is not None and hit[0] not in used:
                used.add(hit[0])
                codes[step.cell] = hit[1]
            else:
                pending.append(step)
        for step in pending:
            candidates = [
                (i, src) for i, _, src in cells if i not in used and step.names & _defined_names(src)
            ]
            if step.names and candidates:
                i, src = candidates[-1]  # the last definition wins, as when running the notebook
                used.add(i)
                codes[step.cell] = src
                by_name.append(step.cell)
            else:
                missing.append(step.cell)
        return Match(codes, missing, by_name)


def get_exercise_or_raise(get_exercise, exercise_id: str, where: str):
    try:
        return get_exercise(exercise_id)
    except KeyError as exc:
        raise AssignmentError(f"{where}: {exc.args[0]} Fix: register the exercise or correct the id.") from None
