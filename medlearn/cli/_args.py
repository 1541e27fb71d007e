"""Argument helpers shared by the subcommands, so every bad value reads the same."""
from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

from medlearn.errors import MedlearnError

__all__ = ["CliError", "number_type", "add_data_dir", "writable_dir", "json_safe", "write_json"]


class CliError(MedlearnError, ValueError):
    """An option that cannot work (an unwritable folder, a combination that makes no sense)."""


def number_type(kind=int, *, minimum=0, strict=False):
    """An ``argparse`` type: a ``kind`` (int or float) >= ``minimum`` (> when ``strict``).

    Every bad number reads the same: ``argument --epochs: must be an integer >= 1.
    Received: '0'`` and exit status 2.

    Example:
        >>> parser.add_argument("--epochs", type=number_type(int, minimum=1))  # doctest: +SKIP
    """
    what = "an integer" if kind is int else "a number"
    bound = f"{'>' if strict else '>='} {minimum:g}"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what} {bound}. Received: {text!r}") from None
        if value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"must be {what} {bound}. Received: {text!r}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def add_data_dir(parser) -> None:
    """Add the ``--data-dir`` option every data-reading subcommand shares."""
    parser.add_argument("--data-dir", default=None,
                        help="data folder (default: $MEDLEARN_DATA or the per-user cache)")


def writable_dir(path: Path, option: str) -> Path:
    """Create ``path`` (and parents) and check it is writable; ``option`` names it in the error.

    Raises:
        CliError: the folder cannot be created or written, e.g.
            ``--out is not writable. Received: --out '/x'. Fix: ...``.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"{option} cannot be created: {exc.strerror or exc}. Received: {option} {str(path)!r}. "
                       "Fix: choose a folder you can write to.") from None
    if not os.access(path, os.W_OK):
        raise CliError(f"{option} is not writable. Received: {option} {str(path)!r}. "
                       "Fix: choose a folder you can write to.")
    return path


def json_safe(value):
    """``value`` with NumPy arrays/scalars as lists/numbers and NaN/inf floats as ``None``.

    JSON has no NaN: ``json.dumps(float("nan"))`` writes a bare ``NaN`` that strict parsers
    reject, and ``json.dumps(default=...)`` is never asked about floats. An undefined figure
    (the AUC of a class with no positive example, a diverged loss) becomes ``null``.
    """
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist"):  # NumPy arrays and scalars
        return json_safe(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def write_json(path: Path, value) -> None:
    """Write ``json_safe(value)`` to ``path`` as strict JSON (``allow_nan=False``), one-space indent."""
    Path(path).write_text(json.dumps(json_safe(value), indent=1, allow_nan=False) + "\n")
