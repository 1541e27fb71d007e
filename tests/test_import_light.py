"""`import medlearn` (and its light layers) must not import a deep-learning framework."""
import importlib.util
import subprocess
import sys

import pytest

HEAVY = ("tensorflow", "keras", "torch", "jax")
LIGHT_MODULES = ["medlearn", "medlearn.config", "medlearn.cli", "medlearn.checks", "medlearn.diagnostics",
                 "medlearn.datasets", "medlearn.scratch", "medlearn.metrics", "medlearn.models",
                 "medlearn.train", "medlearn.backend", "medlearn.grading"]


def _loaded_after(statement: str) -> list:
    code = f"import sys\n{statement}\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return [m for m in out.stdout.strip().split(",") if m]


def test_import_medlearn_is_light():
    assert _loaded_after("import medlearn") == []


@pytest.mark.parametrize("module", LIGHT_MODULES)
def test_module_import_is_light(module):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not part of this build")
    assert _loaded_after(f"import {module}") == [], f"import {module} pulled in a framework"


def test_cli_help_is_light():
    assert _loaded_after("from medlearn.cli import build_parser; build_parser()") == []


def test_listing_exercises_is_light():
    assert _loaded_after("import medlearn.checks as c; c.list_exercises()") == []
