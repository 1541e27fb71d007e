"""medlearn.train.recipes: which fit arguments medlearn train / bench_accuracy use per dataset."""
import pytest

from medlearn.datasets import info, list_datasets
from medlearn.tasks import normalize_task
from medlearn.train import recipes
from medlearn.train.recipes import DEFAULT_RECIPE, ENSEMBLE_MAX_TRAIN, ORDINAL_RECIPE, SMALL_RECIPE, recipe_for


@pytest.mark.parametrize("name", list_datasets("medmnist"))
def test_every_medmnist_dataset_gets_the_recipe_its_size_and_task_call_for(name):
    entry = info(name)
    recipe = recipe_for(name.upper())
    if entry["n_samples"]["train"] > ENSEMBLE_MAX_TRAIN:
        assert recipe is DEFAULT_RECIPE
    elif normalize_task(entry["task"]) == "ordinal":
        assert recipe is ORDINAL_RECIPE and recipe.fit_kwargs["head"] == "ordinal"
    else:
        assert recipe is SMALL_RECIPE
    assert recipe.model == "cnn"


def test_the_three_datasets_of_issue_16_and_the_rest():
    assert recipe_for("retinamnist").name == "cnn-ordinal-x3"
    assert recipe_for("breastmnist").name == recipe_for("pneumoniamnist").name == "cnn-x3"
    assert recipe_for("pathmnist") is recipe_for("phantoms") is recipe_for("no-such-set") is DEFAULT_RECIPE


def test_a_dataset_measured_on_its_own_overrides_the_rule(monkeypatch):
    own = recipes.Recipe("special", {"model": "resnet"}, "measured")
    monkeypatch.setitem(recipes.RECIPES, "dermamnist", own)
    assert recipe_for(" DermaMNIST") is own


def test_kwargs_are_a_fresh_copy():
    kw = ORDINAL_RECIPE.kwargs()
    kw["ensemble"] = 99
    assert ORDINAL_RECIPE.kwargs()["ensemble"] == 3
    assert ORDINAL_RECIPE.kwargs(ensemble=None, seed=5) == {**ORDINAL_RECIPE.fit_kwargs, "seed": 5}
