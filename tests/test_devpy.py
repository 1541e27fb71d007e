"""dev.py's set-up: supported Pythons, progress while pip runs, and a failed install that says what to do.

A copy of dev.py runs in a temporary folder whose ``.venv/bin/python`` is a fake: it "upgrades
pip" and then fails the requirements install the way pip fails offline, on an unsupported
platform or on a full disk. No network, no real pip.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(os.name == "nt", reason="the fake interpreter is a POSIX shell script")


def _dev_module():
    spec = importlib.util.spec_from_file_location("dev_under_test", ROOT / "dev.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("version", [(3, 9), (3, 14)])
def test_unsupported_python_exits_with_the_fix(version):
    with pytest.raises(SystemExit) as exc:
        _dev_module().check_python(version)
    assert "is not supported; use Python 3.10-3.13" in str(exc.value)


@pytest.mark.parametrize("version", [(3, 10), (3, 13)])
def test_supported_python_passes(version):
    _dev_module().check_python(version)


FAKE_PYTHON = """#!/bin/sh
case "$*" in
  *"--upgrade pip"*) echo "Requirement already satisfied: pip in ./.venv"; exit 0 ;;
esac
echo "Collecting tensorflow<2.22,>=2.16"
sleep 1.5
echo "$FAKE_PIP_ERROR" >&2
exit 1
"""


def _project(tmp_path: Path) -> Path:
    proj = tmp_path / "clone"
    proj.mkdir()
    for name in ("dev.py", "requirements.txt", "requirements-dev.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, proj / name)
    bindir = proj / ".venv" / "bin"
    bindir.mkdir(parents=True)
    fake = bindir / "python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    return proj


@pytest.mark.parametrize("error, what, fix", [
    ("ERROR: No matching distribution found for tensorflow<2.22,>=2.16",
     "a requirement has no release for this Python and platform", "use a supported Python"),
    ("WARNING: Retrying ... Failed to establish a new connection: [Errno 101] Network is unreachable",
     "pip could not reach the package index", "connect to the internet"),
    ("ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device",
     "the disk is full", "free some space"),
    ("ERROR: something else entirely", "pip failed", "read the log above"),
])
def test_failed_install_says_what_failed_and_what_to_do(tmp_path, error, what, fix):
    proj = _project(tmp_path)
    env = dict(os.environ, FAKE_PIP_ERROR=error, MEDLEARN_DEV_HEARTBEAT_S="0.5")
    run = subprocess.run([sys.executable, str(proj / "dev.py"), "medlearn", "doctor"], cwd=proj, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1, run
    assert "[2/3] upgrading pip: done" in run.stdout
    assert "[3/3] installing the requirements and medlearn ..." in run.stdout
    assert "s: Collecting tensorflow" in run.stdout, f"no heartbeat line:\n{run.stdout}"
    assert f"failed: {what}" in run.stderr and f"Fix: {fix}" in run.stderr, run.stderr
    assert error in run.stderr, "the end of pip's log must be shown"
    assert "Traceback" not in run.stderr
    log = proj / ".venv" / "pip-install.log"
    assert error in log.read_text() and str(log) in run.stderr
    assert not (proj / ".venv" / ".medlearn-stamp").exists(), "a failed install must not be marked done"


def test_lessons_builds_student_copies_then_starts_jupyterlab_on_localhost(monkeypatch, tmp_path):
    dev = _dev_module()
    calls = []
    monkeypatch.setattr(dev.subprocess, "call", lambda cmd, **kw: calls.append(cmd) or 0)
    monkeypatch.setattr(dev, "WORK", tmp_path / "work")
    monkeypatch.setattr(dev.os, "geteuid", lambda: 0)
    assert dev.lessons(Path(sys.executable), ["--no-browser"], {}) == 0
    copy, lab = calls
    assert copy[1:] == ["-m", "medlearn", "lessons", str(tmp_path / "work"), "--student"]
    assert lab[1:3] == ["-m", "jupyterlab"] and "--ip=127.0.0.1" in lab
    assert f"--ServerApp.root_dir={tmp_path / 'work'}" in lab
    assert "--allow-root" in lab and lab[-1] == "--no-browser"
    calls.clear()
    monkeypatch.setattr(dev.os, "geteuid", lambda: 1000)
    dev.lessons(Path(sys.executable), [], {})
    assert "--allow-root" not in calls[1]


def test_lessons_stops_when_the_copies_fail(monkeypatch, tmp_path):
    dev = _dev_module()
    calls = []
    monkeypatch.setattr(dev.subprocess, "call", lambda cmd, **kw: calls.append(cmd) or 1)
    assert dev.lessons(Path(sys.executable), [], {}) == 1 and len(calls) == 1


def test_heartbeat_names_the_step_pip_is_in(tmp_path):
    dev = _dev_module()
    log = tmp_path / "pip.log"
    log.write_text("Collecting numpy\nDownloading numpy-2.0.whl (15 MB)\n")
    assert dev._last_activity(log) == "Downloading numpy-2.0.whl (15 MB)"
    log.write_text("Installing collected packages: a, b, tensorflow\n")
    assert dev._last_activity(log).startswith("unpacking 3 packages into .venv")
    assert dev._last_activity(tmp_path / "missing.log") == ""
