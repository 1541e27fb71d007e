#!/usr/bin/env python3
"""Set-up and run in one step: the two Quickstart commands.

    python3 dev.py train [OPTIONS]   # the main job: `medlearn train` (default: embedded phantoms)
    python3 dev.py test [PYTEST ARGS] # unit tests + every lesson under nbval (fast mode)
    python3 dev.py medlearn ARGS...   # any other medlearn command inside the environment

Creates `.venv` next to this file on first use (needs only Python 3.10-3.12 and pip)
and reuses it while requirements*.txt and pyproject.toml are unchanged.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".medlearn-stamp"
INPUTS = ("requirements.txt", "requirements-dev.txt", "pyproject.toml")


def _bin(name: str) -> Path:
    sub = "Scripts" if os.name == "nt" else "bin"
    return VENV / sub / (name + (".exe" if os.name == "nt" else ""))


def _fingerprint() -> str:
    h = hashlib.sha256(sys.version.encode())
    for name in INPUTS:
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def ensure_env() -> Path:
    """Create or update .venv; return its python."""
    if sys.version_info[:2] < (3, 10) or sys.version_info[:2] > (3, 12):
        sys.exit(f"dev.py: Python {sys.version.split()[0]} is not supported; use Python 3.10-3.12 "
                 "(TensorFlow publishes wheels for these), e.g. `python3.11 dev.py test`.")
    python = _bin("python")
    want = _fingerprint()
    if python.exists() and STAMP.exists() and STAMP.read_text().strip() == want:
        return python
    if not python.exists():
        print("dev.py: creating .venv (first run: downloads TensorFlow and friends, a few minutes)", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    else:
        print("dev.py: requirements changed, updating .venv", flush=True)
    pip = [str(python), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run(pip + ["install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run(pip + ["install", "-q", "-r", str(ROOT / "requirements-dev.txt"), "-e", str(ROOT)], check=True)
    STAMP.write_text(want + "\n")
    return python


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in ("train", "test", "medlearn"):
        print(f"dev.py: unknown command {command!r}; expected train, test or medlearn.\n{__doc__}", file=sys.stderr)
        return 2
    python = ensure_env()
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("PYTHONHASHSEED", "0")
    if command == "train":
        return subprocess.call([str(python), "-m", "medlearn", "train", *rest], cwd=ROOT, env=env)
    if command == "medlearn":
        return subprocess.call([str(python), "-m", "medlearn", *rest], cwd=ROOT, env=env)
    # Tests: fast mode, never the network, no GUI.
    env.setdefault("MEDLEARN_FAST", "1")
    env.setdefault("MEDLEARN_OFFLINE", "1")
    env.setdefault("MPLBACKEND", "Agg")
    if not any(a == "-n" or a.startswith(("-n", "--numprocesses")) for a in rest):
        # Lessons and TensorFlow tests are CPU-bound: one worker per core (at most 4);
        # loadscope keeps each notebook's cells together in one worker, in order.
        rest = ["-n", str(max(1, min(4, os.cpu_count() or 1))), "--dist", "loadscope", *rest]
    rc = subprocess.call([str(python), "-m", "pytest", *rest], cwd=ROOT, env=env)
    if rc == 5:
        print("dev.py: pytest collected no tests — that is a failure, not a pass.", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
