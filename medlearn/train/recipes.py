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

__all__ = ["Recipe", "RECIPES", "DEFAULT_RECIPE", "recipe_for"]


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


DEFAULT_RECIPE = Recipe("cnn", {"model": "cnn"}, "the reference CNN; no per-dataset measurement")

#: Dataset name -> recipe. Datasets not listed get :data:`DEFAULT_RECIPE`.
RECIPES: dict[str, Recipe] = {}


def recipe_for(dataset: str) -> Recipe:
    """The recipe ``medlearn train`` uses for ``dataset`` (any case; unknown names get the default).

    Args:
        dataset: a dataset name such as ``"breastmnist"`` or ``"phantoms"``.

    Returns:
        A :class:`Recipe`.
    """
    return RECIPES.get(str(dataset).strip().lower(), DEFAULT_RECIPE)
