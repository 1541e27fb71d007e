"""``medlearn data``: list, describe, fetch and verify datasets.

    medlearn data list
    medlearn data info NAME
    medlearn data fetch NAME [--size S] [--data-dir D]
    medlearn data verify [--data-dir D]

Expected failures raise :class:`DatasetError`; :func:`medlearn.cli.main` prints the
message (no traceback) and exits with status 1. ``verify`` exits with 1 when
any file is corrupt.
"""
from __future__ import annotations

import argparse
import sys

from medlearn.cli._args import add_data_dir

__all__ = ["register"]


def register(subparsers) -> None:
    """Add the ``data`` command and its sub-commands to ``medlearn``'s parser."""
    data = subparsers.add_parser("data", help="list, describe, download and verify datasets",
                                 description="List, describe, download and verify the course datasets.")
    sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    sub.required = True

    p = sub.add_parser("list", help="list every registered dataset")
    p.add_argument("--kind", choices=["medmnist", "embedded", "tabular", "sample_image", "dicom"],
                   help="only this kind of dataset")
    p.set_defaults(func=_list)

    p = sub.add_parser("info", help="show a dataset's card (task, classes, splits, licence, citation, files)")
    p.add_argument("name")
    p.set_defaults(func=_info)

    p = sub.add_parser("fetch", help="download a MedMNIST file and verify its MD5")
    p.add_argument("name")
    p.add_argument("--size", default="28", help="image size: 28, 64, 128 or 224 (default 28)")
    add_data_dir(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_fetch)

    p = sub.add_parser("verify", help="check every MedMNIST file in the data folder against the registry")
    add_data_dir(p)
    p.set_defaults(func=_verify)


def _list(args: argparse.Namespace) -> int:
    from medlearn.datasets.registry import info, list_datasets

    rows = []
    for name in list_datasets(args.kind):
        entry = info(name)
        sizes = ",".join(str(s) for s in entry.get("sizes", [])) or "-"
        n = sum(entry.get("n_samples", {}).values()) if entry.get("n_samples") else 0
        rows.append((name, entry["kind"], entry.get("modality", ""), entry.get("task", ""), str(n or "-"), sizes))
    header = ("name", "kind", "modality", "task", "samples", "sizes")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for row in [header] + rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def _info(args: argparse.Namespace) -> int:
    from medlearn.datasets.card import render_info
    from medlearn.datasets.registry import info

    entry = info(args.name)
    print(render_info(entry))
    for size, spec in entry.get("files", {}).items():
        where = spec.get("url") or spec.get("path", "")
        print(f"File {size:>3}  : {spec['filename']}  md5 {spec['md5']}  {where}")
    if entry.get("source"):
        print(f"Source   : {entry['source']}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from medlearn.datasets.fetch import ensure_file
    from medlearn.datasets.registry import check_name, check_size

    name = check_name(args.name, "medmnist")
    size = check_size(name, args.size)
    path = ensure_file(name, size, data_home=args.data_dir, progress=not args.no_progress)
    print(f"{name} (size {size}): verified, {path}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from medlearn import config
    from medlearn.datasets.fetch import scan_details

    folder = config.data_home(args.data_dir)
    rows = scan_details(folder, verify=True)
    if not rows:
        print(f"No .npz files in {folder}. Fetch one with `medlearn data fetch NAME`.")
        return 0
    for row in rows:
        if row["status"] == "verified":
            print(f"good     {row['file']}  ({row['dataset']}, size {row['size']})")
        elif row["status"] == "corrupt":
            print(f"CORRUPT  {row['file']}  MD5 {row['actual_md5']}, expected {row['expected_md5']}. "
                  f"Fix: delete it and run `medlearn data fetch {row['dataset']} --size {row['size']}`.")
        elif row["status"] == "outdated":
            print(f"OUTDATED {row['file']}  an older MedMNIST release (MD5 {row['actual_md5']}), not used. "
                  f"Fix: delete it and run `medlearn data fetch {row['dataset']} --size {row['size']}`.")
        else:
            print(f"unknown  {row['file']}  (not a MedMNIST file name; ignored)")
    bad = sum(r["status"] == "corrupt" for r in rows)
    good = sum(r["status"] == "verified" for r in rows)
    old = sum(r["status"] == "outdated" for r in rows)
    print(f"{folder}: {good} good, {bad} corrupt, " + (f"{old} outdated, " if old else "")
          + f"{len(rows) - good - bad - old} unknown")
    if bad:
        print(f"medlearn data verify: {bad} corrupt file(s)", file=sys.stderr)
    return 1 if bad else 0
