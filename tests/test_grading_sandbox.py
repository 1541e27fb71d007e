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


def _uncovered_folder() -> Path:
    """A writable folder under none of the sandbox's covers: the checkout, unless it was cloned into /tmp (CI)."""
    from medlearn.grading.isolation import COVERED, _under

    def covered(path: Path) -> bool:
        return any(_under(os.path.realpath(path), os.path.realpath(c)) for c in COVERED)

    for candidate in (ROOT, Path("/var/lib"), Path("/var/cache"), Path("/usr/local/share")):
        if candidate.is_dir() and not covered(candidate) and os.access(candidate, os.W_OK):
            return candidate
    pytest.skip("no writable folder outside the sandbox's covers to put a course folder in")


@pytest.fixture
def secret():
    """A solution file outside every covered folder, readable by any user (as a course folder often is)."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix=".sandbox-test-course-", dir=_uncovered_folder()))
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


# ----------------------------------------------------------------------------- issue 17: the holes, one by one
import threading  # noqa: E402

from medlearn.grading import channel as chan  # noqa: E402
from medlearn.grading import privileges, safeio  # noqa: E402

ROOT_GRADER = sys.platform.startswith("linux") and os.geteuid() == 0
root_only = pytest.mark.skipif(not ROOT_GRADER, reason="simulates degraded hosts from a root grader")


def _bounded(fn, seconds):
    """Run ``fn`` in a thread; fail (instead of hanging the suite) when it does not return in time."""
    box = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"the grader side blocked for more than {seconds} s"
    if "error" in box:
        raise box["error"]
    return box["value"]


SWAP_FILES = '''import os
names = ["log.txt", "events.jsonl", "check_0.json", "out_0_0_0.npy"]
for folder in [".", *[d for d in os.listdir(".") if os.path.isdir(d)]]:
    for name in names:
        path = os.path.join(folder, name)
        try:
            os.unlink(path)
        except OSError:
            pass
        os.mkfifo(path)
for name in ("link_passwd", "cases_0.json.swap"):
    os.symlink("/etc/passwd", name)
print("SEEN {}")
'''


def test_fifo_and_symlink_swaps_cannot_block_or_redirect_the_grader(tmp_path):
    result, seen = _bounded(lambda: _run(tmp_path, SWAP_FILES, limits=Limits(timeout=20)), 40)
    assert seen == {} and result.returncode == 0 and not result.timed_out
    assert result.events[-1]["event"] == "done"


def test_untrusted_files_are_opened_without_following_links_or_blocking(tmp_path):
    os.mkfifo(tmp_path / "fifo.json")
    (tmp_path / "link.json").symlink_to(tmp_path / "real.json")
    (tmp_path / "real.json").write_text("[]")
    for name in ("fifo.json", "link.json"):
        with pytest.raises((OSError, ValueError)):
            _bounded(lambda: safeio.read_json(tmp_path / name), 5)
    import numpy as np

    np.save(tmp_path / "secret.npy", np.zeros((7, 3)))
    (tmp_path / "out.npy").symlink_to(tmp_path / "secret.npy")  # would leak the shape (7, 3) through a hint
    with pytest.raises((OSError, ValueError)):
        safeio.safe_load_npy(tmp_path / "out.npy")
    os.mkfifo(tmp_path / "pipe.npy")
    with pytest.raises((OSError, ValueError)):
        _bounded(lambda: safeio.safe_load_npy(tmp_path / "pipe.npy"), 5)


def _frames(results, k=0):
    r, w = os.pipe()
    data = bytearray()
    writer = chan.Writer(w)
    done = threading.Event()

    def drain():
        while True:
            chunk = os.read(r, 2**16)
            if not chunk:
                break
            data.extend(chunk)
        done.set()

    threading.Thread(target=drain, daemon=True).start()
    writer.outputs(k, results)
    os.close(w)
    done.wait(10)
    os.close(r)
    return bytes(data)


def test_result_stream_caps_total_bytes_keys_and_dtypes():
    import numpy as np

    block = np.zeros(2**17)  # 1 MiB, listed under many keys: each key costs its own bytes now
    stream = _frames([{f"k{j}": block for j in range(6)}])
    reader = chan.Reader(chan.Caps(total_bytes=4 * 2**20))
    with pytest.raises(chan.ChannelError, match="more than"):
        reader.feed(stream)
    assert reader.outputs(0, 1) is None
    reader = chan.Reader(chan.Caps(keys_per_case=3))
    with pytest.raises(chan.ChannelError, match="outputs for one case"):
        reader.feed(_frames([{f"k{j}": np.zeros(2) for j in range(4)}]))
    ok = chan.Reader()
    ok.feed(_frames([{"y": np.arange(3.0)}, {"__error__": "ValueError: no"}]))
    out = ok.outputs(0, 2)
    assert out[0]["y"].tolist() == [0.0, 1.0, 2.0] and out[1] == {"__error__": "ValueError: no"}
    forged = bytearray(_frames([{"y": np.zeros(2)}]))
    forged = forged.replace(b'"<f8"', b'"|O8"')
    with pytest.raises(chan.ChannelError, match="not a plain numeric"):
        chan.Reader().feed(bytes(forged))


FLOOD_CHANNEL = '''import os, stat
import numpy as np
from medlearn.grading.channel import Writer
def _pipes():
    found = []
    for fd in map(int, os.listdir("/proc/self/fd")):
        try:
            if fd > 2 and stat.S_ISFIFO(os.fstat(fd).st_mode):
                found.append(fd)
        except OSError:
            pass
    return found
fds = _pipes()
big = np.zeros(2**20)  # 8 MiB per key
for fd in fds:
    try:
        Writer(fd).outputs(0, [{f"k{j}": big for j in range(12)}] * 3)
    except OSError:
        pass
'''


def test_flooding_the_result_channel_is_cut_off_at_the_cap(tmp_path):
    result, _ = _run(tmp_path, FLOOD_CHANNEL, limits=Limits(timeout=30, results_mb=16))
    assert result.killed == "results" and "more than" in result.detail
    assert result.check_outputs(0, 3) is None


UNIX_CONNECT = '''import json, socket
r = {}
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(3)
    s.connect({path!r})
    r["unix"] = s.recv(100).decode()
except OSError as exc:
    r["unix"] = type(exc).__name__
for fam in ("AF_NETLINK", "AF_PACKET", "AF_VSOCK"):
    try:
        socket.socket(getattr(socket, fam), socket.SOCK_RAW if fam != "AF_VSOCK" else socket.SOCK_STREAM).close()
        r[fam] = "created"
    except (OSError, AttributeError) as exc:
        r[fam] = type(exc).__name__
a, b = socket.socketpair()
a.sendall(b"ok")
r["socketpair"] = b.recv(2).decode()
print("SEEN " + json.dumps(r))
'''


def test_unix_sockets_and_other_families_are_refused(tmp_path):
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix=".sandbox-test-sock-", dir=_uncovered_folder()))
    folder.chmod(0o777)
    path = str(folder / "agent.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    os.chmod(path, 0o777)
    server.listen(4)

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"SECRET-FROM-THE-HOST")

    threading.Thread(target=serve, daemon=True).start()
    try:
        _, seen = _run(tmp_path, UNIX_CONNECT.replace("{path!r}", repr(path)))
        control = socket.socket(socket.AF_UNIX)
        control.connect(path)  # the server works: only the sandbox is cut off from it
        assert control.recv(100) == b"SECRET-FROM-THE-HOST"
        control.close()
    finally:
        server.close()
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    assert seen["unix"] != "SECRET-FROM-THE-HOST"
    assert all(seen[f] != "created" for f in ("AF_NETLINK", "AF_PACKET", "AF_VSOCK")), seen
    assert seen["socketpair"] == "ok"


SECRETS_PROBE = '''import json, os
r = {}
for path in ("/etc/shadow", "/etc/gshadow"):
    try:
        r[path] = open(path).read()[:40]
    except OSError as exc:
        r[path] = type(exc).__name__
for folder in ("/opt", "/root", "/home", "/run", "/var/run", "/tmp"):
    try:
        r[folder] = [n for n in os.listdir(folder) if n not in os.getcwd()]
    except OSError as exc:
        r[folder] = type(exc).__name__
print("SEEN " + json.dumps(r))
'''


def test_shadow_opt_home_run_tmp_are_out_of_reach(tmp_path):
    _, seen = _run(tmp_path, SECRETS_PROBE)
    for path in ("/etc/shadow", "/etc/gshadow"):
        assert seen[path] in ("", "PermissionError", "FileNotFoundError", "IsADirectoryError"), seen[path]
        if os.path.exists(path) and os.access(path, os.R_OK) and os.path.getsize(path):
            assert seen[path] == "" or seen[path].endswith("Error")  # the grader could read it, the child cannot
    for folder in ("/opt", "/root", "/home", "/run", "/var/run", "/tmp"):
        assert seen[folder] in ([], "PermissionError", "FileNotFoundError"), (folder, seen[folder])


PRIVILEGES_PROBE = '''import ctypes, json, os, socket
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
r = {k: int(status[k].strip(), 16) for k in ("CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb")}
r["uid_map"] = open("/proc/self/uid_map").read().split() if os.path.exists("/proc/self/uid_map") else []
r["host_uid"] = int(status["Uid"].split()[0])
try:
    socket.sethostname("pwned")
    r["sethostname"] = "done"
except OSError as exc:
    r["sethostname"] = type(exc).__name__
try:
    os.mknod("dev0", 0o600 | 0o020000, os.makedev(1, 3))
    r["mknod"] = "done"
except OSError as exc:
    r["mknod"] = type(exc).__name__
libc = ctypes.CDLL(None, use_errno=True)
r["unshare"] = libc.unshare(0x10000000)
r["nice"] = os.nice(0)
print("SEEN " + json.dumps(r))
'''


def _assert_unprivileged(seen):
    assert all(seen[k] == 0 for k in ("CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb")), seen
    identity = seen["uid_map"] == ["0", "0", "4294967295"]  # no user namespace: the status Uid is the host's
    outer = seen["host_uid"] if identity or not seen["uid_map"] else int(seen["uid_map"][1])
    if ROOT_GRADER:
        assert outer >= privileges.UID_BASE  # a dedicated uid on the host, never 0
    assert seen["sethostname"] != "done" and seen["mknod"] != "done" and seen["unshare"] == -1
    assert seen["nice"] >= 10  # below the grader


def test_student_code_runs_without_any_privilege(tmp_path):
    result, seen = _run(tmp_path, PRIVILEGES_PROBE)
    assert "userns" in result.sandbox and not result.degraded
    _assert_unprivileged(seen)
    assert socket.gethostname() != "pwned"


# Degraded hosts, simulated: the runner is started under a seccomp filter (or setpriv) that refuses a step.
SECCOMP_WRAPPER = '''import errno, os, sys
import pyseccomp as sc
f = sc.SyscallFilter(sc.ALLOW)
if {what!r} == "userns":
    f.add_rule(sc.ERRNO(errno.EPERM), "unshare", sc.Arg(0, sc.MASKED_EQ, 0x10000000, 0x10000000))
    f.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, 0x10000000, 0x10000000))
else:
    f.add_rule(sc.ERRNO(errno.ENOSYS), "landlock_create_ruleset")
f.load()
os.execv(sys.argv[1], sys.argv[1:])
'''


def _degrade(monkeypatch, what):
    original = sandbox._command
    if what == "caps":
        prefix = ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
        monkeypatch.setattr(sandbox, "_command", lambda hide: prefix + original(hide))
    else:
        wrapper = [sys.executable, "-c", SECCOMP_WRAPPER.replace("{what!r}", repr(what))]
        monkeypatch.setattr(sandbox, "_command", lambda hide: wrapper + original(hide))


@root_only
@pytest.mark.parametrize("what", ["userns", "landlock"])
def test_a_degraded_sandbox_is_refused_unless_allowed(tmp_path, monkeypatch, secret, what):
    pytest.importorskip("pyseccomp")
    _degrade(monkeypatch, what)
    probe = PROBE_READ.replace("{paths!r}", repr([str(secret)]))
    result, seen = _run(tmp_path, probe)
    assert result.refused and result.degraded and seen is None  # nothing of the student's ran
    assert result.events == [{"event": "refused", "sandbox": result.sandbox}]
    missing = "userns" if what == "userns" else "landlock"
    assert missing not in result.sandbox
    result, seen = _run(tmp_path, probe, limits=DEGRADED_OK)
    assert not result.refused and result.degraded and result.sandbox == result.events[0]["sandbox"]
    if what == "landlock":  # the honest label: without Landlock a readable copy elsewhere is readable
        assert seen[str(secret)] == "THE SOLUTION"


@root_only
def test_without_a_user_namespace_the_child_is_still_unprivileged(tmp_path, monkeypatch):
    pytest.importorskip("pyseccomp")
    _degrade(monkeypatch, "userns")
    result, seen = _run(tmp_path, PRIVILEGES_PROBE, limits=DEGRADED_OK)
    assert "userns" not in result.sandbox and "namespaces" in result.sandbox and result.degraded
    _assert_unprivileged(seen)
    assert socket.gethostname() != "pwned"


@root_only
def test_root_without_capabilities_fails_closed(tmp_path, monkeypatch):
    if not shutil_which("setpriv"):
        pytest.skip("no setpriv")
    _degrade(monkeypatch, "caps")
    result, seen = _run(tmp_path, PRIVILEGES_PROBE, limits=DEGRADED_OK)
    assert seen is None and result.returncode == 70  # EXIT_ISOLATION: uid 0 still owns root's files
    assert "could not drop" in result.log


def shutil_which(name):
    import shutil

    return shutil.which(name)


MEMORY_HELPERS = '''import subprocess, sys, time
code = "import time; b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(30)"
procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(5)]
time.sleep(25)
print("SEEN {\\"survived\\": true}")
'''


def test_memory_is_limited_for_the_whole_tree(tmp_path):
    result, seen = _run(tmp_path, MEMORY_HELPERS, limits=Limits(timeout=40, memory_mb=768))
    assert result.killed == "memory" and seen is None, (result.killed, result.peak_memory_mb)
    assert result.peak_memory_mb > 768


FORK_MANY = '''import json, os, time
pids, error = [], ""
for _ in range(400):
    try:
        pid = os.fork()
    except OSError as exc:
        error = type(exc).__name__
        break
    if pid == 0:
        time.sleep(20)
        os._exit(0)
    pids.append(pid)
print("SEEN " + json.dumps({"forked": len(pids), "error": error}))
'''


def test_process_count_is_limited(tmp_path):
    _, seen = _run(tmp_path, FORK_MANY, limits=Limits(timeout=30, nproc=64))
    assert seen["error"] == "BlockingIOError" and seen["forked"] < 64, seen


ESCAPE = '''import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)  # medlearn-escapee"])
    os._exit(0)
time.sleep(1.0)
'''


def test_no_process_outlives_the_run(tmp_path):
    result, _ = _run(tmp_path, ESCAPE)
    time.sleep(0.5)
    leftovers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and "medlearn-escapee" in _cmd(p)]
    assert result.returncode == 0 and leftovers == []


SHM_AND_FILES = '''import json, os
r = {}
try:
    with open("/dev/shm/keep", "wb") as fh:
        fh.write(b"x" * (150 * 2**20))
    r["shm"] = "written"
except OSError as exc:
    r["shm"] = type(exc).__name__
os.mkdir("locked")
open("locked/f", "wb").write(b"y" * 2**20)
os.chmod("locked", 0)
n = 0
try:
    os.mkdir("many")
    for n in range(50000):
        open(f"many/{n}", "w").close()
except OSError as exc:
    r["files"] = type(exc).__name__
r["n"] = n
print("SEEN " + json.dumps(r))
'''


def test_writes_do_not_outlive_the_run(tmp_path):
    before = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
    work = tmp_path / "work-shm"
    work.mkdir()
    job = {"nonce": secrets.token_hex(8), "steps": [{"kind": "code", "source": SHM_AND_FILES, "where": "cell 0"}]}
    start = time.monotonic()
    result = run_job(job, work, Limits(timeout=40))
    seen = json.loads([x for x in result.log.splitlines() if x.startswith("SEEN ")][-1][5:])
    assert seen["shm"] != "written"  # /dev/shm is a private 64 MiB tmpfs
    assert seen["n"] < 50000 and seen["files"] == "OSError"  # the work tmpfs has an inode cap
    assert set(os.listdir("/dev/shm")) - before == set() if os.path.isdir("/dev/shm") else True
    assert sorted(p.name for p in work.iterdir()) == []  # nothing reached the host's folder
    assert time.monotonic() - start < 40


def test_force_rmtree_resets_permissions_first(tmp_path):
    locked = tmp_path / "w" / "locked" / "deeper"
    locked.mkdir(parents=True)
    (locked / "f").write_bytes(b"x")
    locked.chmod(0)
    locked.parent.chmod(0)
    safeio.force_rmtree(tmp_path / "w")
    assert not (tmp_path / "w").exists()


SETTRACE_LOOP = '''import sys, time
def busy():
    sys.settrace(None)
    t = time.process_time()
    while time.process_time() - t < 3.0:
        pass
'''


def test_check_cpu_time_is_measured_from_outside(tmp_path):
    work = tmp_path / "work-cpu"
    work.mkdir()
    steps = [{"kind": "code", "source": SETTRACE_LOOP + "busy()\n", "where": "cell 0"}]
    # a check-like window the supervisor times: opened and closed by the runner's own events
    job = {"nonce": "n", "steps": steps}
    code = SETTRACE_LOOP + '''
from medlearn.grading.channel import Writer
import os, stat
fd = None
for f in map(int, os.listdir("/proc/self/fd")):
    try:
        if f > 2 and stat.S_ISFIFO(os.fstat(f).st_mode):
            fd = f
    except OSError:
        pass
Writer(fd).event(event="check-start", k=0)
busy()
Writer(fd).event(event="check", k=0)
'''
    job["steps"] = [{"kind": "code", "source": code, "where": "cell 0"}]
    result = run_job(job, work, Limits(timeout=30))
    # 3 s of CPU inside the window; the grader samples when it reads the events, so allow for its lag
    assert 1.0 <= result.check_cpu.get(0, 0) < 20, result.check_cpu


DISARM = '''import signal, time
signal.setitimer(signal.ITIMER_REAL, 0)
signal.signal(signal.SIGALRM, signal.SIG_IGN)
'''


def test_a_check_budget_is_enforced_by_the_grader(tmp_path):
    import numpy as np

    from medlearn.grading.safeio import save_cases

    sys.path.insert(0, str(ROOT / "tests"))
    from attacks import demo_exercises  # noqa: F401  (registers demo.*)

    work = tmp_path / "work-budget"
    work.mkdir()
    manifest = save_cases([{"z": np.zeros(3)}], work, "cases_0")
    slow = "import signal, time\ndef sigmoid(z):\n    signal.setitimer(signal.ITIMER_REAL, 0)\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    time.sleep(60)\n"
    job = {"nonce": "n", "imports": ["attacks.demo_exercises"], "sys_path": [str(ROOT / "tests")], "steps": [
        {"kind": "code", "source": "import numpy as np\n" + slow, "where": "exercise cell 1"},
        {"kind": "check", "k": 0, "expr": "sigmoid", "exercise": "demo.sigmoid", "cases": manifest,
         "where": "check demo.sigmoid", "timeout": 2.0}]}
    start = time.monotonic()
    result = run_job(job, work, Limits(timeout=40))
    assert result.killed == "check-timeout" and result.overrun == [0]
    assert time.monotonic() - start < 15


def test_cgroup_v2_limits_are_written_where_a_cgroup_is_delegated(tmp_path, monkeypatch):
    from medlearn.grading import cgroups

    assert cgroups.delegated_parent({}) is None  # nothing delegated: the uid + supervisor fallback
    parent = tmp_path / "delegated"
    parent.mkdir()
    (parent / "cgroup.subtree_control").write_text("cpu memory pids\n")
    assert cgroups.delegated_parent({"MEDLEARN_GRADING_CGROUP": str(parent)}) == parent
    (parent / "cgroup.subtree_control").write_text("cpu pids\n")  # no memory controller: not usable
    assert cgroups.delegated_parent({"MEDLEARN_GRADING_CGROUP": str(parent)}) is None
    group = cgroups.Cgroup(parent, memory_mb=512, nproc=64, cpus=1)
    assert (group.path / "memory.max").read_text() == str(512 * 2**20)
    assert (group.path / "pids.max").read_text() == "64"
    assert (group.path / "cpu.max").read_text() == "100000 100000"
    group.add(12345)
    assert group.pids() == [12345]
    group.remove()
    assert not group.path.exists()


BURNERS = '''import json, os, subprocess, sys
burn = "import os, time\\ntry:\\n    os.setsid()\\nexcept OSError:\\n    pass\\nt = time.time()\\nwhile time.time() - t < 5:\\n    pass"
procs = [subprocess.Popen([sys.executable, "-c", burn]) for _ in range(6)]
for p in procs:
    p.wait()
t = os.times()
print("SEEN " + json.dumps({"cpu": t.children_user + t.children_system}))
'''
CLASSMATE = '''import json, time
time.sleep(1.0)  # the burners are running by now
t = time.time()
while time.time() - t < 4:
    pass
print("SEEN " + json.dumps({"cpu": time.process_time()}))
'''


@pytest.mark.skipif(not Path("/proc/sys/kernel/sched_autogroup_enabled").exists()
                    or Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() != "1",
                    reason="fair CPU shares between submissions come from a cgroup's cpu.max or the kernel's autogroups")
def test_many_busy_processes_do_not_starve_a_classmate(tmp_path):
    box = {}
    threads = [threading.Thread(target=lambda key=key, code=code: box.setdefault(key, _run(tmp_path, code)))
               for key, code in (("burners", BURNERS), ("classmate", CLASSMATE))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    burners, classmate = box["burners"][1]["cpu"], box["classmate"][1]["cpu"]
    # one scheduler group each: the six burners together get about what the classmate's one process gets
    # (without it they would get six times as much); the machine's other load hits both alike
    assert burners < 3.0 * classmate + 1.0, (burners, classmate)


HIDE_AND_ALLOCATE = '''import ctypes, os, time
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: /proc/PID now belongs to root, not to the uid
for _ in range({forks}):
    os.fork()
block = bytearray(350 * 2**20)
block[::4096] = b"x" * len(block[::4096])
time.sleep(15)
print("SEEN {{}}")
'''


def test_the_memory_supervisor_cannot_be_hidden_from(tmp_path):
    limits = Limits(timeout=40, memory_mb=600)
    result, _ = _run(tmp_path, HIDE_AND_ALLOCATE.format(forks=0), limits=limits)  # 350 MiB: within the limit
    assert result.killed == "" and result.timings.get("done"), result.killed
    result, seen = _run(tmp_path, HIDE_AND_ALLOCATE.format(forks=1), limits=limits)  # 2 x 350 MiB, hidden
    assert result.killed == "memory" and seen is None, (result.killed, result.peak_memory_mb)
