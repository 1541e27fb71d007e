"""Smaller and faster models: int8 quantisation (by hand and through LiteRT), magnitude pruning, measurement.

* by hand (NumPy): :func:`symmetric_scale`, :func:`quantize`, :func:`dequantize`,
  :func:`quantize_weights`, :func:`quantization_error` - per tensor or per output channel;
* Keras' own int8: :func:`keras_int8` (``model.quantize("int8")`` on the layers Keras supports);
* the real runtime: :func:`to_litert` (full-integer LiteRT flatbuffer, calibrated activations)
  and :class:`LiteRTModel` (runs it on int8 kernels);
* pruning: :func:`prune` (one global magnitude threshold), :func:`fine_tune`, :func:`sparsity`,
  :func:`file_sizes` (dense vs zipped bytes);
* measuring: :func:`latency_ms`, :func:`evaluate`, :data:`TOLERANCE`, :func:`within_tolerance`.

Importing this package does not import Keras or TensorFlow; the functions that need them do.

Used in lesson 11 and by ``medlearn compress``.
"""
from medlearn.compress.measure import TOLERANCE, evaluate, keras_predictor, latency_ms, within_tolerance
from medlearn.compress.prune import (KeepPruned, check_sparsity, file_sizes, fine_tune, global_threshold, prunable_weights,
                                     prune, sparsity)
from medlearn.compress.quantize import (QMAX, CompressError, dequantize, keras_int8, quantization_error, quantize,
                                        quantize_weights, symmetric_scale)
from medlearn.compress.runtime import SUPPORTED_LAYERS, LiteRTModel, inference_model, model_input, plain_copy, to_litert

__all__ = [
    "CompressError", "QMAX", "symmetric_scale", "quantize", "dequantize", "quantize_weights", "quantization_error",
    "keras_int8", "to_litert", "LiteRTModel", "inference_model", "plain_copy", "model_input", "SUPPORTED_LAYERS",
    "prune", "global_threshold", "prunable_weights", "sparsity", "fine_tune", "KeepPruned", "file_sizes",
    "check_sparsity", "latency_ms", "keras_predictor", "evaluate", "TOLERANCE", "within_tolerance",
]
