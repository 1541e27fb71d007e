"""A micrograd-sized neural-network engine in pure NumPy (no TensorFlow).

Every operation's backward rule sits right under its forward rule, gradients
are named ``d<name>`` (``dW1``, ``dlogits``) and rows are samples. Everything is
vectorised: no Python loop over samples.

* activations: :func:`sigmoid`, :func:`tanh`, :func:`relu`, :func:`softmax` (+ ``*_grad``)
* layers: :class:`Dense`, :class:`Sigmoid`, :class:`Tanh`, :class:`ReLU`, :class:`Softmax`
* losses (from logits where it matters): :func:`mse`, :func:`binary_cross_entropy`,
  :func:`softmax_cross_entropy` and the classes :class:`MSE`, :class:`BinaryCrossEntropy`,
  :class:`SoftmaxCrossEntropy`
* models: :class:`Sequential`, :class:`MLP`
* optimisation: :class:`SGD` (momentum, clipnorm), :func:`clip_by_global_norm`, :func:`minibatches`,
  :func:`fit`, :func:`train_epoch`, :func:`accuracy`
* checking: :func:`numerical_gradient`, :func:`gradient_check`, :func:`check_model_gradients`

Example:
    >>> from medlearn.scratch import MLP, BinaryCrossEntropy, SGD, fit
    >>> net = MLP([30, 16, 1], activation="tanh", seed=0)
    >>> history = fit(net, BinaryCrossEntropy(), SGD(0.1, momentum=0.9), X, y, epochs=20)

Used in lessons 02-04.
"""
from medlearn.scratch._validate import ScratchError
from medlearn.scratch.activations import (
    log_sigmoid,
    log_softmax,
    relu,
    relu_grad,
    sigmoid,
    sigmoid_grad,
    softmax,
    tanh,
    tanh_grad,
)
from medlearn.scratch.gradcheck import (
    GradCheckReport,
    check_model_gradients,
    gradient_check,
    interpret_relative_error,
    numerical_gradient,
    relative_error,
)
from medlearn.scratch.layers import Dense, Layer, ReLU, Sigmoid, Softmax, Tanh
from medlearn.scratch.losses import (
    MSE,
    BinaryCrossEntropy,
    SoftmaxCrossEntropy,
    binary_cross_entropy,
    mse,
    softmax_cross_entropy,
)
from medlearn.scratch.model import MLP, Sequential
from medlearn.scratch.optim import SGD, clip_by_global_norm, global_norm, minibatches
from medlearn.scratch.train import accuracy, fit, train_epoch

__all__ = [
    "ScratchError",
    "sigmoid", "sigmoid_grad", "tanh", "tanh_grad", "relu", "relu_grad",
    "softmax", "log_softmax", "log_sigmoid",
    "Layer", "Dense", "Sigmoid", "Tanh", "ReLU", "Softmax",
    "mse", "binary_cross_entropy", "softmax_cross_entropy",
    "MSE", "BinaryCrossEntropy", "SoftmaxCrossEntropy",
    "Sequential", "MLP",
    "SGD", "clip_by_global_norm", "global_norm", "minibatches",
    "train_epoch", "fit", "accuracy",
    "numerical_gradient", "relative_error", "interpret_relative_error",
    "GradCheckReport", "gradient_check", "check_model_gradients",
]
