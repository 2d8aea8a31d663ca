"""The engine: one vendor's rules plus auth, retries, rate limit and the paging loop, as flows.

A flow is a generator of :mod:`~airflow_provider_orders.engine.protocol` actions. It holds every rule
about *when* to send, retry, refresh a token, stop paging or fail; a driver only carries the actions out.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import deque
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_orders.engine.policy import (
    RetryPolicy,
    SeenIds,
    default_token_directory,
    limiter_for,
    token_cache_for,
)
from airflow_provider_orders.engine.protocol import (
    Emit,
    Flow,
    Fork,
    Join,
    PreparedRequest,
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
)
from airflow_provider_orders.models import Order
from airflow_provider_orders.vendors.base import (
    HttpRequest,
    HttpResponse,
    ListingPlan,
    OrderFilters,
    Page,
    Vendor,
)

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 10.0
TOKEN_WAIT_SECONDS = 0.05


_pending_masks: set[asyncio.Task[None]] = set()


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
    """

    def __init__(self, vendor: Vendor, *, retry_policy: RetryPolicy | None = None) -> None:
        self.vendor = vendor
        self.settings = vendor.settings
        self.retry = retry_policy or RetryPolicy(self.settings.max_retries)
        key = self._credential_key()
        shared = default_token_directory() if vendor.shares_token_between_processes() else None
        self.tokens = token_cache_for(key, shared_directory=shared)
        self.limiter = limiter_for(key, self.settings.rate_limit)
        for secret in vendor.secrets():
            mask_secret(secret)

    def __repr__(self) -> str:
        return f"OrdersEngine({self.vendor!r})"

    @property
    def name(self) -> str:
        return self.vendor.conn_type

    def _credential_key(self) -> tuple[str, ...]:
        digest = hashlib.sha256()
        for secret in (self.settings.login or "", *self.vendor.secrets()):
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
            wait = self.limiter.reserve()
            if wait > 0:
                yield Sleep(wait)
            reply = yield Send(prepared)
            if isinstance(reply, TransportFailure):
                if attempt < self.retry.max_retries:
                    attempt += 1
                    log.warning(
                        "%s: %s on %s %s; retry %d of %d",
                        self.name, reply.kind, request.method, _path(prepared.url), attempt,
                        self.retry.max_retries,
                    )  # fmt: skip
                    yield Sleep(self.retry.backoff(attempt))
                    continue
                raise VendorApiError(
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
                raise AuthenticationError(
                    f"the token endpoint refused the credentials of connection {self.settings.conn_id!r}: "
                    f"{message}. {vendor.token_refused_hint(code)}",
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
            return VendorApiError(
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
                f"{where}: the vendor refused the credentials of connection {self.settings.conn_id!r}: "
                f"{message}",
                vendor=self.name,
                status=status,
                code=code,
            )
        if 300 <= status < 400:
            message = f"unexpected redirect to {_path(response.header('location') or '?')}"
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
                break
            yield Sleep(TOKEN_WAIT_SECONDS)  # another call is fetching it
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
        """Every order matching ``filters``, one :class:`Emit` per page."""
        plan = self.vendor.plan_listing(filters)
        yield from self.run_listing(plan, concurrency=filters.concurrency or self.settings.concurrency)

    def run_listing(
        self, plan: ListingPlan, *, label: str = "listing", concurrency: int = 1, read_ahead: bool = True
    ) -> Flow[None]:
        """Drive a pager with the guards every style needs.

        - a repeated cursor or link, or a page whose records were all received already, raises
          :class:`VendorApiError`: the listing would otherwise loop or come back silently partial;
        - more pages than the connection's ``max_pages`` raises;
        - records seen twice (offsets shifting under new orders) are dropped once and logged;
        - a received count that differs from the announced total is logged as a warning;
        - with a date bound on a sorted listing, paging stops at the first order past the bound.

        Speed, without changing what comes back:

        - ``read_ahead``: the next page is fetched while this one is normalised and handed on (only
          where nothing can end the listing early, so no request is made that would not be anyway);
        - ``concurrency`` > 1: where the first page tells how many there are (a total or a page count),
          up to that many of the remaining pages are in flight at once, each through the rate limiter,
          and handed on strictly in page order.
        """
        pager = plan.pager
        seen = SeenIds()
        cursors: set[str] = set()
        pages = received = emitted = 0
        total: int | None = None
        started = last_report = time.monotonic()
        can_stop_early = plan.can_stop_early
        read_ahead = read_ahead and not can_stop_early
        planned: deque[HttpRequest] | None = None
        in_flight: deque[Any] = deque()  # handles of forked calls, in page order
        response = yield from self.call(pager.first_request())
        while True:
            page = pager.read(response)
            pages += 1
            if total is None:
                total = page.total
            # Decide the next fetches before the work on this page, so that they overlap with it.
            if planned is None and concurrency > 1 and not can_stop_early:
                rest = pager.plan_rest(page)
                if rest is not None:
                    self._check_page_cap(pages + len(rest), label)
                    planned = deque(rest)
            if planned is not None:
                while planned and len(in_flight) < concurrency:
                    in_flight.append((yield Fork(self.call(planned.popleft()))))
            else:
                self._check_cursor(page, pages, cursors, label)
                if page.next_request is not None:
                    self._check_page_cap(pages + 1, label)
                    if read_ahead:
                        in_flight.append((yield Fork(self.call(page.next_request))))
            orders = [self._normalise(record) for record in page.records]
            received += len(orders)
            fresh = seen.keep_new(orders, self._line_keys(orders) if self.vendor.lists_order_lines else None)
            if orders and not fresh:
                raise VendorApiError(
                    f"{label}: page {pages} repeats {len(orders)} orders already received; the API is "
                    "serving the same page again, so the listing cannot be completed",
                    vendor=self.name,
                )
            if len(fresh) < len(orders):
                log.info("%s: page %d held %d orders seen earlier; kept once", self.name, pages,
                         len(orders) - len(fresh))  # fmt: skip
            batch, stop = self._select(plan, fresh, emitted, pushed_down=page.pushed_down)
            emitted += len(batch)
            if batch:
                yield Emit(batch)
            now = time.monotonic()
            if now - last_report >= PROGRESS_EVERY_SECONDS:
                last_report = now
                rate = received / max(now - started, 1e-9)
                log.info("%s: %d pages, %d orders so far (%.0f orders/s)", self.name, pages, emitted, rate)
            if stop:
                log.debug("%s: stopped after page %d (bound or max_orders reached)", self.name, pages)
                return
            if in_flight:
                joined = yield Join(in_flight.popleft())
                assert isinstance(joined, HttpResponse)
                response = joined
            elif planned is None and page.next_request is not None:
                response = yield from self.call(page.next_request)
            else:
                break
        if total is not None and received != total:
            log.warning(
                "%s: the API announced %d orders but %d were received over %d pages; the data changed "
                "while paging, or the API miscounts",
                self.name, total, received, pages,
            )  # fmt: skip
        log.info("%s: %s done: %d pages, %d orders", self.name, label, pages, emitted)

    def _check_page_cap(self, pages: int, label: str) -> None:
        if pages > self.settings.max_pages:
            raise VendorApiError(
                f"{label} passed the page cap of {self.settings.max_pages} pages; raise max_pages on "
                "the connection or narrow the filters",
                vendor=self.name,
            )

    def _check_cursor(self, page: Page, pages: int, cursors: set[str], label: str) -> None:
        if page.cursor is None or page.next_request is None:
            return
        if page.cursor in cursors:
            raise VendorApiError(
                f"{label}: page {pages} leads to a cursor already followed ({page.cursor[:40]!r}); "
                "stopping instead of looping",
                vendor=self.name,
            )
        cursors.add(page.cursor)

    def _normalise(self, record: dict[str, Any]) -> Order:
        try:
            return self.vendor.normalise(record)
        except (KeyError, ValueError, TypeError) as exc:
            raise VendorApiError(
                f"a record does not have the shape this provider expects ({type(exc).__name__}: {exc})",
                vendor=self.name,
            ) from None

    def _line_keys(self, orders: list[Order]) -> list[str]:
        """De-duplication keys of order lines: the line's key, numbered where a page repeats it.

        Two lines alike in every field the vendor gives are both kept when they arrive on one page; a
        line seen again on a later page (the pages shifted under new orders) is dropped.
        """
        counts: dict[str, int] = {}
        keys = []
        for order in orders:
            key = self.vendor.line_key(order)
            n = counts[key] = counts.get(key, 0) + 1
            keys.append(key if n == 1 else f"{key}#{n}")
        return keys

    @staticmethod
    def _select(
        plan: ListingPlan, orders: list[Order], emitted: int, *, pushed_down: bool = True
    ) -> tuple[list[Order], bool]:
        """The orders of a page to hand on, and whether the listing can stop here.

        ``pushed_down`` false: the API ignored the request's filters and sort, so every filter is
        checked here and no bound ends the listing early (only ``max_orders`` does).
        """
        check = plan.client_filter if pushed_down else plan.full_filter
        if check is None and not plan.can_stop_early:
            return orders, False  # nothing to check: the common case of a full listing
        batch: list[Order] = []
        for order in orders:
            created = order.created_at
            if created is not None and pushed_down:
                if plan.sort == "desc" and plan.since is not None and created < plan.since:
                    return batch, True
                if plan.sort == "asc" and plan.until is not None and created >= plan.until:
                    return batch, True
            if check is not None and not check(order):
                continue
            batch.append(order)
            if plan.max_orders is not None and emitted + len(batch) >= plan.max_orders:
                return batch, True
        return batch, False

    # -- single orders -------------------------------------------------------------------------

    def get_order(self, order_id: str, scope: Mapping[str, Any]) -> Flow[Order]:
        """One order by id; raises :class:`OrderNotFoundError` when the vendor has none."""
        order_id = str(order_id).strip()
        if not order_id:
            raise OrderNotFoundError("order_id is empty", vendor=self.name)
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
            return self.vendor.read_order(response)
        for plan in (lookup.listing, lookup.fallback):
            if plan is None:
                continue
            found = yield from self._find(plan, order_id)
            if found is not None:
                return found
        raise OrderNotFoundError(f"no order {order_id!r} in scope {dict(scope)}", vendor=self.name)

    def _find(self, plan: ListingPlan, order_id: str) -> Flow[Order | None]:
        """The order ``order_id`` in a listing, or ``None``.

        Where records are order lines, every line of the order is gathered: they share the order's
        creation time, so they are adjacent in a listing sorted by it, and the search ends at the first
        other record after them (or at the end of the listing).
        """
        # No read-ahead: the listing usually ends at the first page that holds the order.
        listing = self.run_listing(plan, label=f"lookup of {order_id}", read_ahead=False)
        vendor = self.vendor
        lines: list[Order] = []
        reply: Any = None
        try:
            while True:
                action = listing.send(reply)
                if isinstance(action, Emit):
                    for order in action.orders:
                        if vendor.order_matches_id(order, order_id):
                            lines.append(order)
                            if not vendor.lists_order_lines:
                                break
                        elif lines:
                            break
                    else:
                        reply = None
                        continue
                    listing.close()
                    break
                else:
                    reply = yield action
        except StopIteration:
            pass
        return vendor.combine_lines(lines) if lines else None

    def test_connection(self) -> Flow[str]:
        """Fetch a token (and make one cheap call where the vendor has one); returns a message."""
        request = self.vendor.token_request()
        if request is not None:
            self.tokens.invalidate()
            yield from self._token()
        probe = self.vendor.probe_request()
        if probe is not None:
            yield from self.call(probe)
        return f"Connected to {self.vendor.display_name} at {self.settings.host}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _path(url: str) -> str:
    """The URL without its query string: queries may hold search terms, never worth logging."""
    parts = urlsplit(url)
    return parts.path or url
