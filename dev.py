#!/usr/bin/env python3
"""Set-up and run in one step: the two Quickstart commands.

    python3 dev.py train [OPTIONS]   # the main job: `medlearn train` (default: embedded phantoms)
    python3 dev.py test [PYTEST ARGS] # unit tests + every lesson under nbval (fast mode)
    python3 dev.py lessons [ARGS]     # student copies in work/ (made once, never overwritten), JupyterLab
    python3 dev.py medlearn ARGS...   # any other medlearn command inside the environment

Creates `.venv` next to this file on first use (needs only Python 3.10-3.13 and pip)
and reuses it while requirements*.txt and pyproject.toml are unchanged. pip's
output goes to .venv/pip-install.log (shown when an install fails).
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".medlearn-stamp"
LOG = VENV / "pip-install.log"
INPUTS = ("requirements.txt", "requirements-dev.txt", "pyproject.toml")
PYTHONS = ((3, 10), (3, 13))  # keep in step with pyproject's requires-python (tests/test_packaging.py)
WORK = ROOT / "work"          # the learner's student copies (gitignored)
HEARTBEAT_S = float(os.environ.get("MEDLEARN_DEV_HEARTBEAT_S", "20"))  # seconds between progress lines


def _bin(name: str) -> Path:
    sub = "Scripts" if os.name == "nt" else "bin"
    return VENV / sub / (name + (".exe" if os.name == "nt" else ""))


def _fingerprint() -> str:
    h = hashlib.sha256(sys.version.encode())
    for name in INPUTS:
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


class InstallFailed(Exception):
    """A step of the set-up failed; the message says what and what to do."""


# (text in pip's log, what it means, what to do) -- first match wins.
_DIAGNOSES = (
    ("No space left on device", "the disk is full",
     "free some space (TensorFlow needs about 3 GB), then run the same command again"),
    (("Failed to establish a new connection", "Temporary failure in name resolution",
      "Network is unreachable", "Read timed out", "ProxyError", "SSLError"),
     "pip could not reach the package index (no network, a proxy or a firewall)",
     "connect to the internet (or set HTTPS_PROXY / PIP_INDEX_URL), then run the same command again"),
    (("No matching distribution found", "Could not find a version that satisfies"),
     "a requirement has no release for this Python and platform "
     f"({sys.version.split()[0]}, {sys.platform})",
     "use a supported Python (3.10-3.13 on Linux, macOS or Windows, 64-bit), e.g. "
     "`rm -rf .venv && python3.11 dev.py test`; if you are offline, connect first"),
)


def _diagnose(log_text: str) -> tuple[str, str]:
    for needles, what, fix in _DIAGNOSES:
        needles = (needles,) if isinstance(needles, str) else needles
        if any(n in log_text for n in needles):
            return what, fix
    return "pip failed", "read the log above; fix what it names, then run the same command again"


def _last_activity(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        line = line.strip()
        if line.startswith("Installing collected packages:"):
            n = line.count(",") + 1
            return f"unpacking {n} packages into .venv (TensorFlow alone is about 1 GB: the longest step)"
        if line.startswith(("Collecting ", "Downloading ", "Building ", "Installing ", "Obtaining ", "Using cached ")):
            return line[:90]
    return ""


def _pip(python: Path, args: list, step: str) -> None:
    """Run `python -m pip ARGS`, its output appended to LOG, with a heartbeat line; raise InstallFailed."""
    print(f"dev.py: {step} ...", flush=True)
    start = time.monotonic()
    with open(LOG, "a") as log:
        log.write(f"\n$ pip {' '.join(args)}\n")
        log.flush()
        try:
            proc = subprocess.Popen([str(python), "-m", "pip", "--disable-pip-version-check", "--no-color", *args],
                                    stdout=log, stderr=subprocess.STDOUT)
        except OSError as exc:
            raise InstallFailed(f"{step}: could not start pip ({exc}).\n"
                                "  Fix: remove the environment (`rm -rf .venv`) and run the same command again.") from None
        while True:
            try:
                rc = proc.wait(timeout=HEARTBEAT_S)
                break
            except subprocess.TimeoutExpired:
                doing = _last_activity(LOG)
                print(f"dev.py:   ... {time.monotonic() - start:.0f} s{': ' + doing if doing else ''}", flush=True)
    if rc != 0:
        text = LOG.read_text(errors="replace")
        tail = "\n".join("  | " + l for l in text.splitlines()[-25:])
        what, fix = _diagnose(text)
        raise InstallFailed(f"{step} failed: {what}.\n  The end of pip's log ({LOG}):\n{tail}\n"
                            f"  Fix: {fix}.")
    print(f"dev.py: {step}: done in {time.monotonic() - start:.0f} s", flush=True)


def check_python(version_info=None) -> None:
    """Exit with the fix when this Python is outside PYTHONS."""
    vi = tuple(version_info or sys.version_info)[:2]
    lo, hi = PYTHONS
    if not lo <= vi <= hi:
        sys.exit(f"dev.py: Python {'.'.join(map(str, vi))} is not supported; use Python "
                 f"{lo[0]}.{lo[1]}-{hi[0]}.{hi[1]} (TensorFlow publishes wheels for these), "
                 "e.g. `python3.12 dev.py test`.")


def ensure_env() -> Path:
    """Create or update .venv; return its python. Exits with what failed and what to do."""
    check_python()
    python = _bin("python")
    want = _fingerprint()
    if python.exists() and STAMP.exists() and STAMP.read_text().strip() == want:
        return python
    try:
        if not python.exists():
            print("dev.py: first run: creating .venv and installing TensorFlow and friends "
                  "(about 2 GB to download, a few minutes)", flush=True)
            print("dev.py: [1/3] creating the virtual environment .venv", flush=True)
            try:
                venv.EnvBuilder(with_pip=True).create(VENV)
            except (OSError, subprocess.CalledProcessError) as exc:
                raise InstallFailed(
                    f"creating .venv failed ({exc}).\n  Fix: install Python's venv module "
                    "(Debian/Ubuntu: `sudo apt install python3-venv`), then `rm -rf .venv` and run the same command again."
                ) from None
        else:
            print("dev.py: requirements changed, updating .venv", flush=True)
        LOG.write_text("")
        _pip(python, ["install", "--upgrade", "pip"], "[2/3] upgrading pip")
        _pip(python, ["install", "-r", str(ROOT / "requirements-dev.txt"), "-e", str(ROOT)],
             "[3/3] installing the requirements and medlearn")
    except InstallFailed as exc:
        print(f"dev.py: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    STAMP.write_text(want + "\n")
    return python


def lessons(python: Path, rest: list, env: dict) -> int:
    """Student copies in work/ (only missing or unedited ones are written), then JupyterLab on them."""
    rc = subprocess.call([str(python), "-m", "medlearn", "lessons", str(WORK), "--student"], cwd=ROOT, env=env)
    if rc != 0:
        return rc
    cmd = [str(python), "-m", "jupyterlab", "--ip=127.0.0.1", f"--ServerApp.root_dir={WORK}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and cloud machines run as root; Jupyter refuses otherwise
    print(f"dev.py: starting JupyterLab on the student copies in {WORK} (Ctrl+C to stop)", flush=True)
    return subprocess.call(cmd + rest, cwd=ROOT, env=env)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in ("train", "test", "lessons", "medlearn"):
        print(f"dev.py: unknown command {command!r}; expected train, test, lessons or medlearn.\n{__doc__}", file=sys.stderr)
        return 2
    python = ensure_env()
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("PYTHONHASHSEED", "0")
    if command == "train":
        return subprocess.call([str(python), "-m", "medlearn", "train", *rest], cwd=ROOT, env=env)
    if command == "medlearn":
        return subprocess.call([str(python), "-m", "medlearn", *rest], cwd=ROOT, env=env)
    if command == "lessons":
        return lessons(python, rest, env)
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
