"""The sandbox's guards one by one, each shown on and (where it can be) off.

Jobs are run straight through :func:`medlearn.grading.sandbox.run_job`; the
child prints what it observed (a ``SEEN {json}`` line) and the test reads it from
the run's log (the working folder is the child's private tmpfs: nothing written
there reaches the host).
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import sys
import time
from pathlib import Path

import pytest

from medlearn.grading import sandbox
from medlearn.grading.sandbox import Limits, run_job

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the full sandbox is Linux-only (SANDBOX.md)")


DEGRADED_OK = Limits(timeout=30, allow_degraded=True)  # runs that switch a guard off on purpose


def _run(tmp_path, code, *, limits=Limits(timeout=30), **kwargs):
    work = tmp_path / f"work-{secrets.token_hex(3)}"
    work.mkdir()
    job = {"nonce": secrets.token_hex(8), "steps": [{"kind": "code", "source": code, "where": "cell 0"}]}
    result = run_job(job, work, limits, **kwargs)
    lines = [line for line in result.log.splitlines() if line.startswith("SEEN ")]
    return result, (json.loads(lines[-1][5:]) if lines else None)


PROBE_READ = '''import json, os
out = {}
for path in {paths!r}:
    try:
        with open(path) as fh:
            out[path] = fh.read()
    except OSError as exc:
        out[path] = type(exc).__name__
    try:
        out[path + ":listing"] = sorted(os.listdir(os.path.dirname(path)))
    except OSError as exc:
        out[path + ":listing"] = type(exc).__name__
print("SEEN " + json.dumps(out))
'''


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def secret():
    """A solution file outside every covered folder, readable by any user (as a course folder often is)."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix=".sandbox-test-course-", dir=ROOT))
    folder.chmod(0o755)
    path = folder / "solutions.ipynb"
    path.write_text("THE SOLUTION")
    path.chmod(0o644)
    yield path
    shutil.rmtree(folder, ignore_errors=True)


def test_files_outside_the_allow_list_are_unreadable(tmp_path, secret):
    result, seen = _run(tmp_path, PROBE_READ.replace("{paths!r}", repr([str(secret)])))
    assert "landlock" in result.sandbox and "namespaces" in result.sandbox
    assert seen[str(secret)] != "THE SOLUTION"


def test_landlock_alone_blocks_reading(tmp_path, secret):
    result, seen = _run(tmp_path, PROBE_READ.replace("{paths!r}", repr([str(secret)])))  # no hide_* given
    if "landlock" not in result.sandbox:
        pytest.skip("this kernel has no Landlock")
    assert seen[str(secret)] == "PermissionError"
    assert seen[str(secret) + ":listing"] == "PermissionError"


def test_mount_hiding_alone_blocks_reading(tmp_path, secret, monkeypatch):
    monkeypatch.setattr(sandbox, "landlock_rules", lambda *a, **k: None)
    result, seen = _run(tmp_path, PROBE_READ.replace("{paths!r}", repr([str(secret)])), hide_dirs=[secret.parent],
                        hide_files=[secret], limits=DEGRADED_OK)
    assert "namespaces" in result.sandbox.split("+") and "landlock" not in result.sandbox
    assert seen[str(secret)] in ("", "FileNotFoundError")
    assert seen[str(secret) + ":listing"] in ([], "FileNotFoundError")


def test_without_either_guard_the_file_is_readable(tmp_path, secret, monkeypatch):
    """The control: proves the two tests above would fail without their guard."""
    monkeypatch.setattr(sandbox, "landlock_rules", lambda *a, **k: None)
    _, seen = _run(tmp_path, PROBE_READ.replace("{paths!r}", repr([str(secret)])), limits=DEGRADED_OK)
    assert seen[str(secret)] == "THE SOLUTION"


def test_writes_outside_the_working_folder_are_refused(tmp_path, secret):
    code = f'''import json
try:
    open({str(secret)!r}, "w").write("forged")
    ok = "written"
except OSError as exc:
    ok = type(exc).__name__
print("SEEN " + json.dumps({{"write": ok}}))
'''
    _, seen = _run(tmp_path, code)
    assert seen["write"] != "written" and secret.read_text() == "THE SOLUTION"


def test_no_network_not_even_localhost(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    code = f'''import json, socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
    r = "connected"
except OSError as exc:
    r = type(exc).__name__
print("SEEN " + json.dumps({{"net": r}}))
'''
    try:
        _, seen = _run(tmp_path, code)
    finally:
        server.close()
    assert seen["net"] != "connected"


def test_the_child_cannot_see_or_signal_the_grader(tmp_path):
    code = '''import json, os, signal
r = {"ppid": os.getppid(), "pid": os.getpid()}
try:
    os.kill(%d, 0)
    r["signal"] = "delivered"
except OSError as exc:
    r["signal"] = type(exc).__name__
print("SEEN " + json.dumps(r))
''' % os.getpid()
    _, seen = _run(tmp_path, code)
    assert seen["ppid"] == 0 and seen["pid"] == 1
    assert seen["signal"] != "delivered"


def test_environment_is_scrubbed(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDLEARN_GRADING_SECRET", "x")
    monkeypatch.setenv("MEDLEARN_FAST", "1")
    _, seen = _run(tmp_path, 'import json, os\nprint("SEEN " + json.dumps(dict(os.environ)))')
    assert "MEDLEARN_GRADING_SECRET" not in seen and seen.get("MEDLEARN_FAST") == "1"
    assert "PYTHONPATH" not in seen


def test_timeout_kills_the_whole_tree(tmp_path):
    code = '''import subprocess, sys, json, os
p = subprocess.Popen([sys.executable, "-c", "import os, time; os.setsid(); time.sleep(300)"])
open("child.pid", "w").write(str(p.pid))
while True:
    pass
'''
    start = time.monotonic()
    result, _ = _run(tmp_path, code, limits=Limits(timeout=4))
    assert result.timed_out and time.monotonic() - start < 30
    # the grandchild lived in the sandbox's PID namespace, which died with it
    time.sleep(0.5)
    leftovers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmd(p).endswith("time.sleep(300)")]
    assert leftovers == []


def _cmd(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def test_memory_limit(tmp_path):
    code = '''import json
try:
    block = bytearray(3 * 2**30)
    r = "allocated"
except MemoryError:
    r = "MemoryError"
print("SEEN " + json.dumps({"mem": r}))
'''
    _, seen = _run(tmp_path, code, limits=Limits(timeout=30, memory_mb=1024))
    assert seen["mem"] == "MemoryError"


def test_exit_codes_are_reported(tmp_path):
    result, _ = _run(tmp_path, "import os\nos._exit(3)")
    assert result.returncode == 3
    result, _ = _run(tmp_path, "import sys\nsys.exit(5)")  # caught like in a notebook
    assert result.returncode == 0


def test_raw_devices_are_out_of_reach(tmp_path):
    code = '''import json, os
r = {}
for dev in sorted(os.listdir("/dev")) if os.path.isdir("/dev") else []:
    path = "/dev/" + dev
    if dev in ("null", "zero", "full", "random", "urandom", "tty", "shm", "stdin", "stdout", "stderr", "fd") or not os.path.exists(path):
        continue
    try:
        with open(path, "rb") as fh:
            fh.read(1)
        r[dev] = "read"
    except OSError as exc:
        r[dev] = type(exc).__name__
r["urandom"] = len(open("/dev/urandom", "rb").read(4))
print("SEEN " + json.dumps(r))
'''
    result, seen = _run(tmp_path, code, limits=Limits(timeout=30))
    if "landlock" not in result.sandbox:
        pytest.skip("this kernel has no Landlock")
    assert seen.pop("urandom") == 4
    assert "read" not in seen.values(), {k: v for k, v in seen.items() if v == "read"}
