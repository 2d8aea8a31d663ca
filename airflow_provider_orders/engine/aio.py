"""The async driver: carries out the very same engine flows with ``httpx`` and ``asyncio.sleep``.

Used by the deferrable trigger. One ``httpx.AsyncClient`` is shared per event loop and TLS setting, so a
thousand waiting triggers in one triggerer share a connection pool instead of a thousand threads.
"""

from __future__ import annotations

import asyncio
import itertools
import weakref
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import httpx

from airflow_provider_orders.engine.deadlines import wait_within
from airflow_provider_orders.engine.failures import (
    CHUNK_BYTES,
    Body,
    gzip_inflater,
    past_deadline,
    proxy_refused,
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
from airflow_provider_orders.vendors.network import Network, Proxy
from airflow_provider_orders.vendors.settings import ConnectionSettings

T = TypeVar("T")

#: Requests in flight at once per event loop (and connections in the shared pool). Small on purpose:
#: httpcore scans every pooled connection for every request, so a large pool costs more CPU than the
#: concurrency it buys when each poll is a short request (measured in benchmarks/, triggerer scenario).
MAX_IN_FLIGHT = 16

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def shared_client(network: Network, proxy: Proxy | None) -> httpx.AsyncClient:
    """The event loop's client for this TLS context and proxy (created on first use).

    The environment is never read by httpx (``trust_env=False``): which proxy a URL takes is
    :meth:`Network.proxy_for`'s answer, the same as the sync driver's.
    """
    loop = asyncio.get_running_loop()
    per_loop = _clients.setdefault(loop, {})
    key = f"{network.tls_key}/{proxy.key if proxy else 'direct'}"
    client = per_loop.get(key)
    if client is None or client.is_closed:
        client = per_loop[key] = httpx.AsyncClient(
            verify=network.ssl_context,
            proxy=httpx.Proxy(proxy.url, auth=proxy.auth) if proxy is not None else None,
            trust_env=False,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT),
        )
    return client


def gate() -> asyncio.Semaphore:
    """The event loop's limit on requests in flight.

    Waiting here is O(1) per request; httpx's own pool rescans every queued request each time a
    connection frees up, which a thousand triggers polling at once turn into seconds of pure overhead
    and pool timeouts. So requests queue here, and never more than the pool holds reach httpx.
    """
    loop = asyncio.get_running_loop()
    found = _gates.get(loop)
    if found is None:
        found = _gates[loop] = asyncio.Semaphore(MAX_IN_FLIGHT)
    return found


class AsyncTransport:
    """Sends prepared requests with a shared ``httpx.AsyncClient``; forked calls run as tasks.

    :param settings: the connection settings (TLS, proxies: see
        :class:`~airflow_provider_orders.vendors.network.Network`).
    :param vendor: the connection type, for errors.
    :param client: a client to use instead of the loop's shared ones (no proxy is then applied).
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        vendor: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.network = Network(settings, vendor=vendor)
        self._client = client
        self._ids = itertools.count()
        self._proxies: dict[str, Proxy | None] = {}

    def _proxy(self, url: str) -> Proxy | None:
        origin = url.split("/", 3)[:3]
        key = "/".join(origin)
        if key not in self._proxies:
            self._proxies[key] = self.network.proxy_for(url)
        return self._proxies[key]

    async def send(self, request: PreparedRequest) -> HttpResponse | TransportFailure:
        proxy = self._proxy(request.url)
        try:
            async with gate():
                # The deadline starts once the request leaves this loop's queue.
                try:
                    return await wait_within(self._exchange(request, proxy), request.deadline)
                except asyncio.TimeoutError:
                    return past_deadline(request)
        except Exception as exc:
            failure = transport_failure(exc, proxy=proxy)
            if failure is None:
                raise
            return failure

    async def _exchange(
        self, request: PreparedRequest, proxy: Proxy | None
    ) -> HttpResponse | TransportFailure:
        """Send and read the body, decompressed, within ``max_bytes`` (checked as each chunk arrives)."""
        client = self._client or shared_client(self.network, proxy)
        async with client.stream(
            request.method,
            request.url,
            params=list(request.params) or None,
            headers=dict(request.headers),
            json=request.json_body,
            data=dict(request.form) if request.form is not None else None,
            timeout=httpx.Timeout(request.timeout),
        ) as response:
            if response.status_code == 407 and proxy is not None:
                return proxy_refused(proxy, 407, response.reason_phrase)
            body = Body(request, response.headers)  # the deadline is asyncio's, around the whole exchange
            encoding = (response.headers.get("content-encoding") or "").strip().lower()
            if body.failure is None and encoding in ("gzip", "x-gzip"):
                # httpx would inflate each network read whole (64 KB of gzip can be 64 MB): inflate here.
                inflater = gzip_inflater()
                async for raw in response.aiter_raw():
                    if not body.add_gzip(raw, inflater):
                        break
                else:
                    body.add(inflater.flush())
            elif body.failure is None:
                async for chunk in response.aiter_bytes(CHUNK_BYTES):
                    if not body.add(chunk):
                        break
            if body.failure is not None:
                return body.failure
            return HttpResponse(response.status_code, response.headers, body.bytes(), request.url)

    async def run(self, flow: Flow[T]) -> T:
        """Carry out a flow that returns a value."""
        outcome: list[Any] = []
        async for _ in self._drive(flow, outcome):
            raise TypeError("a flow that returns a value emitted orders")
        result: T = outcome[0]
        return result

    async def iterate(self, flow: Flow[None]) -> AsyncIterator[Order]:
        """Carry out a listing flow, yielding its orders as each page arrives."""
        async for orders in self._drive(flow, []):
            for order in orders:
                yield order
            del orders  # not kept while the next page is fetched and decoded

    async def _drive(self, flow: Flow[Any], outcome: list[Any]) -> AsyncIterator[list[Order]]:
        forked: dict[Forked, asyncio.Task[HttpResponse]] = {}
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
                    reply = await self.send(action.request)
                elif isinstance(action, Sleep):
                    await asyncio.sleep(action.seconds)
                elif isinstance(action, Reserve):
                    reply = await action.budget.areserve()
                elif isinstance(action, Emit):
                    yield action.orders
                elif isinstance(action, Fork):
                    reply = Forked(next(self._ids))
                    forked[reply] = asyncio.ensure_future(self.run(action.flow))
                elif isinstance(action, Join):
                    try:
                        reply = await forked.pop(action.handle)
                    except Exception as exc:
                        error = exc
                else:
                    raise TypeError(f"unexpected action {action!r}")
        finally:
            flow.close()
            for task in forked.values():
                task.cancel()
