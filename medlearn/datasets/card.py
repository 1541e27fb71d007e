"""Dataset cards: the text a Bunch shows when printed.

A card says what the data is and where it comes from: name, modality, task,
classes with their counts, split sizes, image shape, licence and citation.
Everything comes from the registry entry (``bunch.info``) and the arrays the
bunch actually holds.
"""
from __future__ import annotations

import textwrap

import numpy as np

__all__ = ["render_card", "render_info"]

_WIDTH = 88


def render_info(entry: dict) -> str:
    """A card from a registry entry alone (no arrays loaded): ``medlearn data info``."""
    return _render(entry, splits=None, bunch=None)


def render_card(bunch) -> str:
    """The card of a loaded Bunch (a full dataset with ``train``/``val``/``test`` or one split)."""
    entry = bunch["info"]
    splits = {}
    for key in ("train", "val", "test"):
        if key in bunch and isinstance(bunch[key], dict):
            splits[key] = bunch[key]
    if not splits and "labels" in bunch:
        splits[bunch.get("split", "data")] = bunch
    return _render(entry, splits=splits, bunch=bunch)


def _render(entry: dict, splits, bunch) -> str:
    lines = [f"{entry.get('title', entry['name'])} ({entry['name']})", "=" * 40]
    if entry.get("description"):
        lines += textwrap.wrap(entry["description"], _WIDTH)
    lines.append(f"Modality : {entry.get('modality', '?')}")
    task = (bunch.get("task") if bunch is not None else None) or entry.get("task", "none")
    if task != "none":
        lines.append(f"Task     : {task}")
    if bunch is not None and bunch.get("size"):
        lines.append(f"Size     : {bunch['size']}x{bunch['size']} pixels")
    if splits:
        for key, part in splits.items():
            array = part.get("images", part.get("data"))
            shape = getattr(array, "shape", None)
            dtype = getattr(array, "dtype", "table")
            lines.append(f"{key:<9}: {_count(part)} samples" + (f", {dtype} {shape}" if shape is not None else ""))
    elif bunch is not None and hasattr(bunch.get("image"), "shape"):
        lines.append(f"Image    : {bunch['image'].dtype} {bunch['image'].shape}"
                     + (f" ({bunch['units']})" if bunch.get("units") else ""))
        if bunch.get("pixel_spacing"):
            lines.append(f"Spacing  : {bunch['pixel_spacing'][0]:g} x {bunch['pixel_spacing'][1]:g} mm per pixel")
    elif entry.get("n_samples") and entry.get("kind") not in ("sample_image", "dicom"):
        lines.append("Splits   : " + ", ".join(f"{k} {v}" for k, v in entry["n_samples"].items()))
    lines += _classes(entry, splits)
    if entry.get("sizes"):
        lines.append("Sizes    : " + ", ".join(str(s) for s in entry["sizes"]))
    lines.append(f"Licence  : {entry.get('license', '?')}")
    for i, cite in enumerate(entry.get("citation", [])):
        wrapped = textwrap.wrap(cite, _WIDTH - 11)
        lines.append(("Citation : " if i == 0 else "           ") + wrapped[0])
        lines += ["           " + w for w in wrapped[1:]]
    return "\n".join(lines)


def _count(part) -> int:
    for key in ("labels", "images", "target", "data"):
        if key in part and hasattr(part[key], "shape"):
            return int(part[key].shape[0])
    return 0


def _classes(entry, splits):
    names = list(entry.get("label_names") or [])
    if not names:
        return []
    counts = {}
    for key, part in (splits or {}).items():
        labels = part.get("labels", part.get("target"))
        if labels is None or not hasattr(labels, "shape"):
            continue
        labels = np.asarray(labels)
        if labels.ndim == 2:            # multi-label: positives per label
            counts[key] = labels.sum(axis=0).astype(int)
        else:
            counts[key] = np.bincount(labels.astype(np.int64).ravel(), minlength=len(names))[: len(names)]
    head = "Classes  :" if "multi-label" not in entry.get("task", "") else "Labels   :"
    out = [head + ("" if not counts else " " * (35 - len(head)) + " " + "  ".join(f"{k:>7}" for k in counts))]
    for i, label in enumerate(names):
        cells = "  ".join(f"{int(c[i]):>7}" for c in counts.values())
        out.append(f"  {i:>2} {label[:30]:<30}" + (" " + cells if cells else ""))
    return out
