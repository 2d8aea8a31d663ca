"""The sandbox HTTP server: one loopback port, one path prefix per vendor, stdlib only.

Control endpoints under ``/_sandbox`` let tests inject faults (a 5xx on one page, a token revoked
mid-listing, a body that is not JSON), read the requests as they arrived (headers on the wire), and
list the live orders that change state over time.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from airflow_provider_orders.sandbox.store import OrderSet, scope_salt


@dataclass
class Request:
    method: str
    path: str  # without the vendor prefix
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    prefix: str

    def arg(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return default

    def args(self, name: str) -> list[str]:
        return [value for key, value in self.query if key == name]

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body, separators=(",", ":")).encode()


@dataclass
class Fault:
    """One injected fault: on the ``on_request``-th list/get request to ``vendor`` (1-based)."""

    vendor: str
    kind: str  # "status", "expire_token", "invalid_json", "close", "stall"
    on_request: int = 1
    times: int = 1
    status: int = 503
    retry_after: str | None = None
    #: For "stall": seconds to wait before answering normally (past a client's timeout).
    seconds: float = 0.0


class SandboxConfig:
    """Settings of one sandbox run.

    :param orders: orders per vendor and scope.
    :param seed: changes every generated order.
    :param live: how many of the newest orders of each scope move through their states.
    :param live_delay: seconds between live orders settling.
    :param latency_ms: added to every API request.
    :param token_ttl: lifetime of issued tokens, seconds (emnify's JWT and Adobe's included).
    :param granite_rpm: Granite's enforced requests per window (per minute by default).
    :param granite_window: the length of Granite's rate window in seconds (tests scale it down).
    :param request_log: how many requests ``/_sandbox/requests`` remembers.
    :param granite_client_auth: how Granite's authorization server wants the client to authenticate,
        ``client_secret_basic`` or ``client_secret_post`` (an Okta app accepts the one it is set to).
    :param granite_created_at: whether Granite records carry ``created_at``; the field is not among the
        documented response fields, so tests also run without it.
    :param adobe_term_days: how long before the newest order the customer's current term started; Adobe
        lists only that term when a request has no ``start-date``.
    """

    def __init__(
        self,
        *,
        orders: int = 250,
        seed: int = 7,
        live: int = 4,
        live_delay: float = 5.0,
        latency_ms: float = 0.0,
        token_ttl: float = 3600.0,
        granite_rpm: int = 60,
        granite_window: float = 60.0,
        request_log: int = 2000,
        granite_client_auth: str = "client_secret_basic",
        granite_created_at: bool = True,
        adobe_term_days: float = 0.5,
    ) -> None:
        self.granite_client_auth = granite_client_auth
        self.granite_created_at = granite_created_at
        self.adobe_term_days = adobe_term_days
        self.granite_window = granite_window
        self.request_log = request_log
        self.orders = orders
        self.seed = seed
        self.live = live
        self.live_delay = live_delay
        self.latency_ms = latency_ms
        self.token_ttl = token_ttl
        self.granite_rpm = granite_rpm


class VendorApp:
    """One vendor's emulated API. Subclasses route requests and shape pages and errors."""

    name: str
    prefix: str
    states: tuple[str, ...]
    weights: tuple[int, ...]
    live_states: tuple[str, str, str]

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.config = sandbox.config
        self._sets: dict[str, OrderSet] = {}
        self._lock = threading.Lock()

    def orders(self, scope: str) -> OrderSet:
        with self._lock:
            found = self._sets.get(scope)
            if found is None:
                found = self._sets[scope] = OrderSet(
                    scope_salt(f"{self.config.seed}:{self.name}:{scope}"),
                    self.config.orders,
                    self.states,
                    self.weights,
                    live=self.config.live,
                    live_states=self.live_states,
                    started=lambda: self.sandbox.started,
                    live_delay=self.config.live_delay,
                    scope=scope,
                )
            return found

    def issue_token(self, client: str) -> str:
        return self.sandbox.tokens.issue(self.name, client)

    def bearer(self, request: Request) -> str | None:
        """The client a valid bearer token belongs to, or ``None``."""
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return None
        return self.sandbox.tokens.check(self.name, auth[7:])

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def live_orders(self, scope: str) -> list[dict[str, Any]]:
        """The live orders of ``scope`` with their ids and settle times (for demos and tests)."""
        store = self.orders(scope)
        out = []
        for i in range(store.live_start, store.size):
            record = self.record(store, i)
            out.append({"index": i, "id": self.order_id(record), "settles_after": store.settles_at(i),
                        "state": store.state(i)})  # fmt: skip
        return out

    def record(self, store: OrderSet, i: int) -> dict[str, Any]:
        raise NotImplementedError

    def order_id(self, record: dict[str, Any]) -> str:
        raise NotImplementedError


class TokenRegistry:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._tokens: dict[str, tuple[str, str, float]] = {}
        self._lock = threading.Lock()

    def issue(self, vendor: str, client: str, token: str | None = None) -> str:
        token = token or f"sbx-{vendor[:3]}-{secrets.token_urlsafe(24)}"
        with self._lock:
            self._tokens[token] = (vendor, client, time.monotonic() + self.ttl)
        return token

    def check(self, vendor: str, token: str) -> str | None:
        with self._lock:
            found = self._tokens.get(token)
        if not found or found[0] != vendor or time.monotonic() >= found[2]:
            return None
        return found[1]

    def expire(self, vendor: str | None = None) -> int:
        with self._lock:
            doomed = [t for t, (v, _, _) in self._tokens.items() if vendor in (None, v)]
            for t in doomed:
                del self._tokens[t]
        return len(doomed)


class Sandbox:
    """All five emulated vendor APIs on one loopback port.

    Use as a context manager in tests, or ``python -m airflow_provider_orders.sandbox`` from a shell::

        with Sandbox(SandboxConfig(orders=100)) as sandbox:
            print(sandbox.url)   # http://127.0.0.1:<port>
    """

    def __init__(
        self, config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        from airflow_provider_orders.sandbox import adobe_vip, crayon, emnify, fleetio, granite

        self.config = config or SandboxConfig()
        self.started = time.monotonic()
        self.tokens = TokenRegistry(self.config.token_ttl)
        self.requests_seen: deque[dict[str, Any]] = deque(maxlen=self.config.request_log)
        self.faults: list[Fault] = []
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()
        apps: list[VendorApp] = [
            crayon.CrayonApp(self),
            adobe_vip.AdobeApp(self),
            adobe_vip.ImsApp(self),
            granite.GraniteApp(self),
            granite.GraniteAuthApp(self),
            emnify.EmnifyApp(self),
            fleetio.FleetioApp(self),
        ]
        self.apps = {app.prefix: app for app in apps}
        self.vendors = {app.name: app for app in apps if not app.prefix.endswith(("-ims", "-auth"))}
        self._server = _Server((host, port), _handler_for(self))
        address = self._server.server_address
        self.host, self.port = str(address[0]), int(address[1])
        self._thread: threading.Thread | None = None
        self._serving = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def base_url(self, vendor: str) -> str:
        """The API base URL of ``vendor`` (a connection's ``host``)."""
        return f"{self.url}/{_PREFIX[vendor]}"

    def start(self) -> Sandbox:
        self._thread = threading.Thread(target=self._server.serve_forever, name="orders-sandbox", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._serving = True
        self._server.serve_forever()

    def stop(self) -> None:
        # shutdown() waits for a serve_forever() loop: only ask it of a server that ran one.
        if self._thread is not None or self._serving:
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget faults, counters and seen requests, and start the live orders' clock again."""
        with self._lock:
            self.started = time.monotonic()
            self.faults.clear()
            self.counts.clear()
            self.requests_seen.clear()

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def count_api_request(self, vendor: str) -> list[Fault]:
        """Count an API request to ``vendor`` and return the faults due on it."""
        with self._lock:
            n = self.counts[vendor] = self.counts.get(vendor, 0) + 1
            due = [f for f in self.faults if f.vendor == vendor and f.on_request <= n and f.times > 0]
            for f in due:
                f.times -= 1
            return due

    # -- control API --------------------------------------------------------------------------

    def control(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if path == "/reset" and request.method == "POST":
            self.reset()
            return Response(200, {"ok": True})
        if path == "/faults" and request.method == "POST":
            body = request.json()
            self.add_fault(Fault(**body))
            return Response(200, {"ok": True})
        if path == "/expire-tokens" and request.method == "POST":
            return Response(200, {"expired": self.tokens.expire((request.json() or {}).get("vendor"))})
        if path == "/requests":
            return Response(200, list(self.requests_seen))
        if path == "/live":
            vendor = request.arg("vendor") or ""
            scope = request.arg("scope") or DEFAULT_SCOPE.get(vendor, "")
            if vendor not in self.vendors:
                return Response(404, {"error": f"unknown vendor {vendor!r}; one of {sorted(self.vendors)}"})
            return Response(200, self.vendors[vendor].live_orders(scope))
        if path == "/health":
            return Response(200, {"ok": True, "vendors": {v: self.base_url(v) for v in _PREFIX}})
        return Response(404, {"error": "unknown control endpoint"})


_PREFIX = {
    "crayon": "crayon",
    "adobe_vip_marketplace": "adobe",
    "granite_access_express": "granite",
    "emnify": "emnify",
    "fleetio": "fleetio",
}
#: The scope a vendor's live orders are listed for when none is given.
DEFAULT_SCOPE = {
    "crayon": "1001",
    "adobe_vip_marketplace": "1005000001",
    "granite_access_express": "",
    "emnify": "",
    "fleetio": "",
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def _handler_for(sandbox: Sandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "orders-sandbox"

        def setup(self) -> None:
            super().setup()
            # Without it, delayed ACK adds ~40 ms to every keep-alive request.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            segments = parts.path.split("/", 2)
            prefix = segments[1] if len(segments) > 1 else ""
            rest = "/" + (segments[2] if len(segments) > 2 else "")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(
                self.command,
                rest,
                parse_qsl(parts.query, keep_blank_values=True),
                {k.lower(): v for k, v in self.headers.items()},
                body,
                prefix,
            )
            if prefix == "_sandbox":
                response = sandbox.control(request)
            else:
                app = sandbox.apps.get(prefix)
                if app is None:
                    response = Response(404, {"error": f"no vendor at /{prefix}"})
                else:
                    seen = {"vendor": app.name, "method": request.method, "path": parts.path,
                            "query": request.query, "headers": request.headers, "time": time.time()}  # fmt: skip
                    sandbox.requests_seen.append(seen)
                    if sandbox.config.latency_ms:
                        time.sleep(sandbox.config.latency_ms / 1000)
                    response = app.handle(request)
                    seen["status"] = response.status
            if response.raw == b"__close__":
                self.close_connection = True
                return
            payload = response.encode()
            self.send_response(response.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def apply_faults(app: VendorApp, request: Request, error: Callable[[int, str], Response]) -> Response | None:
    """Count an API request and carry out any fault due on it; a response means: answer with it."""
    for fault in app.sandbox.count_api_request(app.name):
        if fault.kind == "expire_token":
            app.sandbox.tokens.expire(app.name)
        elif fault.kind == "status":
            response = error(fault.status, f"injected HTTP {fault.status}")
            if fault.retry_after is not None:
                response.headers["Retry-After"] = fault.retry_after
            return response
        elif fault.kind == "invalid_json":
            return Response(200, raw=b"<html>upstream proxy error</html>")
        elif fault.kind == "close":
            return Response(200, raw=b"__close__")
        elif fault.kind == "stall":
            time.sleep(fault.seconds)
    return None
