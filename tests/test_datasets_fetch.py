"""fetch_medmnist against a local HTTP server: download, verification, corruption, errors, offline."""
from __future__ import annotations

import numpy as np
import pytest
from data_helpers import Route, fast_retries, free_port, http_server, md5, npz_bytes  # noqa: F401 (fixtures)

from medlearn.datasets import DatasetError, fetch_medmnist, override_file, scan_data_folder
from medlearn.datasets import _verify, fetch


@pytest.fixture(autouse=True)
def _online(monkeypatch):
    monkeypatch.delenv("MEDLEARN_OFFLINE", raising=False)
    monkeypatch.delenv("MEDLEARN_MIRROR", raising=False)


def serve(server, body, name="breastmnist", size=28, **route_kw):
    """Serve ``body`` and point the registry entry at it (URL and MD5)."""
    filename = f"{name}.npz" if size == 28 else f"{name}_{size}.npz"
    url = server.add(f"/{filename}", Route(body, **route_kw))
    return override_file(name, size, url=url, md5=md5(body)), server.routes[f"/{filename}"]


def test_download_verifies_and_loads_all_splits(http_server, tmp_path):
    body = npz_bytes(n_classes=2, seed=1)
    ctx, route = serve(http_server, body)
    with ctx:
        data = fetch_medmnist("breastmnist", data_home=tmp_path, progress=False)
    assert (tmp_path / "breastmnist.npz").read_bytes() == body        # MedMNIST's own file name, in the folder
    assert route.hits == 1
    oracle = np.load(tmp_path / "breastmnist.npz")
    for split in ("train", "val", "test"):
        part = data[split]
        assert part.images.dtype == np.uint8 and part.images.shape == oracle[f"{split}_images"].shape
        np.testing.assert_array_equal(part.images, oracle[f"{split}_images"])
        assert part.labels.shape == (len(part.images),) and part.labels.dtype == np.int64
        np.testing.assert_array_equal(part.labels, oracle[f"{split}_labels"][:, 0])
        assert part.label_names == ["malignant", "normal, benign"] and part.task == "binary-class"
    card = repr(data)
    assert "BreastMNIST" in card and "CC BY 4.0" in card and "malignant" in card and "Citation" in card


def test_verified_file_is_not_rehashed_until_it_changes(http_server, tmp_path, monkeypatch):
    body = npz_bytes(seed=2)
    ctx, route = serve(http_server, body)
    with ctx:
        fetch_medmnist("breastmnist", data_home=tmp_path, progress=False)
        calls = []
        real = _verify.md5sum
        monkeypatch.setattr(fetch, "md5sum", lambda p: calls.append(p) or real(p))
        for _ in range(3):
            fetch_medmnist("breastmnist", split="train", data_home=tmp_path)
        assert calls == [] and route.hits == 1                       # trusted from the sidecar
        # Replace the file by another one (new size and mtime): it must be hashed and rejected.
        (tmp_path / "breastmnist.npz").write_bytes(npz_bytes(seed=99))
        monkeypatch.setenv("MEDLEARN_OFFLINE", "1")
        with pytest.raises(DatasetError) as err:
            fetch_medmnist("breastmnist", data_home=tmp_path)
    assert len(calls) == 1
    msg = str(err.value)
    assert md5(body) in msg and md5(npz_bytes(seed=99)) in msg      # expected vs actual
    assert "moved aside" in msg and str(tmp_path / "breastmnist.npz") in msg
    assert not (tmp_path / "breastmnist.npz").exists() and (tmp_path / "breastmnist.npz.corrupt").exists()


def test_truncated_local_file_is_moved_aside_and_redownloaded(http_server, tmp_path):
    body = npz_bytes(seed=3)
    (tmp_path / "breastmnist.npz").write_bytes(body[: len(body) // 2])  # a half-copied file
    ctx, route = serve(http_server, body)
    with ctx, pytest.warns(UserWarning, match="corrupt or truncated.*moved aside"):
        data = fetch_medmnist("breastmnist", split="val", data_home=tmp_path, progress=False)
    assert route.hits == 1 and len(data.images) == 4
    assert (tmp_path / "breastmnist.npz").read_bytes() == body
    assert (tmp_path / "breastmnist.npz.corrupt").stat().st_size == len(body) // 2


def test_hash_mismatch_on_download_is_an_error_and_writes_nothing(http_server, tmp_path, fast_retries):
    body = npz_bytes(seed=4)
    url = http_server.add("/breastmnist.npz", Route(body))
    expected = "0" * 32
    with override_file("breastmnist", url=url, md5=expected), pytest.raises(DatasetError) as err:
        fetch_medmnist("breastmnist", data_home=tmp_path, progress=False)
    msg = str(err.value)
    assert expected in msg and md5(body) in msg and url in msg
    assert http_server.routes["/breastmnist.npz"].hits == 2          # retried once
    assert not (tmp_path / "breastmnist.npz").exists()
    assert not any(p.suffix == ".npz" for p in tmp_path.iterdir())


def test_truncated_download_is_an_error(http_server, tmp_path, fast_retries):
    body = npz_bytes(seed=5)
    ctx, route = serve(http_server, body, truncate_to=len(body) // 3)
    with ctx, pytest.raises(DatasetError) as err:
        fetch_medmnist("breastmnist", data_home=tmp_path, progress=False)
    assert route.hits == 2
    assert str(tmp_path / "breastmnist.npz") in str(err.value)
    assert not (tmp_path / "breastmnist.npz").exists()


def test_http_404_names_url_destination_and_md5(http_server, tmp_path, fast_retries):
    ctx, route = serve(http_server, b"", status=404)
    with ctx as spec, pytest.raises(DatasetError) as err:
        fetch_medmnist("breastmnist", data_home=tmp_path, progress=False)
    msg = str(err.value)
    assert "HTTP 404" in msg and spec["url"] in msg and spec["md5"] in msg
    assert str(tmp_path / "breastmnist.npz") in msg


def test_retry_after_a_server_error(http_server, tmp_path, fast_retries):
    body = npz_bytes(seed=6)
    ctx, route = serve(http_server, body, fail_first=1)
    with ctx:
        data = fetch_medmnist("breastmnist", split="test", data_home=tmp_path, progress=False)
    assert route.hits == 2 and len(data.images) == 6


def test_no_network_gives_manual_instructions(tmp_path, fast_retries):
    url = f"http://127.0.0.1:{free_port()}/breastmnist.npz"
    with override_file("breastmnist", url=url), pytest.raises(DatasetError) as err:
        fetch_medmnist("breastmnist", data_home=tmp_path, progress=False)
    msg = str(err.value)
    assert url in msg and str(tmp_path / "breastmnist.npz") in msg and "750601b1f35ba3300ea97c75c52ff8f6" in msg


def test_offline_mode_never_downloads(http_server, tmp_path, monkeypatch):
    body = npz_bytes(seed=7)
    ctx, route = serve(http_server, body)
    monkeypatch.setenv("MEDLEARN_OFFLINE", "1")
    with ctx as spec, pytest.raises(DatasetError) as err:
        fetch_medmnist("breastmnist", data_home=tmp_path)
    msg = str(err.value)
    assert route.hits == 0
    assert "MEDLEARN_OFFLINE" in msg and spec["url"] in msg and spec["md5"] in msg
    assert str(tmp_path / "breastmnist.npz") in msg


def test_download_false_and_dropped_in_file(tmp_path, monkeypatch):
    body = npz_bytes(seed=8, size=64)
    with override_file("breastmnist", 64, md5=md5(body)):
        with pytest.raises(DatasetError, match="download=False"):
            fetch_medmnist("breastmnist", size=64, data_home=tmp_path, download=False)
        (tmp_path / "breastmnist_64.npz").write_bytes(body)             # a file the user already had
        monkeypatch.setenv("MEDLEARN_OFFLINE", "1")
        train = fetch_medmnist("breastmnist", size=64, split="train", data_home=tmp_path)
    assert train.images.shape == (12, 64, 64) and train.size == 64


def test_env_data_folder_and_mirror(http_server, tmp_path, monkeypatch):
    body = npz_bytes(seed=9, channels=3, n_classes=8)
    http_server.add("/mirror/bloodmnist.npz", Route(body))
    monkeypatch.setenv("MEDLEARN_MIRROR", http_server.base_url + "/mirror/")
    monkeypatch.setenv("MEDLEARN_DATA", str(tmp_path / "via-env"))
    with override_file("bloodmnist", md5=md5(body)):
        data = fetch_medmnist("BloodMNIST", split="train", progress=False)
    assert (tmp_path / "via-env" / "bloodmnist.npz").is_file()
    assert data.images.shape == (12, 28, 28, 3) and len(data.label_names) == 8


def test_chestmnist_keeps_multi_label_matrix(http_server, tmp_path):
    body = npz_bytes(seed=10, multilabel=14)
    ctx, _ = serve(http_server, body, name="chestmnist")
    with ctx:
        test = fetch_medmnist("chestmnist", split="test", data_home=tmp_path, progress=False)
    assert test.labels.shape == (6, 14) and set(np.unique(test.labels)) <= {0, 1}
    assert "multi-label" in test.task and "Labels" in repr(test)


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(name="pneumonia"), "Did you mean 'pneumoniamnist'"),
    (dict(name="phantoms"), "load_phantoms"),
    (dict(name="breastmnist", size=32), "28, 64, 128, 224.*Received: size=32"),
    (dict(name="breastmnist", split="training"), "'train', 'val', 'test'.*Received: split='training'"),
])
def test_bad_arguments_explain_the_valid_values(kwargs, pattern):
    name = kwargs.pop("name")
    with pytest.raises(DatasetError, match=pattern):
        fetch_medmnist(name, **kwargs)


def test_scan_data_folder_statuses_without_rehashing(tmp_path, monkeypatch):
    good, other = npz_bytes(seed=11), npz_bytes(seed=12)
    (tmp_path / "breastmnist.npz").write_bytes(good)
    (tmp_path / "pneumoniamnist.npz").write_bytes(other)
    (tmp_path / "my_scans.npz").write_bytes(other)
    with override_file("breastmnist", md5=md5(good)):
        assert scan_data_folder(tmp_path) == [("breastmnist.npz", "unverified"), ("my_scans.npz", "unknown"),
                                              ("pneumoniamnist.npz", "unverified")]
        assert dict(scan_data_folder(tmp_path, verify=True)) == {
            "breastmnist.npz": "verified", "my_scans.npz": "unknown", "pneumoniamnist.npz": "corrupt"}
        monkeypatch.setattr(fetch, "md5sum", lambda p: pytest.fail("re-hashed a verified file"))
        assert dict(scan_data_folder(tmp_path))["breastmnist.npz"] == "verified"
    assert scan_data_folder(tmp_path / "missing") == []


def test_older_medmnist_release_is_recognised_not_called_corrupt(tmp_path, monkeypatch):
    old, new = npz_bytes(seed=13), npz_bytes(seed=14)
    (tmp_path / "organamnist.npz").write_bytes(old)
    monkeypatch.setenv("MEDLEARN_OFFLINE", "1")
    with override_file("organamnist", md5=md5(new), previous_md5=[md5(old)]):
        assert dict(scan_data_folder(tmp_path, verify=True)) == {"organamnist.npz": "outdated"}
        with pytest.raises(DatasetError, match="older MedMNIST release.*moved aside"):
            fetch_medmnist("organamnist", data_home=tmp_path)
    assert (tmp_path / "organamnist.npz.outdated").read_bytes() == old


def test_registry_knows_the_pre_2_2_4_organ_files():
    from medlearn.datasets import info

    assert info("organamnist")["files"]["28"]["previous_md5"] == ["866b832ed4eeba67bfb9edee1d5544e6"]


def test_read_only_folder_still_hashes_only_once_per_process(tmp_path, monkeypatch):
    body = npz_bytes(seed=15)
    (tmp_path / "dermamnist.npz").write_bytes(body)
    monkeypatch.setattr(_verify, "_write", lambda folder, data: None)       # the sidecar cannot be written
    calls = []
    real = _verify.md5sum
    monkeypatch.setattr(fetch, "md5sum", lambda p: calls.append(p) or real(p))
    monkeypatch.setenv("MEDLEARN_OFFLINE", "1")
    with override_file("dermamnist", md5=md5(body)):
        for _ in range(3):
            fetch_medmnist("dermamnist", split="val", data_home=tmp_path)
    assert len(calls) == 1 and not (tmp_path / _verify.SIDECAR).exists()
