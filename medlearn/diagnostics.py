"""What this machine can do for the course, and what to fix.

Checks Python, NumPy, TensorFlow, Keras (and its backend), accelerators, the
data folder and the offline/fast flags. Problems that stop the course (Keras 2
or tf-keras in place of Keras 3, TensorFlow older than 2.16, an unsupported
Python) make ``medlearn doctor`` exit non-zero with the fix.
"""
from __future__ import annotations

import dataclasses
import importlib.metadata as md
import os
import platform
import sys

from medlearn import config

__all__ = ["Report", "run_doctor"]

PYTHON_MIN, PYTHON_MAX = (3, 10), (3, 13)  # keep in step with pyproject (tests/test_packaging.py)
TF_MIN = (2, 16)
KERAS_MIN = (3, 0)


@dataclasses.dataclass
class Report:
    """What the doctor found: ``rows`` (label, value), ``problems`` (each says the fix), ``notes``."""

    rows: list = dataclasses.field(default_factory=list)
    problems: list = dataclasses.field(default_factory=list)
    notes: list = dataclasses.field(default_factory=list)
    accelerators: list = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        width = max((len(k) for k, _ in self.rows), default=0)
        lines = ["medlearn doctor"] + [f"  {k:<{width}}  {v}" for k, v in self.rows]
        lines += [f"  note: {n}" for n in self.notes]
        if self.problems:
            lines.append("PROBLEMS (the course cannot run until these are fixed):")
            lines += [f"  - {p}" for p in self.problems]
        else:
            lines.append("OK: this environment can run the course.")
        return "\n".join(lines)


def _version_tuple(text: str) -> tuple:
    """``(major, minor, ...)`` of a version string (``packaging.version``; ``()`` for one it cannot read)."""
    from packaging.version import InvalidVersion, Version

    try:
        return Version(text).release
    except InvalidVersion:
        return ()


def _dist_version(name: str) -> str | None:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def _check_python(report: Report, version_info=None) -> None:
    vi = tuple(version_info or sys.version_info)[:3]
    text = ".".join(map(str, vi))
    report.rows.append(("Python", f"{text} ({platform.python_implementation()}, {sys.executable})"))
    if not PYTHON_MIN <= vi[:2] <= PYTHON_MAX:
        report.problems.append(
            f"Python {text} is not supported (need {PYTHON_MIN[0]}.{PYTHON_MIN[1]} to "
            f"{PYTHON_MAX[0]}.{PYTHON_MAX[1]}: TensorFlow publishes wheels for these). "
            "Fix: install Python 3.11 and recreate the environment (`rm -rf .venv && python3.11 dev.py test`)."
        )


def _check_frameworks(report: Report, versions: dict) -> None:
    import numpy as np

    report.rows.append(("NumPy", np.__version__))
    tf_v, keras_v, tfk_v = versions.get("tensorflow"), versions.get("keras"), versions.get("tf-keras")
    if tf_v is None:
        report.rows.append(("TensorFlow", "not installed"))
        report.notes.append("without TensorFlow, lessons 04 and 08 cannot run; "
                            "Keras can still use the JAX or PyTorch backend (KERAS_BACKEND).")
    else:
        report.rows.append(("TensorFlow", tf_v))
        if _version_tuple(tf_v) < TF_MIN:
            report.problems.append(
                f"TensorFlow {tf_v} is older than 2.16 and ships Keras 2. "
                "Fix: `pip install -U 'tensorflow>=2.16'` (GPU on Linux: `pip install -U 'tensorflow[and-cuda]>=2.16'`)."
            )
    if keras_v is None:
        report.rows.append(("Keras", "not installed"))
        report.problems.append("Keras 3 is not installed. Fix: `pip install -U 'keras>=3'`.")
    else:
        backend = configured_backend()[0]
        report.rows.append(("Keras", f"{keras_v} (backend: {backend})"))
        if _version_tuple(keras_v) < KERAS_MIN:
            report.problems.append(
                f"Keras {keras_v} is Keras 2; the course is written for Keras 3. "
                "Fix: `pip install -U 'keras>=3'`."
            )
    if tfk_v is not None and os.environ.get("TF_USE_LEGACY_KERAS", "0") in ("1", "true", "True"):
        report.problems.append(
            f"TF_USE_LEGACY_KERAS is set, so tf.keras is tf-keras {tfk_v} (Keras 2). "
            "Fix: `unset TF_USE_LEGACY_KERAS` (and `pip uninstall tf-keras` if nothing else needs it)."
        )


# Keras 3 backends and the module each needs (numpy: inference only, no training).
BACKEND_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy",
                   "openvino": "openvino"}
BACKEND_INSTALL = {"tensorflow": "pip install -U 'tensorflow>=2.16,<2.22'", "jax": "pip install -U 'jax[cpu]'",
                   "torch": "pip install -U torch", "openvino": "pip install -U openvino"}


def configured_backend() -> tuple[str, str]:
    """The Keras backend Keras will load, and where that choice comes from.

    Keras reads ``KERAS_BACKEND`` first, then ``backend`` in ``$KERAS_HOME/keras.json``
    (default ``~/.keras/keras.json``), else uses TensorFlow.

    Returns:
        ``(name, source)``, e.g. ``("jax", "KERAS_BACKEND")``.
    """
    import json
    from pathlib import Path

    env = os.environ.get("KERAS_BACKEND")
    if env:
        return env.strip().lower(), "KERAS_BACKEND"
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")
    try:
        name = json.loads((home / "keras.json").read_text()).get("backend")
    except (OSError, ValueError, AttributeError):
        name = None
    if isinstance(name, str) and name.strip():
        return name.strip().lower(), str(home / "keras.json")
    return "tensorflow", "default"


def backend_problem() -> str | None:
    """Why the configured Keras backend cannot be imported, with the fix; ``None`` when it can.

    Cheap: looks the framework up (``importlib.util.find_spec``) without importing it.
    Used by ``medlearn doctor`` and ``medlearn train`` (one line instead of a traceback).
    """
    import importlib.util

    name, source = configured_backend()
    where = "KERAS_BACKEND" if source == "KERAS_BACKEND" else f"the Keras backend ({source})"
    module = BACKEND_MODULES.get(name)
    if module is None:
        return (f"{where} is {name!r}, which is not a Keras backend (tensorflow, jax, torch). "
                "Fix: `export KERAS_BACKEND=tensorflow` (or jax / torch).")
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None
    unset = ("`unset KERAS_BACKEND`" if source == "KERAS_BACKEND"
             else f"set \"backend\": \"tensorflow\" in {source}")
    return (f"{where} is {name!r} but {module} is not installed in this Python. "
            f"Fix: `{BACKEND_INSTALL[name]}`, or {unset} to use TensorFlow.")


def _check_backend(report: Report) -> bool:
    problem = backend_problem()
    if problem:
        report.problems.append(problem)
    return problem is None


def _nvidia_smi() -> list:
    import shutil
    import subprocess

    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def _check_accelerators(report: Report, probe_frameworks: bool) -> None:
    found = _nvidia_smi()
    backend = configured_backend()[0]
    usable = None  # unknown unless we ask the framework
    if probe_frameworks:
        from medlearn.backend import devices
        from medlearn.quiet import native_stderr_silenced

        try:
            with native_stderr_silenced():  # CUDA probing logs to fd 2 on machines without a GPU
                usable = devices(backend)
        except ImportError as exc:  # the backend's framework is there but does not import
            report.problems.append(f"the Keras backend {backend!r} does not import ({type(exc).__name__}: {exc}). "
                                   f"Fix: reinstall it (`{BACKEND_INSTALL.get(backend, 'pip install -U ' + backend)}"
                                   " --force-reinstall`) or `export KERAS_BACKEND=tensorflow`.")
        except Exception as exc:  # a broken CUDA install or a bad KERAS_BACKEND must not kill the doctor
            report.notes.append(f"could not ask {backend} for its devices ({type(exc).__name__}: {exc}).")
    report.accelerators = found
    if found:
        report.rows.append(("Accelerators", "; ".join(found)))
        if usable is not None and not usable:
            report.notes.append(
                f"a GPU is present but Keras' backend ({backend}) does not see it: install TensorFlow's GPU "
                "build with `pip install -U 'tensorflow[and-cuda]>=2.16'` (Linux), or use a CUDA build of "
                "JAX or PyTorch with `export KERAS_BACKEND=jax` (or torch)."
            )
    elif usable:
        report.rows.append(("Accelerators", "; ".join(f"{d.kind} {d.name} ({d.description})" for d in usable)))
    else:
        report.rows.append(("Accelerators", "CPU only — lessons run, lesson 08 will be slow"))


def _check_data(report: Report) -> None:
    try:
        home = config.data_home()
    except config.ConfigError as exc:
        report.rows.append(("Data folder", "unusable"))
        report.problems.append(str(exc))
        return
    report.rows.append(("Data folder", str(home) + ("" if home.is_dir() else " (not created yet)")))
    try:
        from medlearn.datasets import scan_data_folder
    except ImportError:
        return
    try:
        found = scan_data_folder(home)
    except Exception as exc:  # reporting must not crash on a strange folder
        report.notes.append(f"could not scan the data folder ({type(exc).__name__}: {exc})")
        return
    summary = ", ".join(f"{name} [{status}]" for name, status in found) or "none (the embedded phantoms always work)"
    report.rows.append(("Datasets", summary))


def _check_flags(report: Report) -> None:
    for label, var, reader in (("Offline", "MEDLEARN_OFFLINE", config.is_offline),
                               ("Fast mode", "MEDLEARN_FAST", config.is_fast)):
        try:
            report.rows.append((label, "on" if reader() else "off"))
        except config.ConfigError as exc:
            report.rows.append((label, f"invalid ({var})"))
            report.problems.append(str(exc))


def run_doctor(*, print_report: bool = True, probe_frameworks: bool = True,
               versions: dict | None = None, version_info=None) -> Report:
    """Inspect the environment.

    Args:
        print_report: print the report.
        probe_frameworks: ask Keras' backend (TensorFlow, JAX or PyTorch) which GPUs it can
            use (slow: imports the framework; the tests turn it off).
        versions: override installed distribution versions (tests fake Keras 2 etc.),
            e.g. ``{"tensorflow": "2.15.0", "keras": "2.15.0"}``.
        version_info: override ``sys.version_info`` (tests fake Python 3.9).

    Returns:
        A :class:`Report`; ``report.ok`` is False when the course cannot run.
    """
    if versions is None:
        versions = {name: _dist_version(name) for name in ("tensorflow", "keras", "tf-keras")}
    report = Report()
    _check_python(report, version_info)
    _check_frameworks(report, versions)
    backend_ok = _check_backend(report)
    _check_accelerators(report, probe_frameworks and backend_ok)
    _check_data(report)
    _check_flags(report)
    if print_report:
        print(report)
    return report

