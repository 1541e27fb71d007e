"""Grade at class scale on an autograder service: a Gradescope-style bundle, and the script it runs.

``medlearn grade --assignment SOURCE.ipynb --autograder-bundle autograder.zip`` writes a zip
that Gradescope (or any service with the same layout) runs once per submission::

    autograder.zip
    ├── setup.sh            # run once when the image is built: a venv with medlearn + pinned deps
    ├── run_autograder      # run per submission: grade /autograder/submission, write results
    ├── requirements.txt    # every runtime dependency pinned to the version tested here
    ├── wheels/medlearn-*.whl
    ├── modules/            # the course's own exercise modules, if the source uses any
    └── assignment/         # the instructor source and bundle.json (salt, limits)

The service unpacks the zip into ``/autograder/source``, runs ``setup.sh`` from there,
copies ``run_autograder`` to ``/autograder/run_autograder`` and runs it with the student's
upload in ``/autograder/submission``; the result must be ``/autograder/results/results.json``.
``run_autograder`` calls :func:`main` (``python -m medlearn.grading.autograder``), which grades
with the same pipeline and sandbox as ``medlearn grade`` (:func:`~medlearn.grading.grader.grade_submission`)
and writes the same Gradescope document as ``results/<student>.json``. The root is
``$AUTOGRADER_ROOT`` when set (tests lay out a temporary folder like the service's), else
``/autograder``.

The student's name for the hidden-check seeds is the submitter's id/email from
``submission_metadata.json`` (else ``"student"``); the salt is drawn when the bundle is
written and lives only in the bundle (students never see it). Before grading, ``run_autograder``
makes the bundle's folder unreadable to others: the sandbox runs student code under another
uid when the service runs the grader as root, so the source stays out of reach even where the
container refuses user namespaces (then pass ``--allow-degraded-sandbox`` when writing the bundle;
Gradescope already runs each submission in a fresh container).

Used by ``medlearn grade --autograder-bundle``.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from medlearn.grading.errors import GradingError

__all__ = ["write_bundle", "pinned_requirements", "build_wheel", "main"]

SETUP_SH = """#!/usr/bin/env bash
# medlearn autograder: build the grading environment (run once by the service, from the bundle's folder).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PY="${PYTHON:-python3}"
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then  # the service's Ubuntu image, as root
    apt-get update -qq && apt-get install -y -qq python3 python3-venv python3-pip libseccomp2 >/dev/null
fi
"$PY" -m venv "$ROOT/medlearn-venv"
"$ROOT/medlearn-venv/bin/python" -m pip install --upgrade --quiet pip
"$ROOT/medlearn-venv/bin/python" -m pip install --quiet -r "$HERE/requirements.txt"
"$ROOT/medlearn-venv/bin/python" -m pip install --quiet --no-deps "$HERE"/wheels/*.whl
"$ROOT/medlearn-venv/bin/python" -c "import medlearn, medlearn.grading.autograder; print('medlearn', medlearn.__version__)"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# medlearn autograder: grade one submission (run by the service per submission).
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
PY="${MEDLEARN_AUTOGRADER_PYTHON:-$ROOT/medlearn-venv/bin/python}"
chmod -R go-rwx "$SOURCE" 2>/dev/null || true   # the instructor source: the grader's only
mkdir -p "$ROOT/results"
cd "$SOURCE" && exec "$PY" -m medlearn.grading.autograder --root "$ROOT"
"""


def pinned_requirements(dist: str = "medlearn") -> list:
    """``name==version`` for every runtime requirement of ``dist`` (no extras), as installed here.

    Raises:
        GradingError: ``dist`` is not installed, or a requirement is missing from this environment.
    """
    from importlib import metadata

    try:
        requires = metadata.requires(dist) or []
    except metadata.PackageNotFoundError:
        raise GradingError(f"{dist} is not installed, so its dependencies cannot be pinned. Received: dist={dist!r}. "
                           "Fix: `pip install -e .` in the checkout first.") from None
    pins = []
    for line in requires:
        if "extra ==" in line or "extra==" in line:
            continue
        requirement, _, marker = line.partition(";")
        name = re.split(r"[\s<>=!~\[(]", requirement.strip(), maxsplit=1)[0]
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            if marker.strip():
                continue  # a platform-specific dependency not needed here (e.g. Windows only)
            raise GradingError(f"the requirement {name!r} of {dist} is not installed here, so the bundle could not pin "
                               f"the version it was tested with. Received: {line!r}. Fix: install it.") from None
        pins.append(f"{name}=={version}" + (f" ;{marker}" if marker.strip() else ""))
    return sorted(set(pins), key=str.lower)


def build_wheel(folder: Path) -> Path:
    """Build medlearn's wheel into ``folder`` from the checkout medlearn is imported from.

    Raises:
        GradingError: medlearn is not imported from a source checkout (pass ``wheel=`` then), or the build failed.
    """
    import medlearn

    root = Path(medlearn.__file__).resolve().parent.parent
    if not (root / "pyproject.toml").exists():
        raise GradingError(f"medlearn is installed without its sources ({root}), so no wheel can be built. "
                           "Fix: pass the wheel, e.g. `--wheel dist/medlearn-0.1.0-py3-none-any.whl`.")
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                           "-w", str(folder), str(root)], capture_output=True, text=True)
    wheels = sorted(folder.glob("medlearn-*.whl"))
    if proc.returncode != 0 or not wheels:
        raise GradingError(f"building medlearn's wheel failed (pip exit {proc.returncode}): {proc.stderr[-800:]}")
    return wheels[-1]


def write_bundle(assignment, path, *, limits=None, salt: str | None = None, wheel=None) -> Path:
    """Write the autograder zip for one instructor source.

    Args:
        assignment: the instructor source (path or :class:`~medlearn.grading.source.Assignment`).
        path: the zip to write (``.zip``).
        limits: the sandbox :class:`~medlearn.grading.sandbox.Limits` (default: ``Limits()``).
        salt: secret for the hidden-check seeds (default: 32 random hex digits drawn now).
        wheel: a medlearn wheel to ship; default: built from the checkout (:func:`build_wheel`).

    Returns:
        ``path``.

    Raises:
        AssignmentError: the source is not a valid instructor notebook.
        GradingError: no wheel could be built, or a dependency cannot be pinned.

    Example:
        >>> write_bundle("lessons/01_neurons_and_losses.ipynb", "autograder.zip")   # doctest: +SKIP
    """
    from medlearn.grading.grader import exercise_modules, module_files
    from medlearn.grading.safeio import atomic_write_bytes
    from medlearn.grading.sandbox import Limits
    from medlearn.grading.source import Assignment

    assignment = assignment if isinstance(assignment, Assignment) else Assignment(assignment)
    limits = limits or Limits()
    path = Path(path)
    requirements = "\n".join(pinned_requirements()) + "\n"
    with tempfile.TemporaryDirectory(prefix="medlearn-bundle-") as tmp:
        wheel = Path(wheel) if wheel is not None else build_wheel(Path(tmp) / "wheels")
        if not wheel.is_file():
            raise GradingError(f"wheel not found. Received: {str(wheel)!r}. Fix: build it with `pip wheel --no-deps .`.")
        config = {"source": assignment.name, "salt": salt or secrets.token_hex(16), "limits": dataclasses.asdict(limits),
                  "modules": sorted(m for m in exercise_modules(assignment) if not m.startswith("medlearn."))}
        buffer = Path(tmp) / "bundle.zip"
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            _add(zf, "setup.sh", SETUP_SH, 0o755)
            _add(zf, "run_autograder", RUN_AUTOGRADER, 0o755)
            _add(zf, "requirements.txt", requirements)
            zf.write(wheel, f"wheels/{wheel.name}")
            zf.write(assignment.path, f"assignment/{assignment.name}")
            _add(zf, "assignment/bundle.json", json.dumps(config, indent=1) + "\n")
            for name in config["modules"]:
                for rel, file in module_files(name):
                    zf.write(file, f"modules/{rel.as_posix()}")
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buffer.read_bytes())
    return path


def _add(zf: zipfile.ZipFile, name: str, text: str, mode: int = 0o644) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, text)


def _student(root: Path) -> str:
    """The submitter's id for the hidden seeds (``submission_metadata.json``), else ``"student"``."""
    from medlearn.grading.intake import InvalidFile, read_regular

    try:
        meta = json.loads(read_regular(root / "submission_metadata.json", 2**20))
        user = (meta.get("users") or [{}])[0]
        return str(user.get("id") or user.get("email") or user.get("name") or "student")[:200]
    except (InvalidFile, ValueError, AttributeError, TypeError, IndexError):
        return "student"


def _pick(submissions: list, source_name: str):
    """The notebook to grade: the one named like the source, else the only (or first) ``.ipynb``."""
    notebooks = [s for s in submissions if s.data is not None]
    for s in notebooks:
        if s.path.name == source_name:
            return s
    return notebooks[0] if notebooks else (submissions[0] if submissions else None)


def grade_here(root: Path) -> dict:
    """Grade ``root/submission`` with the bundle in ``root/source``; return (and write) results.json's document."""
    from medlearn.grading.grader import _empty, grade_submission
    from medlearn.grading.intake import collect
    from medlearn.grading.records import gradescope_json
    from medlearn.grading.safeio import atomic_write_text
    from medlearn.grading.sandbox import Limits
    from medlearn.grading.source import Assignment

    source_dir = root / "source"
    config = json.loads((source_dir / "assignment" / "bundle.json").read_text())
    if (source_dir / "modules").is_dir():
        sys.path.insert(0, str(source_dir / "modules"))
    for name in config.get("modules", []):
        __import__(name)
    known = {f.name for f in dataclasses.fields(Limits)}
    limits = Limits(**{k: v for k, v in config.get("limits", {}).items() if k in known})
    assignment = Assignment(source_dir / "assignment" / config["source"])
    student = _student(root)
    submissions = collect([root / "submission"], assignment.path) if (root / "submission").is_dir() else []
    chosen = _pick(submissions, assignment.name)
    if chosen is None:
        result = _empty(assignment, student, "invalid", "no notebook was submitted")
    elif chosen.data is None:
        result = _empty(assignment, student, "invalid", chosen.problem)
    else:
        result = grade_submission(assignment, chosen.path, student=student, limits=limits, salt=config["salt"],
                                  hide_dirs=[str(source_dir), str(root / "submission"), str(root / "results")],
                                  data=chosen.data)
        others = [s.path.name for s in submissions if s is not chosen]
        if others:
            result.reason = "; ".join(x for x in [result.reason, f"graded {chosen.path.name}; ignored {others}"] if x)
    doc = gradescope_json(result)
    doc.pop("extra_data", None)  # no signing key on the service: the service keeps the record
    (root / "results").mkdir(parents=True, exist_ok=True)
    atomic_write_text(root / "results" / "results.json", json.dumps(doc, indent=1) + "\n")
    return doc


def main(argv=None) -> int:
    """``python -m medlearn.grading.autograder [--root DIR]``: what ``run_autograder`` runs."""
    import argparse

    parser = argparse.ArgumentParser(prog="medlearn.grading.autograder", description=main.__doc__)
    parser.add_argument("--root", type=Path, default=Path(os.environ.get("AUTOGRADER_ROOT") or "/autograder"))
    args = parser.parse_args(argv)
    try:
        doc = grade_here(args.root)
    except Exception as exc:  # the service must get a results file, whatever went wrong
        doc = {"score": 0.0, "output": f"The autograder failed: {type(exc).__name__}: {exc}", "tests": []}
        (args.root / "results").mkdir(parents=True, exist_ok=True)
        (args.root / "results" / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
        print(doc["output"], file=sys.stderr)
        return 1
    print(f"score {doc['score']:g}: {doc['output']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
