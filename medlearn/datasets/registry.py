"""The dataset registry: one JSON file holds the facts about every dataset.

``registry.json`` (next to this module) lists the 12 MedMNIST 2D datasets
(file name, URL and MD5 per image size, task, label names, channels, split
sizes, licence, citation) and every dataset medlearn embeds or loads from
installed packages. Loaders, dataset cards, the CLI and the tests read it
through the functions below; nothing else hard-codes a dataset fact.

Two ways to point downloads elsewhere, keeping the real URLs in the file:

* ``MEDLEARN_MIRROR=http://host/path/`` - a classroom mirror serving the files
  under their MedMNIST names (the MD5s still apply);
* :func:`override_file` - a context manager replacing one file's URL and/or
  MD5 (used by the tests with a local HTTP server).
"""
from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
from pathlib import Path

from medlearn.datasets._errors import DatasetError, suggest

__all__ = ["list_datasets", "info", "file_entry", "override_file", "medmnist_filenames",
           "check_name", "check_size", "published_benchmarks", "best_published", "SPLITS", "KINDS"]

SPLITS = ("train", "val", "test")
KINDS = ("medmnist", "embedded", "tabular", "sample_image", "dicom")
_REGISTRY_PATH = Path(__file__).with_name("registry.json")
_PUBLISHED_PATH = Path(__file__).with_name("published.json")
_OVERRIDES: dict[tuple[str, int], dict] = {}
_LOADERS = {"medmnist": "fetch_medmnist(name)", "embedded": "load_phantoms()",
            "tabular": "load_breast_cancer() / load_diabetes()", "sample_image": "load_sample_image(name)",
            "dicom": "load_dicom(name)"}


@functools.lru_cache(maxsize=1)
def _load() -> dict:
    with open(_REGISTRY_PATH, encoding="utf-8") as fh:
        return json.load(fh)["datasets"]


@functools.lru_cache(maxsize=1)
def _published_sources() -> dict:
    with open(_PUBLISHED_PATH, encoding="utf-8") as fh:
        return json.load(fh)["sources"]


def list_datasets(kind: str | None = None) -> list[str]:
    """Names of the registered datasets, in registry order.

    Args:
        kind: keep only one kind: ``"medmnist"`` (downloadable), ``"embedded"``
            (shipped in the repo), ``"tabular"``, ``"sample_image"``, ``"dicom"``.
            ``None`` lists all.

    Returns:
        A list of names such as ``"pneumoniamnist"`` or ``"phantoms"``.

    Raises:
        DatasetError: ``kind`` is not one of the kinds above.

    Example:
        >>> "breastmnist" in list_datasets("medmnist")
        True
    """
    if kind is not None and kind not in KINDS:
        raise DatasetError(f"kind must be one of {', '.join(map(repr, KINDS))} or None. Received: kind={kind!r}")
    return [name for name, entry in _load().items() if kind is None or entry["kind"] == kind]


def check_name(name, kind: str | None = None) -> str:
    """Return ``name`` normalised (lower case) if registered, else raise with a suggestion."""
    names = list_datasets(kind)
    text = str(name).strip().lower() if isinstance(name, str) else name
    if isinstance(text, str) and text in names:
        return text
    what = {"medmnist": "a MedMNIST dataset", None: "a registered dataset"}.get(kind, f"a {kind} dataset")
    hint = suggest(str(name), names)
    if isinstance(text, str) and text in _load() and kind is not None:
        other = _load()[text]["kind"]
        hint = f" {text!r} is not of that kind (kind: {other}): load it with {_LOADERS.get(other, 'its own loader')}."
    raise DatasetError(
        f"name must be {what}. Received: name={name!r}.{hint} "
        f"Valid names: {', '.join(names)}. (`medlearn data list` shows them all.)"
    )


def info(name: str) -> dict:
    """The registry entry of one dataset (a fresh copy: changing it changes nothing).

    Args:
        name: a registered name, e.g. ``"pneumoniamnist"``, ``"phantoms"``,
            ``"breast_cancer"`` (case-insensitive).

    Returns:
        A dict with at least ``name``, ``kind``, ``title``, ``description``,
        ``modality``, ``task``, ``n_channels``, ``label_names``, ``n_samples``,
        ``license`` and ``citation`` (list of str); MedMNIST entries add
        ``sizes`` and ``files`` (``{"28": {"filename", "url", "md5"}, ...}``).

    Raises:
        DatasetError: unknown name (the message suggests the closest one).

    Example:
        >>> info("breastmnist")["label_names"]
        ['malignant', 'normal, benign']
    """
    key = check_name(name)
    entry = copy.deepcopy(_load()[key])
    entry["name"] = key
    for size, spec in entry.get("files", {}).items():
        spec.update(_resolve(key, int(size), spec))
    return entry


def check_size(name: str, size) -> int:
    """Return ``size`` as int if the dataset has files at that size, else raise listing the valid sizes.

    Raises:
        DatasetError: an unknown ``name`` (with a suggestion) or a size it has no file for.
    """
    name = check_name(name, "medmnist")
    sizes = _load()[name].get("sizes", [])
    if isinstance(size, bool) or not isinstance(size, (int, str)) or str(size).strip() not in {str(s) for s in sizes}:
        raise DatasetError(
            f"size must be one of {', '.join(map(str, sizes))} for {name}. Received: size={size!r}"
        )
    return int(size)


def file_entry(name: str, size: int = 28) -> dict:
    """``{"filename", "url", "md5"}`` of one MedMNIST file, with mirror and overrides applied.

    Raises:
        DatasetError: unknown name or size.
    """
    name = check_name(name, "medmnist")
    size = check_size(name, size)
    spec = dict(_load()[name]["files"][str(size)])
    spec.update(_resolve(name, size, spec))
    return spec


def medmnist_filenames() -> dict[str, tuple[str, int]]:
    """Map every MedMNIST file name (``"breastmnist_64.npz"``) to ``(dataset, size)``."""
    out = {}
    for name in list_datasets("medmnist"):
        for size, spec in _load()[name]["files"].items():
            out[spec["filename"]] = (name, int(size))
    return out


def published_benchmarks(name: str) -> list[dict]:
    """Every published test-set figure for a dataset, with its source and training image size.

    The MedMNIST v2 rows come from the registry's ``benchmark_test_medmnist_v2`` table (seven
    models); ``published.json`` beside the registry says at which size each was trained and
    adds the MedMNIST+ (Doerrich et al., 2025) best 28x28 figures where known.

    Args:
        name: a registered dataset name (any case).

    Returns:
        A list of ``{"source", "model", "size", "acc", "auc", "citation"}`` dicts (``size``:
        the image side the model was trained on, 28 or 224; ``acc``/``auc``: floats), MedMNIST v2
        first in the paper's order. Empty for datasets nobody published figures on (``"phantoms"``).

    Raises:
        DatasetError: unknown name.

    Example:
        >>> [r["model"] for r in published_benchmarks("breastmnist") if r["size"] == 224]
        ['ResNet-18 (224)', 'ResNet-50 (224)']
    """
    key = check_name(name)
    entry = _load()[key]
    rows = []
    for source, spec in _published_sources().items():
        if "table" in spec:
            for model, fig in (entry.get(spec["table"]) or {}).items():
                rows.append({"source": source, "model": model, "size": int(spec["sizes"][model]),
                             "acc": float(fig["ACC"]), "auc": float(fig["AUC"]), "citation": spec["citation"]})
        fig = spec.get("figures", {}).get(key)
        if fig is not None:
            rows.append({"source": source, "model": spec["model"], "size": int(spec["size"]),
                         "acc": float(fig["ACC"]), "auc": float(fig["AUC"]), "citation": spec["citation"]})
    return rows


def best_published(name: str, size: int = 28) -> dict:
    """The best published entry per metric among those trained at ``size`` x ``size``.

    Returns:
        ``{"acc": row, "auc": row}`` (rows of :func:`published_benchmarks`; the two may be
        different entries), or ``{}`` when no entry has that size.

    Example:
        >>> best_published("retinamnist")["auc"]["source"]
        'MedMNIST+'
    """
    rows = [r for r in published_benchmarks(name) if r["size"] == int(size)]
    return {m: max(rows, key=lambda r, m=m: r[m]) for m in ("acc", "auc")} if rows else {}


def _resolve(name: str, size: int, spec: dict) -> dict:
    changes = {}
    mirror = os.environ.get("MEDLEARN_MIRROR", "").strip()
    if mirror and "url" in spec:
        changes["url"] = mirror.rstrip("/") + "/" + spec["filename"]
    changes.update(_OVERRIDES.get((name, size), {}))
    return changes


@contextlib.contextmanager
def override_file(name: str, size: int = 28, *, url: str | None = None, md5: str | None = None,
                  previous_md5: list[str] | None = None):
    """Temporarily replace one file's URL and/or MD5 (tests, private mirrors).

    Args:
        name: a MedMNIST dataset name.
        size: the image size whose file to override.
        url: the URL to download from instead.
        md5: the MD5 to verify against instead (32 hex digits).
        previous_md5: MD5s of older releases of the file (recognised, reported as outdated).

    Example:
        >>> with override_file("breastmnist", url="http://127.0.0.1:8000/breastmnist.npz"):
        ...     pass
    """
    name = check_name(name, "medmnist")
    size = check_size(name, size)
    key = (name, size)
    previous = _OVERRIDES.get(key)
    _OVERRIDES[key] = {k: v for k, v in (("url", url), ("md5", md5), ("previous_md5", previous_md5))
                       if v is not None}
    try:
        yield file_entry(name, size)
    finally:
        if previous is None:
            _OVERRIDES.pop(key, None)
        else:
            _OVERRIDES[key] = previous
