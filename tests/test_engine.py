"""The engine's rules (retries, auth, paging guards), driven by scripted replies: no network."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_orders.engine.core import OrdersEngine
from airflow_provider_orders.engine.policy import RetryPolicy
from airflow_provider_orders.engine.protocol import (
    Emit,
    Flow,
    Fork,
    Forked,
    Join,
    PreparedRequest,
    Reserve,
    Send,
    Sleep,
    TransportFailure,
)
from airflow_provider_orders.errors import (
    AuthenticationError,
    OrderNotFoundError,
    RateLimitError,
    VendorApiError,
)
from airflow_provider_orders.vendors.adobe_vip import AdobeVipMarketplace
from airflow_provider_orders.vendors.base import Vendor
from airflow_provider_orders.vendors.crayon import Crayon
from airflow_provider_orders.vendors.emnify import Emnify
from airflow_provider_orders.vendors.fleetio import Fleetio
from airflow_provider_orders.vendors.http import HttpResponse

Reply = HttpResponse | TransportFailure


def ok(body: Any, headers: dict[str, str] | None = None, status: int = 200) -> HttpResponse:
    return HttpResponse(status, headers or {}, json.dumps(body).encode())


class Script:
    """Answers each Send with the next scripted reply (or a function of the request)."""

    def __init__(self, *replies: Reply | Callable[[PreparedRequest], Reply]) -> None:
        self.replies = list(replies)
        self.sent: list[PreparedRequest] = []
        self.sleeps: list[float] = []

    def run(self, flow: Flow[Any]) -> tuple[Any, list[Any]]:
        """Drive ``flow``; a forked call is carried out at once, in full, and joined later."""
        emitted: list[Any] = []
        forked: dict[Forked, tuple[Any, BaseException | None]] = {}
        reply: Any = None
        error: BaseException | None = None
        try:
            while True:
                action = flow.throw(error) if error is not None else flow.send(reply)
                reply, error = None, None
                if isinstance(action, Send):
                    self.sent.append(action.request)
                    nxt = self.replies.pop(0)
                    reply = nxt(action.request) if callable(nxt) else nxt
                elif isinstance(action, Sleep):
                    self.sleeps.append(action.seconds)
                elif isinstance(action, Reserve):
                    reply = action.budget.reserve()
                elif isinstance(action, Emit):
                    emitted.extend(action.orders)
                elif isinstance(action, Fork):
                    reply = Forked(len(forked))
                    try:
                        forked[reply] = (self.run(action.flow)[0], None)
                    except Exception as exc:
                        forked[reply] = (None, exc)
                elif isinstance(action, Join):
                    reply, error = forked.pop(action.handle)
        except StopIteration as stop:
            return stop.value, emitted


def engine(vendor: type[Vendor], **values: Any) -> OrdersEngine:
    base = {
        "crayon": {"login": "u", "password": "p", "client_id": "cid", "client_secret": "cs"},
        "adobe_vip_marketplace": {"login": "cid", "password": "cs"},
        "emnify": {"password": "apptoken"},
        "fleetio": {"password": "key", "account_token": "acct"},
    }[vendor.conn_type]
    settings = vendor.parse_settings("t", {"host": "https://api.example", **base, **values})
    return OrdersEngine(
        vendor(settings), retry_policy=RetryPolicy(settings.max_retries, base=0.1, rng=lambda: 1.0)
    )


def fleetio_page(numbers: list[int], cursor: str | None) -> HttpResponse:
    records = [{"number": n, "state": "draft", "created_at": "2025-01-01T00:00:00Z"} for n in numbers]
    return ok({"records": records, "next_cursor": cursor})


def test_5xx_is_retried_with_backoff_then_succeeds() -> None:
    script = Script(
        ok({"error": "down"}, status=503), ok({"error": "down"}, status=502), fleetio_page([1], None)
    )
    _, orders = script.run(engine(Fleetio).list_orders(Fleetio.parse_filters({})))
    assert [o.id for o in orders] == ["1"]
    assert script.sleeps == [0.1, 0.2]


@pytest.mark.parametrize("status", [400, 403, 404])
def test_client_errors_are_never_retried(status: int) -> None:
    script = Script(ok({"status": status, "title": "x", "detail": "nope"}, status=status))
    with pytest.raises((VendorApiError, AuthenticationError)) as info:
        script.run(engine(Fleetio).list_orders(Fleetio.parse_filters({})))
    assert info.value.status == status
    assert len(script.sent) == 1


def test_429_honours_retry_after_and_gives_up_with_rate_limit_error() -> None:
    limited = ok({"error": "slow down"}, headers={"Retry-After": "3"}, status=429)
    script = Script(limited, limited, limited)
    with pytest.raises(RateLimitError) as info:
        script.run(engine(Fleetio, max_retries=2).list_orders(Fleetio.parse_filters({})))
    assert script.sleeps == [3.0, 3.0]
    assert info.value.status == 429
    assert "slow down" in str(info.value)


def test_connection_errors_and_timeouts_are_retried_up_to_max_retries() -> None:
    script = Script(TransportFailure("connect", "refused"), TransportFailure("timeout", "read"),
                    TransportFailure("timeout", "read"))  # fmt: skip
    with pytest.raises(VendorApiError, match=r"timeout error .* after 3 attempts"):
        script.run(engine(Fleetio, max_retries=2).list_orders(Fleetio.parse_filters({})))
    assert len(script.sent) == 3


def test_a_200_that_is_not_json_is_retried() -> None:
    script = Script(HttpResponse(200, {}, b"<html>proxy</html>"), fleetio_page([1, 2], None))
    _, orders = script.run(engine(Fleetio).list_orders(Fleetio.parse_filters({})))
    assert [o.id for o in orders] == ["1", "2"]


def test_token_is_fetched_once_and_reused() -> None:
    token = ok({"AccessToken": "T1", "ExpiresIn": 3600})
    page = ok({"Items": [{"OrderReferenceId": 1, "Created": "2025-01-01T00:00:00", "OrderState": "Succeeded"}],
               "TotalHits": 2})  # fmt: skip
    page2 = ok({"Items": [{"OrderReferenceId": 2, "Created": "2025-01-01T00:00:00", "OrderState": "Succeeded"}],
                "TotalHits": 2})  # fmt: skip
    script = Script(token, page, page2)
    _, orders = script.run(
        engine(Crayon).list_orders(Crayon.parse_filters({"customer_tenant_id": 1, "page_size": 1}))
    )
    assert [o.id for o in orders] == ["1", "2"]
    assert [r.url.rsplit("/", 3)[-3] for r in script.sent] == [
        "connect",
        "purchaserequest",
        "purchaserequest",
    ]
    assert script.sent[1].headers["Authorization"] == "Bearer T1"


def test_401_fetches_a_new_token_once_and_retries() -> None:
    page = ok({"Items": [{"OrderReferenceId": 1, "Created": "2025-01-01T00:00:00", "OrderState": "Failed"}],
               "TotalHits": 1})  # fmt: skip
    script = Script(ok({"AccessToken": "T1"}), ok({}, status=401), ok({"AccessToken": "T2"}), page)
    _, orders = script.run(engine(Crayon).list_orders(Crayon.parse_filters({"customer_tenant_id": 1})))
    assert [o.id for o in orders] == ["1"]
    assert script.sent[3].headers["Authorization"] == "Bearer T2"


def test_a_second_401_after_refresh_is_an_authentication_error() -> None:
    script = Script(
        ok({"AccessToken": "T1"}), ok({}, status=401), ok({"AccessToken": "T2"}), ok({}, status=401)
    )
    with pytest.raises(AuthenticationError) as info:
        script.run(engine(Crayon).list_orders(Crayon.parse_filters({"customer_tenant_id": 1})))
    assert info.value.status == 401


@pytest.mark.parametrize(
    ("status", "body"), [(401, {"error": "invalid_client"}), (400, {"error": "invalid_grant"})]
)
def test_refused_credentials_at_the_token_endpoint_raise_at_once(status: int, body: dict[str, str]) -> None:
    script = Script(ok(body, status=status))
    with pytest.raises(AuthenticationError, match="refused the credentials") as info:
        script.run(engine(AdobeVipMarketplace, password="s3cr3t-value").list_orders(
            AdobeVipMarketplace.parse_filters({"customer_id": "C"})))  # fmt: skip
    assert len(script.sent) == 1
    assert "s3cr3t-value" not in str(info.value) and "s3cr3t-value" not in repr(info.value)


def test_token_endpoint_5xx_is_retried_like_any_call() -> None:
    page = ok({"totalCount": 0, "items": [], "links": {}})
    script = Script(ok({}, status=500), ok({"access_token": "A", "expires_in": 86399}), page)
    script.run(
        engine(AdobeVipMarketplace).list_orders(AdobeVipMarketplace.parse_filters({"customer_id": "C"}))
    )
    assert len(script.sent) == 3


@pytest.mark.parametrize("answer", [ok({}, status=503), ok({"code": "4118"}, status=429)], ids=["5xx", "429"])
def test_adobe_retry_after_an_answer_gets_a_new_correlation_id(answer: HttpResponse) -> None:
    # Adobe: "Upon receiving some response, the value should be reset for the next call."
    page = ok({"totalCount": 0, "items": [], "links": {}})
    script = Script(ok({"access_token": "A"}), answer, page)
    script.run(
        engine(AdobeVipMarketplace).list_orders(AdobeVipMarketplace.parse_filters({"customer_id": "C"}))
    )
    first, retry = script.sent[1], script.sent[2]
    assert first.headers["X-Correlation-Id"] != retry.headers["X-Correlation-Id"]
    assert first.headers["X-Request-Id"] != retry.headers["X-Request-Id"]
    assert retry.headers["X-Api-Key"] == "cid"


@pytest.mark.parametrize("kind", ["timeout", "connect"])
def test_adobe_retry_after_no_answer_keeps_the_correlation_id(kind: str) -> None:
    # Adobe: "In the case of a timeout, the retry call could include the same value."
    page = ok({"totalCount": 0, "items": [], "links": {}})
    script = Script(ok({"access_token": "A"}), TransportFailure(kind, "no answer"), page)
    script.run(
        engine(AdobeVipMarketplace).list_orders(AdobeVipMarketplace.parse_filters({"customer_id": "C"}))
    )
    first, retry = script.sent[1], script.sent[2]
    assert first.headers["X-Correlation-Id"] == retry.headers["X-Correlation-Id"]
    assert first.headers["X-Request-Id"] != retry.headers["X-Request-Id"]


def test_adobe_next_call_after_a_success_gets_a_new_correlation_id() -> None:
    item = {"orderId": "1", "status": "1000", "creationDate": "2025-01-01T00:00:00Z"}
    first_page = ok({"totalCount": 2, "items": [item], "links": {"next": {"uri": "/v3/customers/C/orders?offset=1&limit=1"}}})  # fmt: skip
    last_page = ok({"totalCount": 2, "items": [{**item, "orderId": "2"}], "links": {}})
    script = Script(ok({"access_token": "A"}), first_page, last_page)
    script.run(
        engine(AdobeVipMarketplace).list_orders(AdobeVipMarketplace.parse_filters({"customer_id": "C"}))
    )
    assert script.sent[1].headers["X-Correlation-Id"] != script.sent[2].headers["X-Correlation-Id"]


def test_a_next_link_to_another_origin_is_refused_before_sending_the_token() -> None:
    page = ok({"totalCount": 2, "items": [{"orderId": "1", "status": "1000", "creationDate": "2025-01-01T00:00:00Z"}],
               "links": {"next": {"uri": "https://evil.example/v3/customers/C/orders?offset=1"}}})  # fmt: skip
    script = Script(ok({"access_token": "A"}), page)
    with pytest.raises(VendorApiError, match=r"refusing to send credentials to https://evil\.example"):
        script.run(
            engine(AdobeVipMarketplace).list_orders(AdobeVipMarketplace.parse_filters({"customer_id": "C"}))
        )
    assert all("evil" not in r.url for r in script.sent)


def test_a_repeated_cursor_raises_instead_of_looping() -> None:
    script = Script(fleetio_page([1], "c1"), fleetio_page([2], "c1"))
    with pytest.raises(VendorApiError, match="cursor already followed"):
        script.run(engine(Fleetio).list_orders(Fleetio.parse_filters({})))


def test_a_repeated_page_raises_instead_of_returning_a_partial_listing() -> None:
    script = Script(fleetio_page([1, 2], "c1"), fleetio_page([1, 2], "c2"))
    with pytest.raises(VendorApiError, match="repeats 2 orders already received"):
        script.run(engine(Fleetio).list_orders(Fleetio.parse_filters({})))


def test_overlapping_pages_are_deduplicated_by_id() -> None:
    script = Script(fleetio_page([1, 2], "c1"), fleetio_page([2, 3], None))
    _, orders = script.run(engine(Fleetio).list_orders(Fleetio.parse_filters({})))
    assert [o.id for o in orders] == ["1", "2", "3"]


def test_the_page_cap_stops_a_runaway_listing() -> None:
    script = Script(fleetio_page([1], "c1"), fleetio_page([2], "c2"), fleetio_page([3], "c3"))
    with pytest.raises(VendorApiError, match="page cap of 2 pages"):
        script.run(engine(Fleetio, max_pages=2).list_orders(Fleetio.parse_filters({})))


def test_a_count_short_of_the_announced_total_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    rec = {"id": 1, "status": {"id": 3, "description": "DELIVERED"}, "submit_date": "2025-01-01T00:00:00Z"}
    page = HttpResponse(200, {"X-page": "1", "X-pages": "1", "X-count": "5"}, json.dumps([rec]).encode())
    script = Script(ok({"auth_token": "x"}), page)
    with caplog.at_level(logging.WARNING):
        _, orders = script.run(engine(Emnify).list_orders(Emnify.parse_filters({})))
    assert len(orders) == 1
    assert "announced 5 orders but 1 were received" in caplog.text


def test_max_orders_stops_without_requesting_further_pages() -> None:
    script = Script(fleetio_page([1, 2, 3], "c1"), fleetio_page([4, 5, 6], "c2"))
    _, orders = script.run(engine(Fleetio).list_orders(Fleetio.parse_filters({"max_orders": 2})))
    assert [o.id for o in orders] == ["1", "2"]
    assert len(script.sent) == 1


def test_newest_first_listing_stops_at_the_first_order_before_created_since() -> None:
    def page(ids_dates: list[tuple[int, str]], total: int) -> HttpResponse:
        return ok({"Items": [{"OrderReferenceId": i, "Created": d, "OrderState": "Succeeded"} for i, d in ids_dates],
                   "TotalHits": total})  # fmt: skip

    script = Script(ok({"AccessToken": "T"}), page([(5, "2025-01-05T00:00:00"), (4, "2025-01-04T00:00:00")], 6),
                    page([(3, "2025-01-03T00:00:00"), (2, "2025-01-02T00:00:00")], 6))  # fmt: skip
    filters = Crayon.parse_filters({"customer_tenant_id": 1, "page_size": 2, "created_since": "2025-01-03T00:00:00Z",
                                    "created_until": "2025-01-05T00:00:00Z"})  # fmt: skip
    _, orders = script.run(engine(Crayon).list_orders(filters))
    assert [o.id for o in orders] == ["4", "3"]
    assert len(script.sent) == 3  # the third page is never asked for


def test_get_order_maps_404_to_order_not_found() -> None:
    script = Script(
        ok({"access_token": "A"}), ok({"code": "2115", "message": "Invalid Order ID"}, status=404)
    )
    with pytest.raises(OrderNotFoundError) as info:
        script.run(engine(AdobeVipMarketplace).get_order("42", {"customer_id": "C"}))
    assert (info.value.vendor, info.value.status, info.value.code) == ("adobe_vip_marketplace", 404, "2115")


def test_crayon_get_order_falls_back_to_a_scan_when_search_misses() -> None:
    empty = ok({"Items": [], "TotalHits": 0})
    found = ok({"Items": [{"OrderReferenceId": 9, "Created": "2025-01-01T00:00:00", "OrderState": "Processing"}],
                "TotalHits": 1})  # fmt: skip
    script = Script(ok({"AccessToken": "T"}), empty, found)
    order, _ = script.run(engine(Crayon).get_order("9", {"customer_tenant_id": 1}))
    assert order.id == "9"
    assert dict(script.sent[1].params)["search"] == "9"
    assert "search" not in dict(script.sent[2].params)


def test_get_order_with_a_wrong_scope_key_fails_before_any_request() -> None:
    script = Script()
    with pytest.raises(Exception, match=r"unknown scope key\(s\) \['tenant'\]"):
        script.run(engine(Crayon).get_order("9", {"tenant": 1}))
    assert script.sent == []


def crayon_page(ids: list[int], total: int) -> HttpResponse:
    return ok({"Items": [{"OrderReferenceId": i, "Created": "2025-01-01T00:00:00", "OrderState": "Succeeded"}
                         for i in ids], "TotalHits": total})  # fmt: skip


def test_concurrent_pages_are_planned_from_the_total_and_handed_on_in_order() -> None:
    script = Script(ok({"AccessToken": "T"}), crayon_page([1, 2], 7), crayon_page([3, 4], 7),
                    crayon_page([5, 6], 7), crayon_page([7], 7))  # fmt: skip
    filters = Crayon.parse_filters({"customer_tenant_id": 1, "page_size": 2, "concurrency": 3})
    _, orders = script.run(engine(Crayon).list_orders(filters))
    assert [o.id for o in orders] == ["1", "2", "3", "4", "5", "6", "7"]
    assert [dict(r.params)["page"] for r in script.sent[1:]] == ["1", "2", "3", "4"]  # none past the end


def test_adobe_concurrent_pages_are_planned_as_offsets() -> None:
    def page(ids: list[str], total: int) -> HttpResponse:
        return ok({"totalCount": total, "items": [{"orderId": i, "status": "1000",
                   "creationDate": "2025-01-01T00:00:00Z"} for i in ids],
                   "links": {"next": {"uri": "/v3/customers/C/orders?offset=2&limit=2"}}})  # fmt: skip

    script = Script(ok({"access_token": "A"}), page(["a", "b"], 5), page(["c", "d"], 5), page(["e"], 5))
    filters = AdobeVipMarketplace.parse_filters({"customer_id": "C", "page_size": 2, "concurrency": 8})
    _, orders = script.run(engine(AdobeVipMarketplace).list_orders(filters))
    assert [o.id for o in orders] == ["a", "b", "c", "d", "e"]
    assert [dict(r.params)["offset"] for r in script.sent[1:]] == ["0", "2", "4"]


def test_the_next_page_is_read_ahead_only_when_nothing_can_end_the_listing_early() -> None:
    script = Script(fleetio_page([1, 2], "c1"), fleetio_page([3], None))
    listing = engine(Fleetio).list_orders(Fleetio.parse_filters({}))
    first = listing.send(None)
    assert isinstance(first, Send)
    second = listing.send(script.replies.pop(0))
    assert isinstance(second, Fork)  # page 2 is asked for before page 1 is handed on
    capped = engine(Fleetio).list_orders(Fleetio.parse_filters({"max_orders": 1}))
    capped.send(None)
    assert isinstance(capped.send(fleetio_page([1, 2], "c1")), Emit)  # no fetch that max_orders makes moot


def test_a_failure_in_a_forked_page_fetch_raises_in_the_listing() -> None:
    script = Script(fleetio_page([1], "c1"), ok({"detail": "bad"}, status=400))
    with pytest.raises(VendorApiError) as info:
        script.run(engine(Fleetio).list_orders(Fleetio.parse_filters({})))
    assert info.value.status == 400
