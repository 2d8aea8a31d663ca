"""The sync driver: carries out engine flows over urllib3's connection pool."""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import json
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import urllib3
import urllib3.connection
from urllib3.util import make_headers

from airflow_provider_orders.engine.failures import (
    CHUNK_BYTES,
    Body,
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

#: What every request carries unless the vendor module says otherwise (urllib3 adds its User-Agent).
DEFAULT_HEADERS = {
    "Accept-Encoding": make_headers(accept_encoding=True)["accept-encoding"],
    "Accept": "*/*",
    "Connection": "keep-alive",
}


class SyncTransport:
    """Sends prepared requests over urllib3's connection pools; forked calls run in worker threads.

    urllib3 directly, not a ``requests.Session``: the session's per-request work (merging settings,
    hooks, cookies, re-preparing the URL) is about a third of the cost of a page on a fast server, and
    the engine needs none of it. What the session gave is kept here: no redirect is followed (the engine
    reports one); nothing is retried by the pool (the engine retries); ``.netrc`` and the CA variables are
    ignored; bodies are inflated as they are read. Proxies (the connection's ``proxy``, else the
    environment's) and TLS (``verify``, the client certificate) come from
    :class:`~airflow_provider_orders.vendors.network.Network`, as in the async driver: a proxied origin
    goes through urllib3's ``ProxyManager`` (``CONNECT`` for https). Every exchange, connect and headers
    included, ends at the request's deadline (:class:`Watchdog`).

    :param settings: the connection settings (TLS, proxies).
    :param vendor: the connection type, for errors.
    :param pool_size: connections kept per host (at least the concurrency of any listing).
    """

    def __init__(
        self, settings: ConnectionSettings, *, vendor: str | None = None, pool_size: int = 32
    ) -> None:
        self.network = Network(settings, vendor=vendor)
        self._pool_options: dict[str, Any] = {
            "num_pools": 4,
            "maxsize": pool_size,
            "retries": False,
            "ssl_context": self.network.ssl_context,
        }
        self.pool = _watched(urllib3.PoolManager(**self._pool_options))
        self._proxies: dict[str, urllib3.ProxyManager] = {}
        self._ids = itertools.count()
        #: How each origin (``scheme://host:port``) sent to is reached, so that a request skips the
        #: manager's parsing of the whole URL and goes to its host's pool with its path.
        self._routes: dict[str, _Route] = {}

    def _route(self, origin: str) -> _Route:
        route = self._routes.get(origin)
        if route is None:
            proxy = self.network.proxy_for(origin)
            if proxy is None:
                route = _Route(self.pool.connection_from_url(origin))
            else:
                manager = self._proxy_manager(proxy)
                if origin.startswith("https:"):
                    # CONNECT: a pool whose connections tunnel through the proxy, sent the path as usual.
                    route = _Route(manager.connection_from_url(origin), proxy=proxy)
                else:
                    # A plain-http origin is forwarded: the proxy is sent the whole URL.
                    route = _Route(None, manager, proxy)
            self._routes[origin] = route
        return route

    def _proxy_manager(self, proxy: Proxy) -> urllib3.ProxyManager:
        manager = self._proxies.get(proxy.key)
        if manager is None:
            auth = proxy.auth
            headers = make_headers(proxy_basic_auth=f"{auth[0]}:{auth[1]}") if auth else None
            manager = self._proxies[proxy.key] = _watched(
                urllib3.ProxyManager(proxy.url, proxy_headers=headers, **self._pool_options)
            )
        return manager

    def send(self, request: PreparedRequest) -> HttpResponse | TransportFailure:
        started = time.monotonic()
        body: bytes | None = None
        content_type: str | None = None
        if request.form is not None:
            body = urlencode(list(request.form.items())).encode()
            content_type = "application/x-www-form-urlencoded"
        elif request.json_body is not None:
            body = json.dumps(request.json_body, allow_nan=False).encode()
            content_type = "application/json"
        headers = _merged(request.headers, content_type)
        watch = WATCHDOG.watch(started + request.deadline)
        route: _Route | None = None
        try:
            origin, target = _split(request.url)
            if request.params:
                # As requests does it: the query the URL has, then the parameters, form-encoded.
                target += ("&" if "?" in target else "?") + urlencode(request.params)
            route = self._route(origin)
            options: dict[str, Any] = {
                "body": body,
                "headers": headers,
                "timeout": _timeout(request.timeout, request.deadline),
                "retries": False,
                "redirect": False,
                "preload_content": False,
                "decode_content": True,
            }
            if route.pool is not None:
                response = route.pool.urlopen(request.method, target, assert_same_host=False, **options)
            else:
                assert route.manager is not None
                response = route.manager.urlopen(request.method, origin + target, **options)
            read: bytes | TransportFailure | None = None
            try:
                if response.status == 407 and route.proxy is not None:
                    read = proxy_refused(route.proxy, 407, response.reason or "")
                else:
                    read = self._read(response, request, started)
            finally:
                if isinstance(read, bytes):
                    response.release_conn()  # read to its end: the connection goes back to the pool
                else:
                    response.close()  # refused or broken half-way: the connection is not reused
                    response.release_conn()
        except Exception as exc:
            if watch.fired:
                return past_deadline(request)
            failure = transport_failure(exc, proxy=route.proxy if route is not None else None)
            if failure is None:
                raise
            return failure
        finally:
            WATCHDOG.finish(watch)
        if watch.fired:
            # Cut at the deadline: what was read may look whole (a body that ends with the connection).
            return past_deadline(request)
        if isinstance(read, TransportFailure):
            return read
        return HttpResponse(response.status, dict(response.headers.itermerged()), read, request.url)

    @staticmethod
    def _read(
        response: urllib3.BaseHTTPResponse, request: PreparedRequest, started: float
    ) -> bytes | TransportFailure:
        """The body, decompressed, within ``max_bytes`` and the deadline (checked as each piece arrives)."""
        body = Body(request, response.headers, until=started + request.deadline)
        if body.failure is None:
            # read1: whatever one read of the socket brought (so a trickle meets the deadline check),
            # inflated at most CHUNK_BYTES at a time (so a gzip bomb meets the size check).
            while (chunk := response.read1(CHUNK_BYTES, decode_content=True)) and body.add(chunk):
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
            del orders  # not kept while the next page is fetched and decoded

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


def _merged(given: Mapping[str, str], content_type: str | None) -> dict[str, str]:
    """:data:`DEFAULT_HEADERS`, the body's ``content_type`` and then ``given``, merged as requests merged
    them: case-insensitively, the last value of a name wins (a vendor's ``accept`` replaces the default
    ``Accept`` and its ``content-type`` the body's, never joins it)."""
    headers: dict[str, str] = {}
    names: dict[str, str] = {}
    body = {"Content-Type": content_type} if content_type else {}
    for source in (DEFAULT_HEADERS, body, given):
        for name, value in source.items():
            key = name.lower()
            if (earlier := names.get(key)) is not None:
                del headers[earlier]
            names[key] = name
            headers[name] = value
    return headers


@functools.lru_cache(maxsize=64)
def _timeout(seconds: float, deadline: float) -> urllib3.Timeout:
    """urllib3's timeout for ``seconds`` between reads and to connect, the connect never longer than the
    deadline (one per value: the pool clones it). The watchdog cannot cut a socket that is still
    connecting; every later step it can."""
    return urllib3.Timeout(connect=min(seconds, deadline), read=seconds)


def _split(url: str) -> tuple[str, str]:
    """``("scheme://host:port", "/path?query")`` of an absolute URL: its origin's pool is sent the path
    (``/`` where it has none); a ``#fragment`` is the client's, never sent."""
    parts = urlsplit(url)
    target = parts.path or "/"
    return f"{parts.scheme}://{parts.netloc}", f"{target}?{parts.query}" if parts.query else target


@dataclass(frozen=True)
class _Route:
    """How an origin is reached: a pool sent the path (direct, or tunnelled through a proxy), or a proxy
    that is sent the whole URL (a plain-http origin through a proxy)."""

    pool: urllib3.HTTPConnectionPool | None
    manager: urllib3.ProxyManager | None = None
    proxy: Proxy | None = None


class _Watch:
    """One exchange under the watchdog: its deadline, the connection it is on, whether it was cut."""

    __slots__ = ("connection", "done", "fired", "until")

    def __init__(self, until: float) -> None:
        self.until = until
        self.connection: Any = None
        self.fired = False
        self.done = False


_current = threading.local()


class Watchdog:
    """Ends an exchange at its deadline, whatever the server trickles.

    A socket timeout bounds each read, not their sum: a server that sends its status line and headers one
    byte a second would hold a request for as long as it likes. One thread for the whole process keeps
    the deadlines of the exchanges in flight in a heap and, when one passes, shuts its connection's
    socket down; the blocked read returns, and the driver reports the deadline (``watch.fired``).
    Registering an exchange is a heap push under a lock: no thread or timer per request.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        """Empty, with no thread: at start, and in a forked child (where the parent's thread is gone and
        its lock may have been held at the fork)."""
        self._heap: list[tuple[float, int, _Watch]] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._finished = 0
        self._thread: threading.Thread | None = None
        #: When the thread wakes up next (infinity: when notified): a deadline after it needs no wake-up.
        self._wake_at = float("inf")

    def watch(self, until: float) -> _Watch:
        """Start watching the calling thread's next exchange: its connection attaches itself."""
        watch = _Watch(until)
        _current.watch = watch
        with self._cond:
            heapq.heappush(self._heap, (until, next(self._seq), watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="orders-deadlines", daemon=True)
                self._thread.start()
            elif until < self._wake_at:
                self._wake_at = until
                self._cond.notify()
        return watch

    def finish(self, watch: _Watch) -> None:
        """The exchange ended: its connection is no longer cut at the deadline."""
        _current.watch = None
        with self._cond:
            watch.done = True
            watch.connection = None
            self._finished += 1
            if self._finished > 1024 and self._finished * 2 > len(self._heap):
                # Finished exchanges wait in the heap until their deadline: drop them in bulk.
                self._heap = [entry for entry in self._heap if not entry[2].done]
                heapq.heapify(self._heap)
                self._finished = 0

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                    self._finished -= 1
                if not self._heap:
                    self._wake_at = float("inf")
                    self._cond.wait()
                    continue
                self._wake_at = self._heap[0][0]
                wait = self._wake_at - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                _, _, watch = heapq.heappop(self._heap)
                watch.fired = True
                _cut(watch.connection)


WATCHDOG = Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=WATCHDOG._reset)


def _cut(connection: Any) -> None:
    """Shut the socket of ``connection`` down, so that a read blocked on it returns at once."""
    sock = getattr(connection, "sock", None)
    raw = getattr(sock, "socket", sock)  # urllib3's TLS-in-TLS wrapper holds the socket
    if isinstance(raw, socket.socket):
        with contextlib.suppress(OSError):
            # socket.socket's own shutdown, not SSLSocket's (which would drop the TLS object under the
            # thread that is reading).
            socket.socket.shutdown(raw, socket.SHUT_RDWR)


def _attach(connection: Any) -> None:
    watch = getattr(_current, "watch", None)
    if watch is not None and not watch.done:
        watch.connection = connection
        if watch.fired:
            _cut(connection)


class _Watched(urllib3.connection.HTTPConnection):
    """A connection that attaches itself to the watchdog's current exchange when it connects and when it
    sends (a pooled connection is reused without connecting)."""

    def connect(self) -> None:
        _attach(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self)
        super().request(*args, **kwargs)


class _WatchedHTTPConnection(_Watched):
    pass


class _WatchedHTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class _WatchedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


M = TypeVar("M", bound=urllib3.PoolManager)


def _watched(manager: M) -> M:
    """``manager`` with pools whose connections attach themselves to the watchdog's current exchange."""
    manager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
    return manager
