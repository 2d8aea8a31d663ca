"""The engine: one vendor's rules plus auth, retries, rate limit and the paging loop, as flows.

A flow is a generator of :mod:`~airflow_provider_orders.engine.protocol` actions. It holds every rule
about *when* to send, retry, refresh a token, stop paging or fail; a driver only carries the actions out.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

from airflow_provider_orders.engine.budget import budget_for
from airflow_provider_orders.engine.listing import find_order, find_orders, read_record, run_listing
from airflow_provider_orders.engine.policy import RetryPolicy, default_token_directory, token_cache_for
from airflow_provider_orders.engine.protocol import (
    Flow,
    PreparedRequest,
    Reserve,
    Send,
    Sleep,
    TransportFailure,
)
from airflow_provider_orders.errors import (
    AuthenticationError,
    OrderNotFoundError,
    OrdersError,
    RateLimitError,
    VendorApiError,
    VendorUnavailableError,
)
from airflow_provider_orders.models import Order
from airflow_provider_orders.vendors.base import Vendor
from airflow_provider_orders.vendors.filters import OrderFilters
from airflow_provider_orders.vendors.http import HttpRequest, HttpResponse, UnreadableBody, checked_id

log = logging.getLogger(__name__)

TOKEN_WAIT_SECONDS = 0.05


_pending_masks: set[asyncio.Task[None]] = set()
#: Origins already warned about: one warning per origin and process.
_warned_insecure: set[str] = set()


def mask_secret(value: str) -> None:
    """Register ``value`` with Airflow's secrets masker, where Airflow is importable.

    On an event loop (the triggerer) the registration runs in a worker thread: Airflow's ``mask_secret``
    reaches the supervisor through a synchronous bridge, which Airflow 3.0 refuses to run on the loop's
    own thread. The value is then masked moments later instead of at once; the provider never logs it
    either way, the masker guards what other code might print.
    """
    try:
        from airflow.providers.common.compat.sdk import mask_secret as airflow_mask
    except ImportError:  # pragma: no cover - Airflow is a dependency; kept for the pure layers' tests
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        airflow_mask(value)
        return
    from asgiref.sync import sync_to_async

    task = loop.create_task(sync_to_async(airflow_mask)(value))
    _pending_masks.add(task)
    task.add_done_callback(_pending_masks.discard)


class OrdersEngine:
    """Runs one vendor's requests with auth, retries, rate limit and paging guards.

    :param vendor: the vendor module's instance, holding the connection settings.
    :param retry_policy: backoff rules; by default from ``max_retries`` of the connection.
    :param redis_options: where the request budget lives when the connection's ``rate_budget`` is
        ``redis``: ``redis.Redis`` keywords (the hook reads them from the Airflow Redis connection).
    """

    def __init__(
        self,
        vendor: Vendor,
        *,
        retry_policy: RetryPolicy | None = None,
        redis_options: dict[str, Any] | None = None,
    ) -> None:
        self.vendor = vendor
        self.settings = vendor.settings
        self.retry = retry_policy or RetryPolicy(self.settings.max_retries)
        key = self._credential_key()
        shared = default_token_directory() if vendor.shares_token_between_processes() else None
        self.tokens = token_cache_for(
            key,
            shared_directory=shared,
            redis_options=redis_options if self.settings.rate_budget == "redis" else None,
        )
        self.budget = budget_for(
            key, self.settings.rate_limit, self.settings.rate_budget, redis_options=redis_options
        )
        for secret in vendor.secrets():
            mask_secret(secret)
        for url in self.settings.insecure_urls():
            origin = _origin(url)
            if origin not in _warned_insecure:
                _warned_insecure.add(origin)
                log.warning(
                    "%s: credentials go to %s over plain http (allow_insecure_http)", self.name, origin
                )

    def __repr__(self) -> str:
        return f"OrdersEngine({self.vendor!r})"

    @property
    def name(self) -> str:
        return self.vendor.conn_type

    def _credential_key(self) -> tuple[str, ...]:
        digest = hashlib.sha256()
        # The credential alone: a proxy or a client certificate changes neither its token nor its budget.
        network = self.vendor.network_secrets()
        credential = [secret for secret in self.vendor.secrets() if secret not in network]
        for secret in (self.settings.login or "", *credential):
            digest.update(secret.encode())
            digest.update(b"\0")
        return (self.vendor.conn_type, self.settings.host, digest.hexdigest())

    # -- one call ------------------------------------------------------------------------------

    def _prepare(self, request: HttpRequest, headers: dict[str, str]) -> PreparedRequest:
        url = request.url
        if not url.startswith(("http://", "https://")):
            url = self.settings.host + (url if url.startswith("/") else "/" + url)
        elif request.authenticated and _origin(url) != self.settings.origin:
            # A next-page link on another host would carry our token there: refuse.
            raise VendorApiError(
                f"refusing to send credentials to {_origin(url)}, which is not the connection's origin "
                f"{self.settings.origin}",
                vendor=self.name,
            )
        return PreparedRequest(
            request.method,
            url,
            request.params,
            headers,
            json_body=request.json_body,
            form=request.form,
            timeout=self.settings.timeout,
            deadline=self.settings.deadline,
            max_bytes=self.settings.max_response_bytes,
        )

    def call(self, request: HttpRequest) -> Flow[HttpResponse]:
        """Send ``request`` until it succeeds or fails for good; returns the response.

        Retries connection errors, timeouts, 5xx, 429 (after ``Retry-After``) and a 2xx whose body is not
        JSON, up to ``max_retries`` times. On 401 it fetches a new token once. 400, 403 and 404 are never
        retried.
        """
        vendor = self.vendor
        api = request.kind == "api"
        # Token endpoints (IMS, an OAuth2 server) get only their own headers, never the API's. The per-call
        # headers (Adobe's X-Correlation-Id) are kept for a retry after no answer (a timeout, a dropped
        # connection) and made anew once any response arrived, a 5xx or 429 included (Adobe's rule).
        call_headers = vendor.per_call_headers() if api else {}
        attempt = 0
        refreshed = False
        while True:
            headers = {**(vendor.request_headers() if api else {}), **request.headers, **call_headers}
            if api:
                headers.update(vendor.per_attempt_headers())
            token: str | None = None
            if request.authenticated:
                token = yield from self._token()
                headers.update(vendor.auth_headers(token))
            prepared = self._prepare(request, headers)
            if self.budget is not None:
                while True:
                    wait = yield Reserve(self.budget)
                    assert isinstance(wait, float)
                    if wait <= 0:
                        break
                    yield Sleep(wait)
            reply = yield Send(prepared)
            if isinstance(reply, TransportFailure):
                if reply.kind == "proxy":
                    refused = AuthenticationError if reply.status in (401, 407) else VendorApiError
                    raise refused(
                        f"{request.method} {_path(prepared.url)}: {reply.message}",
                        vendor=self.name,
                        status=reply.status,
                    )
                if reply.kind == "tls":
                    raise VendorApiError(
                        f"TLS to {_origin(prepared.url)} failed: {reply.message}", vendor=self.name
                    )
                if reply.kind == "too_large":
                    raise VendorApiError(
                        f"{request.method} {_path(prepared.url)}: {reply.message}; raise max_response_bytes on "
                        "the connection if the vendor really sends pages this large",
                        vendor=self.name,
                    )
                if attempt < self.retry.max_retries:
                    attempt += 1
                    log.warning(
                        "%s: %s on %s %s; retry %d of %d",
                        self.name, reply.kind, request.method, _path(prepared.url), attempt,
                        self.retry.max_retries,
                    )  # fmt: skip
                    yield Sleep(self.retry.backoff(attempt))
                    continue
                raise VendorUnavailableError(
                    f"{reply.kind} error on {request.method} {_path(prepared.url)} after "
                    f"{attempt + 1} attempts: {reply.message}",
                    vendor=self.name,
                )
            assert isinstance(reply, HttpResponse)
            response = reply
            status = response.status
            if api:
                call_headers = vendor.per_call_headers()
            if request.kind == "token" and vendor.token_refused(response):
                code, message = vendor.read_error(response)
                said = f": {message.rstrip('.')}" if message not in (code, f"HTTP {status}") else ""
                raise AuthenticationError(
                    f"the token endpoint refused the credentials of {self.settings.named}{said}. "
                    f"{vendor.token_refused_hint(code)}",
                    vendor=self.name,
                    status=status,
                    code=code,
                )
            if (
                status == 401
                and request.authenticated
                and vendor.token_request() is not None
                and not refreshed
            ):
                # The token expired or was revoked early: fetch a new one, once.
                refreshed = True
                self.tokens.invalidate(token)
                log.info("%s: 401 on %s; fetching a new token", self.name, _path(prepared.url))
                continue
            retryable = status == 429 or status >= 500
            if 200 <= status < 300:
                try:
                    response.json()
                except UnreadableBody as exc:
                    raise VendorApiError(
                        f"{request.method} {_path(prepared.url)} answered a body that cannot be decoded: {exc}",
                        vendor=self.name,
                        status=status,
                    ) from None
                except ValueError:
                    retryable = True
            if retryable:
                if attempt < self.retry.max_retries:
                    attempt += 1
                    delay = self.retry.delay(attempt, response.header("retry-after"))
                    log.warning(
                        "%s: HTTP %d on %s %s; retry %d of %d in %.1fs",
                        self.name, status, request.method, _path(prepared.url), attempt,
                        self.retry.max_retries, delay,
                    )  # fmt: skip
                    yield Sleep(delay)
                    continue
                raise self._error(response, prepared, attempts=attempt + 1)
            if status >= 300:
                raise self._error(response, prepared, attempts=attempt + 1)
            return response

    def _error(self, response: HttpResponse, prepared: PreparedRequest, *, attempts: int) -> OrdersError:
        code, message = self.vendor.read_error(response)
        status = response.status
        where = f"{prepared.method} {_path(prepared.url)}"
        tail = f" (after {attempts} attempts)" if attempts > 1 else ""
        if 200 <= status < 300:
            return VendorUnavailableError(
                f"{where} answered a body that is not JSON{tail}", vendor=self.name, status=status
            )
        if status == 429:
            return RateLimitError(
                f"{where}: rate limited{tail}: {message}. Lower requests_per_minute on the connection.",
                vendor=self.name,
                status=status,
                code=code,
            )
        if status in (401, 403):
            return AuthenticationError(
                f"{where}: the vendor refused the credentials of {self.settings.named}: {message.rstrip('.')}. "
                f"{self.vendor.api_refused_hint(status, code)}",
                vendor=self.name,
                status=status,
                code=code,
            )
        if status >= 500:
            return VendorUnavailableError(
                f"{where}: {message}{tail}", vendor=self.name, status=status, code=code
            )
        if 300 <= status < 400:
            location = urljoin(prepared.url, response.header("location") or "?")
            message = (
                f"unexpected redirect to {_origin(location)}{_path(location)} (redirects are never followed)"
            )
        return VendorApiError(f"{where}: {message}{tail}", vendor=self.name, status=status, code=code)

    def _token(self) -> Flow[str | None]:
        request = self.vendor.token_request()
        if request is None:
            return None
        while True:
            cached = self.tokens.get()
            if cached is not None:
                return cached
            if self.tokens.claim_fetch():
                # Another process may have stored a token between the look above and the claim.
                cached = self.tokens.get()
                if cached is None:
                    break
                self.tokens.release_fetch()
                return cached
            yield Sleep(TOKEN_WAIT_SECONDS)  # another call (here, or in another process) is fetching it
        try:
            response = yield from self.call(request)
            token = self.vendor.read_token(response)
            mask_secret(token.access_token)
            self.tokens.put(token)
        finally:
            self.tokens.release_fetch()
        return token.access_token

    # -- listings ------------------------------------------------------------------------------

    def list_orders(self, filters: OrderFilters) -> Flow[None]:
        """Every order matching ``filters``, one :class:`Emit` per page (see :mod:`airflow_provider_orders.engine.listing`)."""
        plan = self.vendor.plan_listing(filters)
        concurrency = filters.concurrency or self.settings.concurrency
        yield from run_listing(self, plan, concurrency=concurrency)

    # -- single orders -------------------------------------------------------------------------

    def get_order(self, order_id: str | int, scope: Mapping[str, Any]) -> Flow[Order]:
        """One order by id; raises :class:`OrderNotFoundError` when the vendor has none.

        An id that is ``None``, empty, ``.`` or ``..`` raises :class:`InvalidFilterError` before any request;
        any other id reaches the vendor as data (one percent-encoded path segment, or a query value).
        """
        order_id = checked_id(order_id, "order_id", self.name)
        self.vendor.check_scope(scope)
        lookup = self.vendor.order_lookup(order_id, scope)
        if lookup.request is not None:
            try:
                response = yield from self.call(lookup.request)
            except VendorApiError as exc:
                if exc.status is not None and self.vendor.is_not_found(exc.status, exc.code):
                    raise OrderNotFoundError(
                        f"no order {order_id!r} ({exc.message})", vendor=self.name, status=exc.status,
                        code=exc.code,
                    ) from None  # fmt: skip
                raise
            return read_record(self.vendor, lambda: self.vendor.read_order(response))
        for plan in (lookup.listing, lookup.fallback):
            if plan is None:
                continue
            found = yield from find_order(self, plan, order_id)
            if found is not None:
                return found
        raise OrderNotFoundError(f"no order {order_id!r} in scope {dict(scope)}", vendor=self.name)

    def find_orders(
        self, order_ids: Iterable[str | int], scope: Mapping[str, Any], *, max_pages: int | None = None
    ) -> Flow[tuple[dict[str, Order], bool]]:
        """Many orders of one scope from one listing of it (:meth:`Vendor.scope_listing`), for waits that
        share a scope: see :func:`~airflow_provider_orders.engine.listing.find_orders`."""
        wanted = {checked_id(order_id, "order_id", self.name) for order_id in order_ids}
        self.vendor.check_scope(scope)
        plan = self.vendor.scope_listing(scope)
        return (
            yield from find_orders(self, plan, wanted, max_pages=max_pages, label=f"orders of {dict(scope)}")
        )

    def test_connection(self) -> Flow[str]:
        """Fetch a token (and make one cheap call where the vendor has one); returns a message."""
        request = self.vendor.token_request()
        if request is not None:
            self.tokens.invalidate()
            yield from self._token()
        probe = self.vendor.probe_request()
        if probe is not None:
            try:
                yield from self.call(probe)
            except VendorApiError as exc:
                if exc.status is None or not self.vendor.probe_accepts(exc.status):
                    raise
            except AuthenticationError as exc:
                check = self.vendor.credential_check()
                if check is None or exc.status != 401:
                    raise
                # One more request tells which credential was refused (Fleetio: the API key alone).
                answer: HttpResponse | OrdersError
                try:
                    answer = yield from self.call(check)
                except OrdersError as failure:
                    answer = failure
                where = exc.message.split(": ", 1)[0]
                raise AuthenticationError(
                    f"{where}: the vendor refused the credentials of {self.settings.named}. "
                    f"{self.vendor.explain_refusal(answer)}.",
                    vendor=exc.vendor,
                    status=exc.status,
                    code=exc.code,
                ) from None
        return f"Connected to {self.vendor.display_name} at {self.settings.host}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _path(url: str) -> str:
    """The URL without its query string: queries may hold search terms, never worth logging."""
    parts = urlsplit(url)
    return parts.path or url
