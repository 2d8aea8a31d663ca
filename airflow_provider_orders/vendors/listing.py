"""What a listing is made of: pages, the pager that reads them, and the plan the engine follows."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from airflow_provider_orders.errors import VendorApiError
from airflow_provider_orders.models import Order
from airflow_provider_orders.vendors.http import HttpRequest, HttpResponse


@dataclass
class Page:
    """One page read from a list response.

    :param records: the vendor records on the page, in the vendor's order.
    :param next_request: the request for the next page, or ``None`` at the end.
    :param total: the total number of records the vendor announced for the listing, if it did.
    :param cursor: the cursor or link that produced ``next_request`` (repeat detection).
    :param pushed_down: whether the API applied the request's filters and sort to this page. ``False``
        when it answered in a shape that ignores them (an older Fleetio API version): the engine then
        applies every filter on the client and never ends the listing early on a sort it cannot trust.
    """

    records: list[dict[str, Any]]
    next_request: HttpRequest | None
    total: int | None = None
    cursor: str | None = None
    pushed_down: bool = True


class Pager(ABC):
    """One pagination style: knows the first request and, from each response, the next one.

    Subclasses must never return a request past the end they can see: no probing for an empty page
    when the vendor already said how many there are.
    """

    vendor: str
    #: Where a page body keeps its records (a bare JSON array is accepted too).
    items_keys: tuple[str, ...] = ()

    @abstractmethod
    def first_request(self) -> HttpRequest: ...

    def records_of(self, response: HttpResponse) -> list[dict[str, Any]]:
        """The records of a page and nothing else: stateless, so safe to call ahead, from any thread."""
        try:
            body = response.json()
        except ValueError:
            raise VendorApiError(
                "page body is not JSON", vendor=self.vendor, status=response.status
            ) from None
        return record_list(body, self.items_keys, self.vendor)

    @abstractmethod
    def read(self, response: HttpResponse) -> Page: ...

    def remaining_page_requests(self, first: Page) -> PageRequests | None:
        """Every request after the first page, where the first page tells how many there are.

        ``None`` where it cannot be known (cursors, short-page styles). Used for concurrent fetching;
        the pages are still read with :meth:`read`, in order. The requests are built one at a time as
        they are sent, so an absurd announced total costs nothing before the page cap refuses it.
        """
        return None


@dataclass(frozen=True)
class PageRequests:
    """The requests for the remaining pages of a listing: how many, and each built only when asked for.

    :param count: how many pages remain.
    :param build: the request for the ``i``-th remaining page (from 0).
    """

    count: int
    build: Callable[[int], HttpRequest]

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[HttpRequest]:
        return (self.build(i) for i in range(self.count))


@dataclass
class ListingPlan:
    """How to list orders for one set of filters.

    :param pager: produces the requests and reads the pages.
    :param client_filter: the part of the filters the API cannot apply; ``None`` when all were pushed.
    :param sort: the order of ``created_at`` in the responses, which lets the engine stop paging early
        when a client-side date filter can no longer match.
    :param since: inclusive lower bound on ``created_at`` (for the early stop).
    :param until: exclusive upper bound on ``created_at`` (for the early stop).
    :param max_orders: stop after this many orders.
    :param full_filter: every filter as a client-side check, for pages the API answered without
        applying the pushed-down ones (``Page.pushed_down`` false); ``None`` when the API always applies
        them.
    """

    pager: Pager
    client_filter: Callable[[Order], bool] | None = None
    sort: Literal["asc", "desc"] | None = None
    since: datetime | None = None
    until: datetime | None = None
    max_orders: int | None = None
    full_filter: Callable[[Order], bool] | None = None

    @property
    def can_stop_early(self) -> bool:
        """Whether a page's orders can end the listing (a bound on a sorted listing, or ``max_orders``)."""
        return self.max_orders is not None or (
            self.sort is not None and (self.since is not None or self.until is not None)
        )


@dataclass
class OrderLookup:
    """How to fetch one order: one request, or a listing in which to find it.

    :param request: the single-order request, where the vendor has one.
    :param listing: a listing that should contain the order (for example a search for its id).
    :param fallback: a wider listing to scan when ``listing`` did not contain it.
    """

    request: HttpRequest | None = None
    listing: ListingPlan | None = None
    fallback: ListingPlan | None = None


def record_list(body: Any, keys: Iterable[str], vendor: str) -> list[dict[str, Any]]:
    """The list of records in a page body: a bare array or the first of ``keys`` that holds one."""
    if isinstance(body, list):
        items = body
    elif isinstance(body, dict):
        for key in keys:
            if isinstance(body.get(key), list):
                items = body[key]
                break
        else:
            raise VendorApiError(
                f"page body has none of the list fields {list(keys)}; got keys {sorted(body)[:10]}",
                vendor=vendor,
            )
    else:
        raise VendorApiError(f"page body is a {type(body).__name__}, not a list or object", vendor=vendor)
    if not all(isinstance(item, dict) for item in items):
        raise VendorApiError("page holds a record that is not an object", vendor=vendor)
    return items
