"""The wheel and the sdist are the course: built, checked, installed and run away from the checkout.

``python -m build --no-isolation`` (offline: this environment's setuptools) makes the sdist and,
from it, the wheel; ``twine check`` passes both. The wheel must carry the lessons, the embedded
phantoms (with the registry's MD5), the registry, SANDBOX.md and the licence, and must not tell a
pip user to run dev.py. Installed with ``pip install --no-deps --target`` (the dependencies are
this environment's) and run from an unrelated folder with the checkout out of reach, it copies the
student lessons, loads the phantoms from the file (no regeneration), passes the doctor and trains.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted(p.name for p in (ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    run = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    log = run.stdout + run.stderr
    noisy = [l for l in log.splitlines() if "Warning" in l or "warning:" in l.lower()]
    noisy = [l for l in noisy if "byte-compiling is disabled" not in l]  # PYTHONDONTWRITEBYTECODE, not ours
    assert not noisy, "build warnings:\n" + "\n".join(noisy)
    (wheel,) = out.glob("medlearn-*.whl")
    (sdist,) = out.glob("medlearn-*.tar.gz")
    return wheel, sdist


def test_twine_check_passes(dist):
    run = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, dist)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_wheel_carries_the_course(dist):
    wheel, sdist = dist
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        npz = z.read("medlearn/_course/data/phantoms.npz")
    assert sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("medlearn/_course/lessons/")) == LESSONS
    entry = json.loads((ROOT / "medlearn" / "datasets" / "registry.json").read_text())["datasets"]["phantoms"]
    assert hashlib.md5(npz).hexdigest() == entry["files"]["28"]["md5"]
    for needed in ("medlearn/datasets/registry.json", "medlearn/grading/SANDBOX.md", "medlearn/cli/lessons.py"):
        assert needed in names, needed
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-Expression: MIT" in meta and "Requires-Python: <3.14,>=3.10" in meta
    description = meta.split("\n\n", 1)[1]
    assert "dev.py" not in description, "pip users have no dev.py"
    assert "medlearn lessons" in description
    import tarfile

    with tarfile.open(sdist) as t:
        members = {m.split("/", 1)[1] for m in t.getnames() if "/" in m}
    for needed in ["LICENSE", "setup.py", "data/phantoms.npz", *(f"lessons/{n}" for n in LESSONS)]:
        assert needed in members, needed


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory):
    """The wheel in its own folder, and an environment that sees it but not the checkout."""
    site = tmp_path_factory.mktemp("site")
    run = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
                          "--disable-pip-version-check", "--target", str(site), str(dist[0])],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    home = tmp_path_factory.mktemp("elsewhere")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDLEARN_DATA")}
    env.update(PYTHONPATH=str(site), MEDLEARN_DATA=str(home / "data"), MEDLEARN_OFFLINE="1",
               MEDLEARN_FAST="1", MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="3")

    def medlearn(*args, timeout=120):
        return subprocess.run([sys.executable, "-m", "medlearn", *args], cwd=home, env=env,
                              capture_output=True, text=True, timeout=timeout)

    def python(code):
        return subprocess.run([sys.executable, "-c", code], cwd=home, env=env,
                              capture_output=True, text=True, timeout=120)

    return {"site": site, "home": home, "medlearn": medlearn, "python": python}


def test_installed_wheel_is_the_one_imported_and_finds_its_files(installed):
    code = ("import warnings; warnings.simplefilter('error')\n"
            "import medlearn, medlearn.course as c\n"
            "from medlearn.datasets import load_phantoms\n"
            "from medlearn.datasets.embedded import phantoms_path\n"
            "t = load_phantoms('test')\n"
            "print(medlearn.__file__); print(c.course_root()); print(phantoms_path()); print(t.images.shape)")
    run = installed["python"](code)
    assert run.returncode == 0, run.stderr
    module, root, npz, shape = run.stdout.split("\n")[:4]
    site = str(installed["site"])
    assert module.startswith(site) and root.startswith(site) and npz.startswith(site), run.stdout
    assert shape == "(1000, 28, 28)"


def test_installed_wheel_copies_the_student_lessons(installed):
    run = installed["medlearn"]("lessons", "course", "--student")
    assert run.returncode == 0, run.stderr
    copies = sorted((installed["home"] / "course").glob("*.ipynb"))
    assert [p.name for p in copies] == LESSONS
    assert not any("### BEGIN SOLUTION" in p.read_text() for p in copies)
    assert "written" in run.stdout


def test_installed_wheel_doctor_and_train_from_another_folder(installed):
    doctor = installed["medlearn"]("doctor", "--no-gpu-probe")
    assert doctor.returncode == 0 and "OK: this environment can run the course" in doctor.stdout, doctor.stdout
    run = installed["medlearn"]("train", "--epochs", "1", "--out", "run1", "--bootstrap", "50", timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    files = {p.name for p in (installed["home"] / "run1").iterdir()}
    assert {"metrics.json", "roc.png", "confusion.png", "curves.png", "model.keras"} <= files, files
    assert "Traceback" not in run.stderr


def test_editable_install_builds_without_warning_boxes(tmp_path):
    """What `pip install -e .` (dev.py) runs: no BuildBackendWarning / SetuptoolsWarning boxes."""
    code = ("import setuptools.build_meta as backend, sys; "
            f"print(backend.build_editable({str(tmp_path)!r}))")
    run = subprocess.run([sys.executable, "-W", "always", "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    assert not any(w in run.stderr for w in ("Warning", "InformationOnly", "!!")), run.stderr[-3000:]
    wheel = tmp_path / run.stdout.strip().splitlines()[-1]
    with zipfile.ZipFile(wheel) as z:
        (pth,) = [n for n in z.namelist() if n.endswith(".pth")]
        assert z.read(pth).decode().strip() == str(ROOT)   # a plain path entry: new modules work at once
