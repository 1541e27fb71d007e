"""Task names: one vocabulary for models, training, metrics and plots (bottom layer, beside config/errors).

MedMNIST's INFO dict spells tasks ``"binary-class"``, ``"multi-class"``,
``"multi-label, binary-class"`` and ``"ordinal-regression"``; people write
``"binary"`` or ``"multilabel"``. :func:`normalize_task` maps every spelling to
one of four canonical names:

| canonical       | labels                         | output layer            | loss                      |
|-----------------|--------------------------------|-------------------------|---------------------------|
| ``binary``      | (N,) in {0, 1}                 | 1 unit, sigmoid         | binary cross-entropy      |
| ``multi-class`` | (N,) in {0..C-1}               | C units, softmax        | categorical cross-entropy |
| ``multi-label`` | (N, L) in {0, 1}               | L units, sigmoid        | binary cross-entropy      |
| ``ordinal``     | (N,) in {0..C-1}, ordered      | as multi-class          | as multi-class            |

Ordinal tasks (RetinaMNIST's diabetic-retinopathy grades) are treated as
multi-class, as in the MedMNIST benchmark.

Imports nothing but :mod:`medlearn.errors`, so every layer may use it.
"""
from __future__ import annotations

from medlearn.errors import MedlearnError

__all__ = ["TaskError", "TASKS", "normalize_task", "medmnist_task_name", "is_single_label"]

TASKS = ("binary", "multi-class", "multi-label", "ordinal")


class TaskError(MedlearnError, ValueError):
    """A task name that medlearn does not know."""


_ALIASES = {
    "binary": "binary",
    "binary-class": "binary",
    "binary class": "binary",
    "multi-class": "multi-class",
    "multiclass": "multi-class",
    "multi class": "multi-class",
    "multi-label": "multi-label",
    "multilabel": "multi-label",
    "multi-label, binary-class": "multi-label",
    "multi-label (binary per label)": "multi-label",
    "ordinal": "ordinal",
    "ordinal-regression": "ordinal",
    "ordinal regression": "ordinal",
}

_MEDMNIST_NAMES = {
    "binary": "binary-class",
    "multi-class": "multi-class",
    "multi-label": "multi-label, binary-class",
    "ordinal": "ordinal-regression",
}


def normalize_task(task: str) -> str:
    """Map any spelling of a task to ``"binary"``, ``"multi-class"``, ``"multi-label"`` or ``"ordinal"``.

    Args:
        task: e.g. ``"binary-class"`` (MedMNIST), ``"binary"``, ``"multi-label, binary-class"``,
            ``"multilabel"``, ``"ordinal-regression"``. Case and surrounding spaces are ignored.

    Returns:
        The canonical task name.

    Raises:
        TaskError: ``task`` is not a known spelling.

    Example:
        >>> normalize_task("multi-label, binary-class")
        'multi-label'
    """
    if isinstance(task, str):
        key = task.strip().lower().replace("_", "-")
        if key in _ALIASES:
            return _ALIASES[key]
    raise TaskError(
        f"task must be one of {', '.join(TASKS)} (MedMNIST spellings such as 'binary-class' or "
        f"'multi-label, binary-class' work too). Received: task={task!r}"
    )


def medmnist_task_name(task: str) -> str:
    """The MedMNIST INFO spelling of a task (``"binary"`` -> ``"binary-class"``)."""
    return _MEDMNIST_NAMES[normalize_task(task)]


def is_single_label(task: str) -> bool:
    """True for tasks with one class index per image (binary, multi-class, ordinal)."""
    return normalize_task(task) != "multi-label"
