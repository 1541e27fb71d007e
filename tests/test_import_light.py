"""`import medlearn` (and its light layers) must not import a deep-learning framework."""
import importlib.util
import subprocess
import sys

import pytest

from medlearn.cli import COMMANDS

HEAVY = ("tensorflow", "keras", "torch", "jax")
CLI_MODULES = ["medlearn.cli", "medlearn.cli._args", *(f"medlearn.cli.{name}" for name in COMMANDS)]
LIGHT_MODULES = ["medlearn", "medlearn.config", "medlearn.errors", "medlearn.tasks", "medlearn.checks",
                 "medlearn.diagnostics", "medlearn.datasets", "medlearn.scratch", "medlearn.metrics",
                 "medlearn.models", "medlearn.train", "medlearn.backend", "medlearn.grading", "medlearn.plots",
                 "medlearn.quiet", "medlearn.throughput", *CLI_MODULES]


def _loaded_after(statement: str, heavy=HEAVY) -> list:
    code = f"import sys\n{statement}\nprint(','.join(m for m in {tuple(heavy)!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]   # a deleted or broken module fails here, never skips
    return [m for m in out.stdout.strip().split(",") if m]


def test_import_medlearn_is_light():
    assert _loaded_after("import medlearn") == []


@pytest.mark.parametrize("module", LIGHT_MODULES)
def test_module_import_is_light(module):
    assert _loaded_after(f"import {module}") == [], f"import {module} pulled in a framework"


@pytest.mark.parametrize("module", ["medlearn.models", "medlearn.train", "medlearn.tasks"])
def test_models_and_train_load_neither_sklearn_nor_a_framework(module):
    assert _loaded_after(f"import {module}", heavy=(*HEAVY, "sklearn", "matplotlib")) == []


def test_cli_help_is_light():
    assert _loaded_after("from medlearn.cli import build_parser; build_parser()") == []


def test_listing_exercises_is_light():
    assert _loaded_after("import medlearn.checks as c; c.list_exercises()") == []


def test_every_advertised_submodule_exists():
    """``medlearn.<name>`` for every name medlearn/__init__.py lists must import, not raise."""
    import importlib

    import medlearn

    for name in sorted(medlearn._SUBMODULES):
        assert importlib.util.find_spec(f"medlearn.{name}") is not None, f"medlearn.{name} is advertised but missing"
