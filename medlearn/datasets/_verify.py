"""MD5 checks with a memory: a verified file is not hashed again until it changes.

The data folder holds a small sidecar, ``.medlearn-verified.json``, mapping a
file name to the size, modification time and MD5 it had when it last matched
the registry. A file whose size and mtime are unchanged is trusted; any change
(re-download, truncation, a user copying another file over it) forces a
re-hash. The sidecar is a cache only: deleting it is always safe.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

__all__ = ["md5sum", "is_known_good", "remember_good", "forget", "SIDECAR"]

SIDECAR = ".medlearn-verified.json"
# Also remembered in this process, for folders where the sidecar cannot be written (read-only class shares).
_MEMO: dict[tuple[str, int, int], str] = {}


def md5sum(path) -> str:
    """MD5 of a file as 32 hex digits, read in chunks (constant memory).

    ``hashlib.file_digest`` where Python has it (3.11+); not ``pooch.file_hash``, which would
    import pooch (about a second) in ``load_phantoms``, whose import must stay light.
    """
    with open(path, "rb") as fh:
        if hasattr(hashlib, "file_digest"):
            return hashlib.file_digest(fh, lambda: hashlib.md5(usedforsecurity=False)).hexdigest()
        digest = hashlib.md5(usedforsecurity=False)
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
        return digest.hexdigest()


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _read(folder: Path) -> dict:
    try:
        with open(folder / SIDECAR, encoding="utf-8") as fh:
            data = json.load(fh)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write(folder: Path, data: dict) -> None:
    tmp = folder / (SIDECAR + f".{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        tmp.replace(folder / SIDECAR)
    except OSError:  # a read-only folder: verification still works, it is just not remembered
        try:
            tmp.unlink()
        except OSError:
            pass


def is_known_good(path, md5: str) -> bool:
    """True if ``path`` was verified against ``md5`` and has not changed since (no hashing)."""
    path = Path(path)
    try:
        stamp = _stamp(path)
    except OSError:
        return False
    if _MEMO.get((str(path.absolute()), stamp["size"], stamp["mtime_ns"])) == md5:
        return True
    record = _read(path.parent).get(path.name)
    if not record or record.get("md5") != md5:
        return False
    return {k: record.get(k) for k in ("size", "mtime_ns")} == stamp


def remember_good(path, md5: str) -> None:
    """Record that ``path`` (as it is now) matches ``md5``."""
    path = Path(path)
    stamp = _stamp(path)
    _MEMO[(str(path.absolute()), stamp["size"], stamp["mtime_ns"])] = md5
    data = _read(path.parent)
    data[path.name] = {"md5": md5, **stamp}
    _write(path.parent, data)


def forget(path) -> None:
    """Drop ``path`` from the sidecar (it was moved aside or deleted)."""
    path = Path(path)
    for key in [k for k in _MEMO if k[0] == str(path.absolute())]:
        del _MEMO[key]
    data = _read(path.parent)
    if data.pop(path.name, None) is not None:
        _write(path.parent, data)
