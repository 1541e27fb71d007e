"""Lesson 05 exercises: the right output layer and loss, and a Functional residual block.

Both are judged on an **artifact**: ``run`` (in the learner's process) builds the
model and exports its architecture JSON, compile configuration and weights
(:func:`medlearn.checks.keras_ex.artifact.export_model`); ``judge`` (in the grader)
reads that JSON as data, checks the architecture the exercise specifies (which
layer feeds which, units, activations, loss, optimizer) and evaluates the graph in
NumPy with weights it draws itself. No learner code runs in the judge, and no
number the learner's process computed is trusted.

Used in lesson 05.
"""
from __future__ import annotations

import numpy as np

from medlearn.checks.core import Exercise, Verdict, register
from medlearn.checks.keras_ex._common import PASS, close
from medlearn.checks.keras_ex.artifact import ArtifactError, export_model, forward, random_weights, read_model

__all__ = []


def _res_cases(rng):
    return [{"in_dim": d, "units": u, "x": rng.normal(0, 1, (5, d)), "seed": int(rng.integers(0, 2**31 - 1))}
            for d, u in ((8, 8), (6, 4), (3, 5))]


def _res_run(answer, case):
    import keras

    d, units = int(case["in_dim"]), int(case["units"])
    inputs = keras.Input(shape=(d,))
    try:
        outputs = answer(inputs, units)
    except ValueError as exc:
        if "shape" in str(exc) and d != units:
            raise ValueError(f"in_dim={d} != units={units}: the shortcut needs a Dense(units) projection "
                             "to match shapes") from None
        raise
    return export_model(keras.Model(inputs, outputs))


def _chain(graph, name, start):
    """Layers from ``start`` back to ``name`` along single inputs (input side first), or None."""
    chain = []
    while name != start:
        layer = graph.layers.get(name)
        if layer is None or len(layer.inputs) != 1 or len(chain) > 6:
            return None
        chain.append(layer)
        name = layer.inputs[0]
    return chain[::-1]


def _relu_after(chain, index) -> bool:
    """Is a ReLU applied at or after chain[index] (in that Dense or in a later Activation)?"""
    return any(layer.activation == "relu" for layer in chain[index:])


def _res_judge(case, out):
    d, u, x = int(case["in_dim"]), int(case["units"]), np.asarray(case["x"], np.float64)
    try:
        graph = read_model(out)
    except ArtifactError as exc:
        return Verdict(False, str(exc))
    start, last = graph.inputs[0], graph.layers[graph.outputs[0]]
    if last.kind == "Add":
        return Verdict(False, "Apply the ReLU after adding the shortcut: layers.Activation('relu') on the Add's output.")
    add = graph.layers.get(last.inputs[0]) if len(last.inputs) == 1 else None
    if add is None or add.kind != "Add" or last.activation != "relu" or last.kind not in ("Activation", "ReLU"):
        return Verdict(False, "The block must end with layers.Add()([main, shortcut]) followed by "
                              "layers.Activation('relu').")
    if len(add.inputs) != 2:
        return Verdict(False, f"The Add combines {len(add.inputs)} tensors; add exactly two: the main path and the shortcut.")
    chains = [_chain(graph, name, start) for name in add.inputs]
    if any(c is None for c in chains):
        return Verdict(False, "Each input of the Add must be a simple path from the block's input: the main path "
                              "(two Dense layers) and the shortcut (x, or one Dense).")
    dense = [[layer for layer in c if layer.kind == "Dense"] for c in chains]
    mains = [i for i, ds in enumerate(dense) if len(ds) == 2]
    if len(mains) != 1 or len(dense[1 - mains[0]]) > 1:
        return Verdict(False, "The main path is Dense(units, activation='relu') then Dense(units); the shortcut is "
                              "x itself or one Dense(units) projection.")
    main, short = chains[mains[0]], chains[1 - mains[0]]
    d1, d2 = dense[mains[0]]
    i2 = main.index(d2)
    if _relu_after(main, i2):
        return Verdict(False, "There is a ReLU on the main path right before the add: its second Dense has no "
                              "activation - the ReLU comes after adding the shortcut, relu(main + shortcut).")
    if not _relu_after(main[:i2], main.index(d1)):
        return Verdict(False, "The first Dense of the main path needs activation='relu'.")
    if any(int(layer.config.get("units", -1)) != u for layer in (d1, d2)):
        return Verdict(False, "Both Dense layers of the main path have `units` units.")
    proj = dense[1 - mains[0]]
    if d == u and proj:
        return Verdict(False, "The shapes already match here: use the identity shortcut, no projection.")
    if d != u and not proj:
        return Verdict(False, "in_dim != units here: the shortcut needs a Dense(units) projection to match shapes.")
    if proj:
        if _relu_after(short, 0):
            return Verdict(False, "The projection shortcut must stay linear: Dense(units) with no activation. A ReLU "
                                  "there zeroes negative inputs, so the shortcut is no longer a plain path for the "
                                  "signal and its gradient.")
        if int(proj[0].config.get("units", -1)) != u:
            return Verdict(False, "The projection is Dense(units), so the shortcut has `units` features.")
    # Behaviour, on grader-chosen weights: relu(Dense2(relu(Dense1 x)) + shortcut(x))
    weights = random_weights(graph, d, np.random.default_rng(int(case["seed"])))
    try:
        got = forward(graph, weights, x)
    except ArtifactError as exc:
        return Verdict(False, str(exc))
    (w1, b1), (w2, b2) = weights[d1.name], weights[d2.name]
    hidden = np.maximum(x @ w1 + (0 if b1 is None else b1), 0)
    shortcut = x if not proj else x @ weights[proj[0].name][0] + (
        0 if weights[proj[0].name][1] is None else weights[proj[0].name][1])
    expected = np.maximum(hidden @ w2 + (0 if b2 is None else b2) + shortcut, 0)
    if not close(got, expected, rtol=1e-9, atol=1e-12):
        return Verdict(False, "The block's output is not relu(main path + shortcut).")
    return PASS


register(Exercise(
    id="keras.residual_block",
    title="a Functional residual block (identity or projection shortcut)",
    make_cases=_res_cases, run=_res_run, judge=_res_judge, artifact=True,
    forbidden=("medlearn",), arg_names=("x", "units"), teaches="build the block from Keras layers yourself",
    next_hint="the next cells stack 15 of your blocks and compare their gradients with a plain deep network.",
))


def _head_cases(rng):
    return [{"n_features": n_features, "n_classes": n_classes}
            for n_features, n_classes in ((6, 2), (4, 3), (5, 5))]


def _head_run(answer, case):
    return export_model(answer(int(case["n_features"]), int(case["n_classes"])))


_LOSSES = {2: "binary_crossentropy", 0: "sparse_categorical_crossentropy"}


def _head_judge(case, out):
    k, n_features = int(case["n_classes"]), int(case["n_features"])
    try:
        graph = read_model(out)
    except ArtifactError as exc:
        return Verdict(False, str(exc))
    chain = _chain(graph, graph.outputs[0], graph.inputs[0])
    if chain is None:
        return Verdict(False, "Build a plain stack: Input -> Dense(16, 'relu') -> the output layer.")
    dense = [layer for layer in chain if layer.kind == "Dense"]
    if len(dense) != 2:
        return Verdict(False, f"Use exactly one hidden Dense(16, activation='relu') layer and the output layer; "
                              f"your model has {len(dense)} Dense layer(s).")
    hidden, head = dense
    i_head = chain.index(head)
    hidden_act = next((layer.activation for layer in chain[chain.index(hidden):i_head] if layer.activation != "linear"),
                      "linear")
    if int(hidden.config.get("units", -1)) != 16 or hidden_act != "relu":
        return Verdict(False, "The hidden layer is Dense(16, activation='relu') as the exercise specifies; yours has "
                              f"{hidden.config.get('units')} units with {hidden_act!r}.")
    units = int(head.config.get("units", -1))
    acts = [layer.activation for layer in chain[i_head:] if layer.activation != "linear"]
    act = acts[-1] if acts else "linear"
    if k == 2:
        if units != 1:
            return Verdict(False, f"For two classes use one output unit (the probability of class 1); got {units} units.")
        if act == "softmax":
            return Verdict(False, "Softmax over a single unit is always 1: use a sigmoid.")
        if act != "sigmoid":
            return Verdict(False, f"The output ({act!r}) is not a probability in [0, 1]: use a sigmoid activation.")
    else:
        if units != k:
            return Verdict(False, f"For {k} classes use {k} output units; got {units}.")
        if act != "softmax":
            return Verdict(False, "The outputs for one sample should be probabilities summing to 1: use softmax.")
    if graph.compile is None:
        return Verdict(False, "Return a compiled model: call model.compile(optimizer='adam', loss=...) before returning it.")
    want = _LOSSES.get(k, _LOSSES[0])
    loss, from_logits = graph.loss
    if loss in ("function",):
        loss = str((graph.compile or {}).get("loss", {}).get("config", ""))
    if loss != want:
        extra = (" categorical_crossentropy wants one-hot labels; these labels are integers."
                 if loss == "categorical_crossentropy" else "")
        return Verdict(False, f"The output layer is right but the compiled loss is not the matching cross-entropy: "
                              f"use {want}.{extra}")
    if from_logits:
        return Verdict(False, "The model outputs probabilities, so the loss must not use from_logits=True.")
    if graph.optimizer != "adam":
        return Verdict(False, f"Compile with optimizer='adam' as the exercise specifies; got {graph.optimizer or 'none'!r}.")
    # Behaviour on grader-chosen inputs and weights: probabilities of the right shape
    rng = np.random.default_rng(k * 100 + n_features)
    x = rng.normal(0, 1, (12, n_features))
    try:
        p = forward(graph, random_weights(graph, n_features, rng), x)
    except ArtifactError as exc:
        return Verdict(False, str(exc))
    if p.shape != (12, 1 if k == 2 else k) or p.min() < 0 or p.max() > 1:
        return Verdict(False, "The model's outputs are not probabilities of the right shape.")
    return PASS


register(Exercise(
    id="keras.output_head",
    title="the right output layer and loss for binary and multi-class tasks",
    make_cases=_head_cases, run=_head_run, judge=_head_judge, artifact=True,
    forbidden=("medlearn",), arg_names=("n_features", "n_classes"),
    teaches="choose the output layer and loss yourself",
    next_hint="the next section trains such a classifier with callbacks.",
))
