"""MedMNIST: download once (pooch, MD5-verified, retried), verify before use, load as a Bunch.

Files keep MedMNIST's names (``pneumoniamnist.npz``, ``pneumoniamnist_64.npz``)
and sit directly in the data folder (argument -> ``MEDLEARN_DATA`` -> per-user
cache), so files someone already has can simply be dropped in. A file is
hashed the first time it is used; the result is remembered in a sidecar until
the file changes (see ``_verify``). A file that fails its MD5 is moved aside
(``*.npz.corrupt``) and never used.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

from medlearn import config
from medlearn.datasets._bunch import Bunch
from medlearn.datasets._errors import DatasetError
from medlearn.datasets._npz import check_split, read_splits
from medlearn.datasets._verify import SIDECAR, forget, is_known_good, md5sum, remember_good
from medlearn.datasets.registry import check_name, check_size, file_entry, info, medmnist_filenames

__all__ = ["fetch_medmnist", "scan_data_folder", "scan_details", "verify_file", "ensure_file", "RETRIES"]

RETRIES = 2          # extra download attempts after a network error or a hash mismatch
TIMEOUT_S = 60       # seconds without data before a download attempt fails


def fetch_medmnist(name: str, *, size: int = 28, split: str | None = None, data_home=None,
                   download: bool = True, progress: bool = True) -> Bunch:
    """Load a MedMNIST 2D dataset, downloading and verifying it first if needed.

    Args:
        name: one of the 12 MedMNIST 2D names, e.g. ``"pneumoniamnist"`` (case-insensitive;
            ``medlearn data list`` shows them).
        size: image side: 28, 64, 128 or 224.
        split: ``"train"``, ``"val"``, ``"test"`` or ``None`` for all three.
        data_home: the data folder (default: ``MEDLEARN_DATA``, else a per-user cache).
        download: if the file is missing, download it (``False``: raise instead).
        progress: show a download progress bar.

    Returns:
        For one split, a :class:`Bunch` with ``images`` (uint8, (N, S, S) grey or
        (N, S, S, 3) RGB, as stored), ``labels`` (int64, (N,), or (N, 14) 0/1 for
        ChestMNIST), ``label_names``, ``task``, ``split``, ``size``, ``name`` and
        ``info`` (the registry entry). For ``split=None``, a Bunch with ``train``,
        ``val`` and ``test`` split Bunches plus ``label_names``, ``task``, ``size``,
        ``name`` and ``info``. Printing either shows the dataset card.

    Raises:
        DatasetError: unknown name (with a suggestion), bad size or split (listing the
            valid values), a corrupt file (expected vs actual MD5; the file was moved
            aside), or a missing file that cannot be downloaded (offline, network error,
            HTTP error): the message names the URL, the exact destination path and the MD5.

    Example:
        >>> data = fetch_medmnist("breastmnist")          # doctest: +SKIP
        >>> data.train.images.shape                       # doctest: +SKIP
        (546, 28, 28)

    Used in lesson 07.
    """
    name = check_name(name, "medmnist")
    size = check_size(name, size)
    check_split(split)
    path = ensure_file(name, size, data_home=data_home, download=download, progress=progress)
    return read_splits(path, split, entry=info(name), size=size)


def ensure_file(name: str, size: int = 28, *, data_home=None, download: bool = True, progress: bool = True) -> Path:
    """Return the path of a verified MedMNIST file, downloading it if allowed and needed.

    Raises:
        DatasetError: see :func:`fetch_medmnist`.
    """
    spec = file_entry(name, size)
    folder = config.data_home(data_home)
    path = folder / spec["filename"]
    problem = None
    if path.is_file():
        ok, actual = verify_file(path, spec["md5"])
        if ok:
            return path
        if actual in spec.get("previous_md5", ()):
            aside = _move_aside(path, ".outdated")
            problem = (f"{path} is an older MedMNIST release (before v2.2.4, with different split sizes): MD5 "
                       f"{actual}, the registry expects {spec['md5']}. It was {aside} and will not be used.")
        else:
            aside = _move_aside(path)
            problem = (f"{path} is corrupt or truncated: its MD5 is {actual} but the registry expects {spec['md5']}. "
                       f"It was {aside} and will not be used.")
        if not download or config.is_offline():
            raise DatasetError(problem + " " + _manual(spec, path, "a fresh copy is needed"))
        warnings.warn(problem + " Downloading a fresh copy.", stacklevel=3)
    elif not download:
        raise DatasetError(f"{spec['filename']} is not in the data folder and download=False. "
                           + _manual(spec, path, "download=False"))
    elif config.is_offline():
        raise DatasetError(f"{spec['filename']} is not in the data folder and MEDLEARN_OFFLINE=1 forbids downloads. "
                           + _manual(spec, path, "offline mode"))
    _download(spec, config.data_home(data_home, create=True), progress)
    return path


def _manual(spec: dict, path: Path, reason: str) -> str:
    return (f"To get it by hand ({reason}):\n"
            f"  URL         : {spec['url']}\n"
            f"  save it as  : {path}\n"
            f"  MD5         : {spec['md5']}\n"
            f"then check it with `medlearn data verify --data-dir {path.parent}`. "
            "Meanwhile the embedded phantoms always work: medlearn.datasets.load_phantoms().")


def _move_aside(path: Path, suffix: str = ".corrupt") -> str:
    """Rename a bad file to ``<name><suffix>`` (or delete it); return what happened, for the message."""
    aside = path.with_name(path.name + suffix)
    forget(path)
    try:
        os.replace(path, aside)
        return f"moved aside to {aside}"
    except OSError:
        pass
    try:
        path.unlink()
        return "removed"
    except OSError as exc:
        return (f"NOT moved aside, the folder is read-only ({exc.strerror}): delete or replace it by hand; "
                "medlearn will not use it either way")


def _downloader(progress: bool):
    """pooch's HTTP downloader that remembers the MD5 of what it fetched (``last_md5``), so that a
    mismatch is reported with both hashes without reading pooch's error text."""
    import pooch

    class HashingDownloader(pooch.HTTPDownloader):
        last_md5 = None

        def __call__(self, url, output_file, pooch_instance, check_only=False):
            result = super().__call__(url, output_file, pooch_instance, check_only=check_only)
            if not check_only and isinstance(output_file, (str, os.PathLike)) and os.path.exists(output_file):
                self.last_md5 = pooch.file_hash(str(output_file), alg="md5")
            return result

    return HashingDownloader(progressbar=bool(progress), timeout=TIMEOUT_S)


def _download(spec: dict, folder: Path, progress: bool) -> None:
    import pooch
    import requests

    path = folder / spec["filename"]
    fetcher = pooch.create(path=folder, base_url="", registry={spec["filename"]: f"md5:{spec['md5']}"},
                           urls={spec["filename"]: spec["url"]}, retry_if_failed=RETRIES)
    downloader = _downloader(progress)
    attempts = f"{RETRIES + 1} attempt{'s' if RETRIES else ''}"
    try:
        fetcher.fetch(spec["filename"], downloader=downloader)
    except ValueError:
        if downloader.last_md5 is None:   # not a hash mismatch: a ValueError of our own making
            raise
        raise DatasetError(
            f"The download of {spec['url']} does not match the registry: MD5 {downloader.last_md5}, "
            f"expected {spec['md5']} ({attempts}). The downloaded data was removed; {path} was not written. "
            "The server may be sending a different or damaged file. " + _manual(spec, path, "the download was corrupt")
        ) from None
    except requests.exceptions.HTTPError as exc:
        status = getattr(exc.response, "status_code", "?")
        raise DatasetError(f"The server answered HTTP {status} for {spec['url']} ({attempts}). "
                           + _manual(spec, path, f"HTTP {status}")) from None
    except requests.exceptions.RequestException as exc:
        raise DatasetError(f"Could not download {spec['url']} ({type(exc).__name__}, {attempts}): "
                           "no network, the server is unreachable, or the transfer was cut off. "
                           + _manual(spec, path, "the download failed")) from None
    except OSError as exc:
        raise DatasetError(f"Could not write {path}: {exc.strerror or exc}. Fix: choose a writable data folder "
                           "(data_home=... or MEDLEARN_DATA).") from None
    remember_good(path, spec["md5"])  # pooch has just checked the MD5


def verify_file(path, md5: str) -> tuple[bool, str]:
    """Check one file against an MD5, hashing only if it changed since it last matched.

    Returns:
        ``(True, md5)`` if it matches, else ``(False, actual_md5)``.
    """
    path = Path(path)
    if is_known_good(path, md5):
        return True, md5
    actual = md5sum(path)
    if actual == md5:
        remember_good(path, md5)
        return True, actual
    forget(path)
    return False, actual


def scan_details(data_home=None, *, verify: bool = False) -> list[dict]:
    """Every ``.npz`` file in the data folder with its status.

    Args:
        data_home: the folder (default: ``MEDLEARN_DATA``, else a per-user cache).
        verify: hash files not yet verified (``False``: report them as ``"unverified"``).

    Returns:
        A list of dicts with ``file``, ``dataset``, ``size``, ``status`` (``"verified"``,
        ``"unverified"``, ``"corrupt"``, ``"outdated"`` (an older MedMNIST release, not used)
        or ``"unknown"``), ``expected_md5``, ``actual_md5``.
    """
    folder = config.data_home(data_home)
    if not folder.is_dir():
        return []
    known = medmnist_filenames()
    rows = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".npz" and p.name != SIDECAR):
        row = {"file": path.name, "dataset": None, "size": None, "status": "unknown",
               "expected_md5": None, "actual_md5": None}
        if path.name in known:
            name, size = known[path.name]
            spec = file_entry(name, size)
            md5 = spec["md5"]
            row.update(dataset=name, size=size, expected_md5=md5)
            if is_known_good(path, md5):
                row.update(status="verified", actual_md5=md5)
            elif verify:
                ok, actual = verify_file(path, md5)
                status = "verified" if ok else "outdated" if actual in spec.get("previous_md5", ()) else "corrupt"
                row.update(status=status, actual_md5=actual)
            else:
                row["status"] = "unverified"
        rows.append(row)
    return rows


def scan_data_folder(path=None, *, verify: bool = False) -> list[tuple[str, str]]:
    """``[(file name, status), ...]`` for the ``.npz`` files in the data folder (``medlearn doctor``).

    Cheap by default: a file already verified (and unchanged) is reported
    ``"verified"`` from the sidecar cache, any other MedMNIST file ``"unverified"``;
    ``verify=True`` hashes those. Files MedMNIST does not publish are ``"unknown"``.
    """
    return [(row["file"], row["status"]) for row in scan_details(path, verify=verify)]
