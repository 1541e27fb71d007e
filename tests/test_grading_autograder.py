"""The autograder bundle (Gradescope layout): written by ``medlearn grade --autograder-bundle``, and its
``run_autograder`` run in a temporary folder laid out like the service's ``/autograder``."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from attacks import catalog, demo_exercises  # noqa: E402,F401

from medlearn.cli import main as cli_main  # noqa: E402
from medlearn.grading import Limits  # noqa: E402
from medlearn.grading.autograder import pinned_requirements, write_bundle  # noqa: E402

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox is Linux-only")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """One real bundle (the medlearn wheel is built from this checkout once)."""
    root = tmp_path_factory.mktemp("bundle")
    source = root / "source.ipynb"
    nbformat.write(catalog.source_notebook(), source)
    path = write_bundle(source, root / "autograder.zip", limits=Limits(timeout=60, memory_mb=2048), salt="s3cret")
    return path


def _service(tmp_path: Path, bundle: Path, submission, name="source.ipynb", user_id="4242") -> Path:
    """Lay out /autograder as the service does: source/ unpacked, run_autograder copied, submission/, metadata."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root / "source")
        for info in zf.infolist():  # zipfile does not restore modes; the service's unzip does
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(root / "source" / info.filename, mode)
    (root / "run_autograder").write_bytes((root / "source" / "run_autograder").read_bytes())
    os.chmod(root / "run_autograder", 0o755)
    (root / "submission").mkdir()
    if submission is not None:
        nbformat.write(submission, root / "submission" / name)
    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"id": user_id, "name": "Ann"}]}))
    return root


def _run(root: Path) -> dict:
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "MEDLEARN_AUTOGRADER_PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(root / "run_autograder")], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads((root / "results" / "results.json").read_text())


def test_the_bundle_holds_setup_wheel_pins_source_and_modules(bundle):
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        setup = zf.read("setup.sh").decode()
        pins = zf.read("requirements.txt").decode().split("\n")
        config = json.loads(zf.read("assignment/bundle.json"))
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
    wheel = next(n for n in names if n.startswith("wheels/medlearn-") and n.endswith(".whl"))
    assert {"setup.sh", "run_autograder", "requirements.txt", "assignment/source.ipynb",
            "modules/attacks/demo_exercises.py"} <= names and wheel
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    assert f"numpy=={metadata.version('numpy')}" in pins and pins == pinned_requirements() + [""]
    assert all("==" in p for p in pins if p)
    assert "requirements.txt" in setup and "wheels/*.whl" in setup
    assert subprocess.run(["bash", "-n", "-c", setup]).returncode == 0
    assert config["salt"] == "s3cret" and config["modules"] == ["attacks.demo_exercises"]
    assert config["limits"]["timeout"] == 60


@linux_only
def test_run_autograder_grades_the_submission_like_the_service_expects(bundle, tmp_path):
    solved = catalog._edit({"ex-sigmoid": catalog.GOOD_SIGMOID,
                            "ex-standardize": "def standardize(x):\n    return (x - x.mean(axis=0)) / x.std(axis=0)\n"})
    doc = _run(_service(tmp_path / "a", bundle, solved))
    assert doc["score"] == 4.0 and "Status: graded." in doc["output"]
    assert [t["status"] for t in doc["tests"]] == ["passed"] * 4
    assert {t["name"].split(":")[0] for t in doc["tests"]} == {"demo.sigmoid", "demo.standardize",
                                                                "demo.sigmoid (hidden)", "demo.standardize (hidden)"}
    assert all(set(t) >= {"name", "score", "max_score", "status", "output"} for t in doc["tests"])
    assert "extra_data" not in doc and "s3cret" not in json.dumps(doc)

    untouched = _run(_service(tmp_path / "b", bundle, catalog.student_notebook(), name="my_copy.ipynb"))
    assert untouched["score"] == 0.0 and "NotImplementedError" in untouched["tests"][0]["output"]

    nothing = _run(_service(tmp_path / "c", bundle, None))
    assert nothing["score"] == 0.0 and "no notebook" in nothing["output"]


@linux_only
def test_a_student_cannot_read_the_bundles_source_while_graded(bundle, tmp_path):
    folder = tmp_path / "autograder" / "source" / "assignment"
    steal = f"""def sigmoid(z):
    import glob
    for p in glob.glob({str(folder)!r} + "/*.ipynb") + glob.glob({str(folder)!r} + "/*.json"):
        try:
            text = open(p).read()
        except OSError:
            continue
        raise RuntimeError("read " + p)
    return 1.0 / (1.0 + np.exp(-z))
"""
    thief = catalog._edit({"ex-sigmoid": steal})
    root = _service(tmp_path, bundle, thief)
    assert [p.name for p in folder.glob("*.ipynb")] == ["source.ipynb"]  # there, and readable by the grader
    doc = _run(root)
    outputs = " ".join(t["output"] for t in doc["tests"])
    assert "read " not in outputs  # the glob found nothing or the open failed: never a successful read
    assert doc["tests"][0]["status"] == "passed"


def test_cli_writes_the_bundle(tmp_path, capsys):

    nbformat.write(catalog.source_notebook(), tmp_path / "source.ipynb")
    wheel = tmp_path / "medlearn-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK")  # a stand-in: the real build is tested above
    rc = cli_main(["grade", "--assignment", str(tmp_path / "source.ipynb"), "--autograder-bundle",
                   str(tmp_path / "ag.zip"), "--wheel", str(wheel), "--timeout", "90"])
    assert rc == 0 and "wrote" in capsys.readouterr().out
    with zipfile.ZipFile(tmp_path / "ag.zip") as zf:
        config = json.loads(zf.read("assignment/bundle.json"))
    assert config["limits"]["timeout"] == 90 and len(config["salt"]) == 32
