"""The sync driver: carries out engine flows with a pooled ``requests`` session."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter

from airflow_provider_orders.engine.protocol import Emit, Flow, PreparedRequest, Send, Sleep, TransportFailure
from airflow_provider_orders.models import Order
from airflow_provider_orders.vendors.base import ConnectionSettings, HttpResponse

T = TypeVar("T")


class SyncTransport:
    """Sends prepared requests over one pooled ``requests.Session``.

    :param settings: the connection settings (TLS verification).
    :param pool_size: connections kept per host.
    """

    def __init__(self, settings: ConnectionSettings, *, pool_size: int = 10) -> None:
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.verify = settings.verify if isinstance(settings.verify, (bool, str)) else True
        # Connection extras never become headers; the environment's proxies and netrc are ignored
        # so that credentials are only ever sent to the connection's own host.
        session.trust_env = False
        self.session = session

    def send(self, request: PreparedRequest) -> HttpResponse | TransportFailure:
        try:
            response = self.session.request(
                request.method,
                request.url,
                params=list(request.params) or None,
                headers=dict(request.headers),
                json=request.json_body,
                data=dict(request.form) if request.form is not None else None,
                timeout=(request.timeout, request.timeout),
                allow_redirects=False,
            )
        except requests.exceptions.Timeout as exc:
            return TransportFailure("timeout", _describe(exc))
        except requests.exceptions.ConnectionError as exc:
            return TransportFailure("connect", _describe(exc))
        except requests.exceptions.RequestException as exc:
            return TransportFailure("other", _describe(exc))
        return HttpResponse(response.status_code, response.headers, response.content, request.url)

    def run(self, flow: Flow[T]) -> T:
        """Carry out a flow that returns a value (a call, a lookup, a connection test)."""
        reply: Any = None
        try:
            while True:
                action = flow.send(reply)
                reply = self._act(action)
        except StopIteration as stop:
            result: T = stop.value
            return result

    def iterate(self, flow: Flow[None]) -> Iterator[Order]:
        """Carry out a listing flow, yielding its orders as each page arrives."""
        reply: Any = None
        try:
            while True:
                action = flow.send(reply)
                if isinstance(action, Emit):
                    yield from action.orders
                    reply = None
                else:
                    reply = self._act(action)
        except StopIteration:
            return
        finally:
            flow.close()

    def _act(self, action: Any) -> HttpResponse | TransportFailure | None:
        if isinstance(action, Send):
            return self.send(action.request)
        if isinstance(action, Sleep):
            time.sleep(action.seconds)
            return None
        raise TypeError(f"unexpected action {action!r} outside a listing")

    def close(self) -> None:
        self.session.close()


def _describe(exc: Exception) -> str:
    # requests' messages name the URL with its query string; keep only the exception's class and reason.
    reason = str(exc.args[0]) if exc.args else type(exc).__name__
    if "?" in reason:
        reason = reason.split("?", 1)[0] + "?…"
    return f"{type(exc).__name__}: {reason[:200]}"
