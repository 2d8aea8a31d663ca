"""The networks Airflow really runs in: a real forward proxy (tinyproxy), TLS with a throw-away CA (trustme),
client certificates, and a transport that stays bounded on any answer.

The vendors are the sandbox served over https as ``vendor.orders.test``, a name only the proxy resolves
(``tests/proxy.py``): a listing that succeeds went through the proxy, token endpoints included.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from airflow_provider_orders.errors import (
    AuthenticationError,
    ConnectionConfigError,
    VendorApiError,
    VendorUnavailableError,
)
from airflow_provider_orders.hooks.resolve import get_orders_hook
from airflow_provider_orders.sandbox import Sandbox, SandboxConfig, sandbox_connections
from airflow_provider_orders.vendors.network import Network, bypasses_proxy, parse_proxy
from airflow_provider_orders.vendors.settings import ConnectionSettings
from tests.conftest import expected_ids
from tests.hostile import Answer, HostileServer
from tests.proxy import VENDOR_HOST, Tinyproxy, resolving
from tests.test_hostile import connection as fleetio_like

pytestmark = pytest.mark.integration

VENDORS = ["crayon", "adobe_vip_marketplace", "granite_access_express", "emnify", "fleetio"]
#: The path of each vendor's token endpoint in the sandbox (Fleetio has none: static keys).
TOKEN_PATHS = {
    "crayon": "/connect/token",
    "adobe_vip_marketplace": "/ims/token/v3",
    "granite_access_express": "/token",
    "emnify": "/authenticate",
}
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
PROXY_PASSWORD = "pr0xy-s3cret-Pa55"


@pytest.fixture(autouse=True)
def _clean_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="module")
def tls_sandbox(ca: trustme.CA) -> Iterator[Sandbox]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(VENDOR_HOST).configure_cert(context)
    with Sandbox(SandboxConfig(orders=30), tls=context) as sandbox:
        yield sandbox


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Tinyproxy]:
    with Tinyproxy(tmp_path) as running:
        yield running


@pytest.fixture
def auth_proxy(tmp_path: Path) -> Iterator[Tinyproxy]:
    with Tinyproxy(tmp_path, auth=("alice", PROXY_PASSWORD)) as running:
        yield running


def tls_connections(sandbox: Sandbox, ca_file: str, **extra: Any) -> dict[str, dict[str, Any]]:
    """Every vendor's connection to the https sandbox by the name only the proxy resolves."""
    conns = sandbox_connections(f"https://{VENDOR_HOST}:{sandbox.port}")
    for conn in conns.values():
        conn["extra"] = {**conn["extra"], "allow_insecure_http": False, "verify": ca_file, "max_retries": 0,
                         **extra}  # fmt: skip
    return conns


def use(monkeypatch: pytest.MonkeyPatch, conns: dict[str, dict[str, Any]]) -> None:
    for conn_id, conn in conns.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def listed(vendor: str, sandbox: Sandbox, mode: str) -> set[str]:
    hook = get_orders_hook(f"{vendor}_default")
    filters = sandbox.filters[vendor]
    if mode == "sync":
        return {order.id for order in hook.list_orders(**filters)}

    async def collect() -> set[str]:
        return {order.id async for order in hook.aiter_orders(**filters)}

    return asyncio.run(collect())


def paths_seen(sandbox: Sandbox) -> list[str]:
    return [str(r["path"]) for r in sandbox.requests_seen]


# -- the proxy ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("vendor", VENDORS)
def test_every_vendor_lists_through_the_environment_proxy_token_endpoint_included(
    vendor: str,
    mode: str,
    tls_sandbox: Sandbox,
    ca_file: str,
    proxy: Tinyproxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tls_sandbox.reset()
    use(monkeypatch, tls_connections(tls_sandbox, ca_file))
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)

    ids = listed(vendor, tls_sandbox, mode)

    assert ids == expected_ids(tls_sandbox, vendor, tls_sandbox.tenant(vendor))
    # CONNECT: TLS end to end, the proxy sees only the host and port.
    assert proxy.tunnels_to(VENDOR_HOST, tls_sandbox.port) >= 1
    assert all(line.startswith("CONNECT ") for line in proxy.requests())
    if vendor in TOKEN_PATHS:
        assert any(TOKEN_PATHS[vendor] in path for path in paths_seen(tls_sandbox))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_lower_case_and_all_proxy_variables_are_read(
    mode: str, tls_sandbox: Sandbox, ca_file: str, proxy: Tinyproxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, tls_connections(tls_sandbox, ca_file))
    monkeypatch.setenv("all_proxy", proxy.url)
    assert listed("crayon", tls_sandbox, mode) == expected_ids(tls_sandbox, "crayon", "1001")
    assert proxy.tunnels_to(VENDOR_HOST, tls_sandbox.port) >= 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_proxy_extra_overrides_the_environment_with_basic_auth(
    mode: str, tls_sandbox: Sandbox, ca_file: str, auth_proxy: Tinyproxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = auth_proxy.port
    use(
        monkeypatch,
        tls_connections(tls_sandbox, ca_file, proxy=f"http://alice:{PROXY_PASSWORD}@127.0.0.1:{port}"),
    )
    # The environment names a proxy that is not there: only the extra's can work.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert listed("emnify", tls_sandbox, mode) == expected_ids(tls_sandbox, "emnify", "")
    assert auth_proxy.tunnels_to(VENDOR_HOST, tls_sandbox.port) >= 1


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(("credentials", "status"), [("", 407), ("alice:wr0ng-Pa55word@", 401)],
                         ids=["none", "wrong"])  # fmt: skip
def test_a_proxy_that_refuses_the_credentials_is_an_authentication_error_naming_it_never_them(
    credentials: str,
    status: int,
    mode: str,
    tls_sandbox: Sandbox,
    ca_file: str,
    auth_proxy: Tinyproxy,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """407 without credentials; tinyproxy answers a tunnel with wrong ones 401, which is the proxy's too."""
    conns = tls_connections(tls_sandbox, ca_file, proxy=f"http://{credentials}127.0.0.1:{auth_proxy.port}",
                            max_retries=3)  # fmt: skip
    use(monkeypatch, conns)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthenticationError) as raised:
        listed("fleetio", tls_sandbox, mode)
    error = raised.value
    assert error.status == status and error.vendor == "fleetio"
    assert f"the proxy http://127.0.0.1:{auth_proxy.port} (from the proxy extra) refused the request" in str(
        error
    )
    assert "user:password" in str(error)  # the fix
    for text in (str(error), repr(error), caplog.text):
        assert "wr0ng-Pa55word" not in text and "alice" not in text
    # Refused credentials are not retried.
    assert len(auth_proxy.requests()) == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_plain_http_vendor_is_forwarded_by_http_proxy(
    mode: str, tmp_path: Path, proxy: Tinyproxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An http:// vendor (a private gateway, allow_insecure_http) through HTTP_PROXY: the proxy is sent the
    whole URL."""
    with HostileServer(lambda seen: Answer.json({"records": [], "next_cursor": None})) as server:
        port = server.url.rsplit(":", 1)[1]
        monkeypatch.setenv(
            "AIRFLOW_CONN_FLEETIO_DEFAULT", fleetio(f"http://{VENDOR_HOST}:{port}", max_retries=0)
        )
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        hook = get_orders_hook("fleetio_default")
        if mode == "sync":
            assert hook.list_orders() == []
        else:
            assert asyncio.run(_alist(hook)) == []
    assert proxy.requests()[0].startswith(f"GET http://{VENDOR_HOST}:{port}/api/v1/purchase_orders?")
    assert server.seen[0].headers["account-token"]  # the vendor's headers reached it through the proxy


def fleetio(url: str, **extra: Any) -> str:
    """A Fleetio connection to ``url`` (http allowed), as ``AIRFLOW_CONN_`` JSON."""
    return fleetio_like("fleetio", url, **extra)


async def _alist(hook: Any) -> list[Any]:
    return [order async for order in hook.aiter_orders()]


def list_fleetio(mode: str) -> list[Any]:
    """Every order of ``fleetio_default``, with the sync or the async hook."""
    hook = get_orders_hook("fleetio_default")
    return hook.list_orders() if mode == "sync" else asyncio.run(_alist(hook))


def test_a_proxy_the_standard_libraries_cannot_use_is_a_clear_error_before_any_request(
    tls_sandbox: Sandbox, ca_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, tls_connections(tls_sandbox, ca_file))
    tls_sandbox.reset()
    monkeypatch.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1080")
    with pytest.raises(ConnectionConfigError, match=r"HTTPS_PROXY is a socks5:// proxy.*trust_env=false"):
        get_orders_hook("fleetio_default").list_orders()
    assert list(tls_sandbox.requests_seen) == []
    monkeypatch.setenv(
        "AIRFLOW_CONN_FLEETIO_DEFAULT", fleetio("https://x.example", proxy=f"socks5://u:{PROXY_PASSWORD}@h:1")
    )
    with pytest.raises(ConnectionConfigError, match=r"the proxy extra is a socks5:// proxy") as raised:
        get_orders_hook("fleetio_default").list_orders()
    assert PROXY_PASSWORD not in str(raised.value)


def test_the_proxy_password_never_shows_in_a_repr_or_an_invalid_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"http://alice:{PROXY_PASSWORD}@proxy.corp:3128"
    settings = ConnectionSettings(host="https://x.example", proxy=url)
    assert PROXY_PASSWORD not in repr(settings)
    proxy = settings.proxy_setting()
    assert (
        proxy is not None
        and proxy.url == "http://proxy.corp:3128"
        and proxy.auth == ("alice", PROXY_PASSWORD)
    )
    assert PROXY_PASSWORD not in repr(proxy) and PROXY_PASSWORD not in proxy.named
    monkeypatch.setenv(
        "AIRFLOW_CONN_FLEETIO_DEFAULT", fleetio("https://x.example", proxy=url, verify="maybe")
    )
    with pytest.raises(ConnectionConfigError, match="verify") as raised:
        _ = get_orders_hook("fleetio_default").vendor
    assert PROXY_PASSWORD not in str(raised.value)
    monkeypatch.setenv("AIRFLOW_CONN_FLEETIO_DEFAULT", fleetio("https://x.example", proxy=url))
    hook = get_orders_hook("fleetio_default")
    assert PROXY_PASSWORD in hook.vendor.secrets()  # registered with Airflow's masker
    assert PROXY_PASSWORD not in repr(hook.engine)


# -- which hosts go through the proxy ------------------------------------------------------------


@pytest.mark.parametrize(
    ("no_proxy", "url", "direct"),
    [
        ("", "https://api.crayon.com/x", False),
        ("*", "https://api.crayon.com/x", True),
        ("crayon.com", "https://api.crayon.com/x", True),
        (".crayon.com", "https://api.crayon.com/x", True),
        ("api.crayon.com", "https://API.Crayon.com/x", True),
        ("pi.crayon.com", "https://api.crayon.com/x", False),
        ("api.crayon.com:8443", "https://api.crayon.com:8443/x", True),
        ("other.example, crayon.com", "https://api.crayon.com/x", True),
        ("10.0.0.0/8", "https://10.1.2.3/x", True),
        ("10.0.0.0/8", "https://11.1.2.3/x", False),
        ("crayon.com", "https://crayon.com.evil.example/x", False),
    ],
)
def test_no_proxy_is_matched_as_the_standard_libraries_match_it(
    no_proxy: str, url: str, direct: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    network = Network(ConnectionSettings(host="https://api.crayon.com"))
    chosen = network.proxy_for(url)
    assert (chosen is None) is direct
    if not direct:
        assert (
            chosen is not None and chosen.url == "http://proxy.corp:3128" and chosen.source == "HTTPS_PROXY"
        )


def test_loopback_never_goes_through_an_environment_proxy_but_the_extra_is_always_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    network = Network(ConnectionSettings(host="https://x.example"))
    for url in (
        "http://127.0.0.1:8610/crayon",
        "http://localhost:1/x",
        "https://[::1]:8/x",
        "http://127.8.0.1/",
    ):
        assert network.proxy_for(url) is None
    assert network.proxy_for("http://vendor.example/x") is not None
    explicit = Network(ConnectionSettings(host="https://x.example", proxy="proxy.corp:8080"))
    chosen = explicit.proxy_for("http://127.0.0.1:8610/crayon")
    assert (
        chosen is not None and chosen.url == "http://proxy.corp:8080" and chosen.source == "the proxy extra"
    )
    off = Network(ConnectionSettings(host="https://x.example", trust_env=False))
    assert off.proxy_for("http://vendor.example/x") is None


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_sandbox_keeps_working_with_a_proxy_in_the_environment(
    mode: str, sbx: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every variable names a proxy that is not there, and NO_PROXY is unset: loopback goes direct."""
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    scope = sbx.filters["crayon"]
    assert listed("crayon", sbx, mode) == expected_ids(sbx, "crayon", sbx.tenant("crayon"))
    assert scope == {"customer_tenant_id": 1001}


def test_the_bypass_rule_is_the_standard_librarys_plus_cidr() -> None:
    import urllib.request

    for host, no_proxy in [("a.b.example", "b.example"), ("a.b.example", "c.example"), ("x", "*"), ("h", "")]:
        if no_proxy:
            assert bypasses_proxy(host, None, no_proxy) == bool(
                urllib.request.proxy_bypass_environment(host, {"no": no_proxy})  # type: ignore[attr-defined]
            )
    assert bypasses_proxy("192.168.7.9", None, "192.168.0.0/16")
    assert parse_proxy("proxy:3128", "HTTPS_PROXY").url == "http://proxy:3128"
    assert parse_proxy("https://p.example", "HTTPS_PROXY").url == "https://p.example:443"
    assert parse_proxy("http://a%40b:p%3Aw@p:1", "x").auth == ("a@b", "p:w")


NO_PROXY_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, os, re, sys
    from airflow_provider_orders.hooks.resolve import get_orders_hook
    log, tunnel = sys.argv[2], sys.argv[3]
    def tunnels():
        with open(log) as handle:
            return len(re.findall(r"Request \\(file descriptor \\d+\\): CONNECT " + re.escape(tunnel) + " ", handle.read()))
    results = []
    for case in json.loads(sys.argv[1]):
        for name in ("NO_PROXY", "no_proxy"):
            os.environ.pop(name, None)
        if case["no_proxy"] is not None:
            os.environ["NO_PROXY"] = case["no_proxy"]
        conn = json.loads(os.environ["BASE_CONN"])
        conn["extra"].update(case.get("extra", {}))
        os.environ["AIRFLOW_CONN_FLEETIO_DEFAULT"] = json.dumps(conn)
        hook = get_orders_hook("fleetio_default")
        async def alist():
            return [o.id async for o in hook.aiter_orders()]
        before = tunnels()
        ids = hook.list_orders() if case["mode"] == "sync" else asyncio.run(alist())
        results.append([len(ids), tunnels() - before])
    print(json.dumps(results))
    """
)


def test_no_proxy_and_trust_env_send_a_vendor_direct_on_both_drivers(
    tls_sandbox: Sandbox, ca_file: str, proxy: Tinyproxy, tmp_path: Path
) -> None:
    """In a process where the vendor's name resolves on the machine too, so the direct path can work: the
    proxy's log tells which path each listing took."""
    conn = tls_connections(tls_sandbox, ca_file)["fleetio_default"]
    port = tls_sandbox.port
    cases = [
        ({"no_proxy": None}, True),
        ({"no_proxy": VENDOR_HOST}, False),
        ({"no_proxy": ".orders.test"}, False),
        ({"no_proxy": "orders.test"}, False),
        ({"no_proxy": f"{VENDOR_HOST}:{port}"}, False),
        ({"no_proxy": f"{VENDOR_HOST}:{port + 1}"}, True),  # another port of the host
        ({"no_proxy": "other.test, orders.test"}, False),
        ({"no_proxy": "*"}, False),
        ({"no_proxy": "other.test"}, True),
        ({"no_proxy": "rders.test"}, True),  # a suffix, not a domain
        ({"no_proxy": None, "extra": {"trust_env": False}}, False),
    ]
    plan = [{**case, "mode": mode} for mode in ("sync", "async") for case, _ in cases]
    env = {k: v for k, v in os.environ.items() if k.upper() not in PROXY_VARIABLES}
    env.update(BASE_CONN=json.dumps(conn), HTTPS_PROXY=proxy.url)
    command = [
        sys.executable,
        "-c",
        NO_PROXY_SCRIPT,
        json.dumps(plan),
        str(proxy.log_path),
        f"{VENDOR_HOST}:{port}",
    ]
    done = subprocess.run(resolving(tmp_path, command), env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert [count for count, _ in results] == [30] * len(plan)
    assert [tunnels > 0 for _, tunnels in results] == [through for _, through in cases] * 2


# -- client certificates ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mtls(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A Fleetio on 127.0.0.1 that requires a client certificate signed by ``ca``, and the files."""
    from cryptography.hazmat.primitives import serialization

    files = tmp_path_factory.mktemp("mtls")
    client = ca.issue_cert("orders-client@example.com")
    client.cert_chain_pems[0].write_to_path(str(files / "client.pem"))
    client.private_key_pem.write_to_path(str(files / "client.key"))
    key = serialization.load_pem_private_key(client.private_key_pem.bytes(), password=None)
    (files / "client.enc.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"k3y-pass")))  # fmt: skip
    other = trustme.CA().issue_cert("someone-else@example.com")
    other.private_key_pem.write_to_path(str(files / "other.key"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED
    with HostileServer(lambda seen: Answer.json({"records": [], "next_cursor": None})) as server:
        server.wrap(context)
        yield {"server": server, "files": files}


def mtls_connection(
    mtls: dict[str, Any], ca_file: str, monkeypatch: pytest.MonkeyPatch, **extra: Any
) -> None:
    url = mtls["server"].url.replace("http://", "https://")
    monkeypatch.setenv("AIRFLOW_CONN_FLEETIO_DEFAULT", fleetio(url, verify=ca_file, max_retries=0, **extra))


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("key", ["separate", "encrypted", "other-names", "in_cert"])
def test_a_client_certificate_is_presented_to_a_server_that_requires_one(
    key: str, mode: str, mtls: dict[str, Any], ca_file: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    files = mtls["files"]
    extra: dict[str, Any] = {"cert": str(files / "client.pem"), "cert_key": str(files / "client.key")}
    if key == "encrypted":
        extra = {"cert": str(files / "client.pem"), "cert_key": str(files / "client.enc.key"),
                 "cert_password": "k3y-pass"}  # fmt: skip
    elif key == "other-names":  # the names urllib3 and other clients use are read too
        extra = {"client_cert": str(files / "client.pem"), "key_file": str(files / "client.enc.key"),
                 "key_password": "k3y-pass"}  # fmt: skip
    elif key == "in_cert":
        both = tmp_path / "both.pem"
        both.write_bytes((files / "client.key").read_bytes() + (files / "client.pem").read_bytes())
        extra = {"cert": str(both)}
    mtls_connection(mtls, ca_file, monkeypatch, **extra)
    hook = get_orders_hook("fleetio_default")
    seen = len(mtls["server"].seen)
    assert (hook.list_orders() if mode == "sync" else asyncio.run(_alist(hook))) == []
    assert len(mtls["server"].seen) == seen + 1


def test_without_its_client_certificate_the_server_refuses(
    mtls: dict[str, Any], ca_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    mtls_connection(mtls, ca_file, monkeypatch)
    with pytest.raises(VendorApiError):
        get_orders_hook("fleetio_default").list_orders()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"cert": "/nonexistent/client.pem"},
            r"setting 'cert': '/nonexistent/client.pem' is not a readable file",
        ),
        ({"cert": "{files}"}, r"setting 'cert': .* is not a readable file"),
        (
            {"cert": "{files}/client.pem", "cert_key": "{files}/other.key"},
            r"client certificate cannot be loaded",
        ),
        (
            {"cert": "{files}/client.pem", "cert_key": "{files}/client.enc.key", "cert_password": "wr0ng"},
            r"client certificate cannot be loaded",
        ),
        ({"cert_key": "{files}/client.key"}, r"set cert to the certificate's path too"),
    ],
    ids=["missing", "a-directory", "mismatched", "wrong-password", "key-without-cert"],
)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_bad_client_certificate_is_a_clear_error_before_any_request(
    extra: dict[str, str], message: str, mode: str, mtls: dict[str, Any], ca_file: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    files = mtls["files"]
    mtls_connection(mtls, ca_file, monkeypatch, **{k: v.format(files=files) for k, v in extra.items()})
    seen = len(mtls["server"].seen)
    with pytest.raises(ConnectionConfigError, match=message) as raised:
        list_fleetio(mode)
    assert raised.value.vendor == "fleetio" and "wr0ng" not in str(raised.value)
    assert len(mtls["server"].seen) == seen


# -- one deadline for the whole exchange ------------------------------------------------------------


class SlowHeaders:
    """A server that answers its status line and headers one byte every ``pace`` seconds."""

    def __init__(self, pace: float = 0.25) -> None:
        self.pace = pace
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 10_000 + b"\r\n\r\n"
        try:
            conn.recv(65536)
            for i in range(len(head)):
                if self.stop.is_set():
                    break
                conn.sendall(head[i : i + 1])
                time.sleep(self.pace)
        except OSError:
            pass
        finally:
            conn.close()

    def __enter__(self) -> SlowHeaders:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.sock.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_server_that_trickles_its_headers_is_cut_at_the_deadline(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SlowHeaders() as server:
        monkeypatch.setenv("AIRFLOW_CONN_FLEETIO_DEFAULT",
                           fleetio(server.url, timeout=1.5, deadline=2, max_retries=0))  # fmt: skip
        hook = get_orders_hook("fleetio_default")
        started = time.monotonic()
        with pytest.raises(VendorUnavailableError, match=r"no complete answer within the deadline of 2 s"):
            hook.list_orders() if mode == "sync" else asyncio.run(_alist(hook))
        elapsed = time.monotonic() - started
    # Each byte came well within the 1.5 s read timeout; only the deadline can end it.
    assert 1.9 < elapsed < 4.5


def test_the_watchdog_leaves_finished_exchanges_alone() -> None:
    from airflow_provider_orders.engine.sync import Watchdog

    dog = Watchdog()
    # One deadline far enough out that registering and finishing 3000 exchanges on a loaded machine ends
    # before it (0.05 s did not, once, with both cores busy); then wait past it.
    until = time.monotonic() + 1.0
    watches = [dog.watch(until) for _ in range(3000)]
    for watch in watches:
        dog.finish(watch)
    assert time.monotonic() < until, "registering took longer than the deadline: the test proves nothing"
    time.sleep(until - time.monotonic() + 0.2)
    assert not any(watch.fired for watch in watches)
    late = dog.watch(time.monotonic() + 0.05)
    time.sleep(0.3)
    assert late.fired
    dog.finish(late)


# -- every answer that cannot be decoded ----------------------------------------------------------------


UNDECODABLE = {
    "deep": (b"[" * 200_000) + (b"]" * 200_000),
    "deep-object": b'{"records": ' + (b'{"a": ' * 100_000) + b"1" + (b"}" * 100_000) + b"}",
    "not-utf8": b'{"records": [{"id": "\xff\xfe\xfd"}], "next_cursor": null}',
    "huge-number": b'{"records": [], "next_cursor": null, "per_page": ' + b"9" * 5000 + b"}",
}


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("body", sorted(UNDECODABLE))
def test_an_answer_that_cannot_be_decoded_is_a_vendor_api_error(
    body: str, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = UNDECODABLE[body]
    with HostileServer(lambda seen: Answer(200, data, {"Content-Type": "application/json"})) as server:
        monkeypatch.setenv("AIRFLOW_CONN_FLEETIO_DEFAULT", fleetio(server.url, max_retries=3))
        hook = get_orders_hook("fleetio_default")
        with pytest.raises(VendorApiError, match=r"answered a body that cannot be decoded") as raised:
            hook.list_orders() if mode == "sync" else asyncio.run(_alist(hook))
        assert raised.value.vendor == "fleetio" and not raised.value.retryable
        assert len(server.seen) == 1  # the same body every time: not retried
