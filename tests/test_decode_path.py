"""Where the fast read path (urllib3 + msgspec in the sync driver, msgspec after httpx in the async one)
could read a page differently from the standard library: each case on loopback, both drivers.

Every listing must give exactly the records of the body as ``json.loads`` reads them (``Order.raw``
equal, in order), or fail with a clear error naming the vendor and, for a record, the field.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_orders.errors import VendorApiError, VendorUnavailableError
from airflow_provider_orders.hooks.resolve import get_orders_hook
from airflow_provider_orders.models import Order
from tests.hostile import Answer, HostileServer, Seen
from tests.test_hostile import connection, record, token

pytestmark = pytest.mark.integration

MODES = ("sync", "async")


def listing(vendor: str, mode: str, **filters: Any) -> list[Order]:
    hook = get_orders_hook(f"{vendor}_default")
    if mode == "sync":
        return hook.list_orders(**filters)

    async def collect() -> list[Order]:
        return [order async for order in hook.aiter_orders(**filters)]

    return asyncio.run(collect())


def fleetio_records(n: int, **changes: Any) -> list[dict[str, Any]]:
    base = record("fleetio")
    return [{**base, "id": 1000 + i, "number": f"PO-{i:06d}", **changes} for i in range(n)]


def fleetio_page(records: list[dict[str, Any]]) -> bytes:
    return json.dumps({"records": records, "next_cursor": None, "per_page": len(records)}).encode()


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``serve(answer)``: a loopback server answering every Fleetio request with ``answer``."""
    servers: list[HostileServer] = []

    def start(answer: Answer, **extra: Any) -> HostileServer:
        server = HostileServer(lambda seen: answer).__enter__()
        servers.append(server)
        monkeypatch.setenv(
            "AIRFLOW_CONN_FLEETIO_DEFAULT", connection("fleetio", server.url, max_retries=0, **extra)
        )
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def assert_same_records(orders: list[Order], body: bytes) -> None:
    expected = json.loads(body)["records"]
    assert [order.raw for order in orders] == expected
    assert [order.id for order in orders] == [r["number"] for r in expected]


@pytest.mark.parametrize("mode", MODES)
def test_a_200_that_is_not_json_is_a_clear_error(serve: Any, mode: str) -> None:
    serve(Answer(200, b"<html><body>Service maintenance</body></html>", {"Content-Type": "text/html"}))
    with pytest.raises(
        VendorUnavailableError, match=r"GET /api/v1/purchase_orders answered a body that is not JSON"
    ):
        listing("fleetio", mode)


@pytest.mark.parametrize("mode", MODES)
def test_json_under_a_wrong_content_type_is_read_as_json(serve: Any, mode: str) -> None:
    body = fleetio_page(fleetio_records(3))
    serve(Answer(200, body, {"Content-Type": "text/plain; charset=iso-8859-1"}))
    assert_same_records(listing("fleetio", mode), body)


@pytest.mark.parametrize("mode", MODES)
def test_a_gzip_body_sent_in_chunks_is_read_whole(serve: Any, mode: str) -> None:
    body = fleetio_page(fleetio_records(500))
    packed = gzip.compress(body)
    pieces = [packed[i : i + 997] for i in range(0, len(packed), 997)]
    chunked = [(0.0, b"%x\r\n%s\r\n" % (len(p), p)) for p in pieces] + [(0.0, b"0\r\n\r\n")]
    server = serve(Answer(200, chunked, {"Content-Type": "application/json", "Content-Encoding": "gzip",
                                          "Transfer-Encoding": "chunked"}))  # fmt: skip
    assert_same_records(listing("fleetio", mode), body)
    assert "gzip" in server.seen[0].headers["accept-encoding"]


@pytest.mark.parametrize("mode", MODES)
def test_a_very_large_page_is_read_whole(serve: Any, mode: str) -> None:
    body = fleetio_page(fleetio_records(25_000))
    assert len(body) > 10_000_000
    serve(Answer(200, body, {"Content-Type": "application/json"}))
    orders = listing("fleetio", mode)
    assert len(orders) == 25_000
    assert_same_records(orders, body)


NON_ASCII = [
    {"description": "Zürich ✓ 東京 — naïve café", "vendor": {"name": "Société Générale"}},
    {"description": "escaped \u00e9\u6771 and an emoji \U0001f69a", "notes": 'tab\there, quote " and \\'},
    {"description": "a lone surrogate \ud800 the standard library reads"},  # msgspec refuses it
    {"total_amount": 1e308, "ratio": 0.1, "big": 123456789012345678901234567890, "neg_zero": -0.0},
]


@pytest.mark.parametrize("mode", MODES)
def test_non_ascii_escapes_and_odd_numbers_are_read_as_the_standard_library_reads_them(
    serve: Any, mode: str
) -> None:
    records = [{**r, **extra} for r, extra in zip(fleetio_records(len(NON_ASCII)), NON_ASCII, strict=True)]
    for ensure_ascii in (True, False):
        text = json.dumps({"records": records, "next_cursor": None}, ensure_ascii=ensure_ascii)
        body = text.encode("utf-8", "surrogatepass")
        serve(Answer(200, body, {"Content-Type": "application/json; charset=utf-8"}))
        orders = listing("fleetio", mode)
        assert [o.raw for o in orders] == json.loads(body.decode("utf-8", "surrogatepass"))["records"]
        assert orders[0].raw["description"] == "Zürich ✓ 東京 — naïve café"


MISSING = object()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("created_at", 1735689600, "field 'created_at' is not an ISO-8601 time: int '1735689600'"),
        ("updated_at", {"at": "2025-01-01"}, "field 'updated_at' is not an ISO-8601 time: dict"),
        (
            "created_at",
            "2025-01-01T00:00:00",
            "field 'created_at': timestamp '2025-01-01T00:00:00' has no time zone",
        ),
        ("number", MISSING, "has no field 'number'"),
        # Read as str(None), every such record had the id "None" and all but the first were dropped.
        ("number", None, "field 'number' is empty, not an order id"),
        ("number", "", "field 'number' is empty, not an order id"),
        ("number", {"value": 7}, "field 'number' is dict, not an order id"),
        (
            "total_amount_cents",
            "12.5 USD",
            "field 'total_amount_cents' is not a whole number of cents: '12.5 USD'",
        ),
    ],
)
def test_a_field_of_an_unexpected_type_is_an_error_naming_the_field(
    serve: Any, mode: str, field: str, value: Any, said: str
) -> None:
    records = fleetio_records(2, **{field: value})
    if value is MISSING:
        for r in records:
            del r[field]
    serve(Answer.json({"records": records, "next_cursor": None}))
    with pytest.raises(VendorApiError) as info:
        listing("fleetio", mode)
    message = str(info.value)
    assert message.startswith("fleetio") and "a Fleetio order record" in message
    assert said in message


def test_a_currency_that_is_not_text_is_an_error_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    adobe = {**record("adobe_vip_marketplace"), "currencyCode": 978}

    def answer(seen: Seen) -> Answer:
        return token(seen) or Answer.json({"totalCount": 1, "count": 1, "offset": 0, "limit": 20,
                                           "items": [adobe], "links": {}})  # fmt: skip

    with HostileServer(answer) as server:
        monkeypatch.setenv("AIRFLOW_CONN_ADOBE_VIP_MARKETPLACE_DEFAULT",
                           connection("adobe_vip_marketplace", server.url, max_retries=0))  # fmt: skip
        with pytest.raises(VendorApiError, match=r"field 'currencyCode' is int, not text"):
            get_orders_hook("adobe_vip_marketplace_default").list_orders(customer_id="1005000001")
