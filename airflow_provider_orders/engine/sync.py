"""The sync driver: carries out engine flows over urllib3's connection pool."""

from __future__ import annotations

import functools
import itertools
import json
import os
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import urllib3
from urllib3.util import make_headers

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

#: What every request carries unless the vendor module says otherwise (urllib3 adds its User-Agent).
DEFAULT_HEADERS = {
    "Accept-Encoding": make_headers(accept_encoding=True)["accept-encoding"],
    "Accept": "*/*",
    "Connection": "keep-alive",
}


class SyncTransport:
    """Sends prepared requests over one urllib3 ``PoolManager``; forked calls run in worker threads.

    urllib3 directly, not a ``requests.Session``: the session's per-request work (merging settings,
    hooks, cookies, re-preparing the URL) is about a third of the cost of a page on a fast server, and
    the engine needs none of it. What the session gave is kept here: no redirect is followed (the engine
    reports one); nothing is retried by the pool (the engine retries); the environment's proxies,
    ``.netrc`` and CA variables are ignored, so credentials only ever go to the connection's own host;
    TLS is verified against certifi's bundle, or the CA file or directory the connection's ``verify``
    names, or not at all where it says ``false``; bodies are inflated as they are read.

    :param settings: the connection settings (TLS verification).
    :param pool_size: connections kept per host (at least the concurrency of any listing).
    """

    def __init__(self, settings: ConnectionSettings, *, pool_size: int = 32) -> None:
        self.pool = urllib3.PoolManager(
            num_pools=4, maxsize=pool_size, retries=False, **_tls(settings.verify)
        )
        self._ids = itertools.count()
        #: The pool of each origin (``scheme://host:port``) sent to, so that a request skips the manager's
        #: parsing of the whole URL and goes to its host's pool with its path.
        self._origins: dict[str, urllib3.HTTPConnectionPool] = {}

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
        try:
            origin, target = _split(request.url)
            if request.params:
                # As requests does it: the query the URL has, then the parameters, form-encoded.
                target += ("&" if "?" in target else "?") + urlencode(request.params)
            pool = self._origins.get(origin)
            if pool is None:
                pool = self._origins[origin] = self.pool.connection_from_url(origin)
            response = pool.urlopen(
                request.method,
                target,
                body=body,
                headers=headers,
                timeout=_timeout(request.timeout),
                retries=False,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
                decode_content=True,
            )
            read: bytes | TransportFailure | None = None
            try:
                read = self._read(response, request, started)
            finally:
                if isinstance(read, bytes):
                    response.release_conn()  # read to its end: the connection goes back to the pool
                else:
                    response.close()  # refused or broken half-way: the connection is not reused
                    response.release_conn()
        except Exception as exc:
            failure = transport_failure(exc)
            if failure is None:
                raise
            return failure
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
def _timeout(seconds: float) -> urllib3.Timeout:
    """urllib3's timeout for ``seconds`` to connect and between reads (one per value: the pool clones it)."""
    return urllib3.Timeout(connect=seconds, read=seconds)


def _split(url: str) -> tuple[str, str]:
    """``("scheme://host:port", "/path?query")`` of an absolute URL: its origin's pool is sent the path
    (``/`` where it has none); a ``#fragment`` is the client's, never sent."""
    parts = urlsplit(url)
    target = parts.path or "/"
    return f"{parts.scheme}://{parts.netloc}", f"{target}?{parts.query}" if parts.query else target


def _tls(verify: object) -> dict[str, Any]:
    """urllib3's TLS arguments for the connection's ``verify``: what ``requests`` made of the same value."""
    if verify is False:
        return {"cert_reqs": "CERT_NONE"}
    if isinstance(verify, str):
        key = "ca_cert_dir" if os.path.isdir(verify) else "ca_certs"
        return {"cert_reqs": "CERT_REQUIRED", key: verify}
    import certifi

    return {"cert_reqs": "CERT_REQUIRED", "ca_certs": certifi.where()}
