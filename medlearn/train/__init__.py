"""Train reference models: :func:`fit` on a dataset Bunch -> :class:`TrainResult`.

Augmentation fitting the modality, class weights, early stopping on validation
AUC, a cosine learning-rate schedule, wall-clock budgets and seeds - in plain
Keras 3, so it runs with the TensorFlow, JAX or PyTorch backend. Importing this
module does not import Keras; :func:`fit` does.

Used in lesson 07 and by ``medlearn train``.
"""
from medlearn.train.core import TrainError, TrainResult, class_weights, default_batch_size
from medlearn.train.fitting import fit

__all__ = ["fit", "TrainResult", "TrainError", "class_weights", "default_batch_size", "predict_proba"]


def predict_proba(model, images, *, batch_size: int = 512, views=("identity",)):
    """Probabilities of ``model`` for uint8 or float images, optionally averaged over test-time views.

    See :func:`medlearn.train.batches.predict_proba`: (N,) for a binary model, else (N, units).
    """
    from medlearn.train.batches import predict_proba as _predict

    return _predict(model, images, batch_size=batch_size, views=views)
