"""Reference models in plain Keras 3 (``keras.layers`` / ``keras.ops``; no ``tf.*``).

* :func:`build_model` - ``"logreg"``, ``"mlp"``, ``"cnn"``, ``"resnet"`` by name;
* :func:`logistic_regression`, :func:`mlp`, :func:`small_cnn`, :func:`resnet_cnn`;
* :func:`output_spec` - the output layer and loss for a task; :func:`encode_labels` - the targets;
* :func:`compile_model` - loss + ``acc`` + ``auc`` metrics;
* :func:`augmentation_layers`, :func:`policy_for` - anatomy-aware augmentation.

Importing this module does not import Keras; the builders do.

Used in lessons 07 and 08.
"""
from medlearn.tasks import TaskError, normalize_task
from medlearn.models.augment import POLICIES, AugmentPolicy, augmentation_layers, policy_for
from medlearn.models.builders import MODELS, build_model, logistic_regression, mlp, resnet_cnn, small_cnn
from medlearn.models.heads import ModelError, OutputSpec, compile_model, encode_labels, output_spec

__all__ = [
    "MODELS", "ModelError", "TaskError", "OutputSpec", "AugmentPolicy", "POLICIES",
    "build_model", "logistic_regression", "mlp", "small_cnn", "resnet_cnn",
    "output_spec", "encode_labels", "compile_model", "normalize_task",
    "augmentation_layers", "policy_for",
]
