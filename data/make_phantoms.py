"""Regenerate data/phantoms.npz bit for bit and print its MD5.

Usage:
    python data/make_phantoms.py            # rewrite data/phantoms.npz
    python data/make_phantoms.py --out X    # write elsewhere (the tests do)

The arrays come from ``medlearn.datasets.embedded.phantom_splits`` (fixed
seeds and sizes from the registry entry "phantoms"); the npz is written with
fixed member dates so the file's bytes, and so its MD5, never change. The
MD5 printed must equal the registry's ``phantoms`` entry.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from medlearn.datasets._npz import write_npz
from medlearn.datasets._verify import md5sum
from medlearn.datasets.embedded import phantom_splits, phantoms_path
from medlearn.datasets.registry import info


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=phantoms_path(), help="output file (default: data/phantoms.npz)")
    args = parser.parse_args(argv)
    write_npz(args.out, phantom_splits())
    digest = md5sum(args.out)
    expected = info("phantoms")["files"]["28"]["md5"]
    print(json.dumps({"path": str(args.out), "bytes": args.out.stat().st_size, "md5": digest,
                      "matches_registry": digest == expected}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
