"""The published benchmark figures: medlearn.datasets.registry.published_benchmarks / best_published.

The figures live in registry.json (MedMNIST v2's table) and published.json (sizes,
sources, MedMNIST+), never in code; these tests pin what the files must say.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from medlearn.datasets import DatasetError
from medlearn.datasets.registry import best_published, list_datasets, published_benchmarks

V2_AT_28 = {"ResNet-18 (28)", "ResNet-50 (28)", "auto-sklearn", "AutoKeras", "Google AutoML Vision"}
V2_AT_224 = {"ResNet-18 (224)", "ResNet-50 (224)"}
MEDMNIST_PLUS = {"retinamnist": (0.5425, 0.7535), "breastmnist": (0.865, 0.891), "pneumoniamnist": (0.866, 0.973)}
REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "medmnist.json"


@pytest.mark.parametrize("name", list_datasets("medmnist"))
def test_every_medmnist_dataset_has_the_seven_v2_rows_with_their_training_size(name):
    rows = published_benchmarks(name)
    v2 = [r for r in rows if r["source"] == "MedMNIST v2"]
    assert {r["model"] for r in v2} == V2_AT_28 | V2_AT_224 and len(v2) == 7
    for r in rows:
        assert set(r) == {"source", "model", "size", "acc", "auc", "citation"}
        assert 0.0 < r["acc"] <= 1.0 and 0.5 <= r["auc"] <= 1.0
        assert r["citation"]
    assert {r["model"] for r in v2 if r["size"] == 28} == V2_AT_28
    assert {r["model"] for r in v2 if r["size"] == 224} == V2_AT_224
    assert all(r["citation"].startswith("Jiancheng Yang") for r in v2)


def test_v2_rows_are_the_registry_table():
    table = json.loads((Path(__file__).resolve().parents[1] / "medlearn" / "datasets" / "registry.json")
                       .read_text())["datasets"]["retinamnist"]["benchmark_test_medmnist_v2"]
    rows = {r["model"]: r for r in published_benchmarks("RetinaMNIST") if r["source"] == "MedMNIST v2"}
    assert {m: (rows[m]["acc"], rows[m]["auc"]) for m in rows} == {m: (v["ACC"], v["AUC"]) for m, v in table.items()}
    assert rows["Google AutoML Vision"]["acc"] == 0.531 and rows["Google AutoML Vision"]["auc"] == 0.75


def test_v2_rows_match_the_shared_reference_when_present():
    if not REFERENCE.is_file():
        pytest.skip(f"the shared reference file is not on this machine: {REFERENCE}")
    ref = json.loads(REFERENCE.read_text())["datasets"]
    for name, facts in ref.items():
        rows = {r["model"]: (r["acc"], r["auc"]) for r in published_benchmarks(name) if r["source"] == "MedMNIST v2"}
        assert rows == {m: (v["ACC"], v["AUC"]) for m, v in facts["benchmark_test_medmnist_v2"].items()}


def test_medmnist_plus_figures_at_28_only_where_known():
    for name in list_datasets("medmnist"):
        plus = [r for r in published_benchmarks(name) if r["source"] == "MedMNIST+"]
        if name in MEDMNIST_PLUS:
            assert [(r["acc"], r["auc"], r["size"]) for r in plus] == [(*MEDMNIST_PLUS[name], 28)]
            assert "Doerrich" in plus[0]["citation"] and "Scientific Reports" in plus[0]["citation"]
        else:
            assert plus == []


def test_best_published_per_metric_at_28():
    best = best_published("retinamnist")
    assert (best["acc"]["acc"], best["acc"]["source"]) == (0.5425, "MedMNIST+")
    assert (best["auc"]["auc"], best["auc"]["source"]) == (0.7535, "MedMNIST+")
    breast = best_published("breastmnist")          # ACC and AUC from different entries
    assert (breast["acc"]["acc"], breast["acc"]["source"]) == (0.865, "MedMNIST+")
    assert (breast["auc"]["auc"], breast["auc"]["model"]) == (0.919, "Google AutoML Vision")
    pneu = best_published("pneumoniamnist")
    assert (pneu["acc"]["acc"], pneu["auc"]["auc"]) == (0.946, 0.991)
    at_224 = best_published("pneumoniamnist", 224)  # only the two (224) rows compete
    assert (at_224["acc"]["model"], at_224["acc"]["acc"]) == ("ResNet-50 (224)", 0.884)
    assert best_published("breastmnist", 64) == {} and best_published("phantoms") == {}


def test_unknown_name_raises_with_a_suggestion():
    assert published_benchmarks("phantoms") == []
    with pytest.raises(DatasetError, match="breastmnist"):
        published_benchmarks("breastmnis")


def test_train_cli_reports_the_best_28_entry():
    from medlearn.cli.train import _benchmark

    bench = _benchmark({"name": "breastmnist"}, 28)
    assert bench["size"] == 28
    assert bench["acc"] == {"value": 0.865, "source": "MedMNIST+", "model": "best 28x28 run (padded to 224)"}
    assert bench["auc"] == {"value": 0.919, "source": "MedMNIST v2", "model": "Google AutoML Vision"}
    assert _benchmark({"name": "breastmnist"}, 128) is None and _benchmark({}, 28) is None
    assert _benchmark({"name": "phantoms"}, 28) is None
