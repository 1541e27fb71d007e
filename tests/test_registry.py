"""One contract over every registered dataset: complete metadata, a licence, a card that renders.

Plus the MedMNIST entries against the reference facts (when the shared
reference file is available) and a loader contract for everything that
loads offline.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from data_helpers import md5, npz_bytes

from medlearn.datasets import DatasetError, info, list_datasets, override_file
from medlearn.datasets.card import render_info
from medlearn.datasets.registry import check_size, medmnist_filenames

# The shared MedMNIST facts sit beside the repository: ../shared/reference/medmnist.json.
REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "medmnist.json"
REQUIRED = ("name", "kind", "title", "description", "modality", "task", "n_channels", "label_names",
            "n_samples", "license", "citation")
TASKS = {"binary-class", "multi-class", "multi-label, binary-class", "ordinal-regression", "regression",
         "segmentation", "none"}


@pytest.mark.parametrize("name", list_datasets())
def test_metadata_complete_licence_present_card_renders(name):
    entry = info(name)
    missing = [k for k in REQUIRED if k not in entry]
    assert not missing, f"{name} lacks {missing}"
    assert entry["kind"] in ("medmnist", "embedded", "tabular", "sample_image", "dicom")
    assert entry["task"] in TASKS
    assert entry["license"].strip() and entry["citation"] and all(c.strip() for c in entry["citation"])
    assert isinstance(entry["label_names"], list)
    if entry["task"] in ("binary-class",):
        assert len(entry["label_names"]) == 2
    assert all(isinstance(v, int) and v > 0 for v in entry["n_samples"].values())
    card = render_info(entry)
    assert entry["name"] in card and entry["license"] in card and "Citation" in card
    for label in entry["label_names"]:
        assert label[:30] in card


@pytest.mark.parametrize("name,size,match", [
    ("nope", 28, "name must be a MedMNIST dataset. Received: name='nope'"),
    ("breastmnist", 32, "size must be one of 28, 64, 128, 224 for breastmnist. Received: size=32"),
])
def test_check_size_names_what_is_wrong(name, size, match):
    with pytest.raises(DatasetError, match=re.escape(match)):
        check_size(name, size)
    assert check_size("BreastMNIST", "64") == 64


@pytest.mark.parametrize("name", list_datasets("medmnist"))
def test_medmnist_files(name):
    entry = info(name)
    assert entry["sizes"] == [28, 64, 128, 224]
    assert {"train", "val", "test"} == set(entry["n_samples"])
    for size, spec in entry["files"].items():
        expected = f"{name}.npz" if size == "28" else f"{name}_{size}.npz"
        assert spec["filename"] == expected
        assert re.fullmatch(r"[0-9a-f]{32}", spec["md5"])
        assert spec["url"].startswith("https://zenodo.org/") and expected in spec["url"]
    assert entry["citation"][0].startswith("Jiancheng Yang")      # MedMNIST v2 paper first


def test_medmnist_entries_match_the_reference():
    if not REFERENCE.is_file():
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail(f"the shared reference file is missing in CI: {REFERENCE}")
        pytest.skip(f"the shared reference file is not on this machine: {REFERENCE}")
    ref = json.loads(REFERENCE.read_text())["datasets"]
    assert sorted(ref) == sorted(list_datasets("medmnist"))
    for name, facts in ref.items():
        entry = info(name)
        assert entry["n_samples"] == facts["n_samples"]
        assert entry["n_channels"] == facts["n_channels"]
        assert entry["license"] == facts["license"]
        assert entry["label_names"] == [facts["labels"][str(i)] for i in range(len(facts["labels"]))]
        for size, spec in facts["files"].items():
            assert entry["files"][size]["md5"] == spec["md5"] and entry["files"][size]["url"] == spec["url"]


def test_filenames_map_back_to_dataset_and_size():
    names = medmnist_filenames()
    assert names["pneumoniamnist.npz"] == ("pneumoniamnist", 28)
    assert names["tissuemnist_224.npz"] == ("tissuemnist", 224)
    assert len(names) == 12 * 4


def test_info_is_a_copy_and_unknown_names_get_suggestions():
    entry = info("breastmnist")
    entry["label_names"].append("tampered")
    assert "tampered" not in info("breastmnist")["label_names"]
    with pytest.raises(DatasetError, match="Did you mean 'pneumoniamnist'"):
        info("pneumonia")
    with pytest.raises(DatasetError, match="kind must be one of"):
        list_datasets("images")


def test_override_restores_the_real_url():
    real = info("breastmnist")["files"]["28"]["url"]
    with override_file("breastmnist", url="http://127.0.0.1:1/x.npz", md5="0" * 32):
        assert info("breastmnist")["files"]["28"]["url"] == "http://127.0.0.1:1/x.npz"
    assert info("breastmnist")["files"]["28"]["url"] == real


def _load(name, tmp_path, monkeypatch):
    """Load any registered dataset offline; MedMNIST through a small file dropped into the data folder."""
    import medlearn.datasets as ds

    entry = info(name)
    kind = entry["kind"]
    if kind == "medmnist":
        multilabel = len(entry["label_names"]) if "multi-label" in entry["task"] else 0
        body = npz_bytes(channels=entry["n_channels"], n_classes=len(entry["label_names"]), multilabel=multilabel)
        (tmp_path / entry["files"]["28"]["filename"]).write_bytes(body)
        monkeypatch.setenv("MEDLEARN_OFFLINE", "1")
        with override_file(name, md5=md5(body)):
            return ds.fetch_medmnist(name, data_home=tmp_path)
    if kind == "embedded":
        return ds.load_phantoms()
    if kind == "tabular":
        return getattr(ds, f"load_{name}")()
    if kind == "dicom":
        return ds.load_dicom(name)
    if not entry["skimage"]["in_wheel"]:
        pytest.skip(f"{name} is not inside the scikit-image wheel (downloaded on first use)")
    return ds.load_sample_image(name)


@pytest.mark.parametrize("name", list_datasets())
def test_every_loader_returns_a_bunch_with_its_card(name, tmp_path, monkeypatch):
    data = _load(name, tmp_path, monkeypatch)
    assert data.info["name"] == name
    card = repr(data)
    assert info(name)["title"] in card and "Licence" in card
    if "train" in data:
        for split in ("train", "val", "test"):
            part = data[split]
            assert len(part.images) == len(part.labels) and part.label_names == info(name)["label_names"]
            assert part.images.dtype.name == "uint8"
            assert part.images.ndim == (3 if info(name)["n_channels"] == 1 else 4)
