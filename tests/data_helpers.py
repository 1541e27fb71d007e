"""Helpers for the data-layer tests: tiny MedMNIST-layout files and a local HTTP server.

No test touches the internet: downloads go to a threaded ``http.server`` on
127.0.0.1 whose routes the test scripts (serve bytes, answer 404, fail first,
send a truncated body).
"""
from __future__ import annotations

import hashlib
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

SPLIT_SIZES = {"train": 12, "val": 4, "test": 6}


def npz_bytes(*, size: int = 28, channels: int = 1, n_classes: int = 2, multilabel: int = 0,
              seed: int = 0, splits=SPLIT_SIZES) -> bytes:
    """A small npz in MedMNIST's layout (uint8 images, uint8 (N, 1) or (N, K) labels), as bytes."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in splits.items():
        shape = (n, size, size) if channels == 1 else (n, size, size, channels)
        arrays[f"{split}_images"] = rng.integers(0, 256, shape, dtype=np.uint8)
        if multilabel:
            arrays[f"{split}_labels"] = rng.integers(0, 2, (n, multilabel), dtype=np.uint8)
        else:
            arrays[f"{split}_labels"] = (np.arange(n) % n_classes).astype(np.uint8)[:, None]
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class Route:
    """What the server does for one path.

    Args:
        body: the bytes to serve.
        status: HTTP status to answer instead (e.g. 404), with no body.
        fail_first: answer HTTP 500 to the first ``fail_first`` requests, then serve.
        truncate_to: send a Content-Length of ``len(body)`` but only this many bytes.
    """

    def __init__(self, body: bytes = b"", *, status: int = 200, fail_first: int = 0, truncate_to: int | None = None):
        self.body, self.status, self.fail_first, self.truncate_to = body, status, fail_first, truncate_to
        self.hits = 0


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 (random free port) serving :class:`Route` objects."""

    def __init__(self):
        routes = self.routes = {}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):  # noqa: N802 (http.server API)
                path = self.path.split("?")[0]
                route = routes.get(path)
                if route is None:
                    self.send_error(404)
                    return
                route.hits += 1
                if route.hits <= route.fail_first:
                    self.send_error(500)
                    return
                if route.status != 200:
                    self.send_error(route.status)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                body = route.body if route.truncate_to is None else route.body[: route.truncate_to]
                self.wfile.write(body)
                if route.truncate_to is not None:
                    self.wfile.flush()
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, path: str, route: Route) -> str:
        """Serve ``route`` at ``path`` (``"/x.npz"``); returns the full URL."""
        self.routes[path] = route
        return self.base_url + path

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_server():
    server = LocalServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def fast_retries(monkeypatch):
    """No real waiting between pooch's retries; one retry by default."""
    import pooch.core

    from medlearn.datasets import fetch

    monkeypatch.setattr(pooch.core.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(fetch, "RETRIES", 1)
    return fetch


def free_port() -> int:
    """A port nobody listens on (bound then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
