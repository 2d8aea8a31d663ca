"""A hostile vendor on loopback: a stdlib HTTP server whose every answer a test scripts.

``HostileServer(answer)`` calls ``answer(request)`` for each request and sends what it returns: a status,
headers and a body, which may be bytes or an iterable of (delay in seconds, bytes) pieces for a server
that trickles. It counts what it received.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    #: Every header line as sent, in order, repeats kept (``headers`` keeps the last of a name).
    lines: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Answer:
    status: int = 200
    body: bytes | Iterable[tuple[float, bytes]] = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
        return cls(
            status, json.dumps(value).encode(), {"Content-Type": "application/json", **(headers or {})}
        )


class HostileServer:
    def __init__(self, answer: Callable[[Seen], Answer]) -> None:
        self.answer = answer
        self.seen: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(self.command, parts.path, dict(parse_qsl(parts.query)),
                            {k.lower(): v for k, v in self.headers.items()},
                            self.rfile.read(length) if length else b"", list(self.headers.items()))  # fmt: skip
                server.seen.append(seen)
                answer = server.answer(seen)
                try:
                    self.send_response(answer.status)
                    for key, value in answer.headers.items():
                        self.send_header(key, value)
                    if isinstance(answer.body, bytes):
                        self.send_header("Content-Length", str(len(answer.body)))
                        self.end_headers()
                        self.wfile.write(answer.body)
                        return
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.close_connection = True
                    for delay, piece in answer.body:
                        time.sleep(delay)
                        self.wfile.write(piece)
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def wrap(self, context: Any) -> None:
        """Serve TLS with ``context`` (call before the first request)."""
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def api_calls(self, path_part: str) -> list[Seen]:
        return [s for s in self.seen if path_part in s.path]
