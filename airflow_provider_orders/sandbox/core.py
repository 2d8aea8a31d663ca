"""What the sandbox's server and its vendor apps share: requests, responses, faults, tokens, settings.

The tree is: ``server`` (routing, control API) -> each vendor's app module -> this module. An app never
imports the server; the server finds the apps through the vendor registry.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from airflow_provider_orders.sandbox.store import OrderSet, tenant_salt


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
    kind: str  # "status", "expire_token", "invalid_json", "close", "stall", "bad_gzip"
    on_request: int = 1
    times: int = 1
    status: int = 503
    retry_after: str | None = None
    #: For "stall": seconds to wait before answering normally (past a client's timeout).
    seconds: float = 0.0


class SandboxConfig:
    """Settings of one sandbox run.

    :param orders: orders per vendor and tenant.
    :param seed: changes every generated order.
    :param live: how many of the newest orders of each tenant move through their states.
    :param live_delay: seconds between live orders settling.
    :param aged: how many of the oldest orders of each tenant were created 30 days before the rest
        (beyond a watch's default 7-day window) and stay in progress until settled through the control
        API (``POST /_sandbox/settle``).
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
    :param as_of: when the newest order of every tenant was created (a ``datetime`` or ISO 8601 text; a
        date alone is its midnight UTC), the others ``STEP`` (7 minutes) apart before it. Default: the
        ``ORDERS_SANDBOX_AS_OF`` environment variable, else now (to the minute), so that a DAG run today
        and a watch started now see orders. Pin it where exact numbers matter (the demo and the tests pin
        ``2026-01-01``).
    """

    def __init__(
        self,
        *,
        orders: int = 250,
        seed: int = 7,
        live: int = 4,
        live_delay: float = 5.0,
        aged: int = 0,
        latency_ms: float = 0.0,
        token_ttl: float = 3600.0,
        granite_rpm: int = 60,
        granite_window: float = 60.0,
        request_log: int = 2000,
        granite_client_auth: str = "client_secret_basic",
        granite_created_at: bool = True,
        adobe_term_days: float = 0.5,
        as_of: datetime | str | None = None,
    ) -> None:
        self.as_of = resolve_as_of(as_of)
        self.granite_client_auth = granite_client_auth
        self.granite_created_at = granite_created_at
        self.adobe_term_days = adobe_term_days
        self.granite_window = granite_window
        self.request_log = request_log
        self.orders = orders
        self.seed = seed
        self.live = live
        self.live_delay = live_delay
        self.aged = aged
        self.latency_ms = latency_ms
        self.token_ttl = token_ttl
        self.granite_rpm = granite_rpm


#: The environment variable that pins the sandbox's date where ``as_of`` is not given.
AS_OF_ENV = "ORDERS_SANDBOX_AS_OF"


def resolve_as_of(value: datetime | str | None) -> datetime:
    """``as_of`` as an aware UTC datetime: given, from ``ORDERS_SANDBOX_AS_OF``, or now to the minute."""
    if value is None:
        value = os.environ.get(AS_OF_ENV) or None
    if value is None:
        return datetime.now(timezone.utc).replace(second=0, microsecond=0)
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise ValueError(
                f"sandbox: as_of {value!r} is not an ISO 8601 date or time; use for example 2026-01-01 or "
                "2026-01-01T00:00:00Z"
            ) from None
        value = parsed
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


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


class SandboxState:
    """What every app of one sandbox shares: settings, issued tokens, faults, counters, requests seen.

    :param config: the sandbox's settings.
    """

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.started = time.monotonic()
        self.tokens = TokenRegistry(config.token_ttl)
        self.requests_seen: deque[dict[str, Any]] = deque(maxlen=config.request_log)
        self.faults: list[Fault] = []
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

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


class VendorApp:
    """One vendor's emulated API, mounted at ``/<prefix>``. Subclasses route requests and shape pages.

    A vendor's sandbox module holds one app class, named by its ``VendorSpec.sandbox_app``. The app owns
    the vendor's sandbox credentials and says which Airflow connection reaches it (:meth:`connection`).
    Servers of the vendor on other hosts (a token endpoint) are its :attr:`companions`, mounted beside it.

    :param state: what every app of the sandbox shares.
    """

    #: The vendor's connection type.
    name: ClassVar[str]
    prefix: ClassVar[str]
    #: Apps mounted beside this one, at their own prefixes (Adobe IMS, Granite's authorization server).
    companions: ClassVar[tuple[type[VendorApp], ...]] = ()
    #: The sandbox's fixed credentials for this vendor. They open nothing but the sandbox.
    credentials: ClassVar[Mapping[str, str]] = {}
    states: ClassVar[tuple[str, ...]]
    weights: ClassVar[tuple[int, ...]]
    live_states: ClassVar[tuple[str, str, str]]

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.config = state.config
        self._sets: dict[str, OrderSet] = {}
        self._lock = threading.Lock()

    @classmethod
    def connection(cls, base_url: str, sandbox_url: str, config: SandboxConfig) -> dict[str, Any]:
        """The Airflow connection (as JSON, without its type) that reaches this app at ``base_url``.

        :param base_url: this app's URL, ``<sandbox_url>/<prefix>``.
        :param sandbox_url: the sandbox's root URL (where the companions are).
        :param config: the sandbox's settings (some say how a client must authenticate).
        """
        raise NotImplementedError

    def orders(self, tenant: str) -> OrderSet:
        """The orders of ``tenant`` (a Crayon customer tenant, an Adobe customer; ``""`` elsewhere)."""
        with self._lock:
            found = self._sets.get(tenant)
            if found is None:
                found = self._sets[tenant] = OrderSet(
                    tenant_salt(f"{self.config.seed}:{self.name}:{tenant}"),
                    self.config.orders,
                    self.states,
                    self.weights,
                    live=self.config.live,
                    live_states=self.live_states,
                    started=lambda: self.state.started,
                    live_delay=self.config.live_delay,
                    tenant=tenant,
                    as_of=self.config.as_of,
                    aged=self.config.aged,
                )
            return found

    def issue_token(self, client: str) -> str:
        return self.state.tokens.issue(self.name, client)

    def bearer(self, request: Request) -> str | None:
        """The client a valid bearer token belongs to, or ``None``."""
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return None
        return self.state.tokens.check(self.name, auth[7:])

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def live_orders(self, tenant: str) -> list[dict[str, Any]]:
        """The live orders of ``tenant`` with their ids and settle times (for demos and tests): the aged
        ones first (``"aged": true``, settling only through the control API), then the newest."""
        store = self.orders(tenant)
        out = []
        for i in [*range(store.aged), *range(store.live_start, store.size)]:
            record = self.record(store, i)
            settles = store.settles_at(i)
            out.append({"index": i, "id": self.order_id(record), "state": store.state(i), "aged": i < store.aged,
                        "created_at": store.created(i).isoformat(),
                        "settles_after": None if settles == float("inf") else settles})  # fmt: skip
        return out

    def record(self, store: OrderSet, i: int) -> dict[str, Any]:
        raise NotImplementedError

    def order_id(self, record: dict[str, Any]) -> str:
        raise NotImplementedError


def apply_faults(app: VendorApp, request: Request, error: Callable[[int, str], Response]) -> Response | None:
    """Count an API request and carry out any fault due on it; a response means: answer with it."""
    for fault in app.state.count_api_request(app.name):
        if fault.kind == "expire_token":
            app.state.tokens.expire(app.name)
        elif fault.kind == "status":
            response = error(fault.status, f"injected HTTP {fault.status}")
            if fault.retry_after is not None:
                response.headers["Retry-After"] = fault.retry_after
            return response
        elif fault.kind == "invalid_json":
            return Response(200, raw=b"<html>upstream proxy error</html>")
        elif fault.kind == "close":
            return Response(200, raw=b"__close__")
        elif fault.kind == "bad_gzip":
            # A body that says it is gzip and is not: the client fails while decoding it.
            return Response(200, headers={"Content-Encoding": "gzip"}, raw=b"this is not gzip")
        elif fault.kind == "stall":
            time.sleep(fault.seconds)
    return None
