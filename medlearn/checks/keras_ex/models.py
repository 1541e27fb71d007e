"""Lesson 05 exercises: the right output layer and loss, and a Functional residual block.

``run`` builds the learner's Keras model; ``judge`` needs NumPy only.

Used in lesson 05.
"""
from __future__ import annotations

import numpy as np

from medlearn.checks.core import Exercise, Verdict, register
from medlearn.checks.keras_ex._common import PASS, close

__all__ = []

def _res_cases(rng):
    return [{"in_dim": d, "units": u, "x": rng.normal(0, 1, (5, d)).astype(np.float32)}
            for d, u in ((8, 8), (6, 4), (3, 5))]


def _res_run(answer, case):
    import keras

    d, units = int(case["in_dim"]), int(case["units"])
    inputs = keras.Input(shape=(d,))
    try:
        outputs = answer(inputs, units)
    except ValueError as exc:
        if "shape" in str(exc) and d != units:
            raise ValueError(f"{exc} (in_dim={d} != units={units}: the shortcut needs a Dense(units) "
                             "projection to match shapes)") from None
        raise
    model = keras.Model(inputs, outputs)
    n_params = model.count_params()
    for w in model.weights:  # with every weight zero, only the shortcut can carry the input
        w.assign(np.zeros(w.shape, dtype=w.dtype))
    zero_out = keras.ops.convert_to_numpy(model(case["x"]))
    return {"out_shape": np.array(model.output_shape[1:]), "n_params": np.array(n_params),
            "zero_out": zero_out}


def _res_judge(case, out):
    d, u, x = int(case["in_dim"]), int(case["units"]), case["x"]
    main = d * u + u + u * u + u
    if tuple(out["out_shape"]) != (u,):
        return Verdict(False, f"The block should output `units` features; got shape {tuple(out['out_shape'])}.")
    n = int(out["n_params"])
    if d == u:
        if n == main + d * u + u:
            return Verdict(False, "The shapes already match here: use the identity shortcut, no projection.")
        if n != main:
            return Verdict(False, "Wrong number of parameters: the main path is Dense(units, relu) then "
                                  "Dense(units).")
        z = out["zero_out"]
        if close(z, np.maximum(x, 0), rtol=1e-5, atol=1e-6):
            return PASS
        if close(z, x, rtol=1e-5, atol=1e-6):
            return Verdict(False, "Apply the ReLU after adding the shortcut.")
        if close(z, 0 * x, atol=1e-6):
            return Verdict(False, "With all weights zero the block outputs zeros: the input never reaches the "
                                  "output. Add the shortcut to the main path.")
        return Verdict(False, "The block's output is not relu(main path + shortcut).")
    if n == main:
        return Verdict(False, "in_dim != units here: the shortcut needs a Dense(units) projection to match shapes.")
    if n != main + d * u + u:
        return Verdict(False, "Wrong number of parameters: main path Dense(units, relu) -> Dense(units), plus "
                              "one Dense(units) projection on the shortcut when shapes differ.")
    return PASS


register(Exercise(
    id="keras.residual_block",
    title="a Functional residual block (identity or projection shortcut)",
    make_cases=_res_cases, run=_res_run, judge=_res_judge,
))


def _head_cases(rng):
    cases = []
    for n_features, n_classes in ((6, 2), (4, 3), (5, 5)):
        cases.append({"n_features": n_features, "n_classes": n_classes,
                      "x": rng.normal(0, 1, (12, n_features)).astype(np.float32),
                      "y": np.arange(12) % n_classes})
    return cases


def _head_run(answer, case):
    model = answer(int(case["n_features"]), int(case["n_classes"]))
    pred = np.asarray(model.predict(case["x"], verbose=0))
    try:  # judged after the output shape, which names the mistake better than Keras' message
        result = model.evaluate(case["x"], case["y"], verbose=0)
        loss = result[0] if isinstance(result, (list, tuple)) else result
    except ValueError:
        loss = np.nan
    return {"pred": pred, "loss": np.asarray(loss, dtype=np.float64)}


def _head_judge(case, out):
    k, y, p = int(case["n_classes"]), case["y"], out["pred"].astype(np.float64)
    n = len(y)
    eps = 1e-7
    if k == 2:
        if p.shape not in ((n, 1), (n,)):
            return Verdict(False, f"For two classes use one output unit (the probability of class 1); "
                                  f"got {p.shape[1:]} outputs.")
        p = p.reshape(n)
        if np.allclose(p, 1.0):
            return Verdict(False, "Softmax over a single unit is always 1: use a sigmoid.")
        if p.min() < 0 or p.max() > 1:
            return Verdict(False, "The output is not a probability in [0, 1]: use a sigmoid activation.")
        q = np.clip(p, eps, 1 - eps)
        expected = np.mean(-(y * np.log(q) + (1 - y) * np.log(1 - q)))
        name = "binary_crossentropy"
    else:
        if p.shape != (n, k):
            return Verdict(False, f"For {k} classes use {k} output units; got output shape {p.shape[1:]}.")
        if p.min() < 0 or not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
            return Verdict(False, "The outputs for one image should be probabilities summing to 1: use softmax.")
        expected = np.mean(-np.log(np.clip(p[np.arange(n), y], eps, 1.0)))
        name = "sparse_categorical_crossentropy (the labels are integers)"
    if not np.isfinite(out["loss"]):
        return Verdict(False, f"model.evaluate failed on integer labels: compile with {name}.")
    if not close(out["loss"], expected, rtol=2e-3, atol=1e-4):
        return Verdict(False, f"The output layer is right but the compiled loss is not the matching "
                              f"cross-entropy: use {name}.")
    return PASS


register(Exercise(
    id="keras.output_head",
    title="the right output layer and loss for binary and multi-class tasks",
    make_cases=_head_cases, run=_head_run, judge=_head_judge,
))
