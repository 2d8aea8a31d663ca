"""Every hook against the sandbox, over real HTTP on loopback."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from airflow_provider_orders.errors import (
    AuthenticationError,
    InvalidFilterError,
    OrderNotFoundError,
    VendorApiError,
)
from airflow_provider_orders.hooks.adobe_vip import AdobeVipMarketplaceHook
from airflow_provider_orders.hooks.crayon import CrayonHook
from airflow_provider_orders.hooks.emnify import EmnifyHook
from airflow_provider_orders.hooks.fleetio import FleetioHook
from airflow_provider_orders.hooks.granite import GraniteAccessExpressHook
from airflow_provider_orders.models import OrderStatus
from airflow_provider_orders.sandbox import Sandbox, SandboxConfig, sandbox_connections
from airflow_provider_orders.sandbox.store import ANCHOR, STEP
from tests.conftest import ORDERS, canonical, control, expected_id_list, expected_ids, expected_records, wire

pytestmark = pytest.mark.integration

CASES = [
    (CrayonHook, "crayon", {"customer_tenant_id": 1001}, "1001"),
    (AdobeVipMarketplaceHook, "adobe_vip_marketplace", {"customer_id": "1005000001"}, "1005000001"),
    (GraniteAccessExpressHook, "granite_access_express", {}, ""),
    (EmnifyHook, "emnify", {}, ""),
    (FleetioHook, "fleetio", {}, ""),
]
IDS = [c[1] for c in CASES]


@pytest.mark.parametrize(("hook_class", "vendor", "scope", "scope_key"), CASES, ids=IDS)
def test_full_listing_returns_exactly_every_order(sbx: Sandbox, hook_class, vendor, scope, scope_key) -> None:
    orders = list(hook_class().iter_orders(page_size=20, **scope))
    assert len(orders) == ORDERS
    assert sorted(canonical(o.raw) for o in orders) == sorted(
        canonical(r) for r in expected_records(sbx, vendor, scope_key)
    )
    assert sorted(o.id for o in orders) == expected_id_list(sbx, vendor, scope_key)
    assert all(o.vendor == vendor and o.created_at and o.created_at.tzinfo for o in orders)


@pytest.mark.parametrize(("hook_class", "vendor", "scope", "scope_key"), CASES, ids=IDS)
def test_get_order_returns_that_order_and_missing_raises(
    sbx: Sandbox, hook_class, vendor, scope, scope_key
) -> None:
    hook = hook_class()
    some = next(iter(sorted(expected_ids(sbx, vendor, scope_key))))
    assert hook.get_order(some, **scope).id == some
    with pytest.raises(OrderNotFoundError) as info:
        hook.get_order("999999999999", **scope)
    assert info.value.vendor == vendor


@pytest.mark.parametrize(("hook_class", "vendor", "scope", "scope_key"), CASES, ids=IDS)
def test_test_connection_succeeds(sbx: Sandbox, hook_class, vendor, scope, scope_key) -> None:
    ok, message = hook_class().test_connection()
    assert ok, message
    assert sbx.url in message


@pytest.mark.parametrize(("hook_class", "vendor", "scope", "scope_key"), CASES, ids=IDS)
def test_test_connection_with_a_bad_secret_fails_without_showing_it(
    sbx: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    hook_class,
    vendor,
    scope,
    scope_key,
) -> None:
    bad = "wrong-secret-Zq81x"
    conn_id = f"{vendor}_default"
    conn = sandbox_connections(sbx.url)[conn_id]
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({**conn, "password": bad}))
    with caplog.at_level(logging.DEBUG):
        ok, message = hook_class().test_connection()
    assert not ok
    assert "refused the credentials" in message
    assert bad not in message and bad not in caplog.text


def test_status_and_dates_are_pushed_down_to_fleetio(sbx: Sandbox) -> None:
    since = ANCHOR - STEP * 100
    until = ANCHOR - STEP * 20
    orders = FleetioHook().list_orders(
        status="completed", created_since=since, created_until=until, page_size=10
    )
    keep = lambda rec, store, i: (
        store.state(i) in ("received_full", "closed") and since <= store.created(i) < until
    )
    assert {o.id for o in orders} == expected_ids(sbx, "fleetio", keep=keep)
    assert all(o.status is OrderStatus.COMPLETED for o in orders)
    query = dict(wire(sbx, "fleetio")[0]["query"])
    assert query["filter[state][include]"] == "closed,received_full"
    assert query["filter[created_at][gte]"] == since.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert query["filter[created_at][lt]"] == until.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_adobe_until_is_exclusive_although_end_date_is_inclusive(sbx: Sandbox) -> None:
    until = ANCHOR - STEP * 10  # exactly the creation time of one order
    since = ANCHOR - STEP * 50
    orders = AdobeVipMarketplaceHook().list_orders(
        customer_id="1005000001", created_since=since, created_until=until
    )
    keep = lambda rec, store, i: since <= store.created(i) < until
    assert {o.id for o in orders} == expected_ids(sbx, "adobe_vip_marketplace", "1005000001", keep=keep)
    assert len(orders) == 40
    query = wire(sbx, "adobe_vip_marketplace")[-1]["query"]
    assert ["end-date", until.strftime("%Y-%m-%dT%H:%M:%SZ")] in query


def test_adobe_every_request_has_a_new_request_id(sbx: Sandbox) -> None:
    AdobeVipMarketplaceHook().list_orders(customer_id="1005000001", page_size=25)
    seen = wire(sbx, "adobe_vip_marketplace")
    request_ids = [r["headers"]["x-request-id"] for r in seen if "x-request-id" in r["headers"]]
    assert len(request_ids) == len(set(request_ids)) == 10  # 230 orders / 25 = 10 pages
    assert all(
        r["headers"]["x-api-key"] == "sandbox-adobe-client" for r in seen if r["path"].startswith("/adobe/")
    )


def test_emnify_status_and_since_are_in_q_and_listing_stops_by_headers(sbx: Sandbox) -> None:
    since = ANCHOR - STEP * 60
    orders = EmnifyHook().list_orders(status="DELIVERED", created_since=since, page_size=7)
    keep = lambda rec, store, i: store.state(i) == "DELIVERED" and store.created(i) >= since
    assert {o.id for o in orders} == expected_ids(sbx, "emnify", keep=keep)
    list_calls = [r for r in wire(sbx, "emnify") if r["path"].endswith("/shop/order")]
    assert (
        dict(list_calls[0]["query"])["q"] == f"status:3,submit_date>={since.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    )
    assert len(list_calls) == -(-len(orders) // 7)  # never a page past the end


def test_crayon_search_and_single_state_pushed_down(sbx: Sandbox) -> None:
    orders = CrayonHook().list_orders(customer_tenant_id=1001, status="Successful", page_size=50)
    keep = lambda rec, store, i: store.state(i) == "Succeeded"
    assert {o.id for o in orders} == expected_ids(sbx, "crayon", "1001", keep=keep)
    query = dict(wire(sbx, "crayon")[-1]["query"])
    assert query["orderState"] == "1"


def test_granite_status_pushed_and_created_until_stops_the_oldest_first_listing(sbx: Sandbox) -> None:
    until = ANCHOR - STEP * 200
    orders = GraniteAccessExpressHook().list_orders(
        status=["completed", "canceled"], created_until=until, page_size=10
    )
    keep = lambda rec, store, i: store.state(i) in ("completed", "canceled") and store.created(i) < until
    assert {o.id for o in orders} == expected_ids(sbx, "granite_access_express", keep=keep)
    calls = [r for r in wire(sbx, "granite_access_express") if r["path"].endswith("ordersAccessExpress")]
    assert dict(calls[0]["query"])["status"] == "canceled,completed"
    assert len(calls) == -(
        -(len(orders) + 1) // 10
    )  # stops at the page holding the first order past the bound


def test_token_expiry_mid_listing_is_recovered_without_loss(sbx: Sandbox) -> None:
    control(sbx, "/faults", {"vendor": "crayon", "kind": "expire_token", "on_request": 3})
    orders = CrayonHook().list_orders(customer_tenant_id=1001, page_size=20)
    assert {o.id for o in orders} == expected_ids(sbx, "crayon", "1001")
    paths = [urlsplit(r["path"]).path for r in wire(sbx, "crayon")]
    assert paths.count("/crayon/api/v1/connect/token/") == 2


def test_emnify_token_expiry_mid_listing_is_recovered_without_loss(sbx: Sandbox) -> None:
    control(sbx, "/faults", {"vendor": "emnify", "kind": "expire_token", "on_request": 2})
    orders = EmnifyHook().list_orders(page_size=50)
    assert len(orders) == ORDERS and {o.id for o in orders} == expected_ids(sbx, "emnify")
    auth_calls = [r for r in wire(sbx, "emnify") if r["path"].endswith("/authenticate")]
    assert len(auth_calls) == 2


@pytest.mark.parametrize(("hook_class", "vendor", "scope", "scope_key"), CASES, ids=IDS)
def test_a_5xx_on_one_page_is_retried_and_nothing_is_lost(
    sbx: Sandbox, hook_class, vendor, scope, scope_key
) -> None:
    control(sbx, "/faults", {"vendor": vendor, "kind": "status", "status": 503, "on_request": 2})
    orders = hook_class().list_orders(page_size=50, **scope)
    assert sorted(o.id for o in orders) == expected_id_list(sbx, vendor, scope_key)


def test_a_body_that_is_not_json_is_retried(sbx: Sandbox) -> None:
    control(sbx, "/faults", {"vendor": "fleetio", "kind": "invalid_json", "on_request": 2})
    assert len(FleetioHook().list_orders(page_size=50)) == ORDERS


def test_granite_client_limit_keeps_under_the_server_limit(sbx: Sandbox) -> None:
    # The test sandbox allows 20 requests per 2 s; the connection's limiter says 480 a minute
    # (GRANITE_CLIENT_RPM: a margin for arrival jitter, see conftest).
    started = time.monotonic()
    orders = GraniteAccessExpressHook().list_orders(page_size=5)  # 46 full pages and an empty one
    elapsed = time.monotonic() - started
    assert len(orders) == ORDERS
    calls = [r for r in wire(sbx, "granite_access_express") if r["path"].endswith("ordersAccessExpress")]
    assert [r["status"] for r in calls] == [200] * 47  # no 429 at all
    assert elapsed >= 46 * 0.1  # the limiter spaced them; a floor that shows it acted, not a speed check


def test_granite_429_with_retry_after_is_waited_out(sbx: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = sandbox_connections(sbx.url)["granite_access_express_default"]
    conn["extra"] = {**conn["extra"], "requests_per_minute": 0}
    monkeypatch.setenv("AIRFLOW_CONN_GRANITE_ACCESS_EXPRESS_DEFAULT", json.dumps(conn))
    time.sleep(2.1)  # let the window of earlier tests pass
    orders = GraniteAccessExpressHook().list_orders(page_size=5)
    assert sorted(o.id for o in orders) == sorted(expected_ids(sbx, "granite_access_express"))
    statuses = [
        r["status"] for r in wire(sbx, "granite_access_express") if r["path"].endswith("ordersAccessExpress")
    ]
    assert 429 in statuses  # the server did push back, and the listing still came back whole
    assert statuses.count(200) == 47


def test_bad_filters_raise_before_any_request(sbx: Sandbox) -> None:
    with pytest.raises(InvalidFilterError, match="unknown filter 'customer_id'"):
        list(CrayonHook().iter_orders(customer_id="x", customer_tenant_id=1))
    with pytest.raises(InvalidFilterError, match="timezone-aware"):
        list(FleetioHook().iter_orders(created_since=datetime(2025, 1, 1)))
    assert wire(sbx, "crayon") == [] and wire(sbx, "fleetio") == []


def test_hook_reprs_and_errors_never_show_secrets(sbx: Sandbox) -> None:
    hook = CrayonHook()
    hook.list_orders(customer_tenant_id=1001, max_orders=1)
    text = repr(hook) + repr(hook.engine) + repr(hook.vendor) + repr(hook.vendor.settings)
    for secret in ("sandbox-password", "sandbox-crayon-secret"):
        assert secret not in text


def test_wrong_credentials_fail_at_once_with_authentication_error(sbx: Sandbox, monkeypatch) -> None:
    conn = sandbox_connections(sbx.url)["fleetio_default"]
    monkeypatch.setenv("AIRFLOW_CONN_FLEETIO_DEFAULT", json.dumps({**conn, "password": "nope-key"}))
    with pytest.raises(AuthenticationError) as info:
        FleetioHook().list_orders()
    assert info.value.status == 401
    assert len(wire(sbx, "fleetio")) == 1


def test_a_sandbox_with_a_short_token_lifetime_refreshes_before_expiry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Sandbox(SandboxConfig(orders=60, token_ttl=6, latency_ms=120)) as short:
        for conn_id, conn in sandbox_connections(short.url).items():
            monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        orders = AdobeVipMarketplaceHook().list_orders(customer_id="C9", page_size=1)
        assert len(orders) == 60
        token_calls = [r for r in short.requests_seen if r["path"].endswith("/ims/token/v3")]
        unauthorized = [r for r in short.requests_seen if r["path"].startswith("/adobe/")]
        assert len(token_calls) >= 2  # renewed proactively (the 6 s token is renewed ~1 s before expiry)
        assert len(unauthorized) == 60  # and never answered 401: no page was asked twice


def test_query_strings_hold_no_secret(sbx: Sandbox) -> None:
    for hook_class, _vendor, scope, _ in CASES:
        hook_class().list_orders(max_orders=5, **scope)
    for request in control(sbx, "/requests"):
        query = " ".join(v for _, v in parse_qsl(urlsplit(request["path"]).query)) + json.dumps(
            request["query"]
        )
        assert "sandbox-" not in query


def test_tokens_are_registered_with_the_secrets_masker(sbx: Sandbox) -> None:
    from airflow.providers.common.compat.sdk import redact

    hook = CrayonHook()
    hook.list_orders(customer_tenant_id=1001, max_orders=1)
    token = hook.engine.tokens.get()
    assert token is not None
    assert token not in str(redact(f"header Bearer {token}"))
    assert "sandbox-crayon-secret" not in str(redact("secret sandbox-crayon-secret"))


def test_a_read_timeout_is_retried_then_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    with Sandbox(SandboxConfig(orders=10, latency_ms=600)) as slow:
        conn = sandbox_connections(slow.url)["fleetio_default"]
        conn["extra"] = {**conn["extra"], "timeout": 0.2, "max_retries": 1}
        monkeypatch.setenv("AIRFLOW_CONN_FLEETIO_DEFAULT", json.dumps(conn))
        with pytest.raises(
            VendorApiError, match=r"timeout error on GET /fleetio/api/v1/purchase_orders after 2 attempts"
        ):
            FleetioHook().list_orders()
        assert len([r for r in slow.requests_seen if r["vendor"] == "fleetio"]) == 2


def test_a_dropped_connection_is_retried(sbx: Sandbox) -> None:
    control(sbx, "/faults", {"vendor": "fleetio", "kind": "close", "on_request": 2})
    assert len(FleetioHook().list_orders(page_size=50)) == ORDERS


@pytest.mark.parametrize(("hook_class", "vendor", "scope", "scope_key"), CASES[:1] + CASES[1:2] + CASES[3:4],
                         ids=["crayon", "adobe_vip_marketplace", "emnify"])  # fmt: skip
def test_concurrent_listing_returns_the_same_orders_in_the_same_order(
    sbx: Sandbox, hook_class, vendor, scope, scope_key
) -> None:
    sequential = [o.id for o in hook_class().iter_orders(page_size=10, **scope)]
    control(sbx, "/reset", {})
    concurrent = [o.id for o in hook_class().iter_orders(page_size=10, concurrency=8, **scope)]
    assert concurrent == sequential
    assert len(concurrent) == ORDERS
    pages = [r for r in wire(sbx, vendor) if not r["path"].endswith(("/token/", "/authenticate", "/v3"))
             and r["vendor"] == vendor and "token" not in r["path"]]  # fmt: skip
    assert len(pages) == 23  # 230 orders / 10: each page once, none past the end


def test_a_sandbox_started_now_has_every_vendors_orders_of_the_last_two_days(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without a pinned date (``--as-of``, ``ORDERS_SANDBOX_AS_OF``) the newest order is created now: a
    listing of the last two days finds each vendor's whole history, newest first up to now."""
    from datetime import timedelta, timezone

    from airflow_provider_orders.registry import all_specs
    from tests.conftest import use_sandbox

    monkeypatch.delenv("ORDERS_SANDBOX_AS_OF")
    before = datetime.now(timezone.utc)
    with Sandbox(SandboxConfig(orders=ORDERS, live=1, live_delay=36000.0)) as sandbox:
        use_sandbox(sandbox, monkeypatch, granite_access_express_default={"requests_per_minute": 0})
        for spec in all_specs():
            scope = sandbox.tenant(spec.conn_type)
            since = (before - timedelta(days=2)).isoformat()
            found = list(spec.hook_class()().iter_orders({**spec.sandbox_filters, "created_since": since}))
            assert {o.id for o in found} == expected_ids(sandbox, spec.conn_type, scope), spec.conn_type
            newest = max(o.created_at for o in found if o.created_at)
            assert before.replace(second=0, microsecond=0) <= newest <= datetime.now(timezone.utc)
