"""Per-dataset training recipes: what ``medlearn train DATASET`` runs when given no options.

A recipe is the set of :func:`medlearn.train.fit` keyword arguments that
``benchmarks/bench_accuracy.py`` found best on a dataset's *validation* split within the
benchmark's 120 s budget (the figures and what each ingredient bought are in
``benchmarks/README.md``). ``medlearn train`` and ``bench_accuracy.py`` both take it from
:func:`recipe_for`, so the benchmark measures exactly what a student's first run does.

    >>> recipe_for("phantoms").model
    'cnn'

No Keras here: this module only holds data.
"""
from __future__ import annotations

import dataclasses

__all__ = ["Recipe", "RECIPES", "DEFAULT_RECIPE", "SMALL_RECIPE", "ENSEMBLE_MAX_TRAIN", "recipe_for"]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A named set of :func:`medlearn.train.fit` arguments.

    Attributes:
        name: short label printed by ``medlearn train`` and written to its JSON.
        fit_kwargs: keyword arguments for :func:`medlearn.train.fit` (``model=`` included).
        why: one line on what the benchmark measured for it.
    """

    name: str
    fit_kwargs: dict
    why: str

    @property
    def model(self) -> str:
        return str(self.fit_kwargs.get("model", "cnn"))

    def kwargs(self, **overrides) -> dict:
        """A fresh copy of ``fit_kwargs`` with ``overrides`` (those that are not None) applied.

        A ``model=`` override other than the recipe's drops the recipe's builder options
        (:data:`BUILDER_KEYS`, e.g. ``head``): they belong to its model.
        """
        out = dict(self.fit_kwargs)
        if overrides.get("model") not in (None, self.model):
            out = {k: v for k, v in out.items() if k not in BUILDER_KEYS}
        out.update({k: v for k, v in overrides.items() if v is not None})
        return out


#: Recipe keys that are options of the model builder, not of :func:`medlearn.train.fit`.
BUILDER_KEYS = ("head", "filters", "blocks", "dropout", "pooling", "hidden")


DEFAULT_RECIPE = Recipe("cnn", {"model": "cnn"}, "one reference CNN (the phantoms, and datasets too large "
                        "for an ensemble to pay within 120 s: over 15,000 training images)")

#: The MedMNIST datasets up to this many training images get :data:`SMALL_RECIPE`.
ENSEMBLE_MAX_TRAIN = 15_000

SMALL_RECIPE = Recipe(
    "cnn-x3", {"model": "cnn", "ensemble": 3},
    "3 reference CNNs trained one after another in the budget, probabilities averaged (validation, "
    "seeds 42-43: BreastMNIST AUC 0.938 -> 0.950; RetinaMNIST AUC 0.80 -> 0.82)")

#: Dataset name -> recipe, for datasets measured on their own. Others follow :func:`recipe_for`'s rule.
RECIPES: dict[str, Recipe] = {}


def recipe_for(dataset: str) -> Recipe:
    """The recipe ``medlearn train`` uses for ``dataset`` (any case).

    A dataset in :data:`RECIPES` gets its own. Otherwise a MedMNIST dataset with at most
    :data:`ENSEMBLE_MAX_TRAIN` training images gets :data:`SMALL_RECIPE` (RetinaMNIST too: on its
    validation split the ordinal head, ``head="ordinal"``, did not beat the softmax head within an
    ensemble - ``benchmarks/README.md``); everything else (the phantoms, the large MedMNIST sets,
    unknown names) gets :data:`DEFAULT_RECIPE`.

    Args:
        dataset: a dataset name such as ``"breastmnist"`` or ``"phantoms"``.

    Returns:
        A :class:`Recipe`.
    """
    name = str(dataset).strip().lower()
    if name in RECIPES:
        return RECIPES[name]
    from medlearn.datasets.registry import info, list_datasets

    if name not in list_datasets("medmnist") or info(name)["n_samples"]["train"] > ENSEMBLE_MAX_TRAIN:
        return DEFAULT_RECIPE
    return SMALL_RECIPE
