"""The five pagination styles, as small pure objects.

Each answers two questions, after the shape of Singer SDK and dlt paginators: what is the first request,
and, given a response, which records did it hold and what is the next request (``None`` at the end).
Guards that apply to every style (repeated pages, page cap, de-duplication, totals) live in the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

from airflow_provider_orders.errors import VendorApiError
from airflow_provider_orders.vendors.http import HttpRequest, HttpResponse
from airflow_provider_orders.vendors.listing import Page, Pager, PageRequests


def _json(response: HttpResponse, vendor: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise VendorApiError("page body is not JSON", vendor=vendor, status=response.status) from None


def _int(value: Any, what: str, vendor: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise VendorApiError(f"{what} is not a number: {value!r}", vendor=vendor) from None


class NumberedPager(Pager):
    """Page numbers from 1: ``request_for_page(n)`` builds page ``n``; subclasses decide where it ends."""

    def __init__(self, vendor: str, request_for_page: Callable[[int], HttpRequest], page_size: int) -> None:
        self.vendor = vendor
        self.request_for_page = request_for_page
        self.page_size = page_size
        self.page = 1

    def first_request(self) -> HttpRequest:
        self.page = 1
        return self.request_for_page(1)

    def _advance(self, records: list[dict[str, Any]], done: bool, total: int | None) -> Page:
        current = self.page
        self.page += 1
        return Page(records, None if done else self.request_for_page(self.page), total, cursor=str(current))


class PageNumberPager(NumberedPager):
    """Page numbers from 1, with the total announced in the body (Crayon ``TotalHits``).

    Stops when ``page * page_size`` reaches the total, or at an empty page.
    """

    def __init__(
        self,
        vendor: str,
        request_for_page: Callable[[int], HttpRequest],
        page_size: int,
        *,
        items_key: str,
        total_key: str,
    ) -> None:
        super().__init__(vendor, request_for_page, page_size)
        self.items_keys = (items_key,)
        self.total_key = total_key

    def read(self, response: HttpResponse) -> Page:
        body = _json(response, self.vendor)
        records = self.records_of(response)
        total = _int(body.get(self.total_key), self.total_key, self.vendor)
        done = not records or (total is not None and self.page * self.page_size >= total)
        if total is None and len(records) < self.page_size:
            done = True
        return self._advance(records, done, total)

    def remaining_page_requests(self, first: Page) -> PageRequests | None:
        if first.next_request is None:
            return PageRequests(0, self.request_for_page)
        if first.total is None:
            return None
        last = -(-first.total // self.page_size)
        return PageRequests(max(0, last - 1), lambda i: self.request_for_page(i + 2))


class ShortPagePager(NumberedPager):
    """Page numbers from 1 with no total: a page shorter than ``page_size`` (or empty) is the last.

    Accepts a bare JSON array or an object whose list is under one of ``items_keys`` (Granite's envelope
    is not published).
    """

    def __init__(
        self,
        vendor: str,
        request_for_page: Callable[[int], HttpRequest],
        page_size: int,
        *,
        items_keys: tuple[str, ...] = ("data", "orders", "items", "results"),
    ) -> None:
        super().__init__(vendor, request_for_page, page_size)
        self.items_keys = items_keys

    def read(self, response: HttpResponse) -> Page:
        body = _json(response, self.vendor)
        records = self.records_of(response)
        total = None
        if isinstance(body, dict):
            for key in ("total", "total_count", "totalCount", "count_total"):
                if key in body:
                    total = _int(body[key], key, self.vendor)
                    break
        return self._advance(records, len(records) < self.page_size, total)


class OffsetLinkPager(Pager):
    """Offset pages that announce the next page as a link (Adobe ``links.next.uri``).

    The link is resolved against ``base_url`` the way a browser would (``/v3/...`` is origin-relative);
    the engine refuses to send a token to any origin other than the connection's.
    """

    def __init__(
        self,
        vendor: str,
        first: HttpRequest,
        base_url: str,
        *,
        items_key: str = "items",
        total_key: str = "totalCount",
    ) -> None:
        self.vendor = vendor
        self.first = first
        self.base_url = base_url
        self.items_keys = (items_key,)
        self.total_key = total_key

    def first_request(self) -> HttpRequest:
        return self.first

    def read(self, response: HttpResponse) -> Page:
        body = _json(response, self.vendor)
        records = self.records_of(response)
        total = _int(body.get(self.total_key), self.total_key, self.vendor)
        links = body.get("links") or {}
        nxt = links.get("next") if isinstance(links, dict) else None
        uri = nxt.get("uri") if isinstance(nxt, dict) else None
        if not uri or not records:
            return Page(records, None, total)
        request = HttpRequest("GET", urljoin(self.base_url + "/", str(uri)), headers=self.first.headers)
        return Page(records, request, total, cursor=str(uri))

    def remaining_page_requests(self, first: Page) -> PageRequests | None:
        if first.next_request is None:
            return PageRequests(0, lambda i: self.first)
        params = dict(self.first.params)
        if first.total is None or "limit" not in params:
            return None
        limit = int(params["limit"])
        start = int(params.get("offset", 0))
        kept = tuple((k, v) for k, v in self.first.params if k not in ("offset", "limit"))
        offsets = range(start + limit, first.total, limit)

        def request(i: int) -> HttpRequest:
            params = (*kept, ("limit", str(limit)), ("offset", str(offsets[i])))
            return HttpRequest("GET", self.first.url, params=params, headers=self.first.headers)

        return PageRequests(len(offsets), request)


class HeaderPager(NumberedPager):
    """Page numbers driven by response headers (emnify).

    emnify answers a page past the end with the last page again, so the end is decided from the
    headers only: ``X-page``/``X-pages`` (or ``X-Current-Page``/``X-Total-Pages``), with
    ``X-count``/``X-Total-Count`` as the total. Never by an empty page, never by the ``per_page`` asked.
    """

    PAGE = ("x-page", "x-current-page")
    PAGES = ("x-pages", "x-total-pages")
    COUNT = ("x-count", "x-total-count")

    def __init__(self, vendor: str, request_for_page: Callable[[int], HttpRequest]) -> None:
        # The page size asked for plays no part: the headers decide.
        super().__init__(vendor, request_for_page, page_size=0)
        self.items_keys = ("data", "items")
        self.pages = 0

    def read(self, response: HttpResponse) -> Page:
        records = self.records_of(response)
        page = _int(response.header(*self.PAGE), "X-page", self.vendor) or self.page
        pages = _int(response.header(*self.PAGES), "X-pages", self.vendor)
        total = _int(response.header(*self.COUNT), "X-count", self.vendor)
        if pages is None:
            raise VendorApiError(
                "list response has no X-pages/X-Total-Pages header; cannot tell where the listing ends "
                "(the API repeats its last page past the end)",
                vendor=self.vendor,
            )
        if page != self.page:
            raise VendorApiError(
                f"asked for page {self.page} but the API answered page {page}", vendor=self.vendor
            )
        self.pages = pages
        return self._advance(records, page >= pages or not records, total)

    def remaining_page_requests(self, first: Page) -> PageRequests | None:
        if first.next_request is None:
            return PageRequests(0, self.request_for_page)
        return PageRequests(max(0, self.pages - 1), lambda i: self.request_for_page(i + 2))


class CursorPager(Pager):
    """Keyset cursors (Fleetio): ``next_cursor`` in the body, ``None`` at the end."""

    def __init__(
        self,
        vendor: str,
        request_for_cursor: Callable[[str | None], HttpRequest],
        *,
        items_key: str = "records",
        cursor_key: str = "next_cursor",
    ) -> None:
        self.vendor = vendor
        self.request_for_cursor = request_for_cursor
        self.items_keys = (items_key,)
        self.cursor_key = cursor_key

    def first_request(self) -> HttpRequest:
        return self.request_for_cursor(None)

    def read(self, response: HttpResponse) -> Page:
        body = _json(response, self.vendor)
        records = self.records_of(response)
        cursor = body.get(self.cursor_key) if isinstance(body, dict) else None
        if not cursor:
            return Page(records, None, None)
        return Page(records, self.request_for_cursor(str(cursor)), None, cursor=str(cursor))


class CursorOrNumberedPager(CursorPager):
    """Keyset cursors where the API answers an object, page numbers where it answers a bare array.

    Fleetio answers ``GET /api/v1/purchase_orders`` in the shape of the API version the request names:
    from 2024-03-15 an object ``{records, next_cursor, ...}`` with the filters and sort applied; before
    it, a bare array of up to 100 records, paged by ``page`` with ``X-Pagination-Current-Page``,
    ``X-Pagination-Total-Pages`` and ``X-Pagination-Total-Count`` headers, filters and sort ignored.
    Each answer's shape decides how to go on, so a version mismatch never ends a listing after one page:
    numbered pages are read to the last page the headers announce (or to an empty page where they are
    missing) and marked ``pushed_down=False``, so that the engine applies every filter itself.

    :param request_for_cursor: the keyset request (``None``: the first page).
    :param request_for_page: the numbered request for page ``n``.
    :param numbered_first: start with ``request_for_page(1)`` (the configured version is the old one).
    """

    CURRENT = ("x-pagination-current-page",)
    PAGES = ("x-pagination-total-pages",)
    COUNT = ("x-pagination-total-count",)

    def __init__(
        self,
        vendor: str,
        request_for_cursor: Callable[[str | None], HttpRequest],
        request_for_page: Callable[[int], HttpRequest],
        *,
        numbered_first: bool = False,
        items_key: str = "records",
        cursor_key: str = "next_cursor",
    ) -> None:
        super().__init__(vendor, request_for_cursor, items_key=items_key, cursor_key=cursor_key)
        self.request_for_page = request_for_page
        self.numbered_first = numbered_first
        self.page = 1
        self.pages: int | None = None

    def first_request(self) -> HttpRequest:
        self.page = 1
        return self.request_for_page(1) if self.numbered_first else super().first_request()

    def read(self, response: HttpResponse) -> Page:
        if isinstance(_json(response, self.vendor), list):
            return self._numbered(response, self.records_of(response))
        return super().read(response)

    def _numbered(self, response: HttpResponse, records: list[dict[str, Any]]) -> Page:
        current = _int(response.header(*self.CURRENT), "X-Pagination-Current-Page", self.vendor) or self.page
        pages = _int(response.header(*self.PAGES), "X-Pagination-Total-Pages", self.vendor)
        total = _int(response.header(*self.COUNT), "X-Pagination-Total-Count", self.vendor)
        if current != self.page:
            raise VendorApiError(
                f"asked for page {self.page} but the API answered page {current}", vendor=self.vendor
            )
        self.pages = pages
        done = not records or (pages is not None and current >= pages)
        self.page = current + 1
        nxt = None if done else self.request_for_page(self.page)
        return Page(records, nxt, total, cursor=f"page {current}", pushed_down=False)

    def remaining_page_requests(self, first: Page) -> PageRequests | None:
        if first.next_request is None:
            return PageRequests(0, self.request_for_page)
        if first.pushed_down or self.pages is None:
            return None  # cursors: each page names the next
        pages = self.pages
        return PageRequests(max(0, pages - 1), lambda i: self.request_for_page(i + 2))
