"""Granite360 AccessExpress, emulated, with its OAuth2 server and its 60 requests a minute."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections import deque
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from airflow_provider_orders.sandbox.core import (
    Request,
    Response,
    SandboxConfig,
    SandboxState,
    VendorApp,
    apply_faults,
)
from airflow_provider_orders.sandbox.store import OrderSet

STATES = ("draft", "submitted", "pending", "canceled", "completed")
NAMESPACE = uuid.UUID("6f0c1f0e-4c1b-4a8a-9a43-0e0c9d1a7c55")
CUSTOMERS = ("Acme Retail", "Blue Sky Clinics", "Northwind Foods", "Contoso Banking")

#: The sandbox's fixed credentials. They open nothing but the sandbox.
CREDENTIALS = {"client_id": "sandbox-granite-client", "client_secret": "sandbox-granite-secret"}


def error(status: int, message: str, code: str | None = None) -> Response:
    return Response(status, {"error": code or str(status), "message": message})


class GraniteAuthApp(VendorApp):
    """The OAuth2 authorization server: ``POST /oauth2/token``.

    Like an Okta authorization server, it takes the client's credentials only the way the client app is
    set to (``SandboxConfig.granite_client_auth``): HTTP Basic or the form body. Credentials sent the other
    way are answered 401 ``invalid_client``.
    """

    name = "granite_access_express"
    prefix = "granite-auth"

    def handle(self, request: Request) -> Response:
        if request.path != "/oauth2/token" or request.method != "POST":
            return Response(404, {"error": "not_found"})
        form = request.form()
        c = CREDENTIALS
        if form.get("grant_type") != "client_credentials":
            return Response(400, {"error": "unsupported_grant_type"})
        if self.config.granite_client_auth == "client_secret_basic":
            client_id, client_secret = _basic(request.headers.get("authorization", ""))
        else:
            client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if client_id != c["client_id"] or client_secret != c["client_secret"]:
            return Response(401, {"error": "invalid_client", "error_description": "Client authentication "
                                  "failed. Either the client or the client credentials are invalid."})  # fmt: skip
        if "urn:grt:accessexpress" not in (form.get("scope") or "").split():
            return Response(400, {"error": "invalid_scope"})
        token = self.state.tokens.issue(self.name, client_id)
        return Response(200, {"access_token": token, "token_type": "Bearer", "expires_in": int(self.config.token_ttl),
                              "scope": "urn:grt:accessexpress"})  # fmt: skip


def _basic(header: str) -> tuple[str | None, str | None]:
    """Client id and secret from ``Basic base64(urlencoded id:urlencoded secret)`` (RFC 6749 2.3.1)."""
    if not header.startswith("Basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None, None
    client_id, _, secret = decoded.partition(":")
    return unquote_plus(client_id), unquote_plus(secret)


class GraniteApp(VendorApp):
    name = "granite_access_express"
    prefix = "granite"
    credentials = CREDENTIALS
    companions = (GraniteAuthApp,)
    states = STATES
    weights = (6, 8, 10, 8, 68)
    live_states = ("pending", "completed", "canceled")

    def __init__(self, state: SandboxState) -> None:
        super().__init__(state)
        self._hits: dict[str, deque[float]] = {}
        self._hits_lock = threading.Lock()

    def _limited(self, client: str) -> Response | None:
        """60 requests per minute per client (configurable), over a sliding window."""
        limit = self.config.granite_rpm
        window = self.config.granite_window
        now = time.monotonic()
        with self._hits_lock:
            hits = self._hits.setdefault(client, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                wait = max(1, int(hits[0] + window - now + 0.999))
                return Response(429, {"error": "rate_limit_exceeded",
                                      "message": f"You have exceeded the rate limit of {limit} requests per {window:g} s."},
                                headers={"Retry-After": str(wait)})  # fmt: skip
            hits.append(now)
        return None

    @classmethod
    def connection(cls, base_url: str, sandbox_url: str, config: SandboxConfig) -> dict[str, Any]:
        c = cls.credentials
        return {"host": base_url, "login": c["client_id"], "password": c["client_secret"],
                "extra": {"oauth_url": f"{sandbox_url}/{GraniteAuthApp.prefix}/oauth2/token",
                          "client_auth": config.granite_client_auth}}  # fmt: skip

    def handle(self, request: Request) -> Response:
        client = self.bearer(request)
        if client is None:
            return error(401, "Authentication Failed", "unauthorized")
        limited = self._limited(client)
        if limited:
            return limited
        if request.path.rstrip("/") != "/api/v1/ordersAccessExpress" or request.method != "GET":
            return error(404, f"no route {request.method} {request.path}", "not_found")
        return apply_faults(self, request, error) or self.list_orders(request)

    def list_orders(self, request: Request) -> Response:
        try:
            page = int(request.arg("page") or 1)
            size = int(request.arg("page_size") or 20)
        except ValueError:
            return error(400, "page and page_size must be integers", "invalid_parameter")
        if page < 1 or not 1 <= size <= 100:
            return error(400, "page_size must be between 1 and 100", "invalid_parameter")
        statuses = frozenset(s for s in (request.arg("status") or "").split(",") if s) or None
        if statuses and not statuses <= set(STATES):
            return error(400, f"invalid status {sorted(statuses - set(STATES))}", "invalid_parameter")
        since = request.arg("start_date")
        try:
            since_dt = datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
        except ValueError:
            return error(400, "start_date must be an ISO-8601 datetime", "invalid_parameter")
        if since_dt is not None and since_dt.tzinfo is None:
            return error(400, "start_date needs a time zone", "invalid_parameter")
        store = self.orders(request.arg("granted_tenant_macnum") or "")
        selection = store.select(statuses, store.index_range(since_dt, None))
        search = request.arg("search")
        newest_first = (request.arg("sort_order") or "desc") == "desc"
        if search:
            indices = self._search(store, selection, search, newest_first)[(page - 1) * size : page * size]
        else:
            indices = selection.page((page - 1) * size, size, newest_first=newest_first)
        return Response(
            200, {"data": [self.record(store, i) for i in indices], "page": page, "page_size": size}
        )

    def _search(self, store: OrderSet, selection: Any, term: str, newest_first: bool) -> list[int]:
        if term.isdigit() and 0 <= int(term) - 500_000 < store.size:
            i = int(term) - 500_000
            return [i] if any(selection.at(k) == i for k in range(len(selection))) else []
        order = range(len(selection) - 1, -1, -1) if newest_first else range(len(selection))
        needle = term.lower()
        return [
            selection.at(k)
            for k in order
            if needle in self.record(store, selection.at(k))["order_name"].lower()
        ]

    def _record(self, store: OrderSet, i: int) -> dict[str, Any]:
        r = store.rand(i, 2)
        created = store.created(i)
        return {
            "id": str(uuid.uuid5(NAMESPACE, f"{store.salt}:{i}")),
            "order_number": 500_000 + i,
            "order_name": f"POTS replacement {CUSTOMERS[r % 4].split()[0]} #{i}",
            "status": store.state(i),
            "total_amount": round((r % 500_000) / 100 + 49.0, 2),
            "requester": f"requester{r % 7}@example.com",
            "customer_name": CUSTOMERS[r % 4],
            "updated_at": (created.replace(microsecond=0)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "locations": [
                {
                    "address": f"{100 + r % 900} Main St",
                    "order_items": [{"product": "Granite EPIK", "quantity": 1 + r % 4}],
                }
            ],
        }

    def record(self, store: OrderSet, i: int) -> dict[str, Any]:
        record = self._record(store, i)
        if self.config.granite_created_at:
            record["created_at"] = store.created(i).strftime("%Y-%m-%dT%H:%M:%SZ")
        return record

    def order_id(self, record: dict[str, Any]) -> str:
        return str(record["order_number"])
