"""The error every data-layer failure raises (bad name/split/size, corrupt file, offline)."""
from __future__ import annotations

import difflib

from medlearn.errors import MedlearnError

__all__ = ["DatasetError", "suggest"]


class DatasetError(MedlearnError, ValueError):
    """A dataset cannot be found, downloaded, verified or read.

    The message always names the argument or file, shows what was received or
    found, and says what to do next.
    """


def suggest(received: str, choices) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest of ``choices`` (or ``""``).

    Args:
        received: what the user typed, e.g. ``"pneumonia"``.
        choices: the valid names.

    Returns:
        A sentence to append to an error message; empty when nothing is close.
    """
    choices = list(choices)
    text = str(received).lower().strip()
    # A prefix or substring match is the most helpful hint ("pneumonia" -> "pneumoniamnist").
    contained = [c for c in choices if text and (c.startswith(text) or text in c)]
    if len(contained) >= 1:
        return f" Did you mean {contained[0]!r}?"
    close = difflib.get_close_matches(text, choices, n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""
