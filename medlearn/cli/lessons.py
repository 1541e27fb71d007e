"""``medlearn lessons [DIR] [--student]``: the course's lessons, copied for a learner.

After ``pip install medlearn`` the lessons live inside the package; this command
copies them into a folder of your own. ``--student`` writes student copies
(exercises unsolved, hidden checks removed); without it, the instructor copies
(solutions included). A lesson you have edited or saved is never overwritten.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["register"]


def _main(args) -> int:
    from medlearn.grading.copies import copy_lessons

    dest = Path(args.dir)
    results = copy_lessons(dest, student=args.student)
    kind = "student copies (exercises unsolved)" if args.student else "instructor copies (solutions included)"
    print(f"medlearn lessons: {kind} in {dest}/")
    for path, status in results:
        print(f"  {status:<14} {path.name}")
    kept = sum(status.startswith("kept") for _, status in results)
    if kept:
        print(f"  {kept} edited lesson{'s' if kept != 1 else ''} kept as you left {'them' if kept != 1 else 'it'} "
              "(delete a file to get a fresh copy)")
    if not args.student:
        print("  learners: use --student for copies without the solutions")
    print(f"open them: jupyter lab {dest}/   (as root: add --allow-root)")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "lessons", help="copy the course's lessons into a folder (--student: without solutions)",
        description="Copy the lessons into DIR. --student writes student copies (exercises unsolved, "
                    "hidden checks removed). Lessons you have edited are never overwritten.")
    p.add_argument("dir", nargs="?", default="medlearn-lessons", metavar="DIR",
                   help="the destination folder (default: ./medlearn-lessons)")
    p.add_argument("--student", action="store_true", help="student copies (solutions stubbed out)")
    p.set_defaults(func=_main)
