"""The ``medlearn`` command: one module per subcommand in this package.

    medlearn doctor | data | train | assign | grade | lessons   (``medlearn COMMAND --help``)

Each module in :data:`COMMANDS` offers ``register(subparsers)``, which adds its
parser(s) and sets ``func`` to a function ``(args) -> int`` (the exit status).
Modules keep their heavy imports (Keras, pandas, matplotlib) inside ``func``
so ``medlearn --help`` stays instant; shared argument helpers live in
:mod:`medlearn.cli._args`.

**Adding a subcommand is a one-line change:** write ``medlearn/cli/NAME.py``
with ``register(subparsers)`` and add ``"NAME"`` to :data:`COMMANDS`. A module
listed there that fails to import is an error (its traceback), never a
silently missing subcommand. The libraries below (``datasets``, ``train``,
``grading``, ``diagnostics`` ...) never import this package.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from medlearn.errors import MedlearnError

__all__ = ["COMMANDS", "build_parser", "main"]

# Modules of this package, in the order --help shows their subcommands.
COMMANDS = (
    "doctor",
    "data",
    "train",
    "compress",
    "grade",      # assign and grade
    "lessons",
)


def build_parser() -> argparse.ArgumentParser:
    """The root parser with every subcommand of :data:`COMMANDS` registered."""
    from medlearn import __version__

    parser = argparse.ArgumentParser(
        prog="medlearn",
        description="Deep learning on medical images: a course package.",
        epilog="Run `medlearn COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"medlearn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``medlearn`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    A :class:`~medlearn.errors.MedlearnError` prints ``medlearn COMMAND: error: ...`` and
    returns 1 (no traceback); bad usage exits 2 (argparse); Ctrl-C returns 130.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MedlearnError as exc:
        print(f"medlearn {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"medlearn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
