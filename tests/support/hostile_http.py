"""A hostile HTTP service behind an OpenAPI 3 spec, served by the stdlib on loopback.

Each operation misbehaves one way (drips, stalls, floods, lies about its content,
redirects, resets the connection), and the service records every request it gets (its
raw path and its Authorization header), so that a test can tell what was sent. A second
server, on another port (another origin), records whatever reaches it: the target of
the cross-origin redirect. Used by tests/sources/test_sources_openapi_limits.py and by
benchmarks/faults_http.py.
"""

from __future__ import annotations

import gzip
import json
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "hostile-bearer-token"
HUGE = 50 * 1024 * 1024  # bytes of the huge body, and of the gzip bomb once inflated
DRIP = 0.5  # seconds between two bytes of the drip-fed body
_CHUNK = 64 * 1024
_ROUTES = frozenset(
    {"files", "note", "search", "drip", "stall", "huge", "endless", "bomb", "huge-headers",
     "wrong-type", "bad-json", "deep-json", "loop", "away", "storm", "reset"}
)  # fmt: skip


def _op(operation_id: str, parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "responses": {"200": {"description": "Whatever the service sends."}},
    }
    if parameters:
        operation["parameters"] = parameters
    return {"get": operation}


def _param(name: str, where: str) -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": {"type": "string"}}


SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Hostile", "version": "1.0"},
    "servers": [{"url": "/api"}],
    "paths": {
        "/files/{name}": _op("getFile", [_param("name", "path")]),
        "/files/{folder}/{name}": _op(
            "getNestedFile", [_param("folder", "path"), _param("name", "path")]
        ),
        "/note": _op("note", [_param("X-Note", "header")]),
        "/search": _op("search", [_param("q", "query")]),
        "/drip": _op("dripFeed"),
        "/stall": _op("stall"),
        "/huge": _op("hugeBody"),
        "/endless": _op("endlessChunks"),
        "/bomb": _op("gzipBomb"),
        "/huge-headers": _op("hugeHeaders"),
        "/wrong-type": _op("wrongType"),
        "/bad-json": _op("badJson"),
        "/deep-json": _op("deepJson"),
        "/loop": _op("redirectLoop"),
        "/away": _op("redirectAway"),
        "/storm": _op("serverError"),
        "/reset": _op("resetMidBody"),
    },
}


@dataclass
class Seen:
    """What a server received: one (method, raw path, Authorization) per request."""

    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    notes: list[str | None] = field(default_factory=list)
    queries: list[dict[str, list[str]]] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        """The raw paths requested, in order."""
        return [path for _, path, _ in self.requests]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, seen: Seen, other: str = "") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen = seen
        self.other = other  # the other origin's URL, where /away redirects
        self.stopping = threading.Event()

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hangs up mid-body is what these tests are about


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # for the chunked body
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms stall

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self._head(status, {"Content-Type": kind, "Content-Length": str(len(body))})
        self.wfile.write(body)

    def _stream(self, pieces: Iterator[bytes], pause: float = 0.0) -> None:
        """Write `pieces` until they end, the client hangs up or the server stops."""
        try:
            for piece in pieces:
                if self.server.stopping.wait(pause) if pause else self.server.stopping.is_set():
                    return
                self.wfile.write(piece)
                self.wfile.flush()
        except OSError:
            self.close_connection = True

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        auth = self.headers.get("Authorization")
        self.server.seen.requests.append(("GET", self.path, auth))
        if url.path == "/openapi.json":
            return self._send(200, json.dumps(SPEC).encode())
        if not self.server.other:  # the other origin: record, answer nothing useful
            return self._send(200, b'"stolen"')
        route = url.path.removeprefix("/api/").split("/")[0]
        if not url.path.startswith("/api/") or route not in _ROUTES:
            return self._send(404, b'{"error": "no such path"}')
        return getattr(self, "_" + route.replace("-", "_"))(url)  # type: ignore[no-any-return]

    # -- one method per operation ----------------------------------------------------

    def _files(self, url: Any) -> None:
        self._send(200, json.dumps({"path": url.path}).encode())

    def _note(self, url: Any) -> None:
        self.server.seen.notes.append(self.headers.get("X-Note"))
        self._send(200, json.dumps(self.headers.get("X-Note")).encode())

    def _search(self, url: Any) -> None:
        query = parse_qs(url.query, keep_blank_values=True)
        self.server.seen.queries.append(query)
        self._send(200, json.dumps(query).encode())

    def _drip(self, url: Any) -> None:
        self._head(200, {"Content-Type": "application/json", "Content-Length": "10000"})
        self._stream((b" " for _ in range(10000)), pause=DRIP)

    def _stall(self, url: Any) -> None:
        self.server.stopping.wait(120)  # before the status line: nothing at all arrives

    def _huge(self, url: Any) -> None:
        self._head(200, {"Content-Type": "text/plain", "Content-Length": str(HUGE)})
        self._stream(b"x" * _CHUNK for _ in range(HUGE // _CHUNK))

    def _endless(self, url: Any) -> None:
        self._head(200, {"Content-Type": "text/plain", "Transfer-Encoding": "chunked"})
        piece = b"%x\r\n%s\r\n" % (_CHUNK, b"y" * _CHUNK)
        # paced (64 MiB/s), so that a client without a cap fills its memory slowly
        self._stream((piece for _ in iter(int, 1)), pause=0.001)

    def _bomb(self, url: Any) -> None:
        body = _bomb()
        self._head(
            200,
            {
                "Content-Type": "text/plain",
                "Content-Encoding": "gzip",
                "Content-Length": str(len(body)),
            },
        )
        self._stream(iter([body]))

    def _huge_headers(self, url: Any) -> None:
        self.send_response(200)
        for n in range(2000):
            self.send_header(f"X-Filler-{n}", "z" * 500)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self._stream(iter([b"{}"]))

    def _wrong_type(self, url: Any) -> None:
        self._send(200, b"\xff\xfe<html>\x00\x01 not what the spec says", kind="image/png")

    def _bad_json(self, url: Any) -> None:
        self._send(200, b'{"truncated": [1, 2, ', kind="application/json")

    def _deep_json(self, url: Any) -> None:
        self._send(200, b"[" * 200_000 + b"]" * 200_000)

    def _loop(self, url: Any) -> None:
        self._head(302, {"Location": "/api/loop", "Content-Length": "0"})

    def _away(self, url: Any) -> None:
        self._head(302, {"Location": f"{self.server.other}/steal", "Content-Length": "0"})

    def _storm(self, url: Any) -> None:
        self._send(500, b"the database is on fire " * 5000, kind="text/plain")

    def _reset(self, url: Any) -> None:
        self._head(200, {"Content-Type": "text/plain", "Content-Length": "100000"})
        self._stream(iter([b"r" * 1000]))
        # SO_LINGER 0: close() sends a RST, not a FIN: the connection is reset mid-body
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True


_bombs: list[bytes] = []


def _bomb() -> bytes:
    """`HUGE` zero bytes, gzipped (about 50 KB on the wire), made once."""
    if not _bombs:
        _bombs.append(gzip.compress(bytes(HUGE), compresslevel=9))
    return _bombs[0]


@dataclass
class Hostile:
    """A running hostile service: its URL, what it saw, what the other origin saw."""

    url: str
    seen: Seen
    other_url: str
    other_seen: Seen


@contextmanager
def serve() -> Iterator[Hostile]:
    """Serve the hostile service and the other origin on free loopback ports."""
    _bomb()  # made before any test measures memory: the server's bytes are not the client's
    other_seen, seen = Seen(), Seen()
    other = _Server(other_seen)
    other_url = f"http://127.0.0.1:{other.server_address[1]}"
    main = _Server(seen, other_url)
    servers = [main, other]
    threads = [threading.Thread(target=s.serve_forever, args=(0.02,), daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    try:
        yield Hostile(f"http://127.0.0.1:{main.server_address[1]}", seen, other_url, other_seen)
    finally:
        for server in servers:
            server.stopping.set()
            server.shutdown()
            server.server_close()
        for thread in threads:
            thread.join()
