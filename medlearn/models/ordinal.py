"""An ordinal head: one severity score per image, ordered cut-points, class probabilities out.

Diabetic-retinopathy grades 0-4 (RetinaMNIST) are *ordered*: calling a grade-4 eye
grade 3 is a smaller mistake than calling it grade 0. A softmax head ignores that - it has
one unrelated logit per class. The cumulative-link ("ordered logit") head of
:class:`CumulativeLink` learns a single score ``s(x)`` and K-1 increasing cut-points
``t_0 < t_1 < ... < t_{K-2}``:

    P(grade <= k | x) = sigmoid(t_k - s(x))
    P(grade  = k | x) = P(grade <= k) - P(grade <= k - 1)

so the probabilities are non-negative and sum to one by construction, the classes share one
direction in feature space (far fewer parameters to fit from 1,080 images), and the
categorical cross-entropy of these probabilities is exactly the ordered-logit likelihood.
Because the output is still a (N, K) probability per class, accuracy (argmax) and the
one-vs-rest AUC are computed exactly as MedMNIST's evaluator computes them.

This module imports Keras (its layer must be registered for ``keras.saving``); the builders
import it only for ``head="ordinal"``.

Used by ``medlearn train --head ordinal`` and ``build_model(..., head="ordinal")``; not (yet) by a
recipe: on RetinaMNIST's validation split it did not beat softmax (``benchmarks/README.md``).
"""
from __future__ import annotations

import math

import keras

__all__ = ["CumulativeLink", "ordinal_head"]

_SOFTPLUS_INV_1 = math.log(math.e - 1.0)  # softplus(x) = 1 at this x: initial gaps of one logit


@keras.saving.register_keras_serializable(package="medlearn")
class CumulativeLink(keras.layers.Layer):
    """(N, 1) severity scores -> (N, K) class probabilities through K-1 ordered cut-points.

    The cut-points are ``t_0`` plus cumulative ``softplus`` gaps, so they stay ordered
    whatever the optimizer does. Computed in float32 (a float16 difference of two sigmoids
    loses the small classes).

    Args:
        n_classes: K >= 2 ordered classes.
    """

    def __init__(self, n_classes: int, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if int(n_classes) < 2:
            raise ValueError(f"n_classes must be at least 2. Received: n_classes={n_classes!r}")
        self.n_classes = int(n_classes)

    def build(self, input_shape):
        k = self.n_classes
        self.first = self.add_weight(name="first_cut", shape=(1,),
                                     initializer=keras.initializers.Constant(-(k - 2) / 2.0))
        self.gaps = self.add_weight(name="gaps", shape=(max(k - 2, 0),),
                                    initializer=keras.initializers.Constant(_SOFTPLUS_INV_1))

    def cut_points(self):
        """The K-1 increasing cut-points ``t_k`` (a backend tensor)."""
        ops = keras.ops
        return ops.concatenate([self.first, self.first + ops.cumsum(ops.softplus(self.gaps))])

    def call(self, score):
        ops = keras.ops
        score = ops.cast(score, "float32")
        below = ops.sigmoid(self.cut_points()[None, :] - score)          # P(grade <= k), (N, K-1)
        n = ops.shape(below)[0]
        cdf = ops.concatenate([ops.zeros((n, 1)), below, ops.ones((n, 1))], axis=1)
        return ops.maximum(cdf[:, 1:] - cdf[:, :-1], 0.0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_classes)

    def get_config(self):
        return {**super().get_config(), "n_classes": self.n_classes}


def ordinal_head(x, n_classes: int, dropout: float = 0.0):
    """Features (N, F) -> class probabilities (N, K) through one score and :class:`CumulativeLink`.

    The final layer is named ``"output"`` like every reference head (it has no bias, so the
    class-weight prior correction of :func:`medlearn.train.core.shift_output_bias` leaves it alone).
    """
    if dropout:
        x = keras.layers.Dropout(dropout)(x)
    score = keras.layers.Dense(1, dtype="float32", name="severity")(x)
    return CumulativeLink(n_classes, name="output")(score)
