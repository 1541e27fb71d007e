"""Exercises for lessons 04-07: TensorFlow autodiff, Keras models, convolution, clinical metrics.

Each exercise follows the contract of :mod:`medlearn.checks.core`:
``make_cases`` draws plain arrays, ``run`` calls the learner's answer (the only
part that imports TensorFlow/Keras, and only where the exercise is about them)
and ``judge`` recomputes the expected result with NumPy and picks a hint that
names the likely mistake without giving the answer away.

| id                                | lesson | answer signature                                        |
|-----------------------------------|--------|---------------------------------------------------------|
| ``keras.tape_gradients``          | 04 | ``loss_and_gradients(W1, b1, W2, b2, X, y) -> (loss, [dW1, db1, dW2, db2])`` |
| ``keras.train_step``              | 04 | ``train_step(variables, X, y, learning_rate) -> loss``  |
| ``keras.residual_block``          | 05 | ``residual_block(x, units) -> KerasTensor``             |
| ``keras.output_head``             | 05 | ``build_classifier(n_features, n_classes) -> compiled keras.Model`` |
| ``keras.conv2d``                  | 06 | ``conv2d(image, kernel) -> (H-kh+1, W-kw+1) array``     |
| ``keras.max_pool``                | 06 | ``max_pool2d(image, size) -> (H//size, W//size) array`` |
| ``keras.clinical_metrics``        | 07 | ``clinical_metrics(cm) -> dict(sensitivity, specificity, ppv, npv)`` |
| ``keras.threshold_for_sensitivity`` | 07 | ``threshold_for_sensitivity_(y_true, scores, target) -> float`` |

Used in lessons 04, 05, 06 and 07.

The exercises live in one module per lesson (``autodiff``, ``models``, ``convolution``,
``clinical``); importing this package registers all of them.
"""
from medlearn.checks.keras_ex.autodiff import mlp_loss_and_gradients
from medlearn.checks.keras_ex.clinical import confusion_rates
from medlearn.checks.keras_ex.convolution import cross_correlate2d, pool2d
from medlearn.checks.keras_ex import models  # noqa: F401  (registers keras.output_head, keras.residual_block)

__all__ = ["mlp_loss_and_gradients", "cross_correlate2d", "pool2d", "confusion_rates"]
