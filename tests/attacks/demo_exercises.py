"""Two small exercises used only by the grading tests (registered as ``demo.*``).

They follow the contract of :mod:`medlearn.checks.core`: ``make_cases`` draws
plain arrays, ``run`` only calls the answer, ``judge`` computes the expected
value itself and hints without revealing it.
"""
import numpy as np

from medlearn.checks import Exercise, Verdict, list_exercises, register


def _sigmoid_cases(rng):
    return [{"z": rng.normal(size=(4, 3)) * 3.0}, {"z": np.array([-30.0, -1.0, 0.0, 2.5, 30.0])},
            {"z": rng.uniform(-6, 6, size=7)}]


def _sigmoid_judge(case, out):
    y = np.asarray(out.get("y"))
    z = case["z"]
    expected = np.exp(-np.logaddexp(0.0, -z))
    if y.shape != z.shape:
        return Verdict(False, f"sigmoid must keep the input's shape {z.shape}; yours returned shape {y.shape}.")
    if not np.all(np.isfinite(y)):
        return Verdict(False, "Some outputs are NaN or infinite: is exp overflowing for large |z|?")
    if not np.allclose(y, expected, rtol=1e-6, atol=1e-9):
        return Verdict(False, "Values are off: sigmoid(z) = 1 / (1 + exp(-z)); sigmoid(0) must be 0.5.")
    return Verdict(True)


def _standardize_cases(rng):
    return [{"x": rng.normal(3.0, 2.0, size=(6, 3))}, {"x": rng.uniform(-5, 5, size=(10, 2))}]


def _standardize_judge(case, out):
    y = np.asarray(out.get("y"))
    x = case["x"]
    expected = (x - x.mean(axis=0)) / x.std(axis=0)
    if y.shape != x.shape:
        return Verdict(False, f"The result must have the input's shape {x.shape}; yours has {y.shape}.")
    if np.allclose(y, (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)):
        return Verdict(False, "You standardised each row; standardise each column (feature) instead: axis=0.")
    if not np.allclose(y, expected):
        return Verdict(False, "Each column should end with mean 0 and standard deviation 1.")
    return Verdict(True)


if "demo.sigmoid" not in list_exercises():
    register(Exercise("demo.sigmoid", "the logistic sigmoid", _sigmoid_cases,
                      lambda answer, case: {"y": answer(case["z"])}, _sigmoid_judge))
    register(Exercise("demo.standardize", "standardise each feature", _standardize_cases,
                      lambda answer, case: {"y": answer(case["x"])}, _standardize_judge))
if "demo.identity" not in list_exercises():
    register(Exercise("demo.identity", "return the input unchanged",
                      lambda rng: [{"x": rng.normal(size=3)}, {"x": rng.normal(size=4)}],
                      lambda answer, case: {"y": answer(case["x"])},
                      lambda case, out: Verdict(bool(np.array_equal(out.get("y"), case["x"])), "Return x itself."),
                      timeout=2.0))
