"""Errors raised by ``medlearn assign`` and ``medlearn grade``.

Both derive from :class:`medlearn.errors.MedlearnError`, so the command line
prints their message (what was wrong, what was received, what to do) without
a traceback.
"""
from medlearn.errors import MedlearnError


class AssignmentError(MedlearnError, ValueError):
    """An instructor notebook cannot be used: unbalanced markers, unknown check ids, bad check cells."""


class GradingError(MedlearnError, RuntimeError):
    """A grading run cannot start: bad arguments, an output folder that would overwrite a source."""
