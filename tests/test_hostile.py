"""Hostile or broken vendors on loopback: absurd totals, gzip bombs, trickling answers, malformed bodies.

Each test asserts the error class and the bound (time, requests and, in a subprocess, peak memory) a
user relies on: a misbehaving vendor fails one task with a clear error; it never takes a worker or the
triggerer down.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_orders.errors import VendorApiError, VendorUnavailableError
from airflow_provider_orders.hooks.resolve import get_orders_hook
from airflow_provider_orders.sandbox import SandboxConfig
from airflow_provider_orders.sandbox.adobe_vip import AdobeApp
from airflow_provider_orders.sandbox.core import SandboxState
from airflow_provider_orders.sandbox.crayon import CrayonApp
from airflow_provider_orders.sandbox.emnify import EmnifyApp
from airflow_provider_orders.sandbox.fleetio import FleetioApp
from airflow_provider_orders.triggers.orders import OrderStateTrigger
from tests.hostile import Answer, HostileServer, Seen

pytestmark = pytest.mark.integration

STATE = SandboxState(SandboxConfig(orders=5))
APPS = {"crayon": CrayonApp, "adobe_vip_marketplace": AdobeApp, "emnify": EmnifyApp, "fleetio": FleetioApp}
SCOPE = {"crayon": {"customer_tenant_id": 1001}, "adobe_vip_marketplace": {"customer_id": "1005000001"}}
TENANT = {"crayon": "1001", "adobe_vip_marketplace": "1005000001"}


def record(vendor: str, i: int = 0) -> dict[str, Any]:
    app = APPS[vendor](STATE)
    return app.record(app.orders(TENANT.get(vendor, "")), i)


def connection(vendor: str, url: str, **extra: Any) -> str:
    app = APPS[vendor]
    conn = app.connection(url, url, SandboxConfig())
    conn["extra"] = {**conn.get("extra", {}), "allow_insecure_http": True, **extra}
    return json.dumps({"conn_type": vendor, **conn})


def token(seen: Seen) -> Answer | None:
    """The token endpoints of the vendors that have one, always granting."""
    if seen.path.endswith("/connect/token/"):
        return Answer.json({"AccessToken": "tok-crayon", "ExpiresIn": 3600})
    if seen.path.endswith("/ims/token/v3"):
        return Answer.json({"access_token": "tok-adobe", "expires_in": 3600})
    if seen.path.endswith("/authenticate"):
        return Answer.json({"auth_token": "tok.emnify.jwt"})
    return None


def run_listing(vendor: str, conn: str, mode: str = "sync", **filters: Any) -> dict[str, Any]:
    """List in a fresh process: its outcome, seconds, peak RSS and how far the peak grew while listing (MB)."""
    script = f"""
import asyncio, json, resource, time
from airflow_provider_orders.hooks.resolve import get_orders_hook
hook = get_orders_hook("{vendor}_default")
filters = json.loads({json.dumps(json.dumps(filters))})
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
started = time.monotonic()
async def alist():
    return [o async for o in hook.aiter_orders(**filters)]
try:
    orders = asyncio.run(alist()) if "{mode}" == "async" else hook.list_orders(**filters)
    outcome = f"ok {{len(orders)}}"
except Exception as exc:
    outcome = f"{{type(exc).__name__}}: {{exc}}"
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"outcome": outcome, "seconds": time.monotonic() - started, "rss_mb": rss,
                  "grew_mb": rss - rss_before}}))
"""
    env = {**os.environ, f"AIRFLOW_CONN_{vendor.upper()}_DEFAULT": conn}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# -- bounded work per listing ----------------------------------------------------------------------


def absurd_total(vendor: str) -> Any:
    def answer(seen: Seen) -> Answer:
        granted = token(seen)
        if granted:
            return granted
        if vendor == "crayon":
            return Answer.json({"Items": [record(vendor)], "TotalHits": 10**9})
        if vendor == "adobe_vip_marketplace":
            nxt = {"uri": f"{seen.path}?offset=1&limit=1", "method": "GET", "headers": []}
            return Answer.json({"totalCount": 10**9, "count": 1, "offset": 0, "limit": 1, "items": [record(vendor)],
                                "links": {"next": nxt}})  # fmt: skip
        return Answer.json(
            [record(vendor)], headers={"X-Page": "1", "X-Pages": str(10**9), "X-Count": str(10**9)}
        )

    return answer


@pytest.mark.parametrize("vendor", ["crayon", "adobe_vip_marketplace", "emnify"])
def test_an_absurd_announced_total_fails_at_the_page_cap_before_any_page_is_planned(vendor: str) -> None:
    with HostileServer(absurd_total(vendor)) as server:
        result = run_listing(
            vendor, connection(vendor, server.url), concurrency=8, page_size=1, **SCOPE.get(vendor, {})
        )
        api = [s for s in server.seen if token(s) is None]
    assert result["outcome"].startswith("VendorApiError: ")
    assert "passed the page cap of 100000 pages (the API announced 1000000000 orders" in result["outcome"]
    assert len(api) == 1  # the first page only: nothing was fetched on the announced total
    assert result["grew_mb"] < 100 and result["seconds"] < 30  # was 4.8-5.9 GB and 56-80 s


# -- a response size limit -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """About 1 MB of gzip that inflates to 1 GiB of zeros (a JSON array would follow; it never ends)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * (1 << 20)
    parts = [compressor.compress(block) for _ in range(1024)]
    parts.append(compressor.flush())
    return b"".join(parts)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_gzip_bomb_stops_at_max_response_bytes_and_is_not_retried(gzip_bomb: bytes, mode: str) -> None:
    def answer(seen: Seen) -> Answer:
        return Answer(200, gzip_bomb, {"Content-Type": "application/json", "Content-Encoding": "gzip"})

    with HostileServer(answer) as server:
        result = run_listing("fleetio", connection("fleetio", server.url, max_retries=3), mode)
        calls = len(server.seen)
    assert result["outcome"].startswith("VendorApiError: ")
    assert "larger than max_response_bytes=67108864" in result["outcome"]
    assert calls == 1  # never inflated again on a retry
    assert result["grew_mb"] < 150  # the default limit is 64 MB; the whole bomb would be 1 GiB


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_body_announced_past_the_limit_is_refused_without_reading_it(mode: str) -> None:
    body = b"[" + b" " * (3 << 20) + b"]"
    with HostileServer(lambda seen: Answer(200, body, {"Content-Type": "application/json"})) as server:
        result = run_listing("fleetio", connection("fleetio", server.url, max_response_bytes=1 << 20), mode)
    assert "is 3145730 bytes, more than max_response_bytes=1048576" in result["outcome"]


def test_a_gzip_body_within_the_limit_is_read_whole() -> None:
    body = gzip.compress(json.dumps({"records": [record("fleetio")], "next_cursor": None}).encode())
    answer = Answer(200, body, {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    with HostileServer(lambda seen: answer) as server:
        for mode in ("sync", "async"):
            assert run_listing("fleetio", connection("fleetio", server.url), mode)["outcome"] == "ok 1"


# -- a deadline per request ------------------------------------------------------------------------


def trickle(seen: Seen) -> Answer:
    """Headers at once, then one byte of a never-ending body every 0.2 s: no single read times out."""
    return Answer(200, ((0.2, b" ") for _ in range(10_000)), {"Content-Type": "application/json"})


@pytest.fixture
def trickling(monkeypatch: pytest.MonkeyPatch) -> Iterator[HostileServer]:
    with HostileServer(trickle) as server:
        monkeypatch.setenv("AIRFLOW_CONN_FLEETIO_DEFAULT",
                           connection("fleetio", server.url, timeout=3, deadline=2, max_retries=0))  # fmt: skip
        yield server


def test_a_trickling_answer_ends_at_the_deadline_sync(trickling: HostileServer) -> None:
    started = time.monotonic()
    with pytest.raises(VendorUnavailableError, match=r"timeout error on GET .*within the deadline of 2 s"):
        get_orders_hook("fleetio_default").list_orders()
    assert time.monotonic() - started < 5


def test_a_trickling_answer_ends_at_the_deadline_async(trickling: HostileServer) -> None:
    async def listing() -> Any:
        return [o async for o in get_orders_hook("fleetio_default").aiter_orders()]

    started = time.monotonic()
    with pytest.raises(VendorUnavailableError, match=r"timeout error on GET .*within the deadline of 2 s"):
        asyncio.run(listing())
    assert time.monotonic() - started < 5


def test_the_trigger_honours_timeout_at_in_the_middle_of_a_poll(
    trickling: HostileServer, monkeypatch
) -> None:
    conn = json.loads(connection("fleetio", trickling.url, timeout=3, deadline=60, max_retries=0))
    monkeypatch.setenv("AIRFLOW_CONN_FLEETIO_DEFAULT", json.dumps(conn))
    trigger = OrderStateTrigger(conn_id="fleetio_default", order_id="7", target_status=["completed"],
                                failure_status=["failed"], timeout_at=time.time() + 2)  # fmt: skip

    async def first() -> Any:
        async for event in trigger.run():
            return event.payload

    started = time.monotonic()
    event = asyncio.run(first())
    assert (event["status"], event["order"]) == ("timeout", None)
    assert time.monotonic() - started < 4


def test_a_read_timeout_in_the_middle_of_a_body_is_a_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    def stalls(seen: Seen) -> Answer:
        return Answer(200, iter([(0, b'{"records": ['), (3, b"]}")]), {"Content-Type": "application/json"})

    with HostileServer(stalls) as server:
        monkeypatch.setenv(
            "AIRFLOW_CONN_FLEETIO_DEFAULT", connection("fleetio", server.url, timeout=1, max_retries=0)
        )
        with pytest.raises(VendorUnavailableError, match=r"^fleetio: timeout error on GET"):
            get_orders_hook("fleetio_default").list_orders()


# -- configuration errors are not retried ----------------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_tls_to_a_plain_http_port_fails_at_once_and_says_what_to_change(
    mode: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with HostileServer(lambda seen: Answer.json({})) as server:
        conn = json.loads(connection("fleetio", server.url, max_retries=5))
        conn["host"] = server.url.replace("http://", "https://")
        monkeypatch.setenv("AIRFLOW_CONN_FLEETIO_DEFAULT", json.dumps(conn))
        hook = get_orders_hook("fleetio_default")

        async def alist() -> Any:
            return [o async for o in hook.aiter_orders()]

        with (
            caplog.at_level("WARNING", logger="airflow_provider_orders"),
            pytest.raises(VendorApiError) as info,
        ):
            asyncio.run(alist()) if mode == "async" else hook.list_orders()
    assert type(info.value) is VendorApiError and not info.value.retryable
    assert f"TLS to {conn['host']} failed: the server does not speak TLS on that port" in str(info.value)
    assert "write http:// in the host and set the extra allow_insecure_http=true" in str(info.value)
    assert not [r for r in caplog.records if "retry" in r.getMessage()]  # no retry was made


def test_connection_form_widgets_without_flask_appbuilder_are_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_orders.hooks.fleetio import FleetioHook

    monkeypatch.setitem(sys.modules, "flask_appbuilder.fieldwidgets", None)  # import raises ImportError
    assert FleetioHook.get_connection_form_widgets() == {}


def test_an_untrusted_certificate_fails_at_once_and_names_the_verify_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import datetime as dt
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "self-signed vendor")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))  # fmt: skip
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    with HostileServer(lambda seen: Answer.json({"records": [], "next_cursor": None})) as server:
        server.wrap(context)
        conn = json.loads(connection("fleetio", server.url, max_retries=5))
        conn["host"] = server.url.replace("http://", "https://")
        monkeypatch.setenv("AIRFLOW_CONN_FLEETIO_DEFAULT", json.dumps(conn))
        with pytest.raises(
            VendorApiError, match=r"certificate is not trusted .*set the extra verify to the path"
        ):
            get_orders_hook("fleetio_default").list_orders()
        # Trusting the CA that signed it is the fix the message names.
        conn["extra"]["verify"] = str(tmp_path / "cert.pem")
        monkeypatch.setenv("AIRFLOW_CONN_FLEETIO_DEFAULT", json.dumps(conn))
        assert get_orders_hook("fleetio_default").list_orders() == []
