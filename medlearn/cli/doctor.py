"""``medlearn doctor``: what this machine can do for the course, and what to fix.

Exits 1 when a problem stops the course (the report says the fix); see
:func:`medlearn.diagnostics.run_doctor` for what is checked.
"""
from __future__ import annotations

__all__ = ["register"]


def register(subparsers) -> None:
    """Add the ``doctor`` subcommand to the ``medlearn`` parser."""
    p = subparsers.add_parser("doctor", help="check what this machine can do for the course",
                              description="Check Python, TensorFlow/Keras, GPUs, the data folder and flags.")
    p.add_argument("--no-gpu-probe", action="store_true",
                   help="do not import the Keras backend to list the GPUs it can use (faster)")
    p.set_defaults(func=run)


def run(args) -> int:
    """Print the doctor's report; 0 when the course can run, 1 otherwise."""
    from medlearn.diagnostics import run_doctor

    report = run_doctor(probe_frameworks=not args.no_gpu_probe)
    return 0 if report.ok else 1
