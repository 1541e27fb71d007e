"""Patients and sites in the phantoms, patient-level splits and per-group clinical reports."""
from __future__ import annotations

import numpy as np
import pytest

from medlearn.datasets import DatasetError, check_patient_split, make_phantoms, patient_split
from medlearn.datasets.splits import SplitError
from medlearn.metrics import MetricsError, clinical_report


def test_default_output_is_unchanged_by_the_new_options():
    a = make_phantoms(300, seed=5)
    b = make_phantoms(300, seed=5, images_per_patient=1, sites=None)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.patient_ids, np.arange(300))
    assert (a.sites == 0).all()


def test_images_of_a_patient_share_anatomy_and_label():
    d = make_phantoms(400, images_per_patient=4, seed=1)
    assert d.patient_ids.tolist()[:8] == [0, 0, 0, 0, 1, 1, 1, 1] and len(np.unique(d.patient_ids)) == 100
    for pid in range(100):
        assert len(set(d.labels[d.patient_ids == pid])) == 1
    x = d.images.reshape(400, -1).astype(float)
    dist = ((x[:, None] - x[None]) ** 2).sum(-1)
    np.fill_diagonal(dist, np.inf)
    nearest = dist.argmin(1)
    same = np.mean(d.patient_ids[nearest] == d.patient_ids)
    assert same > 0.8, same                                   # the nearest image is nearly always the same patient
    np.testing.assert_array_equal(d.images, make_phantoms(400, images_per_patient=4, seed=1).images)


def test_sites_differ_in_exposure_and_noise():
    d = make_phantoms(1200, sites=[{"share": 3}, {"share": 1, "gain": 0.6, "noise": 3.0}], seed=2)
    share = np.mean(d.sites == 1)
    assert 0.2 < share < 0.3
    assert d.images[d.sites == 1].mean() < 0.75 * d.images[d.sites == 0].mean()
    rough = lambda im: np.abs(np.diff(im.astype(float), axis=2)).mean()  # noqa: E731
    assert rough(d.images[d.sites == 1]) > rough(d.images[d.sites == 0]) * 0.6 * 1.5
    assert set(np.unique(make_phantoms(300, sites=3, seed=0).sites)) == {0, 1, 2}


@pytest.mark.parametrize("kwargs, match", [
    (dict(images_per_patient=0), "images_per_patient must be an int"),
    (dict(sites=7), r"sites must be an int in \[1, 3\]"),
    (dict(sites=[{"gain": -1}]), "gain must be a positive number"),
    (dict(sites=[{"colour": 1}]), "unknown keys"),
])
def test_bad_patient_options(kwargs, match):
    with pytest.raises(DatasetError, match=match):
        make_phantoms(10, **kwargs)


def test_patient_split_keeps_patients_on_one_side():
    d = make_phantoms(600, images_per_patient=3, seed=0)
    train, val, test = patient_split(d, val_size=0.2, test_size=0.2, seed=1)
    assert len(train) + len(val) + len(test) == 600
    assert len(np.unique(np.concatenate([train, val, test]))) == 600
    sets = [set(d.patient_ids[p]) for p in (train, val, test)]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert abs(len(sets[2]) - 40) <= 1 and abs(len(sets[1]) - 40) <= 1
    again = patient_split(d.patient_ids, val_size=0.2, test_size=0.2, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again))


def test_patient_split_refusals():
    d = make_phantoms(30, images_per_patient=3, seed=0)
    with pytest.raises(SplitError, match="patient 0 has images in part 0 and part 1"):
        check_patient_split(d, [0, 1], [2, 3])
    d2 = make_phantoms(20, seed=0)
    del d2["patient_ids"]
    with pytest.raises(SplitError, match="needs patient ids"):
        patient_split(d2)
    with pytest.raises(SplitError, match="val_size"):
        patient_split(d, val_size=1.5)


def test_clinical_report_per_group():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 600)
    g = np.where(rng.random(600) < 0.3, "B", "A")
    s = np.clip(0.5 * y + rng.normal(0.25, np.where(g == "B", 0.35, 0.12)), 0, 1)
    r = clinical_report(y, s, groups=g, n_bootstrap=200)
    for name in ("A", "B"):
        mask = g == name
        sens = np.mean(s[mask & (y == 1)] >= 0.5)
        e = r.groups[name]["sensitivity"]
        assert np.isclose(e.value, sens) and e.low <= e.value <= e.high
    gap = r.gaps["sensitivity"]
    assert gap["best"] == "A" and gap["worst"] == "B"
    assert np.isclose(gap["gap"], r.groups["A"]["sensitivity"].value - r.groups["B"]["sensitivity"].value)
    assert gap["gap"] > 0 and "largest gap" in str(r) and r.to_dict()["gaps"]["sensitivity"]["worst"] == "B"
    assert clinical_report(y, s, n_bootstrap=0).groups == {}
    with pytest.raises(MetricsError, match="one entry per case"):
        clinical_report(y, s, groups=g[:10], n_bootstrap=0)
