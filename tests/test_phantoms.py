"""The synthetic phantoms: ground truth, determinism, the embedded file, and the Keras helpers."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medlearn.datasets import DatasetError, info, load_phantoms, make_phantoms, to_arrays
from medlearn.datasets._verify import md5sum
from medlearn.datasets.embedded import phantoms_path

REPO = Path(__file__).resolve().parents[1]


def test_shapes_dtypes_and_fields():
    data = make_phantoms(64, seed=3)
    assert data.images.shape == (64, 28, 28) and data.images.dtype == np.uint8
    assert data.labels.shape == (64,) and data.labels.dtype == np.int64 and set(data.labels) <= {0, 1}
    assert data.masks.shape == (64, 28, 28) and data.masks.dtype == np.uint8
    assert data.label_names == ["normal", "lesion"] and data.task == "binary-class"
    big = make_phantoms(3, size=64, seed=3)
    assert big.images.shape == (3, 64, 64)


def test_same_seed_same_images_other_seed_other_images():
    a, b, c = make_phantoms(40, seed=7), make_phantoms(40, seed=7), make_phantoms(40, seed=8)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.masks, b.masks)
    assert not np.array_equal(a.images, c.images)


def test_generation_does_not_depend_on_block_size(monkeypatch):
    from medlearn.datasets import phantoms

    reference = make_phantoms(300, seed=5)                 # two internal blocks of 256
    monkeypatch.setattr(phantoms, "_CHUNK", 7)
    np.testing.assert_array_equal(make_phantoms(300, seed=5).images, reference.images)


def test_masks_are_exact_discs_at_the_recorded_lesions():
    data = make_phantoms(400, seed=11)
    lesion = data.labels == 1
    assert 0.4 < lesion.mean() < 0.6
    assert data.masks[~lesion].sum() == 0 and np.isnan(data.lesion_centers[~lesion]).all()
    rows, cols = np.mgrid[:28, :28]
    for i in np.flatnonzero(lesion)[:50]:
        cy, cx = data.lesion_centers[i]
        disc = (rows - cy) ** 2 + (cols - cx) ** 2 <= data.lesion_radii[i] ** 2
        np.testing.assert_array_equal(data.masks[i], disc.astype(np.uint8))


def test_a_lesion_is_brighter_than_the_lung_around_it():
    """Same seed, with and without lesions: the only difference is inside/near the mask, and positive."""
    with_l = make_phantoms(50, seed=21, lesion_fraction=1.0)
    without = make_phantoms(50, seed=21, lesion_fraction=0.0)
    diff = with_l.images.astype(int) - without.images.astype(int)
    inside = with_l.masks.astype(bool)
    assert (diff[inside] > 0).mean() > 0.95
    assert np.abs(diff[~inside]).mean() < 1.0   # outside the disc only the anti-aliased rim changes


def test_segmentation_task_gives_every_image_a_lesion():
    seg = make_phantoms(30, task="segmentation", seed=2)
    assert seg.task == "segmentation" and seg.labels.all() and (seg.masks.sum(axis=(1, 2)) > 0).all()
    x, y = to_arrays(seg)
    assert y.shape == (30, 28, 28, 1) and y.dtype == np.float32 and set(np.unique(y)) <= {0.0, 1.0}


def test_difficulty_orders_lesion_contrast():
    easy, hard = make_phantoms(200, difficulty="easy", seed=1), make_phantoms(200, difficulty="hard", seed=1)
    assert easy.lesion_contrast[easy.labels == 1].mean() > hard.lesion_contrast[hard.labels == 1].mean()
    assert easy.lesion_radii[easy.labels == 1].mean() > hard.lesion_radii[hard.labels == 1].mean()


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(n=0), "n must be an int"),
    (dict(size=8), "size must be an int in \\[16, 512\\]"),
    (dict(task="detection"), "task must be one of"),
    (dict(difficulty="extreme"), "difficulty must be one of 'easy', 'medium', 'hard'"),
    (dict(lesion_fraction=1.5), "lesion_fraction"),
    (dict(seed=-1), "seed must be"),
])
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(DatasetError, match=pattern):
        make_phantoms(**{"n": 4, **kwargs})


def test_embedded_file_matches_registry_and_is_small():
    path = phantoms_path()
    assert path == REPO / "data" / "phantoms.npz"
    assert path.stat().st_size < 5 * 2**20
    assert md5sum(path) == info("phantoms")["files"]["28"]["md5"]


def test_embedded_file_is_reproducible_bit_for_bit(tmp_path):
    out = tmp_path / "phantoms.npz"
    subprocess.run([sys.executable, str(REPO / "data" / "make_phantoms.py"), "--out", str(out)],
                   check=True, capture_output=True, cwd=tmp_path)
    assert md5sum(out) == info("phantoms")["files"]["28"]["md5"]


def test_load_phantoms_splits_and_card():
    entry = info("phantoms")
    data = load_phantoms()
    for split, n in entry["n_samples"].items():
        part = data[split]
        assert part.images.shape == (n, 28, 28) and part.masks.shape == (n, 28, 28)
        assert part.labels.shape == (n,) and part.split == split
    test = load_phantoms("test")
    np.testing.assert_array_equal(test.images, data.test.images)
    oracle = make_phantoms(entry["n_samples"]["test"], seed=entry["generator"]["seeds"]["test"])
    np.testing.assert_array_equal(test.images, oracle.images)     # the file is exactly the generator's output
    card = repr(data)
    assert "Chest phantoms" in card and "lesion" in card and "train" in card and "Licence" in card
    with pytest.raises(DatasetError, match="split must be one of"):
        load_phantoms("testing")


def test_damaged_embedded_file_falls_back_to_regeneration(tmp_path, monkeypatch):
    from medlearn.datasets import embedded

    broken = tmp_path / "phantoms.npz"
    broken.write_bytes(phantoms_path().read_bytes()[:1000])
    monkeypatch.setattr(embedded, "phantoms_path", lambda: broken)
    with pytest.warns(UserWarning, match="damaged"):
        val = load_phantoms("val")
    np.testing.assert_array_equal(val.images, embedded.phantom_splits()["val_images"])


def test_to_arrays_scales_adds_channel_and_encodes_labels():
    val = load_phantoms("val")
    x, y = to_arrays(val)
    assert x.shape == (1000, 28, 28, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[..., 0], val.images / 255.0, rtol=0, atol=1e-7)
    assert 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_array_equal(y, val.labels)
    _, y1 = to_arrays(val, one_hot=True)
    assert y1.shape == (1000, 2) and y1.dtype == np.float32
    np.testing.assert_array_equal(y1.argmax(axis=1), val.labels)
    _, masks = to_arrays(val, target="masks")
    np.testing.assert_array_equal(masks[..., 0], val.masks)
    with pytest.raises(DatasetError, match="data.train"):
        to_arrays(load_phantoms())
    with pytest.raises(DatasetError, match="target must be"):
        to_arrays(val, target="boxes")


def test_to_arrays_multilabel_and_rgb():
    from medlearn.datasets._bunch import Bunch

    rgb = Bunch(images=np.full((5, 4, 4, 3), 255, np.uint8), labels=np.eye(5, 14, dtype=np.int64),
                task="multi-label, binary-class", label_names=[str(i) for i in range(14)])
    x, y = to_arrays(rgb)
    assert x.shape == (5, 4, 4, 3) and (x == 1.0).all()
    assert y.shape == (5, 14) and y.dtype == np.float32


def test_importing_datasets_stays_light():
    code = ("import sys, medlearn.datasets as d; d.make_phantoms(2); d.load_phantoms('val'); "
            "heavy = [m for m in ('tensorflow', 'keras', 'jax', 'torch', 'pooch', 'pandas', 'sklearn', "
            "'skimage', 'pydicom') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"
