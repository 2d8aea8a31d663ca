"""The sandbox behaves as the vendors document, quirks included (raw HTTP, no provider code)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

import pytest

from airflow_provider_orders.sandbox import Sandbox, SandboxConfig
from airflow_provider_orders.sandbox.adobe_vip import CREDENTIALS as ADOBE
from airflow_provider_orders.sandbox.emnify import CREDENTIALS as EMNIFY
from airflow_provider_orders.sandbox.granite import CREDENTIALS as GRANITE

pytestmark = pytest.mark.integration


def call(url: str, *, method: str = "GET", headers: dict[str, str] | None = None, data: bytes | None = None):
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"null")


def adobe_headers(sbx: Sandbox) -> dict[str, str]:
    form = urllib.parse.urlencode({"grant_type": "client_credentials", **ADOBE}).encode()
    _, _, token = call(f"{sbx.url}/adobe-ims/ims/token/v3", method="POST", data=form)
    return {"Authorization": f"Bearer {token['access_token']}", "X-Api-Key": ADOBE["client_id"],
            "X-Correlation-Id": "c1"}  # fmt: skip


def adobe(sbx: Sandbox, query: str, headers: dict[str, str], request_id: str | None = None) -> Any:
    return call(f"{sbx.url}/adobe/v3/customers/C1/orders?{query}",
                headers={**headers, "X-Request-Id": request_id or str(uuid.uuid4())})  # fmt: skip


def test_adobe_clamps_limit_above_100(sbx: Sandbox) -> None:
    status, _, body = adobe(sbx, "limit=500", adobe_headers(sbx))
    assert status == 200
    assert body["limit"] == 100 and len(body["items"]) == 100


def test_adobe_offset_past_the_total_is_400_code_1133(sbx: Sandbox) -> None:
    status, _, body = adobe(sbx, "offset=231&limit=10", adobe_headers(sbx))
    assert (status, body["code"]) == (400, "1133")


def test_adobe_rejects_a_repeated_request_id_and_a_missing_correlation_id(sbx: Sandbox) -> None:
    headers = adobe_headers(sbx)
    assert adobe(sbx, "limit=1", headers, request_id="same")[0] == 200
    status, _, body = adobe(sbx, "limit=1", headers, request_id="same")
    assert (status, body["code"]) == (400, "4120")
    status, _, body = adobe(sbx, "limit=1", {k: v for k, v in headers.items() if k != "X-Correlation-Id"})
    assert (status, body["code"]) == (400, "4119")


def test_adobe_accepts_only_zulu_dates(sbx: Sandbox) -> None:
    headers = adobe_headers(sbx)
    assert adobe(sbx, "start-date=2025-01-01T00:00:00Z", headers)[0] == 200
    status, _, body = adobe(sbx, "start-date=" + urllib.parse.quote("2025-01-01T00:00:00+00:00"), headers)
    assert (status, body["code"]) == (400, "1132")


def test_emnify_repeats_its_last_page_past_the_end(sbx: Sandbox) -> None:
    _, _, auth = call(f"{sbx.url}/emnify/api/v1/authenticate", method="POST",
                      data=json.dumps({"application_token": EMNIFY["application_token"]}).encode(),
                      headers={"Content-Type": "application/json"})  # fmt: skip
    headers = {"Authorization": f"Bearer {auth['auth_token']}"}
    _, h_last, last = call(f"{sbx.url}/emnify/api/v1/shop/order?page=3&per_page=100", headers=headers)
    _, h_past, past = call(f"{sbx.url}/emnify/api/v1/shop/order?page=9&per_page=100", headers=headers)
    assert past == last and len(last) == 30
    assert (h_last["X-pages"], h_last["X-count"], h_past["X-page"]) == ("3", "230", "3")


def test_granite_answers_429_with_retry_after_past_its_limit() -> None:
    with Sandbox(SandboxConfig(orders=10, granite_rpm=3)) as sbx:
        form = urllib.parse.urlencode(
            {"grant_type": "client_credentials", "scope": "urn:grt:accessexpress"}
        ).encode()
        basic = base64.b64encode(f"{GRANITE['client_id']}:{GRANITE['client_secret']}".encode())
        _, _, token = call(f"{sbx.url}/granite-auth/oauth2/token", method="POST", data=form,
                           headers={"Authorization": f"Basic {basic.decode()}"})  # fmt: skip
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        statuses = [call(f"{sbx.url}/granite/api/v1/ordersAccessExpress", headers=headers) for _ in range(4)]
        assert [s[0] for s in statuses] == [200, 200, 200, 429]
        assert 1 <= int(statuses[3][1]["Retry-After"]) <= 60


def test_a_million_orders_are_served_without_being_stored() -> None:
    with Sandbox(SandboxConfig(orders=1_000_000)) as sbx:
        form = urllib.parse.urlencode({"grant_type": "client_credentials", **ADOBE}).encode()
        _, _, token = call(f"{sbx.url}/adobe-ims/ims/token/v3", method="POST", data=form)
        headers = {"Authorization": f"Bearer {token['access_token']}", "X-Api-Key": ADOBE["client_id"],
                   "X-Correlation-Id": "c", "X-Request-Id": "r1"}  # fmt: skip
        status, _, body = call(
            f"{sbx.url}/adobe/v3/customers/C1/orders?offset=999990&limit=100&start-date=2000-01-01",
            headers=headers,
        )
        assert status == 200
        assert body["totalCount"] == 1_000_000 and len(body["items"]) == 10
        assert sbx.apps["adobe_vip_marketplace"].orders("C1")._indexes == {}  # no status index was needed


def test_live_orders_move_from_processing_to_succeeded() -> None:
    with Sandbox(SandboxConfig(orders=20, live=2, live_delay=0.5)) as sbx:
        _, _, live = call(f"{sbx.url}/_sandbox/live?vendor=crayon&tenant=1001")
        assert [o["state"] for o in live] == ["Processing", "Processing"]
        import time

        time.sleep(1.1)
        _, _, later = call(f"{sbx.url}/_sandbox/live?vendor=crayon&tenant=1001")
        assert [o["state"] for o in later] == ["Succeeded", "Succeeded"]
        assert [o["id"] for o in later] == [o["id"] for o in live]


def test_print_env_prints_the_exports_beside_the_running_sandbox_without_binding_its_port() -> None:
    """As the README and docs/sandbox.md say it: the sandbox serves on the port, and --print-env names that port."""
    import socket
    import subprocess
    import sys

    from tests.conftest import free_port

    port = free_port()
    with socket.socket() as serving:
        serving.bind(("127.0.0.1", port))  # the sandbox already on it
        serving.listen(1)
        out = subprocess.run([sys.executable, "-m", "airflow_provider_orders.sandbox", "--print-env", "--port",
                              str(port)], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [line.split("=", 1)[0] for line in lines] == [
        "export AIRFLOW_CONN_CRAYON_DEFAULT",
        "export AIRFLOW_CONN_ADOBE_VIP_MARKETPLACE_DEFAULT",
        "export AIRFLOW_CONN_GRANITE_ACCESS_EXPRESS_DEFAULT",
        "export AIRFLOW_CONN_EMNIFY_DEFAULT",
        "export AIRFLOW_CONN_FLEETIO_DEFAULT",
    ]
    assert all(f"http://127.0.0.1:{port}/" in line for line in lines)


def test_as_of_dates_the_newest_order_and_now_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys
    from datetime import datetime, timezone

    from airflow_provider_orders.sandbox.store import STEP

    def started_as_of(*args: str) -> datetime:
        """What ``python -m airflow_provider_orders.sandbox`` says it dates its newest order."""
        with subprocess.Popen([sys.executable, "-m", "airflow_provider_orders.sandbox", "--port", "0", *args],
                              stdout=subprocess.PIPE, text=True) as proc:  # fmt: skip
            assert proc.stdout is not None
            first = json.loads(proc.stdout.readline())
            proc.terminate()
        return datetime.fromisoformat(first["as_of"])

    monkeypatch.delenv("ORDERS_SANDBOX_AS_OF")
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    assert started_as_of("--as-of", "2026-03-01") == datetime(2026, 3, 1, tzinfo=timezone.utc)
    assert started_as_of("--as-of", "2026-03-01T08:30:00Z") == datetime(
        2026, 3, 1, 8, 30, tzinfo=timezone.utc
    )
    assert now <= started_as_of() <= datetime.now(timezone.utc)
    with Sandbox(SandboxConfig(orders=20)) as sbx:  # in-process too: now, to the minute
        store = sbx.apps["fleetio"].orders("")
        assert now <= store.created(19) <= datetime.now(timezone.utc) and store.created(19).second == 0
        assert store.created(0) == store.created(19) - 19 * STEP
    monkeypatch.setenv("ORDERS_SANDBOX_AS_OF", "2026-02-01T12:00:00Z")
    assert started_as_of() == datetime(2026, 2, 1, 12, tzinfo=timezone.utc)
    assert SandboxConfig().as_of == datetime(2026, 2, 1, 12, tzinfo=timezone.utc)
    bad = subprocess.run([sys.executable, "-m", "airflow_provider_orders.sandbox", "--as-of", "yesterday"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert bad.returncode == 2 and "as_of 'yesterday' is not an ISO 8601 date" in bad.stderr


def test_the_request_log_narrows_by_vendor_and_query_parameter(sbx: Sandbox) -> None:
    for tenant in (1001, 1001, 1002):  # unauthenticated: logged all the same, answered 401
        call(f"{sbx.url}/crayon/api/v1/purchaserequest/orders/?customerTenantId={tenant}&page=1")
    call(f"{sbx.url}/fleetio/api/v1/purchase_orders?customerTenantId=1001")
    log = f"{sbx.url}/_sandbox/requests"
    assert call(f"{log}?vendor=crayon&customerTenantId=1001&count=1")[2] == {"count": 2}
    assert call(f"{log}?vendor=crayon&count=1")[2] == {"count": 3}
    assert call(f"{log}?customerTenantId=1001&count=1")[2] == {"count": 3}
    assert call(f"{log}?vendor=crayon&customerTenantId=1001&page=2&count=1")[2] == {"count": 0}
    (one,) = call(f"{log}?vendor=crayon&customerTenantId=1002")[2]
    assert one["path"] == "/crayon/api/v1/purchaserequest/orders/" and one["status"] == 401
    assert len(call(log)[2]) == 4
