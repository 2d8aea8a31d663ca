"""What the vendors' public references say, held against the hooks and the sandbox over real HTTP.

Each test names the documented behaviour it checks; docs/vendors.md lists the pages they rest on.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from airflow_provider_orders.errors import AuthenticationError
from airflow_provider_orders.hooks.adobe_vip import AdobeVipMarketplaceHook
from airflow_provider_orders.hooks.crayon import CrayonHook
from airflow_provider_orders.hooks.fleetio import FleetioHook
from airflow_provider_orders.hooks.granite import GraniteAccessExpressHook
from airflow_provider_orders.sandbox import Sandbox, SandboxConfig, sandbox_connections
from tests.conftest import canonical, control, expected_id_list, expected_records, use_sandbox, wire

pytestmark = pytest.mark.integration

FLEETIO_ORDERS = 700  # seven pages of the old version's fixed 100


def adobe_api_calls(sandbox: Sandbox) -> list[dict]:
    """Requests to the CPAPI itself (not to IMS), as they arrived."""
    return [r for r in wire(sandbox, "adobe_vip_marketplace") if r["path"].startswith("/adobe/v3/")]


@pytest.fixture(scope="module")
def big_fleetio() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(orders=FLEETIO_ORDERS, live=0)) as running:
        yield running


def fleetio_records(sandbox: Sandbox, state: str | None = None) -> list[str]:
    records = expected_records(sandbox, "fleetio")
    return sorted(canonical(r) for r in records if state is None or r["state"] == state)


# -- Fleetio: the API version decides the shape of the list ----------------------------------------


def test_fleetio_default_connection_lists_every_order_with_cursors(
    big_fleetio: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    big_fleetio.reset()
    use_sandbox(big_fleetio, monkeypatch)
    orders = FleetioHook().list_orders()
    assert len(orders) == FLEETIO_ORDERS
    assert sorted(canonical(o.raw) for o in orders) == fleetio_records(big_fleetio)
    calls = wire(big_fleetio, "fleetio")
    assert {c["headers"]["x-api-version"] for c in calls} == {"2024-03-15"}
    assert len(calls) == 7 and all(dict(c["query"])["per_page"] == "100" for c in calls)


def test_fleetio_default_connection_has_the_state_filter_applied_by_the_api(
    big_fleetio: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    big_fleetio.reset()
    use_sandbox(big_fleetio, monkeypatch)
    orders = FleetioHook().list_orders(status="closed")
    assert sorted(canonical(o.raw) for o in orders) == fleetio_records(big_fleetio, "closed")
    assert 0 < len(orders) < FLEETIO_ORDERS
    (first, *_) = wire(big_fleetio, "fleetio")
    assert dict(first["query"])["filter[state][include]"] == "closed"


def test_fleetio_pinned_to_2024_01_01_lists_all_pages_of_the_bare_array(
    big_fleetio: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    big_fleetio.reset()
    use_sandbox(big_fleetio, monkeypatch, fleetio_default={"api_version": "2024-01-01"})
    orders = FleetioHook().list_orders()
    assert len(orders) == FLEETIO_ORDERS
    assert sorted(o.id for o in orders) == expected_id_list(big_fleetio, "fleetio")
    calls = wire(big_fleetio, "fleetio")
    assert [dict(c["query"]) for c in calls] == [{"page": str(n)} for n in range(1, 8)]
    assert {c["headers"]["x-api-version"] for c in calls} == {"2024-01-01"}


def test_fleetio_pinned_to_2024_01_01_applies_the_state_filter_itself(
    big_fleetio: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    big_fleetio.reset()
    use_sandbox(big_fleetio, monkeypatch, fleetio_default={"api_version": "2024-01-01"})
    orders = FleetioHook().list_orders(status="closed", created_since="2025-12-31T00:00:00Z")
    legacy = [r for r in expected_records(big_fleetio, "fleetio") if r["state"] == "closed"]
    assert sorted(o.id for o in orders) == sorted(
        str(r["number"]) for r in legacy if r["created_at"] >= "2025-12-30T18:00:00-06:00"
    )
    assert len(wire(big_fleetio, "fleetio")) == 7  # the old version has no sort to stop early on


def test_fleetio_a_cursor_version_answered_with_a_bare_array_still_reads_every_page(
    big_fleetio: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The API answers the version it was asked for; if it ever answers the old shape to a cursor
    # request, the listing goes on by page number instead of ending after one page.
    big_fleetio.reset()
    use_sandbox(big_fleetio, monkeypatch)
    hook = FleetioHook()
    hook.vendor.request_headers = lambda: {"Accept": "application/json", "X-Api-Version": "2023-06-01"}
    orders = hook.list_orders(status="draft")
    drafts = [r for r in expected_records(big_fleetio, "fleetio") if r["state"] == "draft"]
    assert sorted(o.id for o in orders) == sorted(str(r["number"]) for r in drafts)
    assert [dict(c["query"]).get("page") for c in wire(big_fleetio, "fleetio")[1:]] == [
        str(n) for n in range(2, 8)
    ]


# -- Adobe -------------------------------------------------------------------------------------------


def test_adobe_listing_without_dates_returns_the_whole_history(sbx: Sandbox) -> None:
    orders = AdobeVipMarketplaceHook().list_orders(customer_id="1005000001")
    assert sorted(o.id for o in orders) == expected_id_list(sbx, "adobe_vip_marketplace", "1005000001")
    call = adobe_api_calls(sbx)[0]
    assert dict(call["query"])["start-date"] == "2000-01-01"


def test_adobe_without_start_date_answers_only_the_current_term(sbx: Sandbox) -> None:
    # What the hook guards against: the sandbox, like Adobe, defaults start-date to the term start.
    hook = AdobeVipMarketplaceHook()
    engine, transport = hook.engine, hook._sync
    from airflow_provider_orders.vendors.http import HttpRequest

    response = transport.run(
        engine.call(HttpRequest("GET", "/v3/customers/1005000001/orders", (("limit", "1"),)))
    )
    assert (
        0 < response.json()["totalCount"] < len(expected_id_list(sbx, "adobe_vip_marketplace", "1005000001"))
    )


def test_adobe_status_filter_on_codes_the_parameter_lacks_selects_on_the_client(sbx: Sandbox) -> None:
    orders = AdobeVipMarketplaceHook().list_orders(customer_id="1005000001", status="failed")
    expected = [r for r in expected_records(sbx, "adobe_vip_marketplace", "1005000001")
                if r["status"] in ("1004", "1020", "1022", "1024", "1026")]  # fmt: skip
    assert sorted(o.id for o in orders) == sorted(r["orderId"] for r in expected)
    assert {o.vendor_status for o in orders} >= {"1020", "1024"}
    assert {c["status"] for c in adobe_api_calls(sbx)} == {200}


def test_adobe_sandbox_refuses_a_status_the_history_parameter_does_not_document(sbx: Sandbox) -> None:
    hook = AdobeVipMarketplaceHook()
    from airflow_provider_orders.errors import VendorApiError
    from airflow_provider_orders.vendors.http import HttpRequest

    request = HttpRequest("GET", "/v3/customers/1005000001/orders", (("status", "1008"),))
    with pytest.raises(VendorApiError) as info:
        hook._sync.run(hook.engine.call(request))
    assert (info.value.status, info.value.code) == (400, "1132")


def test_adobe_return_orders_are_listed_by_type(sbx: Sandbox) -> None:
    orders = AdobeVipMarketplaceHook().list_orders(customer_id="1005000001", order_type="RETURN")
    expected = [r["orderId"] for r in expected_records(sbx, "adobe_vip_marketplace", "1005000001")
                if r["orderType"] == "RETURN"]  # fmt: skip
    assert sorted(o.id for o in orders) == sorted(expected) and expected


def test_adobe_a_5xx_answer_gets_a_new_correlation_id_on_the_retry(sbx: Sandbox) -> None:
    control(sbx, "/faults", {"vendor": "adobe_vip_marketplace", "kind": "status", "status": 503})
    AdobeVipMarketplaceHook().list_orders(customer_id="1005000001", max_orders=5)
    failed, retried = adobe_api_calls(sbx)[:2]
    assert failed["status"] == 503 and retried["status"] == 200
    assert failed["headers"]["x-correlation-id"] != retried["headers"]["x-correlation-id"]
    assert failed["headers"]["x-request-id"] != retried["headers"]["x-request-id"]


def test_adobe_a_timeout_keeps_the_correlation_id_on_the_retry(
    sbx: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_sandbox(sbx, monkeypatch, adobe_vip_marketplace_default={"timeout": 0.5})
    control(sbx, "/faults", {"vendor": "adobe_vip_marketplace", "kind": "stall", "seconds": 1.5})
    AdobeVipMarketplaceHook().list_orders(customer_id="1005000001", max_orders=5)
    timed_out, retried = adobe_api_calls(sbx)[:2]
    assert timed_out["headers"]["x-correlation-id"] == retried["headers"]["x-correlation-id"]
    assert timed_out["headers"]["x-request-id"] != retried["headers"]["x-request-id"]


# -- Granite: both OAuth2 client authentication methods ------------------------------------------------


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_granite_lists_with_either_client_authentication(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Sandbox(SandboxConfig(orders=30, granite_client_auth=method)) as sandbox:
        use_sandbox(sandbox, monkeypatch, granite_access_express_default={"client_auth": method})
        orders = GraniteAccessExpressHook().list_orders()
        assert sorted(o.id for o in orders) == expected_id_list(sandbox, "granite_access_express")
        (token_call,) = [r for r in control(sandbox, "/requests") if r["path"].endswith("/oauth2/token")]
        assert ("authorization" in token_call["headers"]) is (method == "client_secret_basic")


def test_granite_the_wrong_client_authentication_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    with Sandbox(SandboxConfig(orders=3, granite_client_auth="client_secret_post")) as sandbox:
        use_sandbox(sandbox, monkeypatch)  # the default, client_secret_basic
        with pytest.raises(
            AuthenticationError, match="set the connection extra client_auth to client_secret_post"
        ):
            GraniteAccessExpressHook().list_orders()


def test_granite_dates_without_created_at_keep_every_record_or_say_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_orders.errors import InvalidFilterError

    with Sandbox(SandboxConfig(orders=40, granite_created_at=False)) as sandbox:
        use_sandbox(sandbox, monkeypatch)
        hook = GraniteAccessExpressHook()
        # start_date is the API's own filter: every order it answers is kept, none has created_at.
        since = hook.list_orders(created_since="2025-12-31T22:00:00Z")
        store = sandbox.apps["granite_access_express"].orders("")
        window = store.index_range(datetime(2025, 12, 31, 22, tzinfo=timezone.utc), None)
        assert sorted(o.id for o in since) == sorted(str(500_000 + i) for i in window)
        assert 0 < len(since) < 40 and all(o.created_at is None for o in since)
        with pytest.raises(InvalidFilterError, match="has no created_at"):
            hook.list_orders(created_until="2026-01-01T00:00:00Z")


# -- Crayon: a listing record is an order line ---------------------------------------------------------


def test_crayon_lines_with_one_reference_are_all_kept(sbx: Sandbox) -> None:
    orders = CrayonHook().list_orders(customer_tenant_id=1001, page_size=20)
    per_order = Counter(o.id for o in orders)
    assert max(per_order.values()) >= 2  # the sandbox has multi-line orders
    assert sorted(canonical(o.raw) for o in orders) == sorted(
        canonical(r) for r in expected_records(sbx, "crayon", "1001")
    )


def test_crayon_get_order_gathers_its_lines(sbx: Sandbox) -> None:
    records = expected_records(sbx, "crayon", "1001")
    counts = Counter(r["OrderReferenceId"] for r in records)
    order_id, lines = counts.most_common(1)[0]
    assert lines >= 2
    order = CrayonHook().get_order(order_id, customer_tenant_id=1001)
    assert order.id == str(order_id)
    assert sorted(canonical(line) for line in order.raw["Lines"]) == sorted(
        canonical(r) for r in records if r["OrderReferenceId"] == order_id
    )


# -- emnify: one authentication for every process on the machine ---------------------------------------

LIST_EMNIFY = (
    "from airflow_provider_orders.hooks.emnify import EmnifyHook; print(len(EmnifyHook().list_orders()))"
)


def run_emnify_process(sandbox: Sandbox, cache: Path, **extra: str) -> int:
    conn = sandbox_connections(sandbox.url)["emnify_default"]
    conn["extra"] = {**conn["extra"], **extra}
    env = {**os.environ, "AIRFLOW_CONN_EMNIFY_DEFAULT": json.dumps(conn),
           "AIRFLOW_PROVIDER_ORDERS_CACHE_DIR": str(cache)}  # fmt: skip
    out = subprocess.run([sys.executable, "-c", LIST_EMNIFY], env=env, capture_output=True, text=True,
                         timeout=120, check=True)  # fmt: skip
    return int(out.stdout.strip().splitlines()[-1])


def authentications(sandbox: Sandbox) -> int:
    return sum(1 for r in wire(sandbox, "emnify") if r["path"].endswith("/authenticate"))


def test_emnify_processes_on_one_machine_authenticate_once(sbx: Sandbox, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert (
        run_emnify_process(sbx, cache)
        == run_emnify_process(sbx, cache)
        == len(expected_id_list(sbx, "emnify"))
    )
    assert authentications(sbx) == 1
    tokens = cache / "tokens"
    (token_file,) = tokens.glob("*.json")
    # Beside it, the lock one refresh at a time takes (empty: the kernel's flock is the lock).
    assert sorted(p.name for p in tokens.iterdir()) == [token_file.name, f"{token_file.name}.lock"]
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o700
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tokens / f"{token_file.name}.lock").stat().st_mode) == 0o600
    assert "sandbox-emnify-application-token" not in token_file.name + token_file.read_text()


def test_emnify_token_cache_memory_authenticates_in_every_process(sbx: Sandbox, tmp_path: Path) -> None:
    cache = tmp_path / "tokens"
    run_emnify_process(sbx, cache, token_cache="memory")
    run_emnify_process(sbx, cache, token_cache="memory")
    assert authentications(sbx) == 2
    assert not cache.exists()


def test_emnify_a_revoked_shared_token_is_replaced(sbx: Sandbox, tmp_path: Path) -> None:
    cache = tmp_path / "tokens"
    run_emnify_process(sbx, cache)
    control(sbx, "/expire-tokens", {"vendor": "emnify"})
    assert run_emnify_process(sbx, cache) == len(expected_id_list(sbx, "emnify"))
    assert authentications(sbx) == 2


def test_emnify_ignores_a_token_file_other_users_can_read(sbx: Sandbox, tmp_path: Path) -> None:
    cache = tmp_path / "tokens"
    run_emnify_process(sbx, cache)
    (token_file,) = (cache / "tokens").glob("*.json")
    token_file.chmod(0o644)
    run_emnify_process(sbx, cache)
    assert authentications(sbx) == 2
