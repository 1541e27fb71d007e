"""Every scratch check against the reference (PASS) and the classic wrong answers (FAIL + the right hint)."""
import re

import numpy as np
import pytest

import medlearn.scratch as S
from medlearn.checks import check, get_exercise
from medlearn.checks.scratch import traced


def verdict(exercise_id, answer, seed=0):
    return check(exercise_id, answer, seed=seed, quiet=True)


def assert_fails_with(exercise_id, answer, *fragments):
    result = verdict(exercise_id, answer)
    assert not result.passed, f"{exercise_id} passed a wrong answer"
    for fragment in fragments:
        assert fragment.lower() in result.hint.lower(), f"hint {result.hint!r} lacks {fragment!r}"
    assert not re.search(r"\d\.\d{4,}", result.hint), f"hint may reveal a value: {result.hint!r}"
    return result


def not_done(*args, **kwargs):
    raise NotImplementedError()


# ------------------------------------------------------------------ helpers of the student solutions
def sigmoid_ok(z):
    return 1.0 / (1.0 + np.exp(-z))  # overflows to inf -> 0: correct, only a warning


def loop_sigmoid(z):
    out = np.empty_like(z)
    flat, res = z.ravel(), out.ravel()
    for i in range(flat.size):
        res[i] = 1.0 / (1.0 + np.exp(-flat[i]))
    return out


def softmax_ok(Z):
    e = np.exp(Z - Z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def net_forward(X, W1, b1, W2, b2):
    z1 = X @ W1 + b1
    a1 = sigmoid_ok(z1)
    return z1, a1, a1 @ W2 + b2


def backward_ok(X, Y, W1, b1, W2, b2, *, deriv="a", axis=0, sign=1.0, n=None, keepdims=False):
    z1, a1, logits = net_forward(X, W1, b1, W2, b2)
    dlogits = sign * (softmax_ok(logits) - Y) / (X.shape[0] if n is None else n)
    dW2 = a1.T @ dlogits
    db2 = dlogits.sum(axis=axis, keepdims=keepdims)
    da1 = dlogits @ W2.T
    dz1 = da1 * {"a": a1 * (1 - a1), "z": z1 * (1 - z1), "none": 1.0}[deriv]
    return {"dW1": X.T @ dz1, "db1": dz1.sum(axis=axis, keepdims=keepdims), "dW2": dW2, "db2": db2}


# ------------------------------------------------------------------ the tracer
def test_tracer_counts_python_work_not_array_size():
    small, big = np.zeros(10), np.zeros(5000)
    assert traced(sigmoid_ok, big)[1] == traced(sigmoid_ok, small)[1] < 20
    assert traced(loop_sigmoid, big)[1] > 5000


def test_every_exercise_is_registered_with_cases_of_plain_arrays():
    for name in ("sigmoid", "sigmoid_grad", "softmax", "binary_cross_entropy", "gd_step", "momentum_step",
                 "clip_by_global_norm", "numerical_gradient", "two_layer_backward", "fix_broken"):
        exercise = get_exercise(f"scratch.{name}")
        for case in exercise.make_cases(np.random.default_rng(1)):
            assert all(isinstance(v, (np.ndarray, int, float)) for v in case.values()), name


# ------------------------------------------------------------------ lesson 01
def test_sigmoid():
    assert verdict("scratch.sigmoid", sigmoid_ok)
    assert_fails_with("scratch.sigmoid", S.sigmoid, "you called medlearn.scratch.sigmoid")
    assert_fails_with("scratch.sigmoid", lambda z: np.exp(z) / (1 + np.exp(z)), "nan or inf", "overflow")
    assert_fails_with("scratch.sigmoid", lambda z: 1 / (1 + np.exp(z)), "sign error")
    assert_fails_with("scratch.sigmoid", loop_sigmoid, "once per sample")
    assert_fails_with("scratch.sigmoid", np.vectorize(lambda v: 1 / (1 + np.exp(-v))), "once per sample")
    assert_fails_with("scratch.sigmoid", lambda z: np.tanh(z), "z = 0")
    assert_fails_with("scratch.sigmoid", not_done, "NotImplementedError")


def test_sigmoid_grad():
    assert verdict("scratch.sigmoid_grad", lambda z: sigmoid_ok(z) * (1 - sigmoid_ok(z)))
    assert_fails_with("scratch.sigmoid_grad", S.sigmoid_grad, "you called medlearn.scratch.sigmoid_grad")
    assert_fails_with("scratch.sigmoid_grad", lambda z: z * (1 - z), "pre-activation")
    assert_fails_with("scratch.sigmoid_grad", lambda z: sigmoid_ok(sigmoid_ok(z)) * (1 - sigmoid_ok(sigmoid_ok(z))),
                      "applied sigmoid twice")
    assert_fails_with("scratch.sigmoid_grad", lambda z: -sigmoid_ok(z) * (1 - sigmoid_ok(z)), "sign")
    assert_fails_with("scratch.sigmoid_grad", lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2, "overflow")
    assert_fails_with("scratch.sigmoid_grad", lambda z: loop_sigmoid(z) * (1 - sigmoid_ok(z)), "once per sample")


def test_softmax():
    assert verdict("scratch.softmax", softmax_ok)
    assert_fails_with("scratch.softmax", S.softmax, "you called medlearn.scratch.softmax")
    assert_fails_with("scratch.softmax", lambda Z: np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True), "overflow")
    assert_fails_with("scratch.softmax", lambda Z: softmax_ok(Z.T).T, "wrong axis")
    assert_fails_with("scratch.softmax",
                      lambda Z: np.exp(Z - Z.max(axis=1, keepdims=True)) / np.exp(Z - Z.max(axis=1, keepdims=True)).sum(axis=1),
                      "keepdims")
    assert_fails_with("scratch.softmax", lambda Z: np.exp(Z - Z.max()) / np.exp(Z - Z.max()).sum(axis=1, keepdims=True),
                      "each row's own maximum")
    assert_fails_with("scratch.softmax", lambda Z: np.array([softmax_ok(row[None])[0] for row in Z]), "once per sample")


def bce_ok(logits, y):
    return -np.mean(y * -np.logaddexp(0, -logits) + (1 - y) * -np.logaddexp(0, logits))


def test_binary_cross_entropy():
    assert verdict("scratch.binary_cross_entropy", bce_ok)
    assert_fails_with("scratch.binary_cross_entropy", S.binary_cross_entropy, "you called medlearn.scratch")
    assert_fails_with("scratch.binary_cross_entropy", lambda z, y: -bce_ok(z, y), "minus sign")

    def naive(z, y):
        p = sigmoid_ok(z)
        return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))

    assert_fails_with("scratch.binary_cross_entropy", naive, "overflow", "logaddexp")

    def clipped(z, y):
        p = np.clip(sigmoid_ok(z), 1e-7, 1 - 1e-7)
        return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))

    assert_fails_with("scratch.binary_cross_entropy", clipped, "clipping")
    assert_fails_with("scratch.binary_cross_entropy", lambda z, y: bce_ok(z, y) * len(y), "summed")
    assert_fails_with("scratch.binary_cross_entropy",
                      lambda z, y: -np.mean(y * np.log(z) + (1 - y) * np.log(1 - z)), "logits themselves")
    assert_fails_with("scratch.binary_cross_entropy", lambda z, y: np.logaddexp(0, -z * (2 * y - 1)), "one number")
    assert_fails_with("scratch.binary_cross_entropy",
                      lambda z, y: np.mean([np.logaddexp(0, -zi * (2 * yi - 1)) for zi, yi in zip(z, y)]),
                      "once per sample")


# ------------------------------------------------------------------ lesson 02
def gd_ok(w, b, X, y, lr, *, factor=2.0, sign=-1.0, mean=True, update_b=True):
    r = X @ w + b - y
    scale = factor / (len(y) if mean else 1)
    return w + sign * lr * scale * (X.T @ r), (b + sign * lr * scale * r.sum()) if update_b else b


def test_gd_step():
    assert verdict("scratch.gd_step", gd_ok)
    assert_fails_with("scratch.gd_step", lambda *a: gd_ok(*a, sign=+1.0), "uphill")
    assert_fails_with("scratch.gd_step", lambda *a: gd_ok(*a, factor=1.0), "2r")
    assert_fails_with("scratch.gd_step", lambda *a: gd_ok(*a, mean=False), "n times")
    assert_fails_with("scratch.gd_step", lambda *a: gd_ok(*a, update_b=False), "b did not move")
    assert_fails_with("scratch.gd_step", lambda w, b, X, y, lr: (w - lr * X @ w, b), "shape")

    def loop(w, b, X, y, lr):
        dw, db = np.zeros_like(w), 0.0
        for xi, yi in zip(X, y):
            r = xi @ w + b - yi
            dw += 2 * r * xi / len(y)
            db += 2 * r / len(y)
        return w - lr * dw, b - lr * db

    assert_fails_with("scratch.gd_step", loop, "once per sample")
    assert_fails_with("scratch.gd_step", not_done, "NotImplementedError")


def test_momentum_step():
    def ok(w, v, dw, lr, momentum):
        v = momentum * v - lr * dw
        return w + v, v

    assert verdict("scratch.momentum_step", ok)
    assert verdict("scratch.momentum_step", lambda *a: dict(zip("wv", ok(*a))))
    assert_fails_with("scratch.momentum_step", lambda w, v, dw, lr, m: (w + v, m * v - lr * dw), "old velocity")
    assert_fails_with("scratch.momentum_step", lambda w, v, dw, lr, m: (ok(w, v, dw, lr, m)[0], v), "old velocity")
    assert_fails_with("scratch.momentum_step", lambda w, v, dw, lr, m: (w - lr * (m * v + dw), m * v + dw), "convention")
    assert_fails_with("scratch.momentum_step", lambda w, v, dw, lr, m: (w + m * v + lr * dw, m * v + lr * dw), "uphill")
    assert_fails_with("scratch.momentum_step",
                      lambda w, v, dw, lr, m: (w - lr * (m * v + (1 - m) * dw), m * v + (1 - m) * dw), "moving average")


def test_clip_by_global_norm():
    def ok(grads, max_norm):
        norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))
        return [g * min(1.0, max_norm / norm) for g in grads]

    assert verdict("scratch.clip_by_global_norm", ok)
    assert_fails_with("scratch.clip_by_global_norm", lambda g, m: S.clip_by_global_norm(g, m)[0],
                      "you called medlearn.scratch.clip_by_global_norm")
    assert_fails_with("scratch.clip_by_global_norm", lambda g, m: [np.clip(x, -m, m) for x in g], "np.clip")
    assert_fails_with("scratch.clip_by_global_norm",
                      lambda g, m: [x * min(1.0, m / np.linalg.norm(x)) for x in g], "its own norm")
    assert_fails_with("scratch.clip_by_global_norm",
                      lambda g, m: [x * m / np.sqrt(sum(np.sum(y ** 2) for y in g)) for x in g], "only shrink")
    assert_fails_with("scratch.clip_by_global_norm", lambda g, m: ok(g, m)[:1], "one array per gradient")


# ------------------------------------------------------------------ lesson 03
def test_numerical_gradient():
    def ok(f, x, eps=1e-6):
        grad = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            old = x[idx]
            x[idx] = old + eps
            f_plus = f(x)
            x[idx] = old - eps
            f_minus = f(x)
            x[idx] = old
            grad[idx] = (f_plus - f_minus) / (2 * eps)
        return grad

    assert verdict("scratch.numerical_gradient", ok)
    assert_fails_with("scratch.numerical_gradient", S.numerical_gradient, "you called medlearn.scratch.numerical_gradient")

    def forward(f, x, eps=1e-6):
        grad, f0 = np.zeros_like(x), f(x)
        for idx in np.ndindex(x.shape):
            x[idx] += eps
            grad[idx] = (f(x) - f0) / eps
            x[idx] -= eps
        return grad

    def no_restore(f, x, eps=1e-6):
        grad = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            x[idx] += eps
            f_plus = f(x)
            x[idx] -= 2 * eps
            grad[idx] = (f_plus - f(x)) / (2 * eps)
        return grad

    assert_fails_with("scratch.numerical_gradient", forward, "one-sided")
    assert_fails_with("scratch.numerical_gradient", lambda f, x, eps=1e-6: 2 * ok(f, x, eps), "2 eps apart")
    assert_fails_with("scratch.numerical_gradient", lambda f, x, eps=1e-6: -ok(f, x, eps), "sign")
    assert_fails_with("scratch.numerical_gradient", no_restore, "put each entry back")
    assert_fails_with("scratch.numerical_gradient",
                      lambda f, x, eps=1e-6: np.full_like(x, (f(x + eps) - f(x - eps)) / (2 * eps)), "one entry at a time")


def test_two_layer_backward():
    assert verdict("scratch.two_layer_backward", backward_ok)
    assert verdict("scratch.two_layer_backward", lambda *a: tuple(backward_ok(*a).values()))
    assert_fails_with("scratch.two_layer_backward", lambda *a: backward_ok(*a, deriv="z"), "pre-activation")
    assert_fails_with("scratch.two_layer_backward", lambda *a: backward_ok(*a, deriv="none"), "derivative")
    assert_fails_with("scratch.two_layer_backward", lambda *a: backward_ok(*a, axis=1), "axis=0")
    assert_fails_with("scratch.two_layer_backward", lambda *a: backward_ok(*a, axis=1, keepdims=True), "axis=0")
    assert_fails_with("scratch.two_layer_backward", lambda *a: backward_ok(*a, keepdims=True), "keepdims")
    assert_fails_with("scratch.two_layer_backward", lambda *a: backward_ok(*a, sign=-1.0), "wrong sign")
    assert_fails_with("scratch.two_layer_backward", lambda *a: backward_ok(*a, n=1), "n times")

    def loop(X, Y, W1, b1, W2, b2):
        grads = {k: 0.0 for k in ("dW1", "db1", "dW2", "db2")}
        for i in range(X.shape[0]):
            g = backward_ok(X[i:i + 1], Y[i:i + 1], W1, b1, W2, b2, n=X.shape[0])
            grads = {k: grads[k] + g[k] for k in grads}
        return grads

    assert_fails_with("scratch.two_layer_backward", loop, "once per sample")
    assert_fails_with("scratch.two_layer_backward", not_done, "NotImplementedError")


def broken(X, Y, W1, b1, W2, b2, *, fix=()):
    """Lesson 03's broken implementation; ``fix`` names the bugs already repaired."""
    n = X.shape[0]
    z1, a1, logits = net_forward(X, W1, b1, W2, b2)
    probs = softmax_ok(logits)
    scores = logits if "softmax" in fix else probs
    loss = np.mean(np.sum(Y * S.log_softmax(scores), axis=1))
    if "sign" in fix:
        loss = -loss
    dlogits = (probs - Y) / n
    axis, keep = (0, False) if "axis" in fix else (1, True)
    dW2, db2 = a1.T @ dlogits, np.sum(dlogits, axis=axis, keepdims=keep)
    da1 = dlogits @ W2.T
    dz1 = da1 * (a1 * (1 - a1) if "deriv" in fix else z1 * (1 - z1))
    return loss, {"dW1": X.T @ dz1, "db1": np.sum(dz1, axis=axis, keepdims=keep), "dW2": dW2, "db2": db2}


ALL_BUGS = ("sign", "softmax", "axis", "deriv")
HINTS = {"sign": "minus sign", "softmax": "softmax is applied twice", "axis": "axis=0", "deriv": "pre-activation"}


def test_fix_broken_passes_only_when_every_bug_is_fixed():
    assert verdict("scratch.fix_broken", lambda *a: broken(*a, fix=ALL_BUGS))
    result = assert_fails_with("scratch.fix_broken", broken, *HINTS.values())
    assert result.hint.startswith("Still broken")
    for left in ALL_BUGS:  # exactly one bug left: its hint, and only its hint
        fixed = tuple(b for b in ALL_BUGS if b != left)
        result = assert_fails_with("scratch.fix_broken", lambda *a, fixed=fixed: broken(*a, fix=fixed), HINTS[left])
        for other in set(ALL_BUGS) - {left}:
            assert HINTS[other] not in result.hint, (left, other, result.hint)


def test_broken_implementation_fails_the_gradient_check_where_expected():
    """What lesson 03 shows: the gradient check exposes the loss bugs even though dW2 is right."""
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(6, 4)), np.eye(2)[rng.integers(0, 2, size=6)]
    params = {"W1": rng.normal(size=(4, 3)), "b1": rng.normal(size=3), "W2": rng.normal(size=(3, 2)), "b2": rng.normal(size=2)}

    def report(fix):
        _, grads = broken(X, Y, *params.values(), fix=fix)
        return S.gradient_check(lambda: broken(X, Y, *params.values(), fix=fix)[0], params, grads)

    assert report(ALL_BUGS).ok
    bad = report(())
    assert bad.errors["db1"] == np.inf and bad.errors["dW2"] > 1e-2
    assert S.interpret_relative_error(report(("sign", "softmax", "axis")).errors["dW1"]) == "wrong"


@pytest.mark.parametrize("exercise_id", ["scratch.sigmoid", "scratch.two_layer_backward", "scratch.fix_broken"])
def test_hidden_seeds_give_new_inputs_and_still_judge_fairly(exercise_id):
    answers = {"scratch.sigmoid": sigmoid_ok, "scratch.two_layer_backward": backward_ok,
               "scratch.fix_broken": lambda *a: broken(*a, fix=ALL_BUGS)}
    ex = get_exercise(exercise_id)
    first = ex.make_cases(np.random.default_rng(1))[0]
    second = ex.make_cases(np.random.default_rng(2))[0]
    assert any(not np.array_equal(first[k], second[k]) for k in first)
    for seed in (1, 2, 12345):
        assert verdict(exercise_id, answers[exercise_id], seed=seed)
