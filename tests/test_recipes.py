"""medlearn.train.recipes: which fit arguments medlearn train / bench_accuracy use per dataset."""
import pytest

from medlearn.datasets import info, list_datasets
from medlearn.train import recipes
from medlearn.train.recipes import DEFAULT_RECIPE, ENSEMBLE_MAX_TRAIN, SMALL_RECIPE, recipe_for


@pytest.mark.parametrize("name", list_datasets("medmnist"))
def test_every_medmnist_dataset_gets_the_recipe_its_size_and_task_call_for(name):
    entry = info(name)
    recipe = recipe_for(name.upper())
    if entry["n_samples"]["train"] > ENSEMBLE_MAX_TRAIN:
        assert recipe is DEFAULT_RECIPE
    else:
        assert recipe is SMALL_RECIPE
    assert recipe.model == "cnn"


def test_the_three_datasets_of_issue_16_and_the_rest():
    assert recipe_for("retinamnist").name == recipe_for("breastmnist").name == recipe_for("pneumoniamnist").name
    assert recipe_for("retinamnist").name == "cnn-x3"
    assert recipe_for("pathmnist") is recipe_for("phantoms") is recipe_for("no-such-set") is DEFAULT_RECIPE


def test_a_dataset_measured_on_its_own_overrides_the_rule(monkeypatch):
    own = recipes.Recipe("special", {"model": "resnet"}, "measured")
    monkeypatch.setitem(recipes.RECIPES, "dermamnist", own)
    assert recipe_for(" DermaMNIST") is own


def test_kwargs_are_a_fresh_copy():
    kw = SMALL_RECIPE.kwargs()
    kw["ensemble"] = 99
    assert SMALL_RECIPE.kwargs()["ensemble"] == 3
    assert SMALL_RECIPE.kwargs(ensemble=None, seed=5) == {**SMALL_RECIPE.fit_kwargs, "seed": 5}
