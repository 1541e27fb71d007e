"""`medlearn data list | info | fetch | verify`, exit codes and messages."""
from __future__ import annotations

import pytest
from data_helpers import Route, http_server, md5, npz_bytes  # noqa: F401 (fixture)

from medlearn.cli import main
from medlearn.datasets import list_datasets, override_file


def run(capsys, *argv):
    code = main(["data", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_every_dataset(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    for name in list_datasets():
        assert name in out
    code, out, _ = run(capsys, "list", "--kind", "dicom")
    assert code == 0 and "ct_small" in out and "breastmnist" not in out


def test_info_prints_card_and_files(capsys):
    code, out, _ = run(capsys, "info", "breastmnist")
    assert code == 0
    assert "BreastMNIST" in out and "CC BY 4.0" in out and "750601b1f35ba3300ea97c75c52ff8f6" in out
    assert "breastmnist_224.npz" in out


def test_info_unknown_name_suggests(capsys):
    code, _, err = run(capsys, "info", "pneumonia")
    assert code == 1 and "Did you mean 'pneumoniamnist'" in err and "Traceback" not in err


def test_fetch_offline_fails_with_instructions(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDLEARN_OFFLINE", "1")
    code, _, err = run(capsys, "fetch", "pneumoniamnist", "--data-dir", str(tmp_path))
    assert code == 1
    assert "zenodo.org" in err and str(tmp_path / "pneumoniamnist.npz") in err and "28209eda62fecd6e6a2d98b1501bb15f" in err


def test_fetch_bad_size_lists_valid_sizes(capsys):
    code, _, err = run(capsys, "fetch", "breastmnist", "--size", "32")
    assert code == 1 and "28, 64, 128, 224" in err and "size='32'" in err


def test_fetch_downloads_and_verify_reports(capsys, tmp_path, http_server, monkeypatch):
    monkeypatch.delenv("MEDLEARN_OFFLINE", raising=False)
    body = npz_bytes(seed=1, size=64)
    url = http_server.add("/breastmnist_64.npz", Route(body))
    with override_file("breastmnist", 64, url=url, md5=md5(body)):
        code, out, _ = run(capsys, "fetch", "breastmnist", "--size", "64", "--data-dir", str(tmp_path), "--no-progress")
        assert code == 0 and "verified" in out and (tmp_path / "breastmnist_64.npz").read_bytes() == body

        (tmp_path / "notes.npz").write_bytes(b"mine")
        code, out, _ = run(capsys, "verify", "--data-dir", str(tmp_path))
        assert code == 0 and "good     breastmnist_64.npz" in out and "unknown  notes.npz" in out

        (tmp_path / "breastmnist.npz").write_bytes(body)            # wrong content under a MedMNIST name
        code, out, err = run(capsys, "verify", "--data-dir", str(tmp_path))
    assert code == 1
    assert "CORRUPT  breastmnist.npz" in out and md5(body) in out and "750601b1f35ba3300ea97c75c52ff8f6" in out
    assert "1 good, 1 corrupt, 1 unknown" in out and "corrupt" in err


def test_verify_empty_folder(capsys, tmp_path):
    code, out, _ = run(capsys, "verify", "--data-dir", str(tmp_path))
    assert code == 0 and "No .npz files" in out


def test_data_needs_a_subcommand(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["data"])
    assert exc.value.code != 0
