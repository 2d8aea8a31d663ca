"""The sync driver: carries out engine flows with a pooled ``requests`` session."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter

from airflow_provider_orders.engine.failures import (
    CHUNK_BYTES,
    Body,
    transport_failure,
)
from airflow_provider_orders.engine.protocol import (
    Emit,
    Flow,
    Fork,
    Forked,
    Join,
    PreparedRequest,
    Reply,
    Reserve,
    Send,
    Sleep,
    TransportFailure,
)
from airflow_provider_orders.models import Order
from airflow_provider_orders.vendors.http import HttpResponse
from airflow_provider_orders.vendors.settings import ConnectionSettings

T = TypeVar("T")


class SyncTransport:
    """Sends prepared requests over one pooled ``requests.Session``; forked calls run in worker threads.

    :param settings: the connection settings (TLS verification).
    :param pool_size: connections kept per host (at least the concurrency of any listing).
    """

    def __init__(self, settings: ConnectionSettings, *, pool_size: int = 32) -> None:
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.verify = settings.verify if isinstance(settings.verify, (bool, str)) else True
        # Connection extras never become headers; the environment's proxies and netrc are ignored
        # so that credentials are only ever sent to the connection's own host.
        session.trust_env = False
        self.session = session
        self._ids = itertools.count()

    def send(self, request: PreparedRequest) -> HttpResponse | TransportFailure:
        started = time.monotonic()
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
                stream=True,
            )
            try:
                body = self._read(response, request, started)
            finally:
                response.close()
        except Exception as exc:
            failure = transport_failure(exc)
            if failure is None:
                raise
            return failure
        if isinstance(body, TransportFailure):
            return body
        return HttpResponse(response.status_code, response.headers, body, request.url)

    @staticmethod
    def _read(
        response: requests.Response, request: PreparedRequest, started: float
    ) -> bytes | TransportFailure:
        """The body, decompressed, within ``max_bytes`` and the deadline (checked as each piece arrives)."""
        body = Body(request, response.headers, until=started + request.deadline)
        if body.failure is None:
            # read1: whatever one read of the socket brought (so a trickle meets the deadline check),
            # inflated at most CHUNK_BYTES at a time (so a gzip bomb meets the size check).
            while (chunk := response.raw.read1(CHUNK_BYTES, decode_content=True)) and body.add(chunk):
                pass
        return body.failure or body.bytes()

    def run(self, flow: Flow[T]) -> T:
        """Carry out a flow that returns a value (a call, a lookup, a connection test)."""
        outcome: list[Any] = []
        for _ in self._drive(flow, outcome):
            raise TypeError("a flow that returns a value emitted orders")
        result: T = outcome[0]
        return result

    def iterate(self, flow: Flow[None]) -> Iterator[Order]:
        """Carry out a listing flow, yielding its orders as each page arrives."""
        for orders in self._drive(flow, []):
            yield from orders

    def _drive(self, flow: Flow[Any], outcome: list[Any]) -> Iterator[list[Order]]:
        """Step ``flow``, carrying out its actions; yields each Emit's orders; its result goes to ``outcome``."""
        pool: ThreadPoolExecutor | None = None
        forked: dict[Forked, Future[HttpResponse]] = {}
        reply: Reply = None
        error: BaseException | None = None
        try:
            while True:
                try:
                    action = flow.throw(error) if error is not None else flow.send(reply)
                except StopIteration as stop:
                    outcome.append(stop.value)
                    return
                reply, error = None, None
                if isinstance(action, Send):
                    reply = self.send(action.request)
                elif isinstance(action, Sleep):
                    time.sleep(action.seconds)
                elif isinstance(action, Reserve):
                    reply = action.budget.reserve()
                elif isinstance(action, Emit):
                    yield action.orders
                elif isinstance(action, Fork):
                    if pool is None:
                        pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="orders-fetch")
                    reply = Forked(next(self._ids))
                    forked[reply] = pool.submit(self.run, action.flow)
                    # Hand the GIL over so that the worker puts its request on the wire now, instead of
                    # waiting out the interpreter's switch interval while this thread normalises a page.
                    time.sleep(0)
                elif isinstance(action, Join):
                    try:
                        reply = forked.pop(action.handle).result()
                    except Exception as exc:
                        error = exc
                else:
                    raise TypeError(f"unexpected action {action!r}")
        finally:
            flow.close()
            for future in forked.values():
                future.cancel()
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
