"""Solution and hidden-check markers: the one place that knows their syntax.

An instructor writes each exercise once, with the solution between markers::

    def sigmoid(z):
        ### BEGIN SOLUTION
        return 1.0 / (1.0 + np.exp(-z))
        ### END SOLUTION

and a cell whose first non-blank line is ``### HIDDEN CHECKS`` holds checks
that never reach the student copy.

Accepted spelling (a marker is a whole line): one or more ``#``, optional
spaces, then ``BEGIN SOLUTION`` / ``END SOLUTION`` / ``HIDDEN CHECKS`` in
capitals, optional trailing spaces. Blocks do not nest and must close in the
cell that opened them.

Used by ``medlearn assign`` and ``medlearn grade`` (lessons 01-08).
"""
from __future__ import annotations

import re

from medlearn.grading.errors import AssignmentError

__all__ = ["has_solution", "is_hidden_cell", "strip_solutions", "STUB_CODE", "STUB_TEXT"]

_BEGIN = re.compile(r"^(?P<indent>[ \t]*)#+[ \t]*BEGIN SOLUTION[ \t]*$")
_END = re.compile(r"^[ \t]*#+[ \t]*END SOLUTION[ \t]*$")
_HIDDEN = re.compile(r"^[ \t]*#+[ \t]*HIDDEN CHECKS[ \t]*$")
STUB_CODE = ("# YOUR CODE HERE", "raise NotImplementedError()")
STUB_TEXT = ("YOUR ANSWER HERE",)


def has_solution(source: str) -> bool:
    """True when ``source`` holds at least one ``### BEGIN SOLUTION`` line."""
    return any(_BEGIN.match(line) for line in source.splitlines())


def is_hidden_cell(source: str) -> bool:
    """True when the first non-blank line of ``source`` is ``### HIDDEN CHECKS``."""
    for line in source.splitlines():
        if line.strip():
            return bool(_HIDDEN.match(line))
    return False


def strip_solutions(source: str, *, where: str = "a cell", markdown: bool = False) -> str:
    """Replace every solution block by a stub at the marker's indentation.

    Args:
        source: the cell text (``str``).
        where: names the cell in error messages, e.g. ``"lessons/01.ipynb, cell 7"``.
        markdown: stub a markdown answer (``YOUR ANSWER HERE``) instead of code
            (``# YOUR CODE HERE`` + ``raise NotImplementedError()``).

    Returns:
        The cell text with each ``BEGIN``…``END`` block (markers included) replaced.

    Raises:
        AssignmentError: an ``END`` without ``BEGIN``, a nested ``BEGIN``, or a
            block left open at the end of the cell.

    Example:
        >>> print(strip_solutions("def f():\\n    ### BEGIN SOLUTION\\n    return 1\\n    ### END SOLUTION"))
        def f():
            # YOUR CODE HERE
            raise NotImplementedError()
    """
    stub = STUB_TEXT if markdown else STUB_CODE
    out: list[str] = []
    open_line = None
    for number, line in enumerate(source.splitlines(), start=1):
        begin = _BEGIN.match(line)
        if begin:
            if open_line is not None:
                raise AssignmentError(
                    f"{where}: line {number} opens a solution block inside the one opened on line "
                    f"{open_line}. Received a nested '### BEGIN SOLUTION'. Fix: close the first block "
                    "with '### END SOLUTION' before opening another."
                )
            open_line = number
            out.extend(begin.group("indent") + text for text in stub)
        elif _END.match(line):
            if open_line is None:
                raise AssignmentError(
                    f"{where}: line {number} has '### END SOLUTION' without a '### BEGIN SOLUTION' "
                    "before it. Fix: add the BEGIN marker or delete this line."
                )
            open_line = None
        elif open_line is None:
            out.append(line)
    if open_line is not None:
        raise AssignmentError(
            f"{where}: the solution block opened on line {open_line} is never closed. "
            "Fix: add a '### END SOLUTION' line at the end of the solution (same cell)."
        )
    return "\n".join(out)
