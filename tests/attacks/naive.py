"""A deliberately naive autograder: the baseline our attacks are shown to fool.

It does what in-process autograders do: execute the submitted notebook in an
IPython shell in one process, trust what the cells print, then run
Otter-style assertion tests in that same process. Run it in a subprocess
(attacks patch the interpreter they run in):

    python tests/attacks/naive.py SUBMISSION.ipynb   ->  JSON on stdout

Output: ``{"stored": {...}, "printed": {...}, "asserts": {...}}``, each mapping
``demo.sigmoid`` / ``demo.standardize`` to True when that naive scheme awards the point.
"""
import contextlib
import io
import json
import sys
from pathlib import Path

IDS = ("demo.sigmoid", "demo.standardize")


def _text(outputs) -> str:
    return "".join(o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"]) for o in outputs)


def main(path: str) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    nb = json.loads(Path(path).read_text())
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    src = lambda c: c["source"] if isinstance(c["source"], str) else "".join(c["source"])
    stored = "".join(_text(c.get("outputs", [])) for c in cells)
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    printed = ""
    for cell in cells:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            shell.run_cell(src(cell), store_history=True, silent=False)
        printed += buffer.getvalue()
    import numpy as np

    ns = shell.user_ns
    asserts = {}
    tests = {
        "demo.sigmoid": ("sigmoid", np.linspace(-5, 5, 11), lambda z: 1 / (1 + np.exp(-z))),
        "demo.standardize": ("standardize", np.arange(12.0).reshape(4, 3) ** 1.5,
                             lambda x: (x - x.mean(axis=0)) / x.std(axis=0)),
    }
    for exercise, (name, x, reference) in tests.items():
        try:
            result = ns[name](x)
            asserts[exercise] = bool(np.all(result == reference(x))) or bool(np.allclose(result, reference(x)))
        except Exception:
            asserts[exercise] = False
    judge = lambda text: {i: f"PASS {i}" in text and f"FAIL {i}" not in text for i in IDS}
    return {"stored": judge(stored), "printed": judge(printed), "asserts": asserts}


if __name__ == "__main__":
    result = main(sys.argv[1])
    sys.__stdout__.write("\nNAIVE " + json.dumps(result) + "\n")
    sys.__stdout__.flush()
    import os

    os._exit(0)
