"""The real int8 path: a Keras model -> a full-integer LiteRT (TFLite) flatbuffer -> integer kernels.

:func:`to_litert` converts with TensorFlow's converter (``int8=True``: weights *and*
activations int8, activation ranges calibrated on a few hundred training images) and
:class:`LiteRTModel` runs the file with LiteRT's interpreter (``ai-edge-litert``), which
executes int8 convolutions and matmuls (XNNPACK on CPU). Why LiteRT and not ONNX Runtime:
a Keras 3 model exports to a TensorFlow SavedModel on every backend, and TensorFlow's converter
turns that into a full-integer model in one call; the ONNX route needs tf2onnx, which lags behind
TensorFlow releases.

Augmentation layers (identity at inference, but built from random ops no runtime has) are
removed first by :func:`inference_model`. TensorFlow is imported inside the functions.

Used in lesson 11 and by ``medlearn compress``.
"""
from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from medlearn.compress.quantize import CompressError

__all__ = ["SUPPORTED_LAYERS", "inference_model", "plain_copy", "model_input", "to_litert", "LiteRTModel"]

SUPPORTED_LAYERS = ("Conv2D", "DepthwiseConv2D", "Dense", "BatchNormalization", "MaxPooling2D",
                    "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "ReLU/sigmoid/softmax/GELU",
                    "Add", "Concatenate", "Flatten", "Reshape", "Dropout", "Rescaling", "Normalization",
                    "LayerNormalization", "MultiHeadAttention")


def _is_augmentation(layer) -> bool:
    name = type(layer).__name__
    return layer.name.startswith("augment") or name.startswith("Random") or name == "RandAugment"


def inference_model(model):
    """``model`` without its augmentation layers (they are the identity at inference).

    Returns:
        A functional ``keras.Model`` that *shares* the remaining layers (and weights) with
        ``model``; ``model`` itself if it has no augmentation layer.
    """
    import keras

    if not any(_is_augmentation(layer) for layer in model.layers):
        return model

    def call(layer, *args, **kwargs):
        return args[0] if _is_augmentation(layer) else layer(*args, **kwargs)

    return keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call)


def plain_copy(model):
    """A copy of ``model`` without augmentation layers and without optimizer state.

    What the original and the pruned model are saved as, so that their file sizes compare
    weights with weights (``keras.models.clone_model`` of a compiled model keeps its optimizer).
    """
    net = inference_model(model)
    copy = type(net).from_config(net.get_config())
    copy.set_weights(net.get_weights())
    return copy


def model_input(model, images) -> np.ndarray:
    """Images as the model takes them: float32 (N, H, W, C); uint8 pixels divided by 255 unless the
    model rescales inside (a ``Rescaling`` layer).

    Raises:
        CompressError: the images do not fit the model's input shape.
    """
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    shape = tuple(model.input_shape[1:])
    if x.ndim != len(shape) + 1 or any(s is not None and s != g for s, g in zip(shape, x.shape[1:])):
        raise CompressError(f"the dataset's images do not fit the model's input. Received: images of shape "
                            f"{tuple(x.shape[1:])}, model input {shape}. Fix: use the dataset (and --size) "
                            "the model was trained on.")
    rescales = any(type(layer).__name__ == "Rescaling" for layer in model.layers)
    if x.dtype == np.uint8 and not rescales:
        return x.astype(np.float32) / np.float32(255.0)
    return x.astype(np.float32)


@contextlib.contextmanager
def _quiet_native():
    """Silence the converter's C++ chatter (MLIR dumps on stderr, fd 2)."""
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _unsupported(message: str, model) -> str:
    """Name the layer(s) behind the ops the converter refused (from the ops' location strings)."""
    ops = sorted(set(re.findall(r"'(tf\.\w+)' op is neither", message)))
    names = {layer.name: type(layer).__name__ for layer in _flat_layers(model)}
    found = []
    for path in re.findall(r'fused\["\w+:", "([^"@]+)', message):
        for part in path.split("/"):
            base = re.sub(r"_\d+$", "", part)
            for candidate in (part, base):
                if candidate in names and candidate != model.name and candidate not in found:
                    found.append(candidate)
    layer = ", ".join(f"{n!r} ({names[n]})" for n in found[:3]) or "a layer"
    return (f"LiteRT cannot convert {layer} to int8 kernels: it needs {', '.join(ops) or 'ops'} that LiteRT "
            f"does not provide. Supported: {', '.join(SUPPORTED_LAYERS)}.")


def _flat_layers(model):
    for layer in getattr(model, "layers", []):
        yield layer
        if hasattr(layer, "layers"):
            yield from _flat_layers(layer)


def to_litert(model, calibration=None, *, int8: bool = True, path=None) -> bytes:
    """Convert a Keras model to a LiteRT flatbuffer.

    Args:
        model: a ``keras.Model`` (any backend; augmentation layers are removed).
        calibration: images for the activation ranges when ``int8`` (N, H, W[, C]), uint8 or
            float as :func:`model_input` takes them; 100-500 training images are enough.
        int8: full-integer quantisation (int8 weights, activations, input and output); False
            keeps float32 (the same runtime, for a fair latency comparison).
        path: write the flatbuffer there too.

    Returns:
        The ``.tflite`` bytes.

    Raises:
        CompressError: no calibration images for int8, or a layer LiteRT cannot convert (named).
    """
    import tensorflow as tf

    net = inference_model(model)
    if int8:
        if calibration is None or len(calibration) == 0:
            raise CompressError("int8 conversion needs calibration images. Received: calibration=None")
        x_cal = model_input(net, calibration)

    with tempfile.TemporaryDirectory(prefix="medlearn-litert-") as tmp:
        try:
            with _quiet_native():
                net.export(tmp, format="tf_saved_model", verbose=False)
        except Exception as exc:  # noqa: BLE001 - any export failure is reported with the model's layers
            raise CompressError(f"the model cannot be exported for LiteRT ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0][:300]}). Supported: {', '.join(SUPPORTED_LAYERS)}.") from None
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        if int8:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([x_cal[i:i + 1]] for i in range(len(x_cal)))
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        try:
            with _quiet_native():
                flat = converter.convert()
        except Exception as exc:  # noqa: BLE001 - the converter raises several error types
            raise CompressError(_unsupported(str(exc), net)) from None
    if path is not None:
        Path(path).write_bytes(flat)
    return flat


class LiteRTModel:
    """A ``.tflite`` model run by LiteRT's interpreter, with a ``predict(x)`` like Keras'.

    Quantised input/output are handled: float input is mapped to int8 with the input's scale and
    zero point, int8 output back to float with the output's.

    Args:
        model: the flatbuffer bytes or a path to a ``.tflite`` file.
        num_threads: interpreter threads (None: LiteRT's default).
    """

    def __init__(self, model, num_threads=None):
        from ai_edge_litert.interpreter import Interpreter

        content = model if isinstance(model, (bytes, bytearray)) else Path(model).read_bytes()
        with _quiet_native():
            self._interp = Interpreter(model_content=bytes(content), num_threads=num_threads)
        self._in = self._interp.get_input_details()[0]
        self._out = self._interp.get_output_details()[0]
        self._batch = None
        self.input_dtype = np.dtype(self._in["dtype"])

    def _resize(self, n):
        if self._batch != n:
            self._interp.resize_tensor_input(self._in["index"], [n, *self._in["shape"][1:]])
            self._interp.allocate_tensors()
            self._batch = n

    def quantize_input(self, x) -> np.ndarray:
        """Float model input -> the interpreter's input dtype (int8 with its scale / zero point)."""
        x = np.asarray(x, dtype=np.float32)
        if self.input_dtype == np.int8:
            scale, zero = self._in["quantization"]
            return np.clip(np.rint(x / scale + zero), -128, 127).astype(np.int8)
        return x

    def invoke(self, q) -> np.ndarray:
        """Run one batch already in the input dtype; returns the raw output."""
        self._resize(len(q))
        self._interp.set_tensor(self._in["index"], q)
        self._interp.invoke()
        return self._interp.get_tensor(self._out["index"])

    def predict(self, x, batch_size: int = 256) -> np.ndarray:
        """Float (N, H, W, C) model input -> float32 outputs (N, units)."""
        q = self.quantize_input(x)
        parts = [self.invoke(q[i:i + batch_size]) for i in range(0, len(q), batch_size)]
        out = np.concatenate(parts).astype(np.float32)
        if np.dtype(self._out["dtype"]) == np.int8:
            scale, zero = self._out["quantization"]
            out = (out - zero) * scale
        return out
