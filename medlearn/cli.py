"""The ``medlearn`` command: ``doctor``, ``data``, ``train``, ``assign``, ``grade``.

Each subcommand lives with its topic; a topic module offers
``register(subparsers)``, which adds its parser(s) and sets ``func`` to a
function ``(args) -> int``. Topic modules keep their heavy imports inside
``func`` so ``medlearn --help`` stays instant.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from medlearn.errors import MedlearnError

def number_type(kind=int, *, minimum=0, strict=False):
    """An ``argparse`` type: a ``kind`` (int or float) >= ``minimum`` (> when ``strict``).

    Shared by the topic subcommands so every bad number reads the same:
    ``argument --epochs: must be an integer >= 1. Received: '0'`` and exit 2.
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


# Order is the order shown in --help.
_COMMAND_MODULES = (
    "medlearn.diagnostics",
    "medlearn.datasets.cli",
    "medlearn.train_cli",
    "medlearn.grading.cli",
)


def build_parser() -> argparse.ArgumentParser:
    from medlearn import __version__

    parser = argparse.ArgumentParser(
        prog="medlearn",
        description="Deep learning on medical images: a course package.",
        epilog="Run `medlearn COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"medlearn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and (name == exc.name or name.startswith(exc.name + ".")):  # topic not in this build
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
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
