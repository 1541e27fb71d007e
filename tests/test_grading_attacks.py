"""Every threat of DESIGN.md section 6, attacked through a submitted notebook.

The attack notebooks (tests/attacks/*.ipynb, built by tests/attacks/catalog.py)
are graded in one batch next to an honest correct submission, the untouched
student copy and broken files. Each test shows that the attack scores nothing
with ``medlearn grade`` and, where that is meaningful, that it *does* fool a
naive in-process autograder (tests/attacks/naive.py) - so removing the
defence makes the test fail.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from attacks import catalog, demo_exercises  # noqa: E402,F401  (registers demo.*)

from medlearn.grading import Limits, grade  # noqa: E402

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the full sandbox is Linux-only (SANDBOX.md)")
SENTINEL = "MEDLEARN_GRADER_SENTINEL_TOKEN"
TIMEOUT = 25.0


class _SolutionServer:
    """A local TCP server handing out the correct answer: what a network attack would fetch."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.served = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.sendall(catalog.GOOD_SIGMOID.encode())
                self.served += 1


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("attacks")
    (root / "instructor").mkdir()
    subs = root / "submissions"
    subs.mkdir()
    source = root / "instructor" / "source.ipynb"
    nbformat.write(catalog.source_notebook(), source)
    server = _SolutionServer()
    out = root / "out"
    notebooks = catalog.attacks(port=server.port, out=str(out))
    notebooks["t12_env_probe"] = catalog._edit({"ex-sigmoid": catalog.ENV_PROBE})
    notebooks["honest"] = catalog.source_notebook()
    notebooks["untouched"] = catalog.student_notebook()
    for name, nb in notebooks.items():
        nbformat.write(nb, subs / f"{name}.ipynb")
    (subs / "broken_json.ipynb").write_text('{"cells": [')
    (subs / "not_a_notebook.ipynb").write_text('{"hello": "world"}')
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), subs / "wrong_notebook.ipynb")
    os.environ[SENTINEL] = "1"
    try:
        start = time.monotonic()
        frame = grade(source, subs, out, jobs=2, limits=Limits(timeout=TIMEOUT, memory_mb=1536), progress=False)
        wall = time.monotonic() - start
    finally:
        del os.environ[SENTINEL]
    rows = {r["student"]: r for r in frame.to_dict("records")}
    return {"root": root, "subs": subs, "out": out, "rows": rows, "frame": frame, "wall": wall,
            "server": server, "source": source}


def _naive(path: Path, root: Path) -> dict:
    """Run the naive in-process autograder on one notebook (in a subprocess: attacks patch their interpreter).

    It runs in a scratch folder under ``root`` holding a decoy ``grades/results`` folder.
    """
    cwd = root / "naive"
    (cwd / "grades" / "results").mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, str(Path(catalog.__file__).with_name("naive.py")), str(path)],
                          capture_output=True, text=True, timeout=120, cwd=cwd)
    line = [x for x in proc.stdout.splitlines() if x.startswith("NAIVE ")]
    assert line, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(line[-1][6:])


def _result(batch, student) -> dict:
    return json.loads((batch["out"] / "results" / f"{student}.json").read_text())


def test_honest_full_marks_untouched_zero(batch):
    rows = batch["rows"]
    assert rows["honest"]["score"] == rows["honest"]["max_score"] == 4.0
    assert rows["honest"]["status"] == "graded"
    assert rows["untouched"]["score"] == 0.0 and rows["untouched"]["status"] == "graded"
    assert "NotImplementedError" in (batch["out"] / "feedback" / "untouched.md").read_text()


def test_one_broken_submission_never_stops_the_batch(batch):
    rows = batch["rows"]
    assert len(rows) == len(list(batch["subs"].glob("*.ipynb")))
    assert rows["broken_json"]["status"] == "invalid" and "JSON" in rows["broken_json"]["reason"]
    assert rows["not_a_notebook"]["status"] == "invalid" and "cells" in rows["not_a_notebook"]["reason"]
    assert rows["wrong_notebook"]["status"] == "invalid" and "exercise cells" in rows["wrong_notebook"]["reason"]
    for name in ("broken_json", "not_a_notebook", "wrong_notebook"):
        assert rows[name]["score"] == 0.0
        assert (batch["out"] / "feedback" / f"{name}.md").exists()


def test_t01_edited_and_deleted_check_cells(batch):
    assert batch["rows"]["t01_edit_checks"]["score"] == 0.0
    assert _naive(batch["subs"] / "t01_edit_checks.ipynb", batch["root"])["printed"]["demo.sigmoid"]


def test_t02_stored_fake_outputs(batch):
    assert batch["rows"]["t02_fake_outputs"]["score"] == 0.0
    assert all(_naive(batch["subs"] / "t02_fake_outputs.ipynb", batch["root"])["stored"].values())


def test_t03_always_equal_objects(batch):
    assert batch["rows"]["t03_always_equal"]["score"] == 0.0
    assert _naive(batch["subs"] / "t03_always_equal.ipynb", batch["root"])["asserts"]["demo.sigmoid"]
    feedback = (batch["out"] / "feedback" / "t03_always_equal.md").read_text()
    assert "not numeric" in feedback  # copied into a plain array, the object is refused


def test_t04_monkeypatched_numpy_math_builtins_and_checker(batch):
    assert batch["rows"]["t04_monkeypatch"]["score"] == 0.0
    naive = _naive(batch["subs"] / "t04_monkeypatch.ipynb", batch["root"])
    assert naive["printed"]["demo.sigmoid"] and naive["asserts"]["demo.sigmoid"]


def test_t05_ipython_transformers_and_hooks(batch):
    assert batch["rows"]["t05_ipython_hooks"]["score"] == 0.0
    naive = _naive(batch["subs"] / "t05_ipython_hooks.ipynb", batch["root"])
    assert naive["printed"]["demo.sigmoid"] and naive["printed"]["demo.standardize"]


def test_t06_forged_results(batch):
    row = batch["rows"]["t06_forge_results"]
    assert row["score"] == 0.0
    published = _result(batch, "t06_forge_results")
    assert published["score"] == 0.0 and all(t["status"] == "failed" for t in published["tests"])
    gradebook = (batch["out"] / "gradebook.csv").read_text()
    assert "t06_forge_results,0.0,4.0" in gradebook
    forged = batch["out"] / "results" / "zz_forged.json"
    assert not forged.exists()  # the attack knew the output folder, and still could not write there
    assert _naive(batch["subs"] / "t06_forge_results.ipynb", batch["root"])["printed"]["demo.sigmoid"]
    assert forged.exists()  # control: outside the sandbox the same write succeeds
    assert (batch["root"] / "naive" / "grades" / "results" / "zz_forged.json").exists()


@linux_only
def test_t07_reading_the_instructor_source(batch):
    assert batch["rows"]["t07_read_source"]["score"] == 0.0
    # the same code outside the sandbox finds the source and copies its solution
    assert _naive(batch["subs"] / "t07_read_source.ipynb", batch["root"])["asserts"]["demo.sigmoid"]


def test_t08_os_exit_scores_only_what_ran_before(batch):
    row = batch["rows"]["t08_exit"]
    assert row["status"] == "crashed" and "stopped early" in row["reason"]
    assert row["demo.sigmoid"] == 1.0 and row["score"] == 1.0  # the check before the exit counts, nothing after


def test_t08_sys_exit_is_contained(batch):
    row = batch["rows"]["t08_sys_exit"]
    assert row["status"] == "graded" and row["score"] == 2.0  # sigmoid visible + hidden still graded


@linux_only
def test_t08_killing_the_parent_does_not_hurt_the_grader(batch):
    # kill(getppid()) and kill(0): the child is PID 1 of its own namespace, so it cannot
    # reach the grader (without the PID namespace getppid() is this pytest process)
    row = batch["rows"]["t08_kill"]
    assert row["status"] == "graded" and row["score"] == 2.0  # the kills hit nothing; the good sigmoid counts
    assert batch["rows"]["honest"]["score"] == 4.0  # graded in the same batch, same workers


def test_t09_infinite_loop_times_out(batch):
    row = batch["rows"]["t09_infinite_loop"]
    assert row["status"] == "timeout" and row["score"] == 1.0
    result = _result(batch, "t09_infinite_loop")
    assert result["execution_time"] < TIMEOUT + 10


@linux_only
def test_t10_memory_bomb_is_stopped(batch):
    row = batch["rows"]["t10_memory_bomb"]
    # the bomb's cell dies with MemoryError at the limit; like a notebook, later cells still run
    assert row["status"] == "memory" and "out of memory" in row["reason"]
    assert row["score"] == 2.0 and row["demo.standardize"] == 0.0


@linux_only
def test_t11_network_is_cut(batch):
    assert batch["rows"]["t11_network"]["score"] == 0.0
    before = batch["server"].served
    assert _naive(batch["subs"] / "t11_network.ipynb", batch["root"])["asserts"]["demo.sigmoid"]
    assert batch["server"].served == before + 1  # the server works; only the sandbox cut it off


def test_t12_grading_mode_cheats_score_nothing(batch):
    assert batch["rows"]["t12_detect_grading"]["score"] == 0.0


def test_t12_environment_reveals_nothing_of_the_grader(batch):
    hint = next(t["output"] for t in _result(batch, "t12_env_probe")["tests"] if t["name"].startswith("demo.sigmoid:"))
    assert "env: " in hint and "PATH" in hint  # the probe ran and reported the variable names it saw
    names = hint.split("env: ", 1)[1].split(" ")[0].split(",")
    assert SENTINEL not in names and not any("GRAD" in name for name in names)


def test_hidden_check_errors_do_not_leak_details(batch):
    hint = next(t["output"] for t in _result(batch, "t12_env_probe")["tests"] if "(hidden)" in t["name"] and "sigmoid" in t["name"])
    assert "env:" not in hint and "details are not shown" in hint


def test_gradescope_results_format(batch):
    doc = _result(batch, "honest")
    assert doc["score"] == 4.0
    assert {"name", "score", "max_score", "output", "status"} <= set(doc["tests"][0])
    assert {t["status"] for t in doc["tests"]} == {"passed"}


def test_committed_attack_notebooks_match_the_catalog():
    folder = Path(catalog.__file__).parent
    built = {"source": catalog.source_notebook(), **catalog.attacks()}
    for name, nb in built.items():
        committed = nbformat.read(folder / f"{name}.ipynb", as_version=4)
        assert [c.source for c in committed.cells] == [c.source for c in nb.cells], name


# ----------------------------------------------------------------------------- issue 17: degraded hosts
_REFUSE_LANDLOCK = '''import errno, os, sys
import pyseccomp as sc
f = sc.SyscallFilter(sc.ALLOW)
f.add_rule(sc.ERRNO(errno.ENOSYS), "landlock_create_ruleset")
f.load()
os.execv(sys.argv[1], sys.argv[1:])
'''


@linux_only
def test_a_host_without_landlock_is_refused_unless_allowed_and_then_marked(tmp_path, monkeypatch):
    pytest.importorskip("pyseccomp")
    from medlearn.grading import sandbox

    original = sandbox._command
    monkeypatch.setattr(sandbox, "_command", lambda hide: [sys.executable, "-c", _REFUSE_LANDLOCK] + original(hide))
    source = tmp_path / "instructor" / "source.ipynb"
    source.parent.mkdir()
    nbformat.write(catalog.source_notebook(), source)
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(catalog.source_notebook(), subs / "honest.ipynb")
    limits = Limits(timeout=TIMEOUT, memory_mb=1536)
    refused = grade(source, subs, None, jobs=1, limits=limits, progress=False).to_dict("records")[0]
    assert refused["status"] == "error" and refused["score"] == 0.0
    assert "not graded" in refused["reason"] and "landlock" not in refused["reason"].split("level")[-1]
    allowed = grade(source, subs, None, jobs=1, limits=limits, progress=False,
                    allow_degraded_sandbox=True).to_dict("records")[0]
    assert allowed["status"] == "graded" and allowed["score"] == 4.0
    assert "degraded sandbox" in allowed["reason"]


def test_an_oversized_job_is_refused_by_the_sandbox(tmp_path):
    from medlearn.grading.sandbox import run_job

    job = {"nonce": "n", "steps": [{"kind": "code", "source": "x = 1\n" * (3 * 2**20), "where": "cell 0"}]}
    result = run_job(job, tmp_path, Limits(timeout=10, job_mb=4))
    assert result.refused and "over the cap" in result.detail and result.returncode is None


def test_cli_allow_degraded_sandbox_reaches_the_limits(tmp_path, monkeypatch, capsys):
    import pandas as pd

    from medlearn import cli
    from medlearn.grading import gradebook

    seen = []
    monkeypatch.setattr(gradebook, "grade", lambda *a, **k: seen.append(k["limits"]) or pd.DataFrame(
        columns=["student", "score", "max_score", "status", "reason"]))
    base = ["grade", "--assignment", "a.ipynb", "--out", str(tmp_path / "o"), "s.ipynb"]
    assert cli.main(base) == 0 and cli.main(base + ["--allow-degraded-sandbox"]) == 0
    assert [limits.allow_degraded for limits in seen] == [False, True]
    assert "degraded sandbox" in capsys.readouterr().err
