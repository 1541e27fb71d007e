"""Clinical metrics with confidence intervals, and MedMNIST-compatible ACC/AUC (NumPy + scikit-learn only).

* :func:`clinical_report` - sensitivity, specificity, PPV, NPV, F1, accuracy, ROC-AUC, PR-AUC,
  each with a bootstrap 95 % CI; per class + macro average (multi-class), per label (multi-label);
* :func:`threshold_for_sensitivity` - the decision threshold for a target sensitivity;
* :func:`confusion_matrix`;
* :func:`medmnist_acc`, :func:`medmnist_auc`, :func:`medmnist_scores` - the benchmark's own definitions;
* :func:`normalize_task` - one vocabulary for task names;
* :func:`expected_calibration_error`, :func:`brier_score`, :func:`reliability_diagram`,
  :func:`calibration_report`, :func:`fit_temperature`, :func:`apply_temperature` - calibration (lesson 13).

Importing this module never imports TensorFlow or Keras.

Used in lesson 07.
"""
from medlearn.metrics.clinical import (
    ClinicalReport, Estimate, clinical_report, confusion_matrix, threshold_for_sensitivity,
)
from medlearn.metrics.calibration import (
    CalibrationError, apply_temperature, brier_score, calibration_report, expected_calibration_error,
    fit_temperature, reliability_diagram, to_logits,
)
from medlearn.metrics.medmnist import MetricsError, medmnist_acc, medmnist_auc, medmnist_scores
from medlearn.tasks import TASKS, TaskError, medmnist_task_name, normalize_task

__all__ = [
    "ClinicalReport", "Estimate", "clinical_report", "confusion_matrix", "threshold_for_sensitivity",
    "MetricsError", "medmnist_acc", "medmnist_auc", "medmnist_scores",
    "TASKS", "TaskError", "medmnist_task_name", "normalize_task",
    "CalibrationError", "apply_temperature", "brier_score", "calibration_report", "expected_calibration_error",
    "fit_temperature", "reliability_diagram", "to_logits",
]
