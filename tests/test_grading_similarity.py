"""The similarity report: renamed/reformatted copies caught, independent honest solutions not flagged.

The sets below are also the measurement behind THRESHOLD and MIN_SHINGLES
(medlearn/grading/similarity.py's docstring quotes the figures printed by
``python tests/test_grading_similarity.py``).
"""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

from medlearn.grading.similarity import (MIN_SHINGLES, THRESHOLD, jaccard, normalized_tokens, shingles,
                                         similar_pairs, similarity_csv)

STUB_SIGMOID = 'def sigmoid(z):\n    """The logistic function, elementwise."""\n    # YOUR CODE HERE\n    raise NotImplementedError()'
STUB_STD = 'def standardize(x):\n    """Scale each column of x to mean 0 and standard deviation 1."""\n    # YOUR CODE HERE\n    raise NotImplementedError()'

# Independent honest answers, written the ways students actually write them.
HONEST_SIGMOID = {
    "h1": "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))",
    "h2": "def sigmoid(z):\n    return 1.0 / (1.0 + np.exp(-z))",
    "h3": "def sigmoid(z):\n    return np.exp(-np.logaddexp(0.0, -z))",
    "h4": "def sigmoid(z):\n    return 0.5 * (1 + np.tanh(z / 2))",
    "h5": "def sigmoid(z):\n    e = np.exp(z)\n    return e / (1 + e)",
    "h6": "def sigmoid(z):\n    z = np.asarray(z, dtype=float)\n    out = np.empty_like(z)\n    pos = z >= 0\n"
          "    out[pos] = 1 / (1 + np.exp(-z[pos]))\n    ez = np.exp(z[~pos])\n    out[~pos] = ez / (1 + ez)\n    return out",
    "h7": "def sigmoid(z):\n    return np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))",
    "h8": "def sigmoid(z):\n    # numerically stable\n    return np.exp(np.minimum(z, 0)) / (1 + np.exp(-np.abs(z)))",
}
HONEST_STD = {
    "h1": "def standardize(x):\n    return (x - x.mean(axis=0)) / x.std(axis=0)",
    "h2": "def standardize(x):\n    mu = x.mean(0)\n    sd = x.std(0)\n    return (x - mu) / sd",
    "h3": "def standardize(x):\n    m = np.mean(x, axis=0, keepdims=True)\n    s = np.sqrt(np.mean((x - m) ** 2, axis=0, keepdims=True))\n    return (x - m) / s",
    "h4": "def standardize(x):\n    x = np.asarray(x, float)\n    centred = x - x.mean(axis=0)\n    return centred / np.sqrt((centred ** 2).mean(axis=0))",
    "h5": "def standardize(x):\n    out = np.empty_like(x, dtype=float)\n    for j in range(x.shape[1]):\n        col = x[:, j]\n"
          "        out[:, j] = (col - col.mean()) / col.std()\n    return out",
    "h6": "def standardize(x):\n    return (x - np.average(x, axis=0)) / np.std(x, axis=0, ddof=0)",
}

ORIGINAL = '''def sigmoid(z):
    """The logistic function."""
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1 / (1 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1 + ez)
    return out'''
COPIES = {  # the same work disguised the usual ways
    "renamed": ORIGINAL.replace("out", "result").replace("pos", "mask").replace("ez", "e_neg").replace("(z", "(t")
               .replace("z[", "t[").replace("z >=", "t >=").replace("z = ", "t = "),
    "reformatted": ORIGINAL.replace(" = ", "=").replace(" / ", "/").replace("    ", "  ").replace("(1 + ez)", "( 1+ez )"),
    "recommented": ORIGINAL.replace('"""The logistic function."""', '"""Mine, written from scratch."""\n    # split by sign')
                   .replace("return out", "return out  # done"),
    "one_changed": ORIGINAL.replace("    ez = np.exp(z[~pos])\n", "    ez = np.exp(z[~pos])\n    ez = ez.astype(float)\n"),
    "reordered": ORIGINAL.replace("    z = np.asarray(z, dtype=float)\n    out = np.empty_like(z)\n    pos = z >= 0\n",
                                  "    z = np.asarray(z, dtype=float)\n    pos = z >= 0\n    out = np.empty_like(z)\n"),
}
COPIES["combined"] = COPIES["reordered"].replace("out", "res").replace("ez", "q").replace(" = ", "=").replace(
    '"""The logistic function."""', "# my own version")
COPIES["padded"] = ORIGINAL.replace("    return out", "    unused = len(out.shape)\n    check = out.sum()\n    return out")


def _scores(codes: dict, template: str) -> dict:
    base = shingles(normalized_tokens(template))
    sets = {k: shingles(normalized_tokens(v)) - base for k, v in codes.items()}
    return {(a, b): (jaccard(sets[a], sets[b]), len(sets[a] & sets[b])) for a, b in itertools.combinations(sorted(sets), 2)}


def test_normalisation_ignores_names_formatting_comments_and_docstrings():
    a = normalized_tokens('def f(x):\n    """doc"""\n    y = x * 2  # twice\n    return y')
    b = normalized_tokens("def g(arr):\n\n    'other doc'\n    out=arr*2\n    return out\n")
    assert a == b and "np" not in normalized_tokens("np.exp(z)") and "exp" in normalized_tokens("np.exp(z)")
    assert normalized_tokens("def (") == ["def", "("]  # code that does not parse is still tokenised


@pytest.mark.parametrize("name", sorted(COPIES))
def test_disguised_copies_are_caught(name):
    rows = similar_pairs("demo.sigmoid", {"ann": ORIGINAL, "bob": COPIES[name]}, template=STUB_SIGMOID)
    assert [(r.student, r.other, r.kind) for r in rows] == [("ann", "bob", "pair")], name
    assert rows[0].score >= THRESHOLD and rows[0].shared >= MIN_SHINGLES


@pytest.mark.parametrize("honest, stub", [(HONEST_SIGMOID, STUB_SIGMOID), (HONEST_STD, STUB_STD)])
def test_independent_honest_solutions_are_not_flagged(honest, stub):
    assert similar_pairs("ex", honest, template=stub) == []
    assert max(s for s, n in _scores(honest, stub).values()) < THRESHOLD - 0.15  # a margin, not a near miss


@pytest.mark.parametrize("code", [HONEST_SIGMOID["h1"], HONEST_STD["h1"]])
def test_identical_one_liners_are_never_flagged(code):
    """Two students who both wrote the obvious one-line answer: no evidence of copying."""
    assert similar_pairs("ex", {"ann": code, "bob": "# mine\n" + code}) == []
    (score, shared), = _scores({"a": code, "b": code}, "").values()
    assert score == 1.0 and shared < MIN_SHINGLES  # skipped for want of evidence, not for the score


def test_a_class_with_copies_and_honest_work_and_a_reference_match():
    codes = {**{f"honest_{k}": v for k, v in HONEST_SIGMOID.items() if k != "h6"}, "ann": ORIGINAL,
             "bob": COPIES["renamed"], "cy": COPIES["recommented"]}
    rows = similar_pairs("demo.sigmoid", codes, template=STUB_SIGMOID, references={"instructor source": HONEST_SIGMOID["h6"]})
    pairs = {(r.student, r.other) for r in rows}
    assert {("ann", "bob"), ("ann", "cy"), ("bob", "cy")} <= {p for p in pairs if not p[1].startswith("instructor")}
    assert {("ann", "instructor source"), ("bob", "instructor source"), ("cy", "instructor source")} <= pairs
    assert not any(p[0].startswith("honest") or p[1].startswith("honest") for p in pairs)
    text = similarity_csv(rows)
    assert text.splitlines()[0] == "exercise,kind,student,other,score,shared" and len(text.splitlines()) == len(rows) + 1


def test_csv_names_are_inert():
    rows = similar_pairs("ex", {"=HYPERLINK(1)": ORIGINAL, "+bob": COPIES["renamed"]}, template=STUB_SIGMOID)
    assert "'=HYPERLINK" in similarity_csv(rows) and "'+bob" in similarity_csv(rows)


if __name__ == "__main__":  # the measurement quoted in the similarity module's docstring
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    for label, codes, stub in (("honest sigmoid", HONEST_SIGMOID, STUB_SIGMOID), ("honest standardize", HONEST_STD, STUB_STD)):
        scores = _scores(codes, stub)
        print(label, "max jaccard", round(max(s for s, n in scores.values()), 3),
              "max with >= MIN_SHINGLES shared", round(max([s for s, n in scores.values() if n >= MIN_SHINGLES] or [0]), 3),
              "max shared", max(n for s, n in scores.values()))
    for name, code in COPIES.items():
        (s, n), = _scores({"a": ORIGINAL, "b": code}, STUB_SIGMOID).values()
        print("copy", name, round(s, 3), n)


def test_half_a_class_handing_in_the_solved_lesson_is_reported_not_taken_as_common_code():
    codes = {f"copy{i}": ORIGINAL for i in range(6)}
    codes.update({f"honest_{k}": v for k, v in HONEST_SIGMOID.items() if k != "h6"})
    rows = similar_pairs("demo.sigmoid", codes, template=STUB_SIGMOID, references={"instructor source": ORIGINAL})
    assert {r.student for r in rows if r.other == "instructor source"} == {f"copy{i}" for i in range(6)}
    assert sum(r.kind == "pair" for r in rows) == 15  # every pair of the six copies
    assert not any("honest" in r.student or "honest" in r.other for r in rows)
