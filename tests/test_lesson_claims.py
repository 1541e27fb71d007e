"""Every "Used in lesson NN" line in medlearn/ is true: the named lesson really uses the name.

A claim belongs to the docstring it sits in: a function's or class's (the lesson must
mention that name in a code cell) or a module's (the lesson must import the module, or
use one of its public names, or call ``check`` on an exercise the module defines).
"... (through ``name``)" moves the claim onto ``name``. Lessons that are not written yet
(the curriculum runs to 13) cannot be checked; a claim outside 01-13 is an error.
"""
from __future__ import annotations

import ast
import functools
import importlib
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE, LESSONS = ROOT / "medlearn", ROOT / "lessons"
CLAIM = re.compile(r"Used in lessons? (?P<nums>\d\d(?:\s*(?:-|,|and)\s*\d\d)*)(?P<rest>[^\n]*)")
THROUGH = re.compile(r"through (?::\w+:)?``?~?(?P<name>[\w.]+)")
CURRICULUM = range(1, 14)


def _numbers(text: str) -> list[int]:
    out = []
    for part in re.split(r"\s*(?:,|and)\s*", text.strip()):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def _docstrings(path: Path):
    """(qualified owner, kind, docstring) for the module and every function/class in ``path``."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    tree = ast.parse(path.read_text())
    yield module, "module", ast.get_docstring(tree) or ""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield f"{module}:{node.name}", "name", ast.get_docstring(node) or ""


def _claims():
    for path in sorted(PACKAGE.rglob("*.py")):
        for owner, kind, doc in _docstrings(path):
            for m in CLAIM.finditer(doc):
                through = THROUGH.search(m.group("rest"))
                for n in _numbers(m.group("nums")):
                    yield owner, kind, n, through.group("name") if through else None


CLAIMS = sorted(set(_claims()))


@functools.lru_cache(maxsize=None)
def _lesson_code(number: int) -> tuple[str, ...] | None:
    found = sorted(LESSONS.glob(f"{number:02d}_*.ipynb"))
    if not found:
        return None
    nb = nbformat.read(found[0], as_version=4)
    return tuple(c.source for c in nb.cells if c.cell_type == "code")


def _resolve(dotted: str):
    """The object a dotted medlearn path names, as attribute access sees it (a package attribute
    wins over a submodule of the same name, as in ``medlearn.explain.occlusion``), or None."""
    parts = dotted.split(".")
    obj, path = importlib.import_module(parts[0]), parts[0]
    for attr in parts[1:]:
        path = f"{path}.{attr}"
        if hasattr(obj, attr):
            obj = getattr(obj, attr)
            continue
        try:
            obj = importlib.import_module(path)
        except ImportError:
            return None
    return obj


@functools.lru_cache(maxsize=None)
def _used(cells: tuple[str, ...]) -> tuple[frozenset, frozenset]:
    """(dotted medlearn paths a lesson imports or reads, exercise ids it checks), from its code's syntax tree."""
    aliases, dotted, checked = {}, set(), set()
    trees = []
    for src in cells:
        try:
            trees.append(ast.parse(src))
        except SyntaxError:
            continue
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == "medlearn":
                        dotted.add(a.name)
                        aliases[a.asname or "medlearn"] = a.name if a.asname else "medlearn"
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "medlearn":
                for a in node.names:
                    dotted.add(f"{node.module}.{a.name}")
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                chain, base = [], node
                while isinstance(base, ast.Attribute):
                    chain.append(base.attr)
                    base = base.value
                if isinstance(base, ast.Name) and base.id in aliases:
                    dotted.add(".".join([aliases[base.id], *reversed(chain)]))
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"
                  and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                checked.add(node.args[0].value)
    return frozenset(dotted), frozenset(checked)


def _uses_name(owner: str, dotted: set) -> bool:
    module, _, name = owner.partition(":")
    target = getattr(importlib.import_module(module), name, None)
    return target is not None and any(d.rpartition(".")[2] == name and _resolve(d) is target for d in dotted)


def _uses_module(module: str, dotted: set, checked: set) -> bool:
    for d in dotted:
        if d == module or d.startswith(module + "."):
            return True
        obj = _resolve(d)
        where = getattr(obj, "__name__", "") if isinstance(obj, type(importlib)) else getattr(obj, "__module__", "")
        if where == module or (where or "").startswith(module + "."):
            return True
    if module.startswith("medlearn.checks") and checked:
        from medlearn.checks import get_exercise

        for exercise_id in checked:
            try:
                exercise = get_exercise(exercise_id)
            except Exception:
                continue
            where = {getattr(getattr(exercise, f, None), "__module__", "") for f in ("make_cases", "run", "judge")}
            if any(w == module or w.startswith(module + ".") for w in where):
                return True
    return False


def lesson_uses(owner: str, kind: str, through: str | None, cells: tuple[str, ...]) -> bool:
    """Whether a lesson's code uses what a claim names (see the module docstring)."""
    dotted, checked = _used(cells)
    if through:
        name = through.rpartition(".")[2]
        return any(d.rpartition(".")[2] == name for d in dotted)
    if kind == "name":
        return _uses_name(owner, dotted)
    return _uses_module(owner, dotted, checked)


def test_claims_were_found():
    assert len(CLAIMS) > 50 and any(kind == "name" for _, kind, _, _ in CLAIMS)


@pytest.mark.parametrize("owner,kind,number,through", CLAIMS,
                         ids=[f"{o}-L{n:02d}" for o, _, n, _ in CLAIMS])
def test_used_in_lesson_claim_is_true(owner, kind, number, through):
    assert number in CURRICULUM, f"{owner}: lesson {number:02d} is not in the curriculum (01-13)"
    cells = _lesson_code(number)
    if cells is None:
        pytest.skip(f"lesson {number:02d} is not written yet")
    what = f"uses {through!r}" if through else f"uses {owner!r}"
    assert lesson_uses(owner, kind, through, cells), f"{owner} claims lesson {number:02d}, but the lesson never {what}"
