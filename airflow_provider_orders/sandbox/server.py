"""The sandbox HTTP server: one loopback port, one path prefix per vendor app, stdlib only.

The apps come from the vendor registry (each vendor's ``VendorSpec.sandbox_app``), so a registered
vendor is served without an edit here. Control endpoints under ``/_sandbox`` let tests inject faults
(a 5xx on one page, a token revoked mid-listing, a body that is not JSON), read the requests as they
arrived (headers on the wire), and list the live orders that change state over time.
"""

from __future__ import annotations

import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from airflow_provider_orders.registry import all_specs
from airflow_provider_orders.sandbox.core import (
    Fault,
    Request,
    Response,
    SandboxConfig,
    SandboxState,
    VendorApp,
)


class Sandbox:
    """Every registered vendor's emulated API on one loopback port.

    Use as a context manager in tests, or ``python -m airflow_provider_orders.sandbox`` from a shell::

        with Sandbox(SandboxConfig(orders=100)) as sandbox:
            print(sandbox.url)   # http://127.0.0.1:<port>

    :param tls: a server ``ssl.SSLContext`` with its certificate loaded: serve https instead of http.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.config = config or SandboxConfig()
        self.state = SandboxState(self.config)
        #: Each vendor's app by connection type.
        self.apps: dict[str, VendorApp] = {}
        #: Every mounted app (vendor apps and their companions) by URL prefix.
        self.routes: dict[str, VendorApp] = {}
        #: The filters that select each vendor's sandbox orders (from its spec).
        self.filters: dict[str, dict[str, Any]] = {}
        for spec in all_specs():
            app_class: type[VendorApp] = spec.sandbox_app_class()
            for mounted in (app_class, *app_class.companions):
                if mounted.prefix in self.routes:
                    raise ValueError(f"sandbox prefix /{mounted.prefix} is taken twice ({spec.conn_type})")
                self.routes[mounted.prefix] = app = mounted(self.state)
                if mounted is app_class:
                    self.apps[spec.conn_type] = app
            self.filters[spec.conn_type] = dict(spec.sandbox_filters)
        self._server = _Server((host, port), _handler_for(self))
        if tls is not None:
            # Every vendor over https (a server context with the certificate loaded): for clients that
            # check TLS, proxies' CONNECT tunnels and client certificates.
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        address = self._server.server_address
        self.host, self.port = str(address[0]), int(address[1])
        self._thread: threading.Thread | None = None
        self._serving = False

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def requests_seen(self) -> Any:
        """The requests the apps received, oldest first (``/_sandbox/requests``)."""
        return self.state.requests_seen

    def base_url(self, vendor: str) -> str:
        """The API base URL of ``vendor`` (a connection's ``host``)."""
        return f"{self.url}/{self.apps[vendor].prefix}"

    def tenant(self, vendor: str) -> str:
        """The tenant whose orders the vendor's sandbox filters select (``""`` for single-account vendors)."""
        return "".join(str(value) for value in self.filters[vendor].values())

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
        self.state.reset()

    def add_fault(self, fault: Fault) -> None:
        self.state.add_fault(fault)

    # -- control API --------------------------------------------------------------------------

    def control(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if path == "/reset" and request.method == "POST":
            self.reset()
            return Response(200, {"ok": True})
        if path == "/faults" and request.method == "POST":
            self.add_fault(Fault(**request.json()))
            return Response(200, {"ok": True})
        if path == "/expire-tokens" and request.method == "POST":
            return Response(200, {"expired": self.state.tokens.expire((request.json() or {}).get("vendor"))})
        if path == "/requests":
            # Every request seen (up to --request-log); ``vendor=`` and any query parameter of the
            # request (``customerTenantId=1001``) narrow it, ``count=1`` answers only how many.
            wanted = [(k, v) for k, v in request.query if k not in ("vendor", "count")]
            vendor = request.arg("vendor")
            seen = [
                r for r in list(self.state.requests_seen)
                if (vendor is None or r["vendor"] == vendor) and all(pair in r["query"] for pair in wanted)
            ]  # fmt: skip
            return Response(200, {"count": len(seen)} if request.arg("count") else seen)
        if path == "/live":
            vendor = request.arg("vendor") or ""
            if vendor not in self.apps:
                return Response(404, {"error": f"unknown vendor {vendor!r}; one of {sorted(self.apps)}"})
            tenant = request.arg("tenant")
            return Response(
                200, self.apps[vendor].live_orders(self.tenant(vendor) if tenant is None else tenant)
            )
        if path == "/settle" and request.method == "POST":
            # {"vendor": ..., "tenant": ... (optional), "index": ...}: a live order settles now.
            body = request.json() or {}
            vendor = body.get("vendor") or ""
            if vendor not in self.apps:
                return Response(404, {"error": f"unknown vendor {vendor!r}; one of {sorted(self.apps)}"})
            tenant = body.get("tenant")
            store = self.apps[vendor].orders(self.tenant(vendor) if tenant is None else str(tenant))
            if not store.settle_now(int(body.get("index", -1))):
                aged = f"0..{store.aged - 1} (aged) or " if store.aged else ""
                return Response(
                    400,
                    {"error": f"index must be a live order's, {aged}{store.live_start}..{store.size - 1}"},
                )
            return Response(200, {"ok": True})
        if path == "/health":
            return Response(200, {"ok": True, "vendors": {v: self.base_url(v) for v in self.apps}})
        return Response(404, {"error": "unknown control endpoint"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (a stopped task, a process at its exit) is not the sandbox's error:
        # no traceback for it. Anything else is printed as socketserver does.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
            return
        super().handle_error(request, client_address)


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
                app = sandbox.routes.get(prefix)
                if app is None:
                    response = Response(404, {"error": f"no vendor at /{prefix}"})
                else:
                    seen = {"vendor": app.name, "method": request.method, "path": parts.path,
                            "query": request.query, "headers": request.headers, "time": time.time()}  # fmt: skip
                    sandbox.state.requests_seen.append(seen)
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
