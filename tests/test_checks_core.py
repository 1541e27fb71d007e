"""The shared check machinery: error messages, the time limit, the declared policy, integrity analysis."""
from __future__ import annotations

import numpy as np
import pytest

from medlearn.checks import check, get_exercise, list_exercises
from medlearn.checks.core import CheckError, UnknownExerciseError, judge_cases, run_cases
from medlearn.checks.integrity import find_delegation
from medlearn.errors import MedlearnError

LESSON_IDS = [i for i in list_exercises() if i.split(".")[0] in ("scratch", "keras", "pipeline")]


def sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def test_unknown_id_is_a_medlearn_error_with_a_suggestion():
    with pytest.raises(UnknownExerciseError) as info:
        check("scratch.sigmod", sigmoid)
    assert isinstance(info.value, MedlearnError)
    assert str(info.value) == "no exercise 'scratch.sigmod'; did you mean 'scratch.sigmoid'?"
    with pytest.raises(UnknownExerciseError, match="known ids: scratch"):
        check("scratch.zzz_unknown", sigmoid)
    with pytest.raises(CheckError, match="Received: exercise_id=3"):
        check(3, sigmoid)


def test_hints_are_never_tracebacks_and_name_the_error():
    def raises(z):
        raise ValueError("first line of the problem\n  File 'x.py', line 3\n" + "trace " * 300)

    hint = check("scratch.sigmoid", raises, quiet=True).hint
    assert hint == "Your code raised ValueError: first line of the problem"


def test_a_hang_becomes_a_fail_naming_the_check_and_the_cause():
    ex = get_exercise("scratch.sigmoid")

    def hangs(z):
        while True:
            pass

    cases = ex.make_cases(np.random.default_rng(0))
    result = judge_cases(ex, cases, run_cases(ex, hangs, cases, time_limit=0.5))
    assert not result.passed
    assert result.hint.startswith("scratch.sigmoid did not finish within") and "loop that never ends" in result.hint


def test_a_full_pass_says_what_comes_next(capsys):
    assert check("scratch.sigmoid", sigmoid)
    out = capsys.readouterr().out
    assert out.startswith("PASS scratch.sigmoid") and "next: sigmoid_grad builds on your sigmoid" in out


@pytest.mark.parametrize("exercise_id", LESSON_IDS)
def test_every_lesson_exercise_declares_its_policy(exercise_id):
    ex = get_exercise(exercise_id)
    assert ex.forbidden and "medlearn" in ex.forbidden, "the library must not do the work"
    assert ex.teaches and ex.next_hint and ex.timeout > 0
    if exercise_id.startswith("scratch."):
        assert ex.dtype == "float64" and "float32" in ex.dtype_why


def test_forged_or_missing_policy_outputs_cannot_pass():
    ex = get_exercise("scratch.sigmoid")
    cases = ex.make_cases(np.random.default_rng(0))
    outputs = run_cases(ex, sigmoid, cases)
    assert judge_cases(ex, cases, outputs).passed
    stripped = [{k: v for k, v in o.items() if k != "__events__"} for o in outputs]
    assert not judge_cases(ex, cases, stripped).passed


# ------------------------------------------------------------------ integrity (pure, on a code string)
@pytest.mark.parametrize("code, finding", [
    ("def sigmoid(z):\n    return scipy.special.expit(z)", "scipy.special.expit"),
    ("from scipy.special import expit\ndef sigmoid(z):\n    return expit(z)", "scipy.special.expit"),
    ("import scipy.special as sp\nsigmoid = sp.expit", "scipy.special.expit"),
    ("import medlearn\ndef sigmoid(z):\n    return medlearn.scratch.sigmoid(z)", "medlearn.scratch.sigmoid"),
    ("def sigmoid(z):\n    return scratch.sigmoid(z)", "medlearn.scratch.sigmoid"),  # setup's alias
    ("import importlib\ndef sigmoid(z):\n    return importlib.import_module('medlearn.' + 'scratch').sigmoid(z)", "importlib"),
    ("import sys\ndef sigmoid(z):\n    return sys.modules['medlearn.scratch'].sigmoid(z)", "sys.modules"),
    ("def sigmoid(z):\n    m = __import__('medlearn.scratch')\n    return m.scratch.sigmoid(z)", "__import__"),
    ("def sigmoid(z):\n    return getattr(np, 'ex' + 'p')(-z)", "getattr with a computed attribute name"),
    ("def sigmoid(z):\n    return eval('1 / (1 + np.exp(-z))')", "eval"),
    ("def sigmoid(z):\n    exec('x = 1')\n    return z", "exec"),
    ("from medlearn.checks.scratch import activations\nsigmoid = activations.sigmoid", "medlearn.checks"),
    ("def sigmoid(z):\n    return z.__class__.__subclasses__()", "__subclasses__"),
])
def test_find_delegation_reports_library_calls_and_dynamic_access(code, finding):
    found = find_delegation(code, "scratch.sigmoid", context="import medlearn.scratch as scratch")
    assert any(finding in f for f in found), found


def test_find_delegation_leaves_honest_code_and_allowed_calls_alone():
    honest = ("import numpy as np\ndef sigmoid(z):\n    z = np.asarray(z, dtype=np.float64)\n"
              "    e = np.exp(-np.abs(z))\n    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))")
    assert find_delegation(honest, "scratch.sigmoid") == []
    backward = "def two_layer_backward(X, Y, W1, b1, W2, b2):\n    a1 = scratch.sigmoid(X @ W1 + b1)\n    return scratch.softmax(a1)"
    assert find_delegation(backward, "scratch.two_layer_backward", context="import medlearn.scratch as scratch") == []
    assert find_delegation(backward.replace("softmax", "log_softmax"), "scratch.two_layer_backward",
                           context="import medlearn.scratch as scratch") == ["medlearn.scratch.log_softmax"]
    assert find_delegation("def f(:", "scratch.sigmoid") == []  # does not parse: nothing to report


def test_judge_cases_with_code_fails_delegation_in_the_grader():
    ex = get_exercise("scratch.sigmoid")
    cases = ex.make_cases(np.random.default_rng(0))
    outputs = run_cases(ex, sigmoid, cases)  # the numbers are right...
    result = judge_cases(ex, cases, outputs, code="def sigmoid(z):\n    return scipy.special.expit(z)")
    assert not result.passed and "scipy.special.expit" in result.hint  # ...but the code delegates
