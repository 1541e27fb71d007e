"""Checks for lessons 01-03 (the NumPy engine): activations, losses, gradient descent, backprop.

Each exercise draws small cases plus one large case. ``run`` calls the
learner's function under a tracer that counts Python events: a vectorised
answer runs a few dozen Python lines whatever the input size, a loop over
samples runs thousands - deterministic, unlike timing. ``judge`` recomputes
the answer with :mod:`medlearn.scratch` and recognises the classic mistakes
(wrong sign, derivative at the wrong point, wrong axis, overflow, loops) to
give a specific hint. Hints never contain the expected values.

Exercise ids and answer signatures:

| id | lesson | answer |
|---|---|---|
| ``scratch.sigmoid`` | 01 | ``sigmoid(z) -> array like z`` |
| ``scratch.sigmoid_grad`` | 01 | ``sigmoid_grad(z) -> d sigmoid/dz at z`` |
| ``scratch.softmax`` | 01 | ``softmax(Z) -> (n, k) rows summing to 1`` |
| ``scratch.binary_cross_entropy`` | 01 | ``binary_cross_entropy(logits, y) -> float`` |
| ``scratch.gd_step`` | 02 | ``gd_step(w, b, X, y, lr) -> (w_new, b_new)`` |
| ``scratch.momentum_step`` | 02 | ``momentum_step(w, v, dw, lr, momentum) -> (w_new, v_new)`` |
| ``scratch.clip_by_global_norm`` | 02 | ``clip_by_global_norm(grads: list, max_norm) -> list`` |
| ``scratch.numerical_gradient`` | 03 | ``numerical_gradient(f, x, eps) -> array like x`` |
| ``scratch.two_layer_backward`` | 03 | ``two_layer_backward(X, Y, W1, b1, W2, b2) -> {"dW1", "db1", "dW2", "db2"}`` |
| ``scratch.fix_broken`` | 03 | ``fixed_loss_and_grads(X, Y, W1, b1, W2, b2) -> (loss, {"dW1", ...})`` |

Used in lessons 01-03.
"""
from medlearn.checks.scratch import activations, backprop, descent  # noqa: F401  (they register)
from medlearn.checks.scratch._common import close, traced

__all__ = ["close", "traced"]
