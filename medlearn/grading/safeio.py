"""Files that cross the sandbox boundary, and atomic writes.

Only plain data crosses: case inputs go in as ``.npy`` files plus a JSON
manifest; outputs come back the same way and are read with
``allow_pickle=False`` after the ``.npy`` header has been checked (no object
dtype, size within bounds), so a forged file can neither run code nor exhaust
the grader's memory. Every file the grader publishes is written to a
temporary name and moved into place with :func:`os.replace`.

Used by ``medlearn grade``.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["atomic_write_text", "atomic_write_bytes", "save_cases", "load_outputs", "safe_load_npy", "read_json",
           "open_regular", "force_rmtree"]

MAX_OUTPUT_BYTES = 256 * 2**20  # one output array
MAX_JSON_BYTES = 4 * 2**20


def _umask() -> int:
    """The process umask, read without changing it (``os.umask`` would race with other threads)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


_FILE_MODE = 0o666 & ~_umask()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, then ``os.replace``).

    The file gets the usual permissions (``0o666`` minus the umask), not ``mkstemp``'s ``0o600``.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, _FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _encode_value(value, folder: Path, stem: str):
    if isinstance(value, (bool, int, float, str)) or value is None:
        if isinstance(value, float) and not math.isfinite(value):
            return {"float": repr(value)}
        return {"json": value}
    if isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)
        if arr.dtype.hasobject:
            raise TypeError(f"case value {stem!r} has dtype=object; cases hold plain arrays only")
        np.save(folder / f"{stem}.npy", arr, allow_pickle=False)
        return {"npy": f"{stem}.npy", "scalar": isinstance(value, np.generic)}
    if isinstance(value, (list, tuple)):
        return _encode_value(np.asarray(value), folder, stem) | {"list": True}
    raise TypeError(f"case value {stem!r} has type {type(value).__name__}; cases hold arrays, numbers or strings")


def save_cases(cases: list, folder: Path, stem: str) -> str:
    """Save a list of case dicts under ``folder`` (``.npy`` + one manifest); return the manifest name."""
    entries = []
    for i, case in enumerate(cases):
        entries.append({str(k): _encode_value(v, folder, f"{stem}_{i}_{j}") for j, (k, v) in enumerate(case.items())})
    name = f"{stem}.json"
    (folder / name).write_text(json.dumps(entries))
    return name


def open_regular(path: Path, limit: int):
    """Open a file untrusted code may have replaced: no symlink followed, no blocking open, regular files only.

    ``O_NOFOLLOW | O_NONBLOCK`` (a FIFO neither blocks the open nor, being refused after ``fstat``, the
    read), then ``fstat``: anything but a regular file of at most ``limit`` bytes raises ``ValueError``.
    """
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{Path(path).name} is not a regular file")
        if st.st_size > limit:
            raise ValueError(f"{Path(path).name} is larger than {limit} bytes")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def force_rmtree(folder: Path) -> None:
    """Remove a folder untrusted code wrote into: permissions reset first (a ``chmod 0`` folder cannot stay behind).

    Links are removed, never followed. Errors on single entries are ignored.
    """
    import shutil
    import stat

    folder = str(folder)
    try:
        os.chmod(folder, 0o700, follow_symlinks=False)
    except (OSError, NotImplementedError):
        pass
    for root, dirs, _files in os.walk(folder, topdown=True, followlinks=False):
        for name in dirs:
            path = os.path.join(root, name)
            try:
                if stat.S_ISDIR(os.lstat(path).st_mode):
                    os.chmod(path, 0o700)
            except OSError:
                pass
    shutil.rmtree(folder, ignore_errors=True)


def read_json(path: Path, limit: int = MAX_JSON_BYTES):
    """Parse a JSON file written by untrusted code, refusing files over ``limit`` bytes (see :func:`open_regular`)."""
    with open_regular(path, limit) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path.name} is larger than {limit} bytes")
    return json.loads(data)


def safe_load_npy(path: Path, limit: int = MAX_OUTPUT_BYTES) -> np.ndarray:
    """Load one ``.npy`` written by untrusted code: header checked first, never unpickled.

    Raises:
        ValueError: object dtype, a size over ``limit``, a truncated file or a bad header.
    """
    with open_regular(path, limit + 2**16) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unsupported .npy version {version}")
        if dtype.hasobject:
            raise ValueError("object arrays are not accepted")
        nbytes = math.prod(shape) * dtype.itemsize
        remaining = os.fstat(fh.fileno()).st_size - fh.tell()
        if nbytes > limit or nbytes > remaining:
            raise ValueError(f"array of {nbytes} bytes does not fit the limit or the file")
        fh.seek(0)
        arr = np.load(fh, allow_pickle=False)  # the descriptor checked above, not the path again
    return np.asarray(arr).view(np.ndarray)


def load_outputs(folder: Path, manifest: str, n_cases: int) -> list | None:
    """Read one check's outputs written by the runner; ``None`` when the check reported nothing.

    Returns:
        A list with one item per case: a dict of plain arrays, or ``{"__error__": str}``.
        Malformed entries become errors; a wrong number of cases returns ``None``.
    """
    outputs = getattr(folder, "outputs", None)
    if callable(outputs):  # the sandbox's result channel (RunResult.outputs), not a folder: nothing is opened
        try:
            return outputs(int(manifest.split("_", 1)[1].split(".", 1)[0]), n_cases)
        except (IndexError, ValueError):
            return None
    path = folder / manifest
    if not path.is_file() or path.is_symlink():
        return None
    try:
        entries = read_json(path)
    except (OSError, ValueError) as exc:
        return [{"__error__": f"unreadable result ({exc})"}] * max(n_cases, 1)
    if not isinstance(entries, list) or len(entries) != n_cases:
        return None
    results = []
    for entry in entries:
        try:
            if isinstance(entry, dict) and "error" in entry:
                results.append({"__error__": str(entry["error"])[:500]})
                continue
            files = entry["outputs"]
            if not isinstance(files, dict):
                raise ValueError("outputs is not a mapping")
            outputs = {}
            for key, name in files.items():
                if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
                    raise ValueError(f"bad output file name {name!r}")
                outputs[str(key)] = safe_load_npy(folder / name)
            results.append(outputs)
        except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
            results.append({"__error__": f"unreadable result ({type(exc).__name__}: {exc})"})
    return results
