"""``medlearn assign`` and ``medlearn grade``: the instructor's two commands.

Heavy imports (nbformat, pandas, NumPy) happen inside the handlers so
``medlearn --help`` stays instant.
"""
from __future__ import annotations

import sys

from medlearn.cli._args import number_type

__all__ = ["register"]


def _assign(args) -> int:
    from medlearn.grading.release import assign

    for path in assign(args.notebooks, args.out):
        print(f"wrote {path}")
    return 0


def _grade(args) -> int:
    from pathlib import Path

    from medlearn.grading.gradebook import grade
    from medlearn.grading.sandbox import Limits

    limits = Limits(timeout=args.timeout, memory_mb=args.memory_mb, fsize_mb=256, threads=args.threads,
                    allow_degraded=args.allow_degraded_sandbox)
    if args.allow_degraded_sandbox:
        print("warning: --allow-degraded-sandbox: submissions are graded even where user namespaces or Landlock "
              "are missing; every such row says 'degraded sandbox' (see SANDBOX.md)", file=sys.stderr)
    if args.autograder_bundle:
        from medlearn.grading.autograder import write_bundle

        path = write_bundle(args.assignment, args.autograder_bundle, limits=limits, salt=args.salt, wheel=args.wheel)
        print(f"wrote {path}: upload it as the autograder (setup.sh, run_autograder; see medlearn.grading.autograder)")
        if not args.submissions:
            return 0
    if not args.submissions or not args.out:
        from medlearn.grading.errors import GradingError

        raise GradingError("grading needs submissions and --out. Received: "
                           f"{len(args.submissions)} submission(s), out={args.out!r}. "
                           "Fix: `medlearn grade --assignment SOURCE.ipynb --out DIR submissions/`.")
    frame = grade(args.assignment, args.submissions, args.out, jobs=args.jobs, limits=limits, salt=args.salt,
                  progress=not args.quiet and sys.stderr.isatty(), force=args.force, extra_read=args.allow_read,
                  max_submission_bytes=int(args.max_submission_mb * 2**20), similarity=not args.no_similarity)
    out = Path(args.out)
    counts = frame["status"].value_counts().to_dict() if len(frame) else {}
    mean = frame["score"].mean() if len(frame) else 0.0
    max_score = frame["max_score"].max() if len(frame) else 0.0
    print(f"graded {len(frame)} submission(s): " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    print(f"mean score {mean:.2f} / {max_score:g}")
    print(f"wrote {out / 'gradebook.csv'}, {out / 'feedback'}/, {out / 'results'}/"
          + ("" if args.no_similarity else f", {out / 'similarity.csv'} (instructor only)"))
    return 0


def register(subparsers) -> None:
    """Add the ``assign`` and ``grade`` subcommands to the ``medlearn`` parser."""
    p = subparsers.add_parser(
        "assign", help="write student copies of lessons (solutions stubbed, outputs cleared)",
        description="Write the student copy of each instructor notebook into --out under the same name: "
                    "every '### BEGIN SOLUTION' ... '### END SOLUTION' block becomes '# YOUR CODE HERE' + "
                    "'raise NotImplementedError()', outputs are cleared, '### HIDDEN CHECKS' cells are removed.",
    )
    p.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="instructor .ipynb files")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the student copies")
    p.set_defaults(func=_assign)

    g = subparsers.add_parser(
        "grade", help="grade submitted notebooks in a sandbox; write gradebook, feedback, Gradescope results",
        description="Grade each submission against the instructor source. Writes DIR/gradebook.csv, "
                    "DIR/feedback/<student>.md, DIR/results/<student>.json (Gradescope format) and "
                    "DIR/similarity.csv (near-identical exercise code, never shown to students). "
                    "A re-run only grades new or changed submissions; published files are rebuilt from the signed "
                    "records. --autograder-bundle FILE.zip writes the bundle an autograder service runs instead.",
    )
    g.add_argument("submissions", nargs="*", metavar="SUBMISSION",
                   help="submitted .ipynb files or folders of them (every entry gets a gradebook row)")
    g.add_argument("--assignment", required=True, metavar="SOURCE.ipynb", help="the instructor's source notebook")
    g.add_argument("--out", default=None, metavar="DIR", help="output folder (required to grade; locked while grading)")
    g.add_argument("--jobs", type=number_type(int, minimum=1), default=None,
                   help="submissions graded at once (default: CPU count)")
    g.add_argument("--timeout", type=number_type(float, minimum=0, strict=True), default=300.0,
                   help="seconds per submission (default 300)")
    g.add_argument("--memory-mb", type=number_type(int, minimum=0), default=6144,
                   help="memory limit per submission, MiB (0 = none)")
    g.add_argument("--threads", type=number_type(int, minimum=1), default=1,
                   help="BLAS threads per submission (default 1)")
    g.add_argument("--salt", default=None, help="secret mixed into hidden-check seeds (default: the source's hash)")
    g.add_argument("--allow-read", action="append", default=[], metavar="DIR",
                   help="a folder the sandbox may read besides Python, medlearn and the data folders (repeatable)")
    g.add_argument("--allow-degraded-sandbox", action="store_true",
                   help="grade even when the host lacks user namespaces or Landlock (refused by default); "
                        "every affected row is marked")
    g.add_argument("--max-submission-mb", type=number_type(float, minimum=0, strict=True), default=16.0,
                   help="larger submitted files are not read (an 'invalid' row; default 16)")
    g.add_argument("--no-similarity", action="store_true", help="do not write DIR/similarity.csv")
    g.add_argument("--autograder-bundle", default=None, metavar="FILE.zip",
                   help="write a Gradescope-style autograder bundle for the assignment (setup.sh, run_autograder, "
                        "the medlearn wheel and pinned dependencies); with no submissions, grade nothing")
    g.add_argument("--wheel", default=None, metavar="FILE.whl",
                   help="the medlearn wheel for --autograder-bundle (default: built from this checkout)")
    g.add_argument("--force", action="store_true", help="regrade everything, ignoring stored results")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=_grade)
