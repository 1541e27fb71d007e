"""Keras models judged as artifacts: exported by ``run``, read back by ``judge`` with no learner code.

``run`` (in the learner's process) calls :func:`export_model`: the model's
architecture as JSON (``model.to_json()``), its compile configuration as JSON, and
every layer's weights as plain arrays. ``judge`` (in the grader) calls
:func:`read_model`, which parses that JSON **as data**: nothing is deserialised
through Keras and nothing is imported. Only built-in layers of an allow-list
are accepted (``Dense``, ``Activation``, ``ReLU``, ``Add``, ``Dropout``, ``InputLayer``);
anything else (``Lambda``, custom or nested models) is refused with a hint. The
judge then inspects the graph (which layer feeds which, units, activations) and
evaluates it with NumPy (:func:`forward`) on inputs *and weights the grader chose*, so
numbers the learner's process reports are never what is judged.

Used by the lesson-05 checks (``keras.output_head``, ``keras.residual_block`` in
:mod:`medlearn.checks.keras_ex.models`).
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np

__all__ = ["export_model", "read_model", "forward", "Graph", "ArtifactError"]

_MAX_JSON = 1_000_000
LAYERS = {"InputLayer", "Dense", "Activation", "ReLU", "Add", "Dropout"}
ACTIVATIONS = {"linear", "relu", "sigmoid", "softmax", "tanh"}


class ArtifactError(Exception):
    """The exported model cannot be judged; the message is the learner's hint."""


def _text_array(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()


def _array_text(arr) -> str:
    arr = np.asarray(arr)
    if arr.dtype != np.uint8 or arr.ndim != 1 or arr.size > _MAX_JSON:
        raise ArtifactError("The model could not be read back (its exported configuration is malformed).")
    return bytes(arr.tolist()).decode("utf-8", "replace")


def export_model(model) -> dict:
    """What the learner built, as plain arrays: ``config`` and ``compile`` (UTF-8 JSON bytes) and
    ``w:<layer>:<i>`` weights. Runs in the learner's process."""
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"return a keras.Model, not {type(model).__name__}")
    out = {"config": _text_array(model.to_json())}
    try:
        compile_config = model.get_compile_config() if model.compiled else None
    except (AttributeError, TypeError, ValueError):
        compile_config = None
    out["compile"] = _text_array(json.dumps(compile_config, default=str))
    for layer in model.layers:
        for i, w in enumerate(layer.get_weights()):
            out[f"w:{layer.name}:{i}"] = np.asarray(w)
    return out


@dataclasses.dataclass
class Layer:
    name: str
    kind: str
    config: dict
    inputs: list

    @property
    def activation(self) -> str:
        if self.kind == "ReLU":
            return "relu"
        act = self.config.get("activation", "linear")
        if isinstance(act, dict):  # a serialised function
            act = act.get("config", act.get("class_name"))
        return act if isinstance(act, str) else "?"


@dataclasses.dataclass
class Graph:
    """A validated layer graph: ``layers`` by name (in execution order), ``inputs``/``outputs`` names,
    and the compile configuration (``loss``, ``optimizer`` class name)."""

    layers: dict
    inputs: list
    outputs: list
    compile: dict | None

    def consumers(self, name: str) -> list:
        return [layer for layer in self.layers.values() if name in layer.inputs]

    @property
    def optimizer(self) -> str:
        opt = (self.compile or {}).get("optimizer")
        if isinstance(opt, dict):
            return str(opt.get("class_name", "")).lower()
        return str(opt or "").lower()

    @property
    def loss(self) -> tuple[str, bool]:
        """(loss name in snake_case, from_logits)."""
        loss = (self.compile or {}).get("loss")
        if isinstance(loss, dict):
            name = str(loss.get("class_name", ""))
            snake = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
            snake = snake.replace("crossentropy", "crossentropy")
            return snake, bool((loss.get("config") or {}).get("from_logits", False))
        return str(loss or ""), False


def _history(arg) -> list:
    """Layer names a node argument refers to (``__keras_tensor__`` entries, possibly nested in lists)."""
    if isinstance(arg, dict):
        if arg.get("class_name") == "__keras_tensor__":
            hist = (arg.get("config") or {}).get("keras_history")
            return [str(hist[0])] if isinstance(hist, list) and hist else []
        return [n for v in arg.values() for n in _history(v)]
    if isinstance(arg, list):
        return [n for v in arg for n in _history(v)]
    return []


def _names(spec) -> list:
    if isinstance(spec, list) and spec and isinstance(spec[0], str):
        return [spec[0]]
    if isinstance(spec, list):
        return [n for s in spec for n in _names(s)]
    return []


def _check_modules(obj, depth=0) -> None:
    if depth > 40:
        raise ArtifactError("The model's configuration is nested too deeply to be judged.")
    if isinstance(obj, dict):
        module = obj.get("module")
        if module is not None and not (isinstance(module, str) and (module == "keras" or module.startswith("keras."))):
            raise ArtifactError(f"The model uses an object from {module!r}: build it from Keras' own layers only.")
        for v in obj.values():
            _check_modules(v, depth + 1)
    elif isinstance(obj, list):
        for v in obj:
            _check_modules(v, depth + 1)


def read_model(outputs: dict) -> Graph:
    """Parse the exported JSON (as data only) into a validated :class:`Graph`.

    Raises:
        ArtifactError: malformed export, a layer outside the allow-list, a nested model.
    """
    try:
        config = json.loads(_array_text(outputs["config"]))
        compile_config = json.loads(_array_text(outputs.get("compile", _text_array("null"))))
    except (KeyError, ValueError) as exc:
        raise ArtifactError("The model could not be read back (no valid exported configuration).") from exc
    if not isinstance(config, dict):
        raise ArtifactError("The model could not be read back (its configuration is not an object).")
    kind, body = config.get("class_name"), config.get("config") or {}
    raw_layers = body.get("layers") or []
    if kind not in ("Functional", "Sequential") or not isinstance(raw_layers, list):
        raise ArtifactError(f"Build a Sequential or Functional keras.Model; got {kind!r}.")
    layers, order = {}, []
    previous = None
    for raw in raw_layers:
        if not isinstance(raw, dict):
            raise ArtifactError("The model could not be read back (a layer entry is malformed).")
        cls = str(raw.get("class_name"))
        cfg = raw.get("config") or {}
        name = str(raw.get("name") or cfg.get("name") or f"layer_{len(order)}")
        if cls in ("Functional", "Sequential", "Model"):
            raise ArtifactError("Build the model from layers directly, not from a model nested inside another.")
        if cls not in LAYERS:
            raise ArtifactError(f"The model uses a {cls} layer; this exercise needs only Dense, Activation and Add "
                                "(Lambda and custom layers cannot be judged).")
        if kind == "Functional":
            inputs = [n for node in raw.get("inbound_nodes") or [] for n in _history(node.get("args"))]
        else:
            inputs = [] if previous is None or cls == "InputLayer" else [previous]
        layer = Layer(name, cls, cfg, inputs)
        if layer.kind in ("Dense", "Activation") and layer.activation not in ACTIVATIONS:
            raise ArtifactError(f"Layer {name!r} uses the activation {layer.activation!r}; use one of "
                                f"{', '.join(sorted(ACTIVATIONS))}.")
        layers[name] = layer
        order.append(name)
        previous = name
    _check_modules(config)
    if kind == "Sequential":
        if not layers or layers[order[0]].kind != "InputLayer":
            raise ArtifactError("Start the Sequential model with keras.Input(shape=(n_features,)).")
        ins, outs = [order[0]], [order[-1]]
    else:
        ins, outs = _names(body.get("input_layers")), _names(body.get("output_layers"))
    if not ins or not outs or any(n not in layers for n in ins + outs):
        raise ArtifactError("The model's inputs and outputs could not be found in its configuration.")
    for layer in layers.values():
        if any(n not in layers for n in layer.inputs):
            raise ArtifactError(f"Layer {layer.name!r} reads from a layer the model does not contain.")
    return Graph(layers, ins, outs, compile_config if isinstance(compile_config, dict) else None)


def _act(name: str, z: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    return z


def forward(graph: Graph, weights: dict, x: np.ndarray) -> np.ndarray:
    """Evaluate the graph in NumPy (float64) on ``x``; ``weights[name] = (kernel, bias or None)``.

    Raises:
        ArtifactError: a weight is missing or has the wrong shape, an Add of different shapes.
    """
    values = {graph.inputs[0]: np.asarray(x, np.float64)}
    pending = [n for n in graph.layers if n not in values]
    for _ in range(len(pending) + 1):
        progress = False
        for name in list(pending):
            layer = graph.layers[name]
            if not all(i in values for i in layer.inputs) or not layer.inputs:
                continue
            args = [values[i] for i in layer.inputs]
            if layer.kind == "Dense":
                kernel, bias = weights.get(name, (None, None))
                if kernel is None or kernel.ndim != 2 or kernel.shape[0] != args[0].shape[-1]:
                    raise ArtifactError(f"Layer {name!r} has no usable weights for its input.")
                z = args[0] @ kernel + (0.0 if bias is None else bias)
                values[name] = _act(layer.activation, z)
            elif layer.kind in ("Activation", "ReLU"):
                values[name] = _act(layer.activation, args[0])
            elif layer.kind == "Add":
                if len({a.shape for a in args}) != 1:
                    raise ArtifactError(f"Layer {name!r} adds tensors of different shapes.")
                values[name] = np.sum(args, axis=0)
            else:  # Dropout: the identity at inference
                values[name] = args[0]
            pending.remove(name)
            progress = True
        if not pending or not progress:
            break
    if graph.outputs[0] not in values:
        raise ArtifactError("The model's output does not depend on its input.")
    return values[graph.outputs[0]]


def exported_weights(graph: Graph, outputs: dict) -> dict:
    """``{dense name: (kernel, bias)}`` from the exported ``w:<layer>:<i>`` arrays."""
    weights = {}
    for name, layer in graph.layers.items():
        if layer.kind == "Dense":
            kernel = outputs.get(f"w:{name}:0")
            bias = outputs.get(f"w:{name}:1")
            weights[name] = (None if kernel is None else np.asarray(kernel, np.float64),
                             None if bias is None else np.asarray(bias, np.float64))
    return weights


def random_weights(graph: Graph, in_dim: int, rng) -> dict:
    """Grader-chosen weights with the shapes the graph implies (so nothing learner-made is evaluated)."""
    dims = {graph.inputs[0]: in_dim}
    weights = {}
    for _ in range(len(graph.layers) + 1):
        for name, layer in graph.layers.items():
            if name in dims or not layer.inputs or not all(i in dims for i in layer.inputs):
                continue
            if layer.kind == "Dense":
                units = int(layer.config.get("units", 0))
                weights[name] = (rng.normal(0, 0.7, (dims[layer.inputs[0]], units)),
                                 rng.normal(0, 0.3, units) if layer.config.get("use_bias", True) else None)
                dims[name] = units
            else:
                dims[name] = dims[layer.inputs[0]]
    return weights
