"""The result channel: events and check outputs streamed from the child over a pipe the grader owns.

The grader creates the pipe before the child starts and keeps the read end; the
child inherits the write end as a file descriptor (its number comes in the
job). Nothing the child leaves on disk is read back, so it cannot swap a result
for a FIFO (the grader would block) or a symlink (the grader would read a file
of its own and leak its shape through the hints).

Every frame is ``b"ML"`` + 4-byte big-endian header length + a JSON header,
followed by ``header["nbytes"]`` raw bytes when the header announces an array.
The grader parses the stream incrementally (:class:`Reader`) and refuses,
rather than buffers, anything over its caps: header size, arrays per case,
bytes per array, total bytes, number of frames. Only numeric and boolean
dtypes are accepted; an array arrives as its raw bytes and is rebuilt with
``np.frombuffer`` (no pickle, no ``np.load`` of a file the child chose).

The child side (:class:`Writer`) is only used by :mod:`medlearn.grading.runner`.
Student code runs in the same process and can write frames too: a forged frame
is data like any other output, judged by the grader on its own cases.

Used by ``medlearn grade``.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import struct

__all__ = ["Writer", "Reader", "Caps", "ChannelError"]

MAGIC = b"ML"
_HEAD = struct.Struct(">2sI")
_KINDS = "biufc"  # bool, signed, unsigned, float, complex: never object, void, str or datetime


class ChannelError(ValueError):
    """The child's stream broke a cap or the protocol; the grader stops reading it."""


@dataclasses.dataclass(frozen=True)
class Caps:
    """What the grader accepts from one submission.

    Args:
        header_bytes: the largest JSON header of one frame.
        array_bytes: the largest single output array.
        total_bytes: everything the child may send, arrays and headers together.
        keys_per_case: output arrays per case of a check.
        frames: frames in total (events included).
    """

    header_bytes: int = 64 * 2**10
    array_bytes: int = 256 * 2**20
    total_bytes: int = 512 * 2**20
    keys_per_case: int = 32
    frames: int = 20000


class Writer:
    """The child's end: writes frames to ``fd`` (blocking writes; the grader drains concurrently)."""

    def __init__(self, fd: int):
        self.fd = fd
        self.write = os.write  # own references: casual patching of ``os`` cannot break reporting
        self.dumps = json.dumps
        self.ascontiguous = None  # NumPy is imported at the first output, after the sandbox is in place

    def _send(self, header: dict, payload=b"") -> None:
        head = self.dumps(header, default=str).encode()
        data = _HEAD.pack(MAGIC, len(head)) + head
        view = memoryview(data)
        while view:
            view = view[self.write(self.fd, view):]
        view = memoryview(payload)
        while view:
            view = view[self.write(self.fd, view):]

    def event(self, **fields) -> None:
        """An event frame (``start``, ``error``, ``check``, ``done`` ...); never raises."""
        try:
            self._send({"t": "ev", **fields})
        except (OSError, TypeError, ValueError):
            pass

    def outputs(self, k: int, results: list) -> None:
        """One check's results: per case either an error text or a dict of arrays."""
        if self.ascontiguous is None:
            import numpy as np

            self.ascontiguous = lambda value: np.asarray(value, order="C")  # keeps 0-d arrays 0-d
        self._send({"t": "out", "k": int(k), "n": len(results)})
        for i, result in enumerate(results):
            if "__error__" in result:
                self._send({"t": "err", "k": k, "i": i, "msg": str(result["__error__"])[:2000]})
                continue
            for key, value in result.items():
                arr = self.ascontiguous(value)
                self._send({"t": "arr", "k": k, "i": i, "key": str(key)[:200], "dtype": arr.dtype.str,
                            "shape": list(arr.shape), "nbytes": int(arr.nbytes)}, arr.tobytes())
        self._send({"t": "end", "k": k})


class Reader:
    """The grader's end: ``feed(bytes)`` as they arrive; read ``events`` and :meth:`outputs` after.

    A cap or protocol violation raises :class:`ChannelError` from :meth:`feed`
    (``error`` keeps the message); what was parsed before stays available.
    """

    def __init__(self, caps: Caps = Caps()):
        import numpy as np

        self.np = np
        self.caps = caps
        self.events: list[dict] = []
        self.error = ""
        self._buf = bytearray()
        self._total = 0
        self._frames = 0
        self._want: dict | None = None  # header of an array whose bytes are still coming
        self._checks: dict[int, dict] = {}  # k -> {"n": n, "cases": [dict], "done": bool}

    def feed(self, data: bytes) -> None:
        if self.error:
            raise ChannelError(self.error)
        self._total += len(data)
        if self._total > self.caps.total_bytes:
            self._fail(f"the child sent more than {self.caps.total_bytes} bytes of results")
        self._buf += data
        while self._step():
            pass

    def _fail(self, message: str):
        self.error = message
        self._buf = bytearray()
        raise ChannelError(message)

    def _step(self) -> bool:
        if self._want is not None:
            n = self._want["nbytes"]
            if len(self._buf) < n:
                return False
            payload = bytes(self._buf[:n])
            del self._buf[:n]
            self._array(self._want, payload)
            self._want = None
            return True
        if len(self._buf) < _HEAD.size:
            return False
        magic, size = _HEAD.unpack_from(self._buf)
        if magic != MAGIC:
            self._fail("the result stream is corrupt (bad frame marker)")
        if size > self.caps.header_bytes:
            self._fail(f"a result header of {size} bytes is over the cap of {self.caps.header_bytes}")
        if len(self._buf) < _HEAD.size + size:
            return False
        raw = bytes(self._buf[_HEAD.size:_HEAD.size + size])
        del self._buf[:_HEAD.size + size]
        self._frames += 1
        if self._frames > self.caps.frames:
            self._fail(f"the child sent more than {self.caps.frames} result frames")
        try:
            header = json.loads(raw)
        except ValueError:
            self._fail("the result stream is corrupt (a header is not JSON)")
        if not isinstance(header, dict):
            self._fail("the result stream is corrupt (a header is not an object)")
        self._header(header)
        return True

    def _header(self, h: dict) -> None:
        kind = h.get("t")
        if kind == "ev":
            self.events.append({k: v for k, v in h.items() if k != "t"})
            return
        k = h.get("k")
        if not isinstance(k, int) or isinstance(k, bool):
            self._fail("the result stream is corrupt (a frame without a check number)")
        if kind == "out":
            n = h.get("n")
            if not isinstance(n, int) or not 0 <= n <= 10000:
                self._fail("the result stream is corrupt (bad case count)")
            self._checks[k] = {"n": n, "cases": [{} for _ in range(n)], "done": False}
            return
        check = self._checks.get(k)
        if check is None or check["done"]:
            return  # frames for a check that was not opened (or already closed) are ignored
        if kind == "end":
            check["done"] = True
            return
        i = h.get("i")
        if not isinstance(i, int) or not 0 <= i < check["n"]:
            self._fail("the result stream is corrupt (bad case index)")
        if kind == "err":
            check["cases"][i] = {"__error__": str(h.get("msg", ""))[:500]}
            return
        if kind != "arr":
            self._fail(f"the result stream is corrupt (unknown frame {str(kind)[:20]!r})")
        try:
            dtype = self.np.dtype(str(h["dtype"]))
            shape = tuple(int(s) for s in h["shape"])
            nbytes = int(h["nbytes"])
        except (KeyError, TypeError, ValueError):
            self._fail("the result stream is corrupt (bad array header)")
        if dtype.kind not in _KINDS or dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
            self._fail(f"output dtype {dtype.str} is not a plain numeric type")
        if any(s < 0 for s in shape) or len(shape) > 32 or math.prod(shape) * dtype.itemsize != nbytes:
            self._fail("the result stream is corrupt (array size does not match its shape)")
        if nbytes > self.caps.array_bytes:
            self._fail(f"an output array of {nbytes} bytes is over the cap of {self.caps.array_bytes}")
        case = check["cases"][i]
        if "__error__" not in case and len(case) >= self.caps.keys_per_case:
            self._fail(f"more than {self.caps.keys_per_case} outputs for one case")
        self._want = {"k": k, "i": i, "key": str(h.get("key", "")), "dtype": dtype, "shape": shape, "nbytes": nbytes}

    def _array(self, want: dict, payload: bytes) -> None:
        arr = self.np.frombuffer(payload, dtype=want["dtype"]).reshape(want["shape"]).copy()
        case = self._checks[want["k"]]["cases"][want["i"]]
        if "__error__" not in case:
            case[want["key"]] = arr

    def outputs(self, k: int, n_cases: int) -> list | None:
        """Check ``k``'s results (one item per case), or ``None`` when it did not report all of them."""
        check = self._checks.get(k)
        if check is None or not check["done"] or check["n"] != n_cases:
            return None
        return [dict(c) if c else {"__error__": "unreadable result (no outputs for this case)"}
                for c in check["cases"]]
