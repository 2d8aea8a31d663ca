"""Bad input and broken answers: ids that cannot move a request, malformed records, safe outputs, strict
connections, and a connection test that reaches the API itself."""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_orders.boundary import OrdersTaskFailed
from airflow_provider_orders.engine.core import OrdersEngine
from airflow_provider_orders.errors import ConnectionConfigError, InvalidFilterError, VendorApiError
from airflow_provider_orders.hooks.resolve import get_orders_hook
from airflow_provider_orders.operators.orders import ListOrdersOperator
from airflow_provider_orders.sandbox import Sandbox
from airflow_provider_orders.sensors.orders import OrderStateSensor
from airflow_provider_orders.vendors.adobe_vip import AdobeVipMarketplace
from airflow_provider_orders.vendors.crayon import Crayon
from airflow_provider_orders.vendors.emnify import Emnify
from airflow_provider_orders.vendors.fleetio import Fleetio
from tests.conftest import wire
from tests.hostile import Answer, HostileServer, Seen
from tests.test_hostile import connection, record, token
from tests.test_operator import dataset_uri, run

pytestmark = pytest.mark.integration

CREDENTIALS = {
    "adobe_vip_marketplace": {"login": "cid", "password": "cs"},
    "emnify": {"password": "apptoken"},
    "fleetio": {"password": "key", "account_token": "acct"},
    "crayon": {"login": "u", "password": "p", "client_id": "cid", "client_secret": "cs"},
}
# vendor -> (its class, the path an order lookup asks for, before the id)
LOOKUPS = {
    "adobe_vip_marketplace": (AdobeVipMarketplace, "/v3/customers/{customer}/orders/"),
    "emnify": (Emnify, "/api/v1/shop/order/"),
    "fleetio": (Fleetio, "/api/v1/purchase_orders/"),
}


def engine(vendor_class: Any, **values: Any) -> OrdersEngine:
    values = {"host": "https://api.example", **CREDENTIALS[vendor_class.conn_type], **values}
    return OrdersEngine(vendor_class(vendor_class.parse_settings("t", values)))


def lookup_url(vendor: str, order_id: str, customer: str = "C1") -> str:
    vendor_class, _ = LOOKUPS[vendor]
    eng = engine(vendor_class)
    scope = {"customer_id": customer} if vendor == "adobe_vip_marketplace" else {}
    request = eng.vendor.order_lookup(order_id, scope).request
    assert request is not None
    return eng._prepare(request, {}).url


# -- ids are data, never paths ---------------------------------------------------------------------

ids = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() not in ("", ".", ".."))


@pytest.mark.parametrize("vendor", sorted(LOOKUPS))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order_id=ids, customer=ids)
def test_no_order_id_or_customer_changes_the_path_or_adds_a_query(
    vendor: str, order_id: str, customer: str
) -> None:
    url = lookup_url(vendor, order_id, customer)
    parts = urlsplit(url)
    prefix = LOOKUPS[vendor][1].format(customer=quote(customer.strip(), safe=""))
    assert (parts.scheme, parts.netloc, parts.query, parts.fragment) == ("https", "api.example", "", "")
    assert parts.path == prefix + quote(order_id.strip(), safe="")
    assert unquote(parts.path.rsplit("/", 1)[1]) == order_id.strip()  # one segment, the id itself


@pytest.mark.parametrize("vendor", sorted(LOOKUPS))
@pytest.mark.parametrize("bad", [None, "", "  ", ".", ".."])
def test_an_id_that_names_no_order_is_refused_before_any_request(vendor: str, bad: Any) -> None:
    eng = engine(LOOKUPS[vendor][0])
    scope = {"customer_id": "C1"} if vendor == "adobe_vip_marketplace" else {}
    with pytest.raises(InvalidFilterError, match=r"order_id .* is not an id"):
        next(eng.get_order(bad, scope))


def test_a_path_in_an_order_id_reaches_the_vendor_as_one_segment(sbx: Sandbox) -> None:
    hook = get_orders_hook("fleetio_default")
    with pytest.raises(Exception, match="no order"):
        hook.get_order("../../admin?x=1")
    (seen,) = [r for r in wire(sbx, "fleetio") if "admin" in r["path"]]
    assert seen["path"] == "/fleetio/api/v1/purchase_orders/..%2F..%2Fadmin%3Fx%3D1"
    assert seen["query"] == []


# -- malformed vendor bodies -----------------------------------------------------------------------


def test_a_malformed_single_order_is_an_orders_error_naming_the_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with HostileServer(lambda seen: Answer.json({"state": "draft"})) as server:
        monkeypatch.setenv("AIRFLOW_CONN_FLEETIO_DEFAULT", connection("fleetio", server.url))
        with pytest.raises(VendorApiError, match=r"a Fleetio order record has no field 'number'"):
            get_orders_hook("fleetio_default").get_order("7")
        sensor = OrderStateSensor(task_id="w", conn_id="fleetio_default", order_id="7")
        with pytest.raises(OrdersTaskFailed) as info:
            sensor.poke({})
        assert isinstance(info.value.__cause__, VendorApiError)


def test_a_listing_record_of_the_wrong_type_is_an_orders_error(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = {**record("fleetio"), "created_at": 12}
    page = {"records": [bad], "next_cursor": None}
    with HostileServer(lambda seen: Answer.json(page)) as server:
        monkeypatch.setenv("AIRFLOW_CONN_FLEETIO_DEFAULT", connection("fleetio", server.url))
        with pytest.raises(VendorApiError, match=r"a Fleetio order record has a field of an unexpected type"):
            get_orders_hook("fleetio_default").list_orders()


# -- safe outputs ----------------------------------------------------------------------------------


def formula_orders(seen: Seen) -> Answer:
    rows = [{**record("fleetio", i), "number": n} for i, n in enumerate(["=HYPERLINK(\"http://x\")", "@SUM(A1)",
            "+1+2", "-3", "\tTAB", "PO-7"])]  # fmt: skip
    return Answer.json({"records": rows, "next_cursor": None})


@pytest.mark.parametrize(("escape", "expected"), [
    (True, ["'=HYPERLINK(\"http://x\")", "'@SUM(A1)", "'+1+2", "-3", "'\tTAB", "PO-7"]),
    (False, ["=HYPERLINK(\"http://x\")", "@SUM(A1)", "+1+2", "-3", "\tTAB", "PO-7"]),
])  # fmt: skip
def test_csv_cells_that_would_run_as_formulas_are_neutralised(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, escape: bool, expected: list[str]
) -> None:
    target = tmp_path / "orders.csv"
    with HostileServer(formula_orders) as server:
        monkeypatch.setenv("AIRFLOW_CONN_FLEETIO_DEFAULT", connection("fleetio", server.url))
        op = ListOrdersOperator(task_id="t", conn_id="fleetio_default", output_path=str(target), format="csv",
                                csv_escape_formulas=escape)  # fmt: skip
        run(op)
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [r["id"] for r in rows] == expected


def test_an_output_path_that_is_a_directory_fails_before_any_request(sbx: Sandbox, tmp_path: Path) -> None:
    op = ListOrdersOperator(task_id="t", conn_id="emnify_default", output_path=str(tmp_path))
    with pytest.raises(AirflowFailException, match=r"is a directory; name a file in it"):
        run(op)
    assert wire(sbx, "emnify") == []


def test_an_output_path_under_a_file_fails_before_any_request(sbx: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("a file")
    op = ListOrdersOperator(
        task_id="t", conn_id="emnify_default", output_path=str(tmp_path / "plain" / "o.jsonl")
    )
    with pytest.raises(AirflowFailException, match=r"lies under a file, not a directory"):
        run(op)
    assert wire(sbx, "emnify") == []


def test_a_relative_output_path_is_written_and_shown_as_an_absolute_uri(
    sbx: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    op = ListOrdersOperator(task_id="t", conn_id="emnify_default", output_path="exports/orders.jsonl")
    result, _ = run(op)
    assert result["uri"] == f"file://{tmp_path}/exports/orders.jsonl"
    assert (tmp_path / "exports" / "orders.jsonl").exists()
    assert dataset_uri(op) == f"file://{tmp_path}/exports/orders.jsonl"


# -- strict connections ----------------------------------------------------------------------------


@pytest.mark.parametrize(("values", "message"), [
    ({"timeout": float("inf")}, r"setting 'timeout': Input should be a finite number"),
    ({"timeout": 1e308}, r"setting 'timeout': Input should be less than or equal to 3600"),
    ({"verify": 0}, r"setting 'verify': must be true, false, or the path of an existing CA bundle"),
    ({"verify": "yes"}, r"setting 'verify': must be true, false, or the path of an existing CA bundle"),
    ({"host": "https://user:pw@api.example"}, r"must not hold credentials \(user:password@host\)"),
    ({"host": "http://api.example"}, r"host 'http://api.example' is http://: .* set the extra allow_insecure_http=true"),
    ({"timeout": "x", "max_retries": -1}, r"'timeout': .*; setting 'max_retries': .*greater than or equal to 0"),
])  # fmt: skip
def test_a_wrong_connection_value_is_a_clear_error(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConnectionConfigError, match=message) as info:
        engine(Fleetio, **values)
    assert ":pw@" not in str(info.value)  # a password in the host is never echoed


def test_a_token_url_over_http_needs_allow_insecure_http_too() -> None:
    from airflow_provider_orders.vendors.granite import GraniteAccessExpress

    values = {
        "host": "https://api.example",
        "login": "c",
        "password": "s",
        "token_url": "http://auth.example/t",
    }
    # token_url is the first name of oauth_url, still read.
    with pytest.raises(ConnectionConfigError, match=r"oauth_url 'http://auth.example/t' is http://"):
        GraniteAccessExpress.parse_settings("g", values)
    GraniteAccessExpress.parse_settings("g", {**values, "allow_insecure_http": "true"})


def test_an_extra_that_is_not_a_json_object_is_a_clear_error() -> None:
    from types import SimpleNamespace

    from airflow_provider_orders.vendors.connection import settings_from_connection

    # Some Airflow releases refuse such a connection themselves; one built in code reaches the provider.
    conn = SimpleNamespace(conn_id="f", host="https://api.example", schema=None, login=None, password="k",
                           port=None, extra_dejson=["a", "b"])  # fmt: skip
    with pytest.raises(ConnectionConfigError, match=r"has an extra that is a JSON list, not an object"):
        settings_from_connection(Fleetio, conn)


@pytest.mark.parametrize(
    ("host", "port", "base"),
    [
        ("https://api.example/v1", 443, "https://api.example/v1"),  # the scheme's own: the URL as written
        ("http://127.0.0.1:8610", 8610, "http://127.0.0.1:8610"),  # the URL's own, restated
        ("https://api.example/v1", 8443, "https://api.example:8443/v1"),  # added where the URL has none
        ("api.example", 8443, "https://api.example:8443"),  # a bare host: scheme and port around it
        ("", 443, "https://secure.fleetio.com"),  # the production URL's own
        ("https://api.example", None, "https://api.example"),
    ],
)
def test_the_port_field_restates_or_adds_the_urls_port(host: str, port: int | None, base: str) -> None:
    from types import SimpleNamespace

    from airflow_provider_orders.vendors.connection import settings_from_connection

    conn = SimpleNamespace(conn_id="f", host=host, schema=None, login=None, password="k", port=port,
                           extra_dejson={"account_token": "t", "allow_insecure_http": True})  # fmt: skip
    assert settings_from_connection(Fleetio, conn).host == base


def test_a_port_that_contradicts_the_url_is_a_clear_error_before_any_request() -> None:
    from types import SimpleNamespace

    from airflow_provider_orders.vendors.connection import settings_from_connection

    conn = SimpleNamespace(conn_id="fleetio_prod", host="https://user:pw-S3cret@api.example:8443", schema=None,
                           login=None, password="k", port=443, extra_dejson={"account_token": "t"})  # fmt: skip
    with pytest.raises(ConnectionConfigError) as caught:
        settings_from_connection(Fleetio, conn)
    assert str(caught.value) == (
        "fleetio: connection 'fleetio_prod' has Port 443, but its API base URL names port 8443 "
        "(https://api.example:8443); clear Port, or make it 8443"
    )


def test_insecure_http_is_warned_about_once_per_host(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="airflow_provider_orders"):
        for _ in range(3):
            engine(Fleetio, host="http://warn-once.example", allow_insecure_http=True)
    warnings = [r for r in caplog.records if "plain http" in r.getMessage()]
    assert [w.getMessage() for w in warnings] == [
        "fleetio: credentials go to http://warn-once.example over plain http (allow_insecure_http)"
    ]


def test_crayons_basic_credentials_are_masked_like_the_secret() -> None:
    import base64

    vendor = engine(Crayon).vendor
    assert base64.b64encode(b"cid:cs").decode() in vendor.secrets()


# -- the connection test reaches the API -----------------------------------------------------------


@pytest.mark.parametrize("vendor", ["adobe_vip_marketplace", "emnify", "fleetio"])
def test_test_connection_fails_when_only_the_token_endpoint_answers(
    vendor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def answer(seen: Seen) -> Answer:
        return token(seen) or Answer.json({"message": "API key not valid"}, status=401)

    with HostileServer(answer) as server:
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{vendor.upper()}_DEFAULT", connection(vendor, server.url, max_retries=0)
        )
        ok, message = get_orders_hook(f"{vendor}_default").test_connection()
        api = [s for s in server.seen if token(s) is None]
    assert not ok
    assert message.startswith(
        f"{get_orders_hook(f'{vendor}_default').vendor_class.display_name} at {server.url}"
    )
    assert "HTTP 401" in message
    # After a 401 a new token is fetched, once. Fleetio has no token: its API key alone goes to the
    # accounts list, to tell a wrong key from a wrong account token (here the key is refused too).
    assert len(api) == 2
    if vendor == "fleetio":
        assert (api[1].path, "account-token" in api[1].headers) == ("/api/v1/accounts", False)
        assert "Fleetio refused the API key" in message


def test_a_granite_connection_test_makes_an_api_call(sbx: Sandbox) -> None:
    ok, message = get_orders_hook("granite_access_express_default").test_connection()
    assert ok, message
    assert [r["path"] for r in wire(sbx, "granite_access_express") if "/orders" in r["path"]]


def test_a_redirect_error_names_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    moved = Answer(302, b"", {"Location": "https://elsewhere.example/login"})
    with HostileServer(lambda seen: moved) as server:
        monkeypatch.setenv("AIRFLOW_CONN_FLEETIO_DEFAULT", connection("fleetio", server.url, max_retries=0))
        with pytest.raises(VendorApiError, match=r"unexpected redirect to https://elsewhere.example/login"):
            get_orders_hook("fleetio_default").list_orders()


def test_an_adobe_customer_id_longer_than_adobe_documents_is_refused() -> None:
    eng = engine(AdobeVipMarketplace)
    with pytest.raises(InvalidFilterError, match=r"customer_id is 41 characters long; .* at most 40"):
        next(eng.get_order("1", {"customer_id": "9" * 41}))
