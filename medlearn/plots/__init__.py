"""Figures for the course: an image grid, training curves, a confusion matrix, ROC curves.

Every function draws with matplotlib and *returns* the ``Figure`` (pass
``ax=`` to draw into an existing axes); none calls ``plt.show()`` - a lesson
cell ends with ``plt.show()`` itself, and scripts call ``fig.savefig(...)``.
matplotlib is imported inside the functions, so ``import medlearn.plots`` is light.

One module per topic: :mod:`~medlearn.plots.images` (``image_grid``),
:mod:`~medlearn.plots.training` (``training_curves``),
:mod:`~medlearn.plots.clinical` (``plot_confusion_matrix``, ``plot_roc``),
:mod:`~medlearn.plots.calibration` (``plot_reliability``, ``plot_robustness``, lesson 13).
Drawing functions are named ``plot_*`` where a counting function has the plain
name (``medlearn.metrics.confusion_matrix`` counts, ``plot_confusion_matrix``
draws). A new topic is a new ``plots/<topic>.py`` re-exported here.

Used in lesson 07.
"""
from medlearn.plots._common import PlotError
from medlearn.plots.clinical import plot_confusion_matrix, plot_roc
from medlearn.plots.images import image_grid
from medlearn.plots.training import training_curves
from medlearn.plots.calibration import plot_reliability, plot_robustness
from medlearn.plots.explain import plot_saliency
from medlearn.plots.segmentation import plot_segmentation

__all__ = ["PlotError", "image_grid", "training_curves", "plot_confusion_matrix", "plot_roc",
           "plot_reliability", "plot_robustness", "plot_saliency", "plot_segmentation"]
