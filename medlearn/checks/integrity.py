"""Is the answer the learner's own? Static analysis of an exercise cell's source.

The grader calls, in its own process, on the code the student submitted::

    from medlearn.checks.integrity import find_delegation
    findings = find_delegation(code, exercise)            # exercise: an Exercise or its id
    findings = find_delegation(code, "scratch.sigmoid", context=setup_code)

``find_delegation(code: str, exercise: Exercise | str, *, context: str = "", names: dict | None = None)
-> list[str]`` is **pure**: it parses ``code`` with :mod:`ast` (it never runs or imports it) and
returns human-readable findings, empty when nothing is wrong. It reports

* a reference to a library callable the exercise declares as doing the work
  (``Exercise.forbidden``, e.g. ``"medlearn"``, ``"scipy.special.expit"``), reached through
  ``import`` / ``from ... import`` (aliases included) or an attribute chain
  (``medlearn.scratch.sigmoid``, ``S.sigmoid`` after ``import medlearn.scratch as S``),
  unless the exercise allows it (``Exercise.allowed``);
* any way of reaching code by a computed name: ``importlib``, ``__import__``, ``sys.modules``,
  ``exec`` / ``eval`` / ``compile``, ``getattr`` / ``setattr`` with a non-literal name,
  ``globals()`` / ``vars()`` / ``locals()``, ``builtins``, dunder attributes such as
  ``__dict__``, ``__globals__``, ``__builtins__``, ``__subclasses__``, and anything in
  ``medlearn.checks`` (the reference implementations) other than ``check``.

``context`` is other trusted code whose imports define names the cell may use (the
lesson's setup cells: ``import medlearn.scratch as scratch``); ``names`` maps a name
to the dotted name it stands for (what :func:`delegation_of` builds from a live
namespace). Conventional aliases (``np``, ``tf``, ``keras``, ``medlearn``, ``scipy``,
``sys``, ``importlib``) are assumed.

In a lesson, ``check(...)`` uses :func:`delegation_of` (the function's source through
:mod:`inspect` plus its live globals) and, dynamically, the calls profiled while the
answer runs (:mod:`medlearn.checks.policy`).

Used in lessons 01-08 (through ``check``) and by ``medlearn grade``.
"""
from __future__ import annotations

import ast
import inspect
import textwrap
import types

from medlearn.checks.policy import ALWAYS_FORBIDDEN, forbidden_name

__all__ = ["find_delegation", "delegation_of"]

_DEFAULT_NAMES = {
    "np": "numpy", "numpy": "numpy", "tf": "tensorflow", "tensorflow": "tensorflow", "keras": "keras",
    "medlearn": "medlearn", "scipy": "scipy", "sp": "scipy", "sys": "sys", "importlib": "importlib",
    "builtins": "builtins", "sklearn": "sklearn", "torch": "torch", "jax": "jax", "runpy": "runpy",
}
_DYNAMIC_CALLS = {
    "__import__": "__import__ (a computed import)",
    "exec": "exec (running code from a string)",
    "eval": "eval (running code from a string)",
    "compile": "compile (running code from a string)",
    "globals": "globals() (reaching names by a computed key)",
    "vars": "vars() (reaching names by a computed key)",
    "locals": "locals() (reaching names by a computed key)",
    "breakpoint": "breakpoint()",
}
_DUNDERS = {"__dict__", "__globals__", "__builtins__", "__subclasses__", "__import__", "__loader__",
            "__spec__", "__code__", "__closure__", "__getattribute__", "__reduce__", "__reduce_ex__",
            "__mro__", "__bases__", "__base__"}


def _exercise(exercise):
    if isinstance(exercise, str):
        from medlearn.checks.core import get_exercise

        return get_exercise(exercise)
    return exercise


def _imports(tree, names: dict) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    names[alias.asname or alias.name] = f"{node.module}.{alias.name}"


def _chain(node, names: dict) -> str | None:
    """``a.b.c`` (or ``getattr(a, "b")``) as a dotted name with ``a`` resolved, else None."""
    parts = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
              and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
              and isinstance(node.args[1].value, str)):
            parts.append(node.args[1].value)
            node = node.args[0]
        else:
            break
    if not isinstance(node, ast.Name) or node.id not in names:
        return None
    return ".".join([names[node.id]] + parts[::-1])


def find_delegation(code: str, exercise, *, context: str = "", names: dict | None = None) -> list:
    """Findings (strings) that the code delegates the exercise to a library or reaches code dynamically.

    Args:
        code: the exercise cell's source (untrusted; parsed, never run).
        exercise: the :class:`~medlearn.checks.core.Exercise` or its id (``"scratch.sigmoid"``).
        context: trusted code whose imports define names (the lesson's setup cells).
        names: extra ``{name: dotted name}`` bindings.

    Returns:
        A list of findings such as ``"medlearn.scratch.sigmoid"`` or
        ``"importlib.import_module (a computed import)"``; empty when the code is clean
        or does not parse (a cell that does not parse earns nothing anyway).

    Example:
        >>> find_delegation("def sigmoid(z):\\n    return scipy.special.expit(z)", "scratch.sigmoid")
        ['scipy.special.expit']
    """
    exercise = _exercise(exercise)
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, TypeError):
        return []
    bound = dict(_DEFAULT_NAMES)
    if context:
        try:
            _imports(ast.parse(context), bound)
        except (SyntaxError, ValueError):
            pass
    bound.update(names or {})
    _imports(tree, bound)
    findings: list = []

    def add(text):
        if text not in findings:
            findings.append(text)

    def dotted(name):
        if forbidden_name(name, exercise):
            add(_describe(name))

    inner = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            inner.add(id(node.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if any(alias.name == p or alias.name.startswith(p + ".") for p in ALWAYS_FORBIDDEN):
                    dotted(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                dotted(node.module if alias.name == "*" else f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Attribute):
            if node.attr in _DUNDERS:
                add(f"the attribute {node.attr} (reaching code by a computed name)")
            if id(node) in inner:
                continue  # judged as part of the longer chain
            chain = _chain(node, bound)
            if chain:
                if chain == "sys.modules" or chain.startswith("sys.modules."):
                    add("sys.modules (reaching a module by a computed name)")
                dotted(chain)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id in ("__builtins__", "__loader__", "__spec__"):
                add(f"{node.id} (reaching code by a computed name)")
            elif node.id in bound and id(node) not in inner and bound[node.id] != node.id:
                dotted(bound[node.id])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            fn = node.func.id
            if fn in _DYNAMIC_CALLS:
                add(_DYNAMIC_CALLS[fn])
            elif fn in ("getattr", "setattr", "delattr", "hasattr") and not (
                    len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)):
                add(f"{fn} with a computed attribute name")
            elif fn == "getattr":
                chain = _chain(node, bound)
                if chain:
                    dotted(chain)
    return findings


def _describe(name: str) -> str:
    if name == "importlib" or name.startswith("importlib."):
        return f"{name} (a computed import)"
    if name.startswith("builtins."):
        return f"{name[len('builtins.'):]} (reaching code by a computed name)"
    return name


def _resolve_forbidden(exercise) -> dict:
    """``{id(object): pattern}`` for declared forbidden callables whose module is already imported."""
    import sys

    out = {}
    for pattern in getattr(exercise, "forbidden", ()):
        module, _, attr = pattern.rpartition(".")
        obj = getattr(sys.modules.get(module), attr, None) if module else None
        if obj is not None and not isinstance(obj, types.ModuleType):
            out[id(obj)] = pattern
        package = sys.modules.get(pattern)
        if isinstance(package, types.ModuleType):  # a forbidden module: every public callable in it
            for key, value in list(vars(package).items()):
                if not key.startswith("_") and callable(value) and not isinstance(value, type):
                    owner = getattr(value, "__module__", None)
                    if isinstance(owner, str) and owner and not _within(owner, pattern):
                        continue  # imported into it from elsewhere (sklearn.calibration's minimize_scalar)
                    out.setdefault(id(value), f"{pattern}.{key}")
    return out


def _within(module: str, package: str) -> bool:
    """Whether ``module`` is ``package`` or one of its submodules."""
    return module == package or module.startswith(package + ".")


def _namespace_names(globals_: dict, exercise) -> dict:
    """``{name: dotted name}`` for modules and library callables bound in a live namespace."""
    known = _resolve_forbidden(exercise)
    out = {}
    for key, value in list(globals_.items()):
        if not isinstance(key, str) or key.startswith("__"):
            continue
        if id(value) in known:
            out[key] = known[id(value)]
        elif isinstance(value, types.ModuleType):
            out[key] = value.__name__
        elif callable(value):
            name = _library_name(value)
            if name:
                out[key] = name
    return out


def _library_name(fn) -> str | None:
    """``module.qualname`` of a callable that is not the learner's own code, else None."""
    from medlearn.checks.policy import _is_learner

    code = getattr(fn, "__code__", None)
    if code is not None and _is_learner(code):
        return None
    module = getattr(fn, "__module__", None)
    qual = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if not module or not qual or module == "__main__":
        return None
    return f"{module}.{qual}"


def delegation_of(answer, exercise) -> list:
    """:func:`find_delegation` for a live function: its source (``inspect``) and its globals.

    Also reports an answer that *is* a library callable (``sigmoid = scipy.special.expit``).
    Returns ``[]`` when the source cannot be found (the dynamic profile still applies).
    """
    exercise = _exercise(exercise)
    fn = inspect.unwrap(answer) if callable(answer) else answer
    if not callable(fn):
        return []
    known = _resolve_forbidden(exercise)
    if id(fn) in known:
        return [known[id(fn)]]
    name = _library_name(fn)
    if name is not None:
        from medlearn.checks.policy import public_name

        return [public_name(name)] if forbidden_name(name, exercise) else []
    if not isinstance(fn, types.FunctionType):
        return []
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return []
    return find_delegation(source, exercise, names=_namespace_names(getattr(fn, "__globals__", {}), exercise))
