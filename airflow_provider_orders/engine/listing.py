"""The paging loop: drives a vendor's pager with the guards every style needs, as a flow.

Three ways through the pages, one function each, sharing one :class:`Listing` that reads and checks
every page the same way:

- :func:`_one_by_one`: fetch a page, hand it on, fetch the next (where a page may end the listing);
- :func:`_read_ahead`: fetch the next page while this one is normalised and handed on;
- :func:`_concurrently`: where the first page tells how many there are, keep up to ``concurrency`` of
  the rest in flight, handed on strictly in page order.

The guards (:meth:`Listing.read`, :meth:`Listing.take`):

- a repeated cursor or link, or a page whose records were all received already, raises
  :class:`VendorApiError`: the listing would otherwise loop or come back silently partial;
- more pages than the connection's ``max_pages`` raises;
- records seen twice (offsets shifting under new orders) are dropped once and logged;
- a received count that differs from the announced total is logged as a warning;
- with a date bound on a sorted listing, paging stops at the first order past the bound.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Protocol

from airflow_provider_orders.engine.policy import SeenIds
from airflow_provider_orders.engine.protocol import Emit, Flow, Fork, Forked, Join, Reply
from airflow_provider_orders.errors import VendorApiError
from airflow_provider_orders.models import Order
from airflow_provider_orders.vendors.base import Vendor
from airflow_provider_orders.vendors.http import HttpRequest, HttpResponse
from airflow_provider_orders.vendors.listing import ListingPlan, Page, PageRequests
from airflow_provider_orders.vendors.settings import ConnectionSettings


class Caller(Protocol):
    """What the paging loop needs of the engine: the vendor, the settings, and a call with retries."""

    vendor: Vendor
    settings: ConnectionSettings

    @property
    def name(self) -> str: ...

    def call(self, request: HttpRequest) -> Flow[HttpResponse]: ...


log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 10.0


class Listing:
    """The state of one listing (pages, counts, records seen, cursors) and the rules for each page.

    :param engine: sends the calls and knows the vendor and the connection's page cap (the engine).
    :param plan: the vendor's plan for the filters.
    :param label: names the listing in errors and logs (``listing``, ``lookup of 42``).
    """

    def __init__(self, engine: Caller, plan: ListingPlan, label: str) -> None:
        self.engine = engine
        self.vendor = engine.vendor
        self.name = engine.name
        self.plan = plan
        self.label = label
        self.seen = SeenIds()
        self.cursors: set[str] = set()
        self.pages = self.received = self.emitted = 0
        self.total: int | None = None
        self.started = self.last_report = time.monotonic()

    def read(self, response: HttpResponse) -> Page:
        """Read the next page of the listing."""
        page = self.plan.pager.read(response)
        self.pages += 1
        if self.total is None:
            self.total = page.total
        return page

    def check_cursor(self, page: Page) -> None:
        """Refuse to follow a cursor or link this listing followed already."""
        if page.cursor is None or page.next_request is None:
            return
        if page.cursor in self.cursors:
            raise VendorApiError(
                f"{self.label}: page {self.pages} leads to a cursor already followed ({page.cursor[:40]!r}); "
                "stopping instead of looping",
                vendor=self.name,
            )
        self.cursors.add(page.cursor)

    def check_page_cap(self, pages: int, *, announced: int | None = None) -> None:
        """Refuse to go past the connection's ``max_pages`` (``announced``: the total the vendor gave)."""
        cap = self.engine.settings.max_pages
        if pages > cap:
            said = f" (the API announced {announced} orders, {pages} pages)" if announced is not None else ""
            raise VendorApiError(
                f"{self.label} passed the page cap of {cap} pages{said}; raise max_pages on the connection or "
                "narrow the filters",
                vendor=self.name,
            )

    def take(self, page: Page) -> tuple[list[Order], bool]:
        """The orders of ``page`` to hand on, and whether the listing ends with them."""
        normalise = self.vendor.normalise
        try:
            orders = [normalise(record) for record in page.records]
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise record_error(self.vendor, exc) from None
        self.received += len(orders)
        keys = self._line_keys(orders) if self.vendor.lists_order_lines else None
        fresh = self.seen.keep_new(orders, keys)
        if orders and not fresh:
            raise VendorApiError(
                f"{self.label}: page {self.pages} repeats {len(orders)} orders already received; the API is "
                "serving the same page again, so the listing cannot be completed",
                vendor=self.name,
            )
        if len(fresh) < len(orders):
            log.info("%s: page %d held %d orders seen earlier; kept once", self.name, self.pages,
                     len(orders) - len(fresh))  # fmt: skip
        batch, stop = select(self.plan, fresh, self.emitted, pushed_down=page.pushed_down)
        self.emitted += len(batch)
        now = time.monotonic()
        if now - self.last_report >= PROGRESS_EVERY_SECONDS:
            self.last_report = now
            rate = self.received / max(now - self.started, 1e-9)
            log.info(
                "%s: %d pages, %d orders so far (%.0f orders/s)", self.name, self.pages, self.emitted, rate
            )
        if stop:
            log.debug("%s: stopped after page %d (bound or max_orders reached)", self.name, self.pages)
        return batch, stop

    def finish(self) -> None:
        """Log the end of a listing that ran to its last page; warn when the vendor's total disagrees."""
        if self.total is not None and self.received != self.total:
            log.warning(
                "%s: the API announced %d orders but %d were received over %d pages; the data changed "
                "while paging, or the API miscounts",
                self.name, self.total, self.received, self.pages,
            )  # fmt: skip
        log.info("%s: %s done: %d pages, %d orders", self.name, self.label, self.pages, self.emitted)

    def _line_keys(self, orders: list[Order]) -> list[Hashable]:
        """De-duplication keys of order lines: the line's key, numbered where a page repeats it.

        Two lines alike in every field the vendor gives are both kept when they arrive on one page; a
        line seen again on a later page (the pages shifted under new orders) is dropped.
        """
        line_key = self.vendor.line_key
        keys = [line_key(order) for order in orders]
        if len(set(keys)) == len(keys):
            return keys  # the usual page: no line repeated on it
        counts: dict[Hashable, int] = {}
        numbered: list[Hashable] = []
        for key in keys:
            n = counts[key] = counts.get(key, 0) + 1
            numbered.append(key if n == 1 else (key, "#", n))
        return numbered


def read_record(vendor: Vendor, read: Callable[[], Order]) -> Order:
    """``read()`` (a vendor's normalise or read_order), with a malformed record as a :class:`VendorApiError`
    that names the vendor and the field, never a bare ``KeyError`` from deep in a vendor module."""
    try:
        return read()
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise record_error(vendor, exc) from None


def record_error(vendor: Vendor, exc: Exception) -> VendorApiError:
    """The error for a record a vendor module could not read (``exc``: what its normalise raised)."""
    if isinstance(exc, KeyError):
        problem = f"has no field {exc.args[0]!r}" if exc.args else "lacks a field"
    else:
        problem = f"has a field of an unexpected type or value ({type(exc).__name__}: {str(exc)[:200]})"
    return VendorApiError(
        f"a {vendor.display_name} order record {problem}; the provider cannot read it",
        vendor=vendor.conn_type,
    )


def run_listing(
    engine: Caller,
    plan: ListingPlan,
    *,
    label: str = "listing",
    concurrency: int = 1,
    read_ahead: bool = True,
) -> Flow[None]:
    """Every order of ``plan``, one :class:`Emit` per page, checked by the guards above.

    Speed, without changing what comes back: ``read_ahead`` fetches the next page while this one is
    handed on, and ``concurrency`` > 1 keeps that many pages in flight where the first page tells how many
    there are. Neither applies where a page can end the listing (``ListingPlan.can_stop_early``), so no
    request is made that would not be made anyway.
    """
    listing = Listing(engine, plan, label)
    page = listing.read((yield from engine.call(plan.pager.first_request())))
    if plan.can_stop_early:
        yield from _one_by_one(listing, page)
        return
    if concurrency > 1:
        rest = plan.pager.remaining_page_requests(page)
        if rest is not None:
            yield from _concurrently(listing, page, rest, concurrency)
            return
    yield from (_read_ahead if read_ahead else _one_by_one)(listing, page)


def _one_by_one(listing: Listing, page: Page) -> Flow[None]:
    while True:
        listing.check_cursor(page)
        batch, stop = listing.take(page)
        if batch:
            yield Emit(batch)
        if stop:
            return
        if page.next_request is None:
            listing.finish()
            return
        listing.check_page_cap(listing.pages + 1)
        request = page.next_request
        del page, batch  # this page and its orders go before the next is decoded (see _read_ahead)
        page = listing.read((yield from listing.engine.call(request)))


def _read_ahead(listing: Listing, page: Page) -> Flow[None]:
    """Fetch the next page while this one is normalised and handed on, where that pays.

    It pays where a page keeps the client waiting on the network (a vendor across the internet, a
    server that renders each page): the wait is spent on the page in hand instead. Where the server
    answers faster than a page is normalised, handing each fetch to another thread costs the listing
    more than it hides. So every :data:`PROBE_EVERY` pages one page is fetched in line and measured (its
    wall time less this thread's CPU time is the network wait), and pages are read ahead until the next
    probe only when the work on a page (normalising it, and the caller's own work before asking for the
    next) and the wait of this and of the page measured before it all exceed
    :data:`READ_AHEAD_PAYS_SECONDS` (one slow answer on a fast server does not turn it on). In line,
    every page is measured.
    """
    ahead_mode, since_probe, last_wait = True, 0, float("inf")
    while True:
        listing.check_cursor(page)
        ahead: Forked | None = None
        if page.next_request is not None and ahead_mode and since_probe < PROBE_EVERY:
            listing.check_page_cap(listing.pages + 1)
            ahead = yield from _fork(listing, page.next_request)
            since_probe += 1
        work_started = time.monotonic()
        batch, _ = listing.take(page)  # nothing can end this listing early: the plan was checked
        if batch:
            yield Emit(batch)
        work = time.monotonic() - work_started
        if ahead is not None:
            page = listing.read((yield from _join(ahead)))
            continue
        if page.next_request is None:
            listing.finish()
            return
        listing.check_page_cap(listing.pages + 1)
        # The page in hand and its orders go before the next one is decoded: two pages of records alive
        # at once push the garbage collector's young generation past its threshold on every page.
        request = page.next_request
        del page, batch
        started, cpu_started = time.monotonic(), time.thread_time()
        response = yield from listing.engine.call(request)
        wait = (time.monotonic() - started) - (time.thread_time() - cpu_started)
        ahead_mode, since_probe = min(wait, last_wait, work) > READ_AHEAD_PAYS_SECONDS, 0
        last_wait = wait
        page = listing.read(response)


#: Pages read ahead between two pages fetched in line to measure whether reading ahead pays.
PROBE_EVERY = 16
#: The network wait and the work per page above which reading ahead pays for its hand-off to a thread.
READ_AHEAD_PAYS_SECONDS = 0.0003


def _concurrently(listing: Listing, page: Page, rest: PageRequests, concurrency: int) -> Flow[None]:
    listing.check_page_cap(listing.pages + len(rest), announced=page.total)  # before building any request
    planned = iter(rest)
    in_flight: deque[Forked] = deque()
    while True:
        while len(in_flight) < concurrency and (request := next(planned, None)) is not None:
            in_flight.append((yield from _fork(listing, request)))
        batch, _ = listing.take(page)
        if batch:
            yield Emit(batch)
        if not in_flight:
            listing.finish()
            return
        page = listing.read((yield from _join(in_flight.popleft())))


def _fork(listing: Listing, request: HttpRequest) -> Flow[Forked]:
    handle = yield Fork(listing.engine.call(request))
    assert isinstance(handle, Forked)
    return handle


def _join(handle: Forked) -> Flow[HttpResponse]:
    response = yield Join(handle)
    assert isinstance(response, HttpResponse)
    return response


def select(
    plan: ListingPlan, orders: list[Order], emitted: int, *, pushed_down: bool = True
) -> tuple[list[Order], bool]:
    """The orders of a page to hand on, and whether the listing can stop here.

    ``pushed_down`` false: the API ignored the request's filters and sort, so every filter is checked
    here and no bound ends the listing early (only ``max_orders`` does).
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


def find_order(engine: Caller, plan: ListingPlan, order_id: str) -> Flow[Order | None]:
    """The order ``order_id`` in a listing, or ``None`` (see :func:`find_orders`)."""
    found, _ = yield from find_orders(engine, plan, {order_id}, label=f"lookup of {order_id}")
    return found.get(order_id)


def find_orders(
    engine: Caller,
    plan: ListingPlan,
    order_ids: set[str],
    *,
    max_pages: int | None = None,
    label: str = "lookup",
) -> Flow[tuple[dict[str, Order], bool]]:
    """The orders ``order_ids`` in one listing, and whether the answer is complete.

    Each order is the first record with its id; where records are order lines, every line of it: they
    share the order's creation time, so they are adjacent in a listing sorted by it, and the order ends
    at the first other record after them (or at the end of the listing). The listing stops as soon as
    every order is found and complete. No read-ahead: it usually ends at the first page or two.

    :param max_pages: read at most this many pages; an order then not found may still exist.
    :returns: the orders found by id, and ``True`` when the listing was read to its end or every order
        was found (an order missing then is not in the listing's scope).
    """
    listing = run_listing(engine, plan, label=label, read_ahead=False)
    vendor = engine.vendor
    lines: dict[str, list[Order]] = {}
    missing = set(order_ids)
    open_id: str | None = None  # the order whose lines the listing is in
    pages = 0
    complete = False
    reply: Reply = None
    try:
        while True:
            action = listing.send(reply)
            if not isinstance(action, Emit):
                reply = yield action
                continue
            reply = None
            pages += 1
            for order in action.orders:
                oid = order.id
                if oid in order_ids and (oid not in lines or oid == open_id):
                    lines.setdefault(oid, []).append(order)
                    missing.discard(oid)
                    open_id = oid if vendor.lists_order_lines else None
                elif open_id is not None and oid != open_id:
                    open_id = None
                if not missing and open_id is None:
                    complete = True
                    break
            if complete:
                break
            if max_pages is not None and pages >= max_pages:
                if open_id is not None:  # its lines may go on in the next page: not known complete
                    del lines[open_id]
                break
        listing.close()
    except StopIteration:
        complete = True
    return {oid: vendor.combine_lines(found) for oid, found in lines.items()}, complete
