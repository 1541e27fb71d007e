"""Which of the source's own statements one grading run needs (the rest is not run).

A lesson's setup cells load data, train, plot and import libraries that no check
needs: in lesson 03, ``from sklearn.model_selection import train_test_split``
(1.7 s) and ``import matplotlib.pyplot`` (0.8 s) were most of a submission's CPU.
:func:`prune_steps` drops the statements of the source's own (non-exercise,
non-check) cells that neither a check, nor a student's cell, nor a statement kept
for them can observe. The rule, applied backwards over the job (each source cell
split into its top-level statements):

* the student's cells and the checks always run in full, and every name a
  student's cell or a check's answer expression reads (in function bodies too)
  counts as read everywhere: a student's function may be called at any later check;
* a source statement is kept when it binds (or deletes) a name read by a kept
  statement after it, by a student's cell or by a check - reading a function
  counts as reading every name its body reads, transitively;
* ... or when it may mutate an object a kept reader can reach: a call, an
  attribute or item store, an augmented assignment, a ``with`` or a ``del``
  whose names (and the names the functions it calls read) share an alias class
  with a read name. Names join one class when a statement touches them together
  (``alias = table`` or ``table.attach(x)``); modules, functions and builtins
  do not join classes (calling a function is not mutating it);
* ... or when it may change global state a kept one reads: seeding or drawing
  from a global RNG (``medlearn.setup``, ``np.random.*`` other than the
  generator constructors, ``random``), ``set*``/``use``/``rc*``/``config``/
  ``update``/``register``/``enable``/``disable``/``save*``/``write``/``open``
  ... callables, anything from ``os``, ``sys``, ``warnings``, ``subprocess``,
  ``pathlib`` and other process-state modules, a store into a module's
  attributes or items, a mutating method on a module attribute or an imported
  object (``plt.rcParams.update``, ``REGISTRY.append``), a scikit-learn/SciPy call or a ``make_*`` generator
  without ``random_state=``/``seed=``/``rng=`` (they draw from NumPy's global RNG),
  an imported object handed to a call or bound to a second name (``helper(CONFIG)``,
  ``rc = plt.rcParams``), a method that writes a file on any object (``fig.savefig``,
  ``frame.to_csv``, ``arr.tofile``), a star or relative import, a ``global`` statement; a name bound by such a statement is itself
  stateful (``seed = np.random.seed`` then ``seed(0)`` keeps both), and so is
  calling a function (the student's too) whose body does any of this;
* ... or when it may raise and a later statement of its cell is kept (so the
  rest of a cell runs exactly as when nothing is dropped).

Pruning is off (everything runs, as before) when any cell - the source's or the
student's - reaches names dynamically (``eval``, ``exec``, ``globals``,
``vars``, ``locals``, ``__import__``, ``__main__``, ``sys``, ``inspect``,
``__dict__`` ...), or uses Keras, TensorFlow, PyTorch or JAX (directly or
through ``medlearn.models``/``train``/``explain``/``compress``): their objects
draw from framework-global RNGs in ordinary method calls (``model.fit``), which
no name analysis sees. What the rule assumes: a library call outside that list,
and a method call on an object, changes nothing but objects reachable from the
names it touches; binary operators do not mutate their operands; importing a
module has no effect a check depends on (the exercise modules are imported by
the runner itself). An analysis that fails for any reason runs everything.

Skipped statements are replaced by blank lines, so tracebacks keep the cell's
line numbers.

Used by ``medlearn grade`` (:mod:`medlearn.grading.grader`).
"""
from __future__ import annotations

import ast
import builtins
import dataclasses
import symtable

__all__ = ["prune_steps", "PruneReport"]

# Whole-analysis switches: dynamic name access, and frameworks with implicit global RNGs.
_DYNAMIC_NAMES = frozenset({"eval", "exec", "globals", "locals", "vars", "dir", "compile", "__import__",
                            "breakpoint", "__builtins__", "__main__", "get_ipython", "__loader__", "__spec__"})
_DYNAMIC_ATTRS = frozenset({"__dict__", "__globals__", "f_globals", "f_locals", "f_back", "_getframe",
                            "currentframe", "__builtins__", "__main__", "modules", "gi_frame", "tb_frame"})
_DYNAMIC_MODULES = frozenset({"sys", "inspect", "gc", "ctypes", "builtins", "importlib", "__main__", "traceback",
                              "code", "pdb", "runpy", "types"})
_FRAMEWORKS = frozenset({"keras", "tensorflow", "tf_keras", "torch", "jax", "jaxlib", "flax", "optax", "tensorflow_datasets"})
_FRAMEWORK_USERS = ("medlearn.models", "medlearn.train", "medlearn.explain", "medlearn.compress",
                    "medlearn.backends", "medlearn.checks.keras")
# Process-state modules: any use keeps the statement.
_STATE_MODULES = frozenset({"os", "shutil", "subprocess", "warnings", "logging", "pathlib", "io", "tempfile",
                            "random", "socket", "threading", "multiprocessing", "signal", "atexit", "pickle",
                            "joblib", "json", "csv", "glob", "time", "locale", "faulthandler", "resource",
                            "secrets", "uuid", "urllib", "requests", "http", "sqlite3", "zipfile", "tarfile",
                            "pooch", "h5py", "PIL", "imageio", "tqdm", "IPython", "ipywidgets"})
_RNG_FACTORIES = frozenset({"default_rng", "Generator", "RandomState", "SeedSequence", "BitGenerator", "PCG64",
                            "PCG64DXSM", "MT19937", "Philox", "SFC64"})
_STATE_PREFIXES = ("set", "use", "rc", "reset", "enable", "disable", "register", "config", "install", "patch",
                   "save", "dump", "write", "seed", "manual_seed", "mkdir", "make_dir", "remove", "unlink",
                   "rename", "chdir", "putenv", "environ", "filterwarnings", "simplefilter", "shuffle",
                   "permutation", "setup", "open", "style", "ion", "ioff", "switch_backend", "to_csv",
                   "to_file", "to_pickle", "savefig", "update", "clear", "close")
_STATE_WORDS = ("seed", "random")
_MUTATING_METHODS = frozenset({"append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault",
                               "add", "discard", "sort", "reverse", "fill", "put", "resize", "popitem",
                               "itemset", "setflags", "__setitem__", "__delitem__", "__setattr__"})
# Methods that write files (any object's: a figure, a frame, an array): a later reader may open the file.
_FILE_METHODS = ("save", "dump", "write", "to_csv", "to_file", "to_pickle", "to_json", "to_parquet", "to_excel",
                 "to_hdf", "to_sql", "tofile", "export", "mkdir", "touch", "unlink", "rename", "rmdir", "chmod")
_IMPLICIT_RNG_ROOTS = frozenset({"sklearn", "scipy"})
_SEED_KEYWORDS = frozenset({"random_state", "seed", "rng"})
_STATEFUL_BUILTINS = frozenset({"open", "setattr", "delattr", "input", "exit", "quit", "print_function"})
_BUILTINS = frozenset(dir(builtins)) | {"display", "__name__", "__doc__"}


@dataclasses.dataclass
class PruneReport:
    """What :func:`prune_steps` did: ``active`` (False: every statement ran, ``reason`` says why),
    the ``dropped`` statements' first lines (``"cell 0: import matplotlib.pyplot as plt"``) and ``kept`` count."""

    active: bool
    reason: str = ""
    kept: int = 0
    dropped: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class _Unit:
    """One or more top-level statements sharing lines (``a = 1; b = 2``), analysed together."""

    step: int
    start: int
    end: int
    text: str
    nodes: list
    student: bool = False
    binds: set = dataclasses.field(default_factory=set)
    reads: set = dataclasses.field(default_factory=set)
    paths: list = dataclasses.field(default_factory=list)   # dotted references (name.attr...) rooted at a name
    mutates: bool = False
    may_raise: bool = True
    stateful: bool = False
    defines_code: bool = False   # a def, class or lambda: reading its names reads its body's names
    is_def: bool = False
    is_import: bool = False
    stores: set = dataclasses.field(default_factory=set)    # roots of attribute/item stores and augmented targets
    methods: set = dataclasses.field(default_factory=set)   # (root, method, dots in the chain) of its method calls
    handed: set = dataclasses.field(default_factory=set)    # names passed to a call, or bound to another name


class _Off(Exception):
    """Pruning is switched off for this job (the message says why)."""


def _dotted(node) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _root(node):
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _symbols(text: str) -> tuple[set, set]:
    """(names bound at module level, global names read anywhere) of ``text``, by the compiler's own scoping."""
    table = symtable.symtable(text, "<stmt>", "exec")
    binds, reads = set(), set()
    for sym in table.get_symbols():
        if sym.is_assigned() or sym.is_imported() or sym.is_namespace():
            binds.add(sym.get_name())
        if sym.is_referenced():
            reads.add(sym.get_name())

    def nested(t):
        for child in t.get_children():
            for sym in child.get_symbols():
                if sym.is_global() or (sym.is_declared_global() if hasattr(sym, "is_declared_global") else False):
                    if sym.is_referenced():
                        reads.add(sym.get_name())
                    if sym.is_assigned():
                        binds.add(sym.get_name())
                        reads.add(sym.get_name())
            nested(child)

    nested(table)
    return binds, reads


def _walk_eager(node):
    """Every node ``node`` evaluates when it runs (not the bodies of the functions it defines)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stack.extend(n.decorator_list)
            stack.extend(d for d in n.args.defaults + n.args.kw_defaults if d is not None)
            continue
        if isinstance(n, ast.Lambda):
            stack.extend(d for d in n.args.defaults + n.args.kw_defaults if d is not None)
            continue
        stack.extend(ast.iter_child_nodes(n))


def _analyse(unit: _Unit, modules_used: set) -> None:
    binds, reads = _symbols(unit.text)
    unit.binds, unit.reads = binds, reads
    nodes = [n for node in unit.nodes for n in ast.walk(node)]
    inner = {id(n.value) for n in nodes if isinstance(n, ast.Attribute)}  # record only whole chains
    for n in nodes:
        if isinstance(n, ast.Name) and n.id in _DYNAMIC_NAMES:
            raise _Off(f"dynamic name access ({n.id})")
        if isinstance(n, ast.Attribute) and n.attr in _DYNAMIC_ATTRS:
            raise _Off(f"dynamic name access (.{n.attr})")
        if isinstance(n, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in n.names] if isinstance(n, ast.Import) else [n.module or ""]
            for name in names:
                modules_used.add(name)
                if name.split(".")[0] in _DYNAMIC_MODULES:
                    raise _Off(f"import of {name}")
            if isinstance(n, ast.ImportFrom) and (n.level or any(a.name == "*" for a in n.names)):
                unit.stateful = True
        if isinstance(n, (ast.Global, ast.Nonlocal)) and n in unit.nodes:
            unit.stateful = True
        if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name):
            unit.reads.add(n.target.id)
        if (isinstance(n, (ast.Attribute, ast.Name)) and isinstance(getattr(n, "ctx", None), ast.Load)
                and id(n) not in inner):
            path = _dotted(n)
            if path:
                unit.paths.append((path, None))
        if isinstance(n, ast.Call):
            path = _dotted(n.func)
            if path:
                unit.paths.append((path, {k.arg for k in n.keywords}))
    unit.is_import = all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in unit.nodes)
    unit.is_def = all(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in unit.nodes)
    unit.defines_code = any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
                            for n in nodes)
    eager = [n for node in unit.nodes for n in _walk_eager(node)]
    unit.mutates = any(
        isinstance(n, (ast.Call, ast.AugAssign, ast.Delete, ast.With, ast.AsyncWith, ast.Await, ast.Yield,
                       ast.YieldFrom, ast.ClassDef))
        or (isinstance(n, (ast.Attribute, ast.Subscript)) and isinstance(n.ctx, (ast.Store, ast.Del)))
        for n in eager)
    simple = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.Pass)
    unit.may_raise = not all(isinstance(n, simple) and not (
        isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and (n.decorator_list or n.args.defaults))
        for n in unit.nodes)
    # stores into, or mutating methods on, something rooted at a name: recorded for the module test later
    unit.stores = {_root(n) for n in eager
                    if isinstance(n, (ast.Attribute, ast.Subscript)) and isinstance(n.ctx, (ast.Store, ast.Del))}
    unit.stores |= {_root(n.target) for n in eager if isinstance(n, ast.AugAssign)}
    unit.methods = {(_root(n.func), n.func.attr, (_dotted(n.func) or "").count(".")) for n in eager
                     if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    for n in eager:  # a library object handed to a call, or given a second name, may be mutated through it
        if isinstance(n, ast.Call):
            for arg in [*n.args, *(k.value for k in n.keywords)]:
                arg = arg.value if isinstance(arg, ast.Starred) else arg
                if isinstance(arg, ast.Name):  # not np.float64 as a dtype: a bare imported name
                    unit.handed.add(arg.id)
        if isinstance(n, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and isinstance(n.value, (ast.Name, ast.Attribute)):
            if _root(n.value):
                unit.handed.add(_root(n.value))


def _imports(units: list) -> dict:
    """``name -> dotted module path`` for every name an import binds (``plt -> matplotlib.pyplot``)."""
    found = {}
    for unit in units:
        for node in unit.nodes:
            for n in ast.walk(node):
                if isinstance(n, ast.Import):
                    for a in n.names:
                        found.setdefault(a.asname or a.name.split(".")[0], set()).add(a.name if a.asname else a.name.split(".")[0])
                elif isinstance(n, ast.ImportFrom) and not n.level:
                    for a in n.names:
                        found.setdefault(a.asname or a.name, set()).add(f"{n.module}.{a.name}")
    return found


def _plain_imports(units: list) -> set:
    """Names only a plain ``import x`` / ``import x.y as z`` binds (modules; a ``from`` import may be any object)."""
    found, other = set(), set()
    for unit in units:
        for node in unit.nodes:
            for n in ast.walk(node):
                if isinstance(n, ast.Import):
                    found.update(a.asname or a.name.split(".")[0] for a in n.names)
                elif isinstance(n, ast.ImportFrom):
                    other.update(a.asname or a.name for a in n.names)
    return found - other


def _resolve(path: str, imports: dict) -> list:
    head, _, rest = path.partition(".")
    return [f"{full}.{rest}" if rest else full for full in imports.get(head, ())]


def _stateful_path(full: str, keywords) -> bool:
    """Whether a reference to library path ``full`` (a call with ``keywords``, else None) may change global state."""
    parts = full.split(".")
    if parts[0] in _STATE_MODULES:
        return True
    if parts[-1] in _RNG_FACTORIES:
        return False  # a new generator object: no global state
    for part in parts[1:]:
        low = part.lower()
        if low.startswith(_STATE_PREFIXES) or any(w in low for w in _STATE_WORDS):
            return True
    if keywords is not None and not (keywords & _SEED_KEYWORDS):
        if parts[0] in _IMPLICIT_RNG_ROOTS or parts[-1].startswith("make_"):
            return True
    return False


def _framework(full: str) -> bool:
    return full.split(".")[0] in _FRAMEWORKS or full.startswith(_FRAMEWORK_USERS)


def _split(step: dict, index: int, student: bool) -> list:
    source = step["source"]
    try:
        tree = ast.parse(source)
    except SyntaxError:
        if student:
            return []  # it raises SyntaxError and binds nothing when run
        raise _Off(f"{step['where']} does not parse")
    lines = source.splitlines()
    units: list = []
    for node in tree.body:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
        if units and first < units[-1].end:
            units[-1].nodes.append(node)
            units[-1].end = max(units[-1].end, node.end_lineno)
        else:
            units.append(_Unit(index, first, node.end_lineno, "", [node], student))
    for unit in units:
        unit.text = "\n".join(lines[unit.start:unit.end])
    return units


def prune_steps(steps: list) -> tuple[list, PruneReport]:
    """Drop the source statements of a grading job that no check or student's cell can observe.

    Args:
        steps: the job's steps as the grader builds them: ``{"kind": "code", "source", "where",
            "student": bool}`` (``student`` True for an exercise cell holding the student's code)
            and ``{"kind": "check", "expr", ...}``, in execution order.

    Returns:
        ``(steps, report)``: the same list with each source cell's unneeded statements blanked
        (a cell with nothing left is removed), and a :class:`PruneReport`. When the analysis
        cannot be sure (see the module docstring) the steps come back unchanged, ``report.active``
        False.

    Example:
        >>> steps = [{"kind": "code", "where": "cell 0", "source": "import numpy as np\\nimport json"},
        ...          {"kind": "code", "where": "exercise cell 1", "student": True,
        ...           "source": "def f(x):\\n    return np.asarray(x)"},
        ...          {"kind": "check", "expr": "f"}]
        >>> new, report = prune_steps(steps)
        >>> report.dropped
        ['cell 0: import json']
    """
    try:
        return _prune(steps)
    except Exception as exc:  # _Off, or code the analysis cannot follow: when in doubt, run everything
        return steps, PruneReport(False, str(exc) or type(exc).__name__)


def _prune(steps: list) -> tuple[list, PruneReport]:
    units, checks = [], []  # checks: (position in units order, names read)
    order = []  # ("unit", i) / ("check", names) in execution order
    modules_used: set = set()
    for index, step in enumerate(steps):
        if step["kind"] == "check":
            try:
                names = {n.id for n in ast.walk(ast.parse(step["expr"], mode="eval")) if isinstance(n, ast.Name)}
            except SyntaxError:
                names = set()
            checks.append(names)
            order.append(("check", names))
            continue
        for unit in _split(step, index, bool(step.get("student"))):
            _analyse(unit, modules_used)
            order.append(("unit", len(units)))
            units.append(unit)
    for name in modules_used:
        if _framework(name):
            raise _Off(f"uses {name}")
    imports = _imports(units)
    for unit in units:
        for path, _ in unit.paths:
            for full in _resolve(path, imports):
                if _framework(full):
                    raise _Off(f"uses {full}")
    binders: dict = {}
    for i, unit in enumerate(units):
        for name in unit.binds:
            binders.setdefault(name, []).append(i)
    module_names = {n for n, idx in binders.items() if n in imports and all(units[i].is_import for i in idx)}
    # bound by a plain ``import x [as y]`` only: surely a module (np.append is a function, not list.append)
    plain_modules = module_names & _plain_imports(units)
    function_names = {n for n, idx in binders.items() if all(units[i].is_def for i in idx)}
    code_names = {n for n, idx in binders.items() if any(units[i].defines_code for i in idx)}
    builtin_names = {n for n in _BUILTINS if n not in binders}
    opaque = module_names | function_names | builtin_names

    # reading a code name reads what its body reads (every binder of it, transitively)

    def expand(names: set) -> set:
        out, todo = set(names), [n for n in names if n in code_names]
        seen = set()
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            for i in binders.get(name, ()):
                for m in units[i].reads:
                    if m not in out:
                        out.add(m)
                    if m in code_names and m not in seen:
                        todo.append(m)
        return out

    # stateful statements, and names bound by them, to a fixed point
    for unit in units:
        for path, keywords in unit.paths:
            head = path.split(".")[0]
            if head in builtin_names and head in _STATEFUL_BUILTINS:
                unit.stateful = True
            if head in imports and any(_stateful_path(full, keywords) for full in _resolve(path, imports)):
                unit.stateful = True
        if unit.stores & module_names:
            unit.stateful = True  # plt.rcParams["x"] = ..., np.random.x = ...
        if any(root in module_names and attr in _MUTATING_METHODS and dots >= (2 if root in plain_modules else 1)
               for root, attr, dots in unit.methods):
            unit.stateful = True  # a mutating method on a module's attribute: REGISTRY.append(...)
        if unit.handed & (module_names - function_names):
            unit.stateful = True  # helper(CONFIG), rc = plt.rcParams: library state under another name
        if any(attr.lower().startswith(_FILE_METHODS) for _, attr, _ in unit.methods):
            unit.stateful = True  # fig.savefig(...), frame.to_csv(...): files a later cell may read
    stateful_names: set = set()
    changed = True
    while changed:
        changed = False
        for unit in units:
            if not unit.stateful and unit.reads & stateful_names:
                unit.stateful = True
            if unit.stateful and not unit.binds <= stateful_names:
                stateful_names |= unit.binds
                changed = True

    # alias classes over data names (not modules, functions or builtins)
    parent: dict = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    touched = []
    for unit in units:
        names = {n for n in expand(unit.reads | unit.binds) if n not in opaque}
        touched.append(names)
        names = sorted(names)
        for a, b in zip(names, names[1:]):
            parent[find(a)] = find(b)

    # backward liveness: what the student's cells and the checks read is read everywhere
    live: set = set()
    for unit in units:
        if unit.student:
            live |= expand(unit.reads)
    for names in checks:
        live |= expand(names)
    keep = [False] * len(units)
    later_kept_in_step: dict = {}
    for kind, item in reversed(order):
        if kind == "check":
            live |= expand(item)
            continue
        i, unit = item, units[item]
        if unit.student:
            keep[i] = True
            later_kept_in_step[unit.step] = True
            continue
        live_classes = {find(n) for n in live if n not in opaque}
        needed = (unit.stateful or bool(unit.binds & live)
                  or (unit.mutates and any(find(n) in live_classes for n in touched[i]))
                  or (unit.may_raise and later_kept_in_step.get(unit.step, False)))
        if needed:
            keep[i] = True
            later_kept_in_step[unit.step] = True
            live |= expand(unit.reads)

    report = PruneReport(True)
    out = []
    by_step: dict = {}
    for i, unit in enumerate(units):
        by_step.setdefault(unit.step, []).append(i)
    for index, step in enumerate(steps):
        if step["kind"] == "check" or step.get("student") or index not in by_step:
            out.append(step)
            continue
        lines = step["source"].splitlines()
        kept_any = False
        for i in by_step[index]:
            unit = units[i]
            if keep[i]:
                kept_any = True
                report.kept += 1
                continue
            report.dropped.append(f"{step['where']}: {lines[unit.start].strip()[:100]}")
            for line in range(unit.start, unit.end):
                lines[line] = ""
        if kept_any:
            out.append({**step, "source": "\n".join(lines)})
    return out, report
