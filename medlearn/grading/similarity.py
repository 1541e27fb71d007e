"""Near-identical exercise code across a class, and code that matches a known implementation.

``medlearn grade`` writes ``similarity.csv`` next to the gradebook (for the
instructor only; feedback never mentions it). Each row is a pair of
submissions, or a submission and a reference (the instructor's solution, or
the source of a library callable the exercise declares), whose code for one
exercise cell is near-identical once these are removed:

* formatting, comments and docstrings (the code is parsed and unparsed by
  :mod:`ast`; code that does not parse is tokenised as it is);
* names: every identifier that is not a keyword, builtin or attribute becomes
  one token ``V`` (so ``def f(x)`` and ``def g(arr)`` are the same, and
  swapping two independent statements changes only the shingles at the seam);
* string contents (a literal is one token), and the template the student copy
  already holds (the ``def`` line and stub of the exercise cell).

What is left is a sequence of tokens; its :data:`K`-token shingles form a set,
and two sets are compared with the Jaccard index |A∩B| / |A∪B|. Shingles common to
much of the class are *not* dropped (as MOSS does for starter code): the starter
code is already removed as the template, and what many students share beyond it
is most often the solved lesson itself, which is what the report is for.

**Threshold, and how it was chosen.** A pair is reported when its Jaccard
index is at least :data:`THRESHOLD` = 0.65 *and* the two share at least
:data:`MIN_SHINGLES` = 24 shingles (about two lines of the student's own code
beyond the template). Measured with ``python tests/test_grading_similarity.py``
on the set in that file (8 independent sigmoid and 6 standardisation
solutions; 7 disguised copies of a 7-line sigmoid): copies that are renamed,
reformatted, recommented or given a new docstring score 1.00; with two
independent statements swapped 0.90, one statement added 0.89, two dead
statements added 0.79, everything at once 0.81. Honest solutions score at
most 0.45 against each other. 0.65 sits in the middle of that gap. The
one-line answer most students write identically (``1 / (1 + np.exp(-z))``:
14 shingles; the one-line standardisation: 20) is under MIN_SHINGLES, so
identical one-liners are never reported: for a one-line exercise a copy cannot
be told from an honest answer, and the report does not pretend otherwise.

Used by ``medlearn grade``.
"""
from __future__ import annotations

import ast
import builtins
import csv
import dataclasses
import io
import keyword
import re
import tokenize

__all__ = ["similarity_report", "normalized_tokens", "shingles", "jaccard", "Pair", "similar_pairs", "similarity_csv",
           "THRESHOLD", "MIN_SHINGLES", "K", "COLUMNS"]

K = 4
THRESHOLD = 0.65
MIN_SHINGLES = 24
COLUMNS = ("exercise", "kind", "student", "other", "score", "shared")
_KEEP = set(dir(builtins)) | {"self", "cls"}
_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER,
         tokenize.ENCODING}
_FSTRING_START = getattr(tokenize, "FSTRING_START", -1)
_FSTRING_PARTS = {getattr(tokenize, "FSTRING_MIDDLE", -2), getattr(tokenize, "FSTRING_END", -3)}


class _DropDocstrings(ast.NodeTransformer):
    def _strip(self, node):
        self.generic_visit(node)
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = visit_Module = _strip

    def visit_Expr(self, node):  # a bare string statement anywhere is a comment
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return ast.Pass()
        return node


def _canonical(code: str) -> str:
    try:
        tree = _DropDocstrings().visit(ast.parse(code))
        return ast.unparse(ast.fix_missing_locations(tree))
    except (SyntaxError, ValueError, RecursionError):
        return code


def normalized_tokens(code: str) -> list:
    """The token sequence two copies of the same code share (see the module docstring).

    Args:
        code: Python source (``str``, untrusted; need not parse).

    Returns:
        ``list`` of ``str`` tokens.

    Example:
        >>> normalized_tokens("def f(x):  # mine\\n    return x*2")
        ['def', 'V', '(', 'V', ')', ':', 'return', 'V', '*', '2']
    """
    source = _canonical(code)
    try:
        raw = [(t.type, t.string) for t in tokenize.generate_tokens(io.StringIO(source).readline)]
    except (tokenize.TokenError, IndentationError, SyntaxError):  # code that does not even tokenise
        raw = [(tokenize.NAME if re.match(r"[A-Za-z_]", w) else tokenize.OP, w) for w in re.findall(r"\w+|[^\w\s]", source)]
    out = []
    previous = ""
    for kind, text in raw:
        if kind in _SKIP or kind in _FSTRING_PARTS:
            continue
        token = text
        if kind == tokenize.NAME and not keyword.iskeyword(text) and text not in _KEEP and previous != ".":
            token = "V"
        elif kind in (tokenize.STRING, _FSTRING_START):
            token = "S"
        out.append(token)
        previous = text
    return out


def shingles(tokens: list, k: int = K) -> set:
    """The set of ``k``-token windows of ``tokens`` (one window when there are fewer than ``k``)."""
    if len(tokens) < k:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i:i + k]) for i in range(len(tokens) - k + 1)}


def jaccard(a: set, b: set) -> float:
    """|a∩b| / |a∪b| (0.0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


@dataclasses.dataclass(frozen=True)
class Pair:
    """One reported row: ``kind`` is ``"pair"`` (two students) or ``"reference"`` (``other`` names it)."""

    exercise: str
    kind: str
    student: str
    other: str
    score: float
    shared: int


def similar_pairs(exercise: str, codes: dict, *, template: str = "", references: dict | None = None,
                  threshold: float = THRESHOLD, min_shingles: int = MIN_SHINGLES) -> list:
    """Report near-identical code for one exercise cell.

    Args:
        exercise: the label written in the report (the exercise id).
        codes: student name -> their code for this cell (``str``).
        template: the student copy's version of the cell; its shingles are nobody's own work.
        references: label -> code to compare every student against (instructor solution, library source).
        threshold: the smallest Jaccard index reported (0-1).
        min_shingles: the fewest shingles a pair must share to be reported.

    Returns:
        ``list`` of :class:`Pair`, highest score first.
    """
    base = shingles(normalized_tokens(template)) if template else set()
    sets = {name: shingles(normalized_tokens(code)) - base for name, code in codes.items() if code.strip()}
    refs = {label: shingles(normalized_tokens(code)) - base for label, code in (references or {}).items()}
    rows = []
    names = sorted(sets)

    def consider(kind, a, b, sa, sb):
        shared = len(sa & sb)
        if shared >= min_shingles:
            score = jaccard(sa, sb)
            if score >= threshold:
                rows.append(Pair(exercise, kind, a, b, round(score, 3), shared))

    for i, a in enumerate(names):
        for b in names[i + 1:]:
            consider("pair", a, b, sets[a], sets[b])
        for label, ref in refs.items():
            consider("reference", a, label, sets[a], ref)
    return sorted(rows, key=lambda r: (-r.score, r.exercise, r.student, r.other))


def similarity_csv(rows: list) -> str:
    """The report as CSV text (header :data:`COLUMNS`; text cells safe for spreadsheets)."""
    from medlearn.grading.names import csv_cell

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([csv_cell(r.exercise), r.kind, csv_cell(r.student), csv_cell(r.other), f"{r.score:.3f}", r.shared])
    return buffer.getvalue()


def _library_sources(exercise) -> dict:
    """Source of the medlearn callables an exercise declares ``forbidden`` (the library's own implementation)."""
    import importlib
    import inspect

    found = {}
    for name in getattr(exercise, "forbidden", ()) or ():
        if not isinstance(name, str) or not name.startswith("medlearn.") or name.count(".") < 2:
            continue
        module_name, _, attr = name.rpartition(".")
        try:
            obj = getattr(importlib.import_module(module_name), attr)
            if inspect.isfunction(obj) or inspect.ismethod(obj):
                found[name] = inspect.getsource(obj)
        except (ImportError, AttributeError, OSError, TypeError):
            continue
    return found


def similarity_report(assignment, items) -> str:
    """``similarity.csv`` for one batch: every exercise cell of ``assignment`` across the readable submissions.

    Args:
        assignment: the :class:`~medlearn.grading.source.Assignment`.
        items: :class:`~medlearn.grading.intake.Submission` objects (those with ``data``).

    Returns:
        CSV text (:func:`similarity_csv`); each exercise cell is compared with the instructor's
        solution (``other`` = ``"instructor source"``) and the library callables the exercise forbids.
    """
    from medlearn.checks.core import get_exercise
    from medlearn.grading.grader import InvalidSubmission, read_submission

    matches = {}
    for item in items:
        if item.data is None:
            continue
        try:
            matches[item.student] = assignment.match(read_submission(item.data)).codes
        except InvalidSubmission:
            continue
    labels: dict = {}
    for call in assignment.checks:
        for cell in assignment.answer_cells(call):
            labels.setdefault(cell, []).append(call.exercise_id)
    rows = []
    for step in assignment.solution_steps:
        ids = list(dict.fromkeys(labels.get(step.cell, [])))
        references = {"instructor source": step.source}
        for exercise_id in ids:
            references.update(_library_sources(get_exercise(exercise_id)))
        codes = {student: codes[step.cell] for student, codes in matches.items() if step.cell in codes}
        rows += similar_pairs(", ".join(ids) or f"cell {step.cell}", codes, template=assignment.stub(step),
                              references=references)
    return similarity_csv(rows)
