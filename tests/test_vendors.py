"""Each vendor's request building, page parsing and normalisation, without a network."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from airflow_provider_orders.errors import ConnectionConfigError, InvalidFilterError
from airflow_provider_orders.models import OrderStatus
from airflow_provider_orders.vendors.adobe_vip import AdobeVipMarketplace
from airflow_provider_orders.vendors.base import Vendor
from airflow_provider_orders.vendors.crayon import Crayon
from airflow_provider_orders.vendors.emnify import Emnify
from airflow_provider_orders.vendors.fleetio import Fleetio
from airflow_provider_orders.vendors.granite import GraniteAccessExpress
from airflow_provider_orders.vendors.http import HttpResponse

UTC = timezone.utc


def make(vendor: type[Vendor], **values: Any) -> Vendor:
    base = {
        "crayon": {"login": "u", "password": "p", "client_id": "cid", "client_secret": "cs"},
        "adobe_vip_marketplace": {"login": "cid", "password": "cs", "ims_url": "https://ims.example"},
        "granite_access_express": {"login": "cid", "password": "cs", "token_url": "https://login.example/t"},
        "emnify": {"password": "apptoken"},
        "fleetio": {"password": "key", "account_token": "acct"},
    }[vendor.conn_type]
    return vendor(vendor.parse_settings("test", {"host": "https://api.example", **base, **values}))


def response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(status, headers or {}, json.dumps(body).encode())


# -- Crayon ----------------------------------------------------------------------------------------


def test_crayon_token_request_is_a_password_grant_with_basic_client_auth() -> None:
    request = make(Crayon).token_request()
    assert request.url == "/api/v1/connect/token/"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"cid:cs").decode()
    assert request.form == {
        "grant_type": "password",
        "username": "u",
        "password": "p",
        "scope": "CustomerApi",
    }
    assert request.authenticated is False


def test_crayon_list_request_pushes_single_state_and_search() -> None:
    vendor = make(Crayon)
    plan = vendor.plan_listing(vendor.parse_filters({"customer_tenant_id": 1234, "status": "Successful",
                                                     "search": "365", "page_size": 15}))  # fmt: skip
    request = plan.pager.first_request()
    assert request.url == "/api/v1/purchaserequest/orders/"
    assert dict(request.params) == {"customerTenantId": "1234", "orderState": "1", "page": "1", "pageSize": "15",
                                    "sortBy": "CreationDate", "sortOrder": "Descending", "search": "365"}  # fmt: skip
    assert plan.client_filter is None


def test_crayon_several_states_are_filtered_on_the_client() -> None:
    vendor = make(Crayon)
    plan = vendor.plan_listing(
        vendor.parse_filters({"customer_tenant_id": 1, "status": ["failed", "processing"]})
    )
    assert dict(plan.pager.first_request().params)["orderState"] == "0"
    assert plan.client_filter is not None


def test_crayon_pages_end_at_total_hits() -> None:
    vendor = make(Crayon)
    pager = vendor.plan_listing(vendor.parse_filters({"customer_tenant_id": 1, "page_size": 2})).pager
    pager.first_request()
    items = [
        {"OrderReferenceId": n, "Created": "2025-08-04T09:17:18.193", "OrderState": "Succeeded"}
        for n in (1, 2)
    ]
    first = pager.read(response({"Items": items, "TotalHits": 3}))
    assert first.total == 3
    assert first.next_request is not None and dict(first.next_request.params)["page"] == "2"
    last = pager.read(response({"Items": items[:1], "TotalHits": 3}))
    assert last.next_request is None


def test_crayon_record_time_without_zone_is_utc_and_fraction_any_length() -> None:
    order = make(Crayon).normalise(
        {"OrderReferenceId": 1412, "Created": "2025-04-15T15:43:05.5", "OrderState": "Failed"}
    )
    assert order.id == "1412"
    assert order.created_at == datetime(2025, 4, 15, 15, 43, 5, 500000, tzinfo=UTC)
    assert order.status is OrderStatus.FAILED
    assert order.vendor_status == "Failed"


def test_crayon_lines_of_one_order_have_distinct_keys_and_one_id() -> None:
    vendor = make(Crayon)
    line = {"OrderReferenceId": 1414, "CatalogId": "CFQ7TTC0LF8R", "Name": "M365", "Quantity": 1,
            "Created": "2025-08-04T09:17:18.193", "OrderState": "Succeeded"}  # fmt: skip
    first, second = vendor.normalise(line), vendor.normalise({**line, "CatalogId": "CFQ7TTC0Q3X5"})
    assert first.id == second.id == "1414"
    assert vendor.line_key(first) != vendor.line_key(second)
    # The state is not part of a line's identity: it changes while the order is listed.
    assert vendor.line_key(first) == vendor.line_key(vendor.normalise({**line, "OrderState": "Processing"}))


@pytest.mark.parametrize(
    ("states", "expected"),
    [(["Succeeded", "Processing"], "Processing"), (["Succeeded", "Failed"], "Failed"),
     (["Succeeded", "Succeeded"], "Succeeded"), (["Failed", "Processing"], "Processing")],
)  # fmt: skip
def test_crayon_an_order_is_as_settled_as_its_least_settled_line(states: list[str], expected: str) -> None:
    vendor = make(Crayon)
    lines = [vendor.normalise({"OrderReferenceId": 7, "CatalogId": f"C{n}", "Created": "2025-08-04T09:17:18",
                               "OrderState": state, "Error": "seat limit" if state == "Failed" else None})
             for n, state in enumerate(states)]  # fmt: skip
    order = vendor.combine_lines(lines)
    assert (order.id, order.vendor_status, order.status) == ("7", expected, vendor.map_status(expected))
    assert [line["CatalogId"] for line in order.raw["Lines"]] == ["C0", "C1"]
    assert order.raw["Error"] == ("seat limit" if "Failed" in states else None)


def test_crayon_requires_customer_tenant_id() -> None:
    with pytest.raises(InvalidFilterError, match=r"customer_tenant_id.*required") as info:
        Crayon.parse_filters({})
    assert info.value.vendor == "crayon"


# -- Adobe -----------------------------------------------------------------------------------------


def test_adobe_dates_go_on_the_wire_in_zulu() -> None:
    vendor = make(AdobeVipMarketplace)
    since = datetime(2024, 3, 1, 2, 0, tzinfo=timezone.utc)
    filters = vendor.parse_filters({"customer_id": "C1", "created_since": "2024-03-01T03:00:00+01:00",
                                    "created_until": since.replace(day=2), "status": ["completed", "1002"],
                                    "order_type": ["new", "RENEWAL"]})  # fmt: skip
    request = vendor.plan_listing(filters).pager.first_request()
    assert request.url == "/v3/customers/C1/orders"
    assert list(request.params) == [
        ("limit", "100"), ("offset", "0"), ("status", "1000"), ("status", "1002"), ("order-type", "NEW"),
        ("order-type", "RENEWAL"), ("start-date", "2024-03-01T02:00:00Z"), ("end-date", "2024-03-02T02:00:00Z"),
    ]  # fmt: skip


def test_adobe_without_created_since_asks_for_the_whole_history() -> None:
    # Adobe's default start-date is the customer's current term start: earlier orders would be left out.
    request = make(AdobeVipMarketplace).plan_listing(AdobeVipMarketplace.parse_filters({"customer_id": "C1"}))
    assert dict(request.pager.first_request().params)["start-date"] == "2000-01-01"
    later = make(AdobeVipMarketplace, history_start_date="2019-05-01")
    plan = later.plan_listing(later.parse_filters({"customer_id": "C1"}))
    assert dict(plan.pager.first_request().params)["start-date"] == "2019-05-01"


def test_adobe_status_codes_the_history_parameter_does_not_take_are_filtered_on_the_client() -> None:
    vendor = make(AdobeVipMarketplace)
    pushed = vendor.plan_listing(vendor.parse_filters({"customer_id": "C1", "status": ["1004", "1026"]}))
    assert [v for k, v in pushed.pager.first_request().params if k == "status"] == ["1004", "1026"]
    assert pushed.client_filter is None
    # "failed" is 1004, 1020, 1022, 1024 and 1026; the parameter documents only 1000, 1002, 1004, 1026.
    mixed = vendor.plan_listing(vendor.parse_filters({"customer_id": "C1", "status": "failed"}))
    assert "status" not in dict(mixed.pager.first_request().params)
    record = {"orderId": "1", "creationDate": "2019-05-02T22:49:54Z"}
    assert mixed.client_filter is not None
    assert [mixed.client_filter(vendor.normalise({**record, "status": code})) for code in ("1022", "1004", "1000")] == [
        True, True, False,
    ]  # fmt: skip


def test_adobe_return_orders_are_selected_on_the_client() -> None:
    vendor = make(AdobeVipMarketplace)
    plan = vendor.plan_listing(vendor.parse_filters({"customer_id": "C1", "order_type": ["return", "NEW"]}))
    assert "order-type" not in dict(plan.pager.first_request().params)
    record = {"orderId": "1", "status": "1000", "creationDate": "2019-05-02T22:49:54Z"}
    assert plan.client_filter is not None
    assert plan.client_filter(vendor.normalise({**record, "orderType": "RETURN"}))
    assert not plan.client_filter(vendor.normalise({**record, "orderType": "RENEWAL"}))


def test_adobe_orders_have_no_change_time() -> None:
    order = make(AdobeVipMarketplace).normalise(
        {"orderId": "1", "status": "1000", "creationDate": "2019-05-02T22:49:54Z"}
    )
    assert order.updated_at is None


def test_adobe_page_size_above_100_is_refused_before_any_request() -> None:
    with pytest.raises(InvalidFilterError, match=r"page_size.*between 1 and 100"):
        AdobeVipMarketplace.parse_filters({"customer_id": "C1", "page_size": 101})


def test_adobe_follows_links_next_on_the_connection_origin() -> None:
    vendor = make(AdobeVipMarketplace)
    pager = vendor.plan_listing(vendor.parse_filters({"customer_id": "C1", "page_size": 3})).pager
    page = pager.read(response({"totalCount": 9, "items": [{"orderId": "1"}],
                                "links": {"next": {"uri": "/v3/customers/C1/orders?offset=3&limit=3"}}}))  # fmt: skip
    assert page.next_request is not None
    assert page.next_request.url == "https://api.example/v3/customers/C1/orders?offset=3&limit=3"
    assert page.total == 9
    assert (
        pager.read(response({"totalCount": 9, "items": [{"orderId": "1"}], "links": {}})).next_request is None
    )


def test_adobe_headers_request_id_per_attempt_correlation_id_per_call() -> None:
    vendor = make(AdobeVipMarketplace)
    assert vendor.per_attempt_headers()["X-Request-Id"] != vendor.per_attempt_headers()["X-Request-Id"]
    assert vendor.auth_headers("tok") == {"Authorization": "Bearer tok", "X-Api-Key": "cid"}


def test_adobe_status_codes_map_and_unknown_codes_are_not_success() -> None:
    vendor = make(AdobeVipMarketplace)
    record = {
        "orderId": "0123456789",
        "creationDate": "2019-05-02T22:49:54Z",
        "status": "1000",
        "currencyCode": "USD",
    }
    assert vendor.normalise(record).status is OrderStatus.COMPLETED
    assert vendor.normalise({**record, "status": "1002"}).status is OrderStatus.PROCESSING
    assert vendor.normalise({**record, "status": "1024"}).status is OrderStatus.FAILED
    assert vendor.normalise({**record, "status": "1999"}).status is OrderStatus.UNKNOWN


def test_adobe_error_body_gives_code_and_message() -> None:
    vendor = make(AdobeVipMarketplace)
    assert vendor.read_error(response({"code": "1133", "message": "offset too large"}, 400)) == (
        "1133",
        "offset too large",
    )


# -- Granite ---------------------------------------------------------------------------------------


def test_granite_token_url_is_required() -> None:
    with pytest.raises(ConnectionConfigError, match="oauth_url"):
        GraniteAccessExpress.parse_settings(
            "g", {"host": "https://api.example", "login": "a", "password": "b"}
        )


def test_granite_token_request_sends_the_client_as_http_basic_by_default() -> None:
    vendor = make(GraniteAccessExpress, login="id with:colon", password="s&cret")
    request = vendor.token_request()
    # RFC 6749 2.3.1: each part form-encoded, then base64.
    assert (
        request.headers["Authorization"] == "Basic " + base64.b64encode(b"id+with%3Acolon:s%26cret").decode()
    )
    assert request.form == {"grant_type": "client_credentials", "scope": "urn:grt:accessexpress"}
    assert request.headers["Authorization"] in vendor.secrets()  # masked like the secret itself


def test_granite_token_request_can_send_the_client_in_the_form() -> None:
    request = make(GraniteAccessExpress, client_auth="client_secret_post").token_request()
    assert "Authorization" not in request.headers
    assert request.form == {"grant_type": "client_credentials", "scope": "urn:grt:accessexpress",
                            "client_id": "cid", "client_secret": "cs"}  # fmt: skip


def test_granite_unknown_client_auth_is_refused() -> None:
    with pytest.raises(ConnectionConfigError, match="client_auth"):
        make(GraniteAccessExpress, client_auth="private_key_jwt")


def test_granite_invalid_client_hint_names_the_setting() -> None:
    hint = make(GraniteAccessExpress).token_refused_hint("invalid_client")
    assert "client_auth to client_secret_post" in hint


def test_granite_created_since_is_pushed_down_and_never_drops_a_record_without_created_at() -> None:
    vendor = make(GraniteAccessExpress)
    plan = vendor.plan_listing(vendor.parse_filters({"created_since": "2025-01-01T00:00:00Z"}))
    assert dict(plan.pager.first_request().params)["start_date"] == "2025-01-01T00:00:00Z"
    assert plan.client_filter is None


def test_granite_created_until_on_a_record_without_created_at_is_a_clear_error() -> None:
    vendor = make(GraniteAccessExpress)
    plan = vendor.plan_listing(vendor.parse_filters({"created_until": "2025-01-01T00:00:00Z"}))
    assert plan.client_filter is not None
    assert plan.client_filter(vendor.normalise({"order_number": 1, "created_at": "2024-12-31T00:00:00Z"}))
    with pytest.raises(InvalidFilterError, match=r"created_until.*order 2 has no created_at"):
        plan.client_filter(vendor.normalise({"order_number": 2, "status": "completed"}))


def test_granite_defaults_to_60_requests_a_minute() -> None:
    assert make(GraniteAccessExpress).settings.rate_limit == 60
    assert make(GraniteAccessExpress, requests_per_minute=0).settings.rate_limit == 0


def test_granite_request_pushes_status_since_and_macnum() -> None:
    vendor = make(GraniteAccessExpress, granted_tenant_macnum="M42")
    filters = vendor.parse_filters({"status": ["completed", "submitted"], "created_since": "2025-01-01T00:00:00Z",
                                    "page_size": 50})  # fmt: skip
    request = vendor.plan_listing(filters).pager.first_request()
    assert dict(request.params) == {"page": "1", "page_size": "50", "status": "completed,submitted",
                                    "start_date": "2025-01-01T00:00:00Z", "sort_order": "asc",
                                    "granted_tenant_macnum": "M42"}  # fmt: skip


@pytest.mark.parametrize("envelope", ["bare", "data", "orders", "items", "results"])
def test_granite_accepts_every_envelope_and_stops_on_a_short_page(envelope: str) -> None:
    vendor = make(GraniteAccessExpress)
    pager = vendor.plan_listing(vendor.parse_filters({"page_size": 2})).pager
    records = [{"order_number": 1, "status": "draft"}, {"order_number": 2, "status": "completed"}]
    body: Any = records if envelope == "bare" else {envelope: records}
    assert pager.read(response(body)).next_request is not None
    short: Any = records[:1] if envelope == "bare" else {envelope: records[:1]}
    assert pager.read(response(short)).next_request is None


# -- emnify ----------------------------------------------------------------------------------------


def test_emnify_authenticates_with_the_application_token_as_json() -> None:
    request = make(Emnify).token_request()
    assert (request.method, request.url, request.json_body) == ("POST", "/api/v1/authenticate",
                                                                 {"application_token": "apptoken"})  # fmt: skip


def test_emnify_q_and_sort() -> None:
    vendor = make(Emnify)
    filters = vendor.parse_filters({"status": "DELIVERED", "created_since": "2025-01-01T00:00:00Z",
                                    "created_until": "2025-02-01T00:00:00Z", "paid": True})  # fmt: skip
    params = dict(vendor.plan_listing(filters).pager.first_request().params)
    assert params["q"] == "status:3,submit_date>=2025-01-01T00:00:00Z,submit_date<2025-02-01T00:00:00Z,paid:1"
    assert params["sort"] == "-submit_date"


def test_emnify_pages_are_driven_by_headers_never_by_a_repeated_page() -> None:
    vendor = make(Emnify)
    pager = vendor.plan_listing(vendor.parse_filters({})).pager
    pager.first_request()
    rec = [{"id": 1, "status": {"id": 3, "description": "DELIVERED"}}]
    page1 = pager.read(
        response(rec, headers={"X-page": "1", "X-per-page": "1", "X-pages": "2", "X-count": "2"})
    )
    assert page1.next_request is not None and dict(page1.next_request.params)["page"] == "2"
    page2 = pager.read(
        response(rec, headers={"X-Current-Page": "2", "X-Total-Pages": "2", "X-Total-Count": "2"})
    )
    assert page2.next_request is None and page2.total == 2


def test_emnify_status_object_and_currency_object() -> None:
    order = make(Emnify).normalise({"id": 7, "status": {"id": 2, "description": "SHIPPED"}, "total": 12.5,
                                    "currency": {"code": "EUR"}, "submit_date": "2025-01-01T10:00:00.000Z"})  # fmt: skip
    assert (order.id, order.status, order.vendor_status, order.total_amount, order.currency) == (
        "7",
        OrderStatus.PROCESSING,
        "SHIPPED",
        Decimal("12.5"),
        "EUR",
    )


# -- Fleetio ---------------------------------------------------------------------------------------


def test_fleetio_static_headers_and_the_first_api_version_with_cursors_by_default() -> None:
    vendor = make(Fleetio)
    assert vendor.auth_headers(None) == {"Authorization": "Token key", "Account-Token": "acct"}
    # 2024-01-01 still answers purchase orders as a bare array; cursors and filters come with 2024-03-15.
    assert vendor.request_headers()["X-Api-Version"] == "2024-03-15"
    assert vendor.token_request() is None


def test_fleetio_api_version_must_be_a_date() -> None:
    with pytest.raises(ConnectionConfigError, match="api_version"):
        make(Fleetio, api_version="latest")


def test_fleetio_pinned_old_version_pages_by_number_from_the_first_request() -> None:
    vendor = make(Fleetio, api_version="2024-01-01")
    plan = vendor.plan_listing(vendor.parse_filters({"status": "closed"}))
    assert list(plan.pager.first_request().params) == [("page", "1")]
    assert plan.sort is None  # the old version's order is its own: no early stop on a bound


def test_fleetio_a_bare_array_is_paged_by_number_to_the_last_page_and_marked_unfiltered() -> None:
    pager = make(Fleetio).plan_listing(Fleetio.parse_filters({})).pager
    assert dict(pager.first_request().params)["sort[created_at]"] == "asc"
    headers = {
        "X-Pagination-Current-Page": "1",
        "X-Pagination-Total-Pages": "3",
        "X-Pagination-Total-Count": "250",
    }
    first = pager.read(response([{"number": 1, "state": "draft"}], headers=headers))
    assert (first.pushed_down, first.total) == (False, 250)
    assert first.next_request is not None and list(first.next_request.params) == [("page", "2")]
    assert list(pager.remaining_page_requests(first) or ()) == [
        make(Fleetio)._numbered_request(n) for n in (2, 3)
    ]
    second = pager.read(response([{"number": 2}], headers={**headers, "X-Pagination-Current-Page": "2"}))
    assert second.next_request is not None
    last = pager.read(response([{"number": 3}], headers={**headers, "X-Pagination-Current-Page": "3"}))
    assert last.next_request is None


def test_fleetio_a_bare_array_without_headers_is_read_to_an_empty_page() -> None:
    pager = make(Fleetio).plan_listing(Fleetio.parse_filters({})).pager
    pager.first_request()
    assert pager.read(response([{"number": 1}])).next_request is not None
    assert pager.read(response([])).next_request is None


def test_fleetio_every_filter_is_checked_on_the_client_for_unfiltered_pages() -> None:
    vendor = make(Fleetio, api_version="2024-01-01")
    plan = vendor.plan_listing(vendor.parse_filters({
        "status": "closed", "created_since": "2025-01-01T00:00:00Z", "created_until": "2025-02-01T00:00:00Z",
        "labels": "urgent", "number": 7,
    }))  # fmt: skip
    assert plan.full_filter is not None
    match = {"number": 7, "state": "closed", "created_at": "2025-01-10T00:00:00Z", "label_list": ["urgent"]}
    assert plan.full_filter(vendor.normalise(match))
    for change in (
        {"state": "draft"},
        {"created_at": "2025-02-01T00:00:00Z"},
        {"label_list": []},
        {"number": 8},
    ):
        assert not plan.full_filter(vendor.normalise({**match, **change})), change


def test_fleetio_a_filter_on_a_field_the_old_version_lacks_is_a_clear_error() -> None:
    vendor = make(Fleetio, api_version="2024-01-01")
    plan = vendor.plan_listing(vendor.parse_filters({"vendor_id": 3}))
    assert plan.full_filter is not None
    with pytest.raises(InvalidFilterError, match=r"'vendor_id'.*api_version to 2024-03-15 or later"):
        plan.full_filter(vendor.normalise({"number": 1, "state": "draft"}))


def test_fleetio_currency_comes_from_the_connection() -> None:
    record = {"number": 1, "state": "draft", "total_amount_cents": 100}
    assert make(Fleetio).normalise(record).currency is None
    assert make(Fleetio, currency="EUR").normalise(record).currency == "EUR"


def test_fleetio_filters_and_cursor() -> None:
    vendor = make(Fleetio)
    filters = vendor.parse_filters({"status": "received_full", "vendor_id": 3, "created_since": "2025-01-01T00:00:00Z",
                                    "page_size": 25})  # fmt: skip
    pager = vendor.plan_listing(filters).pager
    assert list(pager.first_request().params) == [
        ("per_page", "25"), ("filter[state][include]", "received_full"),
        ("filter[created_at][gte]", "2025-01-01T00:00:00Z"), ("filter[vendor_id][eq]", "3"), ("sort[created_at]", "asc"),
    ]  # fmt: skip
    page = pager.read(response({"next_cursor": "abc", "records": [{"number": 1, "state": "draft"}]}))
    assert page.next_request is not None and dict(page.next_request.params)["start_cursor"] == "abc"
    assert pager.read(response({"next_cursor": None, "records": []})).next_request is None


def test_fleetio_offsets_are_converted_to_utc_and_cents_to_amounts() -> None:
    order = make(Fleetio).normalise({"id": 5, "number": 42, "state": "received_full", "total_amount_cents": 12345,
                                     "created_at": "2023-03-14T13:46:27-06:00",
                                     "updated_at": "2023-03-14T13:46:27-06:00"})  # fmt: skip
    assert order.id == "42"
    assert order.created_at == datetime(2023, 3, 14, 19, 46, 27, tzinfo=UTC)
    assert order.total_amount == Decimal("123.45")


def test_fleetio_error_body_names_the_fields() -> None:
    _code, message = make(Fleetio).read_error(
        response({"errors": {"per_page": ["must be between 2 and 100"]}}, 400)
    )
    assert message == "per_page: must be between 2 and 100"


# -- filters common to all -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "match"),
    [
        ({"colour": "red"}, r"unknown filter 'colour'"),
        ({"created_since": "2025-01-01T00:00:00"}, r"'created_since' must be timezone-aware"),
        ({"page_size": 0}, r"'page_size': must be between"),
        ({"status": "shipped-ish"}, r"'shipped-ish' is not a state of Fleetio"),
        ({"max_orders": "many"}, r"'max_orders'"),
        ({"created_since": "2025-02-01T00:00:00Z", "created_until": "2025-01-01T00:00:00Z"}, r"earlier than"),
    ],
)
def test_bad_filters_name_vendor_and_field(filters: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidFilterError, match=match) as info:
        Fleetio.parse_filters(filters)
    assert info.value.vendor == "fleetio"
    assert "fleetio" in str(info.value)


def test_normalised_status_expands_to_every_native_state() -> None:
    assert Fleetio.native_statuses(["completed"]) == {"received_full", "closed"}
    assert Crayon.native_statuses(["Successful", "Processing"]) == {"Succeeded", "Processing"}


def test_unknown_extra_is_refused_not_turned_into_a_header() -> None:
    with pytest.raises(ConnectionConfigError, match=r"unknown setting 'x_custom_header'"):
        make(Emnify, x_custom_header="1")


def test_settings_repr_hides_secrets() -> None:
    vendor = make(Crayon)
    assert "cs" not in repr(vendor.settings).replace("class", "")
    assert "'p'" not in repr(vendor.settings)
    assert "apptoken" not in repr(make(Emnify).settings)


def test_a_granite_connection_without_host_is_refused_before_any_request() -> None:
    from types import SimpleNamespace

    from airflow_provider_orders.vendors.connection import settings_from_connection

    conn = SimpleNamespace(conn_id="g", host="", schema=None, login="a", password="b", port=None,
                           extra_dejson={"token_url": "https://login.example/t"})  # fmt: skip
    with pytest.raises(ConnectionConfigError, match="publishes no production URL"):
        settings_from_connection(GraniteAccessExpress, conn)  # type: ignore[arg-type]
    crayon = SimpleNamespace(conn_id="c", host="", schema=None, login="u", password="p", port=None,
                             extra_dejson={"client_id": "i", "client_secret": "s"})  # fmt: skip
    assert settings_from_connection(Crayon, crayon).host == "https://api.crayon.com"  # type: ignore[arg-type]


# -- every vendor: the listing path's Order is the validated Order -----------------------------------


@pytest.mark.parametrize("vendor", [Crayon, AdobeVipMarketplace, GraniteAccessExpress, Emnify, Fleetio])
def test_each_vendors_orders_are_equal_to_validated_orders_of_the_same_values(vendor: type[Vendor]) -> None:
    from airflow_provider_orders.models import Order
    from airflow_provider_orders.sandbox import SandboxConfig
    from airflow_provider_orders.sandbox.adobe_vip import AdobeApp
    from airflow_provider_orders.sandbox.core import SandboxState
    from airflow_provider_orders.sandbox.crayon import CrayonApp
    from airflow_provider_orders.sandbox.emnify import EmnifyApp
    from airflow_provider_orders.sandbox.fleetio import FleetioApp
    from airflow_provider_orders.sandbox.granite import GraniteApp

    apps = {"crayon": (CrayonApp, "1001"), "adobe_vip_marketplace": (AdobeApp, "1005000001"),
            "granite_access_express": (GraniteApp, ""), "emnify": (EmnifyApp, ""), "fleetio": (FleetioApp, "")}  # fmt: skip
    app_class, tenant = apps[vendor.conn_type]
    app = app_class(SandboxState(SandboxConfig(orders=60)))
    store = app.orders(tenant)
    settings = {"currency": "EUR"} if vendor is Fleetio else {}
    module = make(vendor, **settings)
    records = [app.record(store, i) for i in range(store.size)]
    assert len(records) >= 60
    for record in records:
        fast = module.normalise(json.loads(json.dumps(record)))
        validated = Order(**{name: getattr(fast, name) for name in Order.model_fields})
        assert fast == validated
        assert fast.model_dump(mode="json") == validated.model_dump(mode="json")
        assert fast.model_fields_set == validated.model_fields_set
        assert fast.raw == record  # the vendor's record, whole
        assert fast.created_at is None or fast.created_at.tzinfo is UTC
    statuses = {module.normalise(r).status for r in records}
    assert len(statuses) >= 2  # the records cover more than one state


def test_a_trusted_order_copies_pickles_and_updates_like_a_validated_one() -> None:
    import copy
    import pickle

    from airflow_provider_orders.models import Order

    values = {"vendor": "crayon", "id": "1", "number": "1", "status": OrderStatus.COMPLETED, "vendor_status": "Succeeded",
              "created_at": datetime(2025, 1, 1, tzinfo=UTC), "updated_at": None, "total_amount": Decimal("1.50"),
              "currency": "EUR", "raw": {"OrderReferenceId": 1, "Lines": [{"a": [1, 2]}]}}  # fmt: skip
    trusted, validated = Order.trusted(**values), Order(**values)
    every = set(Order.model_fields)
    changed = trusted.model_copy(update={"id": "2", "not_a_field": 1})
    assert changed.id == "2" and changed.model_fields_set == every | {"not_a_field"}
    assert trusted.model_fields_set == every  # the shared set is untouched by the copy's update
    assert Order.trusted(**values).model_fields_set == every
    for twin in (copy.copy(trusted), copy.deepcopy(trusted), pickle.loads(pickle.dumps(trusted))):
        assert twin == validated and twin.model_fields_set == every
        assert type(twin.model_fields_set) is set
    assert trusted.model_dump(exclude_unset=True) == validated.model_dump(exclude_unset=True)
    assert trusted.model_dump_json() == validated.model_dump_json()
    with pytest.raises(TypeError, match="shared"):
        trusted.model_fields_set.add("id")
    with pytest.raises(ValidationError):
        trusted.model_copy(update={"vendor": "x"}).__setattr__("id", "3")  # still frozen


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("12.50", Decimal("12.50")), (12, Decimal(12)), (12.5, Decimal("12.5")),
     ("-0.01", Decimal("-0.01"))],
)  # fmt: skip
def test_an_amount_is_read_exactly(value: Any, expected: Decimal | None) -> None:
    from airflow_provider_orders.vendors.parsing import to_decimal

    assert to_decimal(value, "total") == expected


@pytest.mark.parametrize("value", ["12,50 EUR", "NaN", "Infinity", True, {"amount": 1}, [1]])
def test_an_amount_that_cannot_be_read_is_an_error_naming_the_field_not_none(value: Any) -> None:
    from airflow_provider_orders.vendors.parsing import to_decimal

    with pytest.raises(ValueError, match=r"^field 'total_amount' is not an amount: "):
        to_decimal(value, "total_amount")


@pytest.mark.parametrize(
    ("vendor", "field", "record"),
    [(Crayon, "OrderReferenceId", {"OrderReferenceId": None, "OrderState": "Succeeded"}),
     (GraniteAccessExpress, "order_number", {"order_number": "", "status": "DELIVERED"}),
     (Emnify, "id", {"id": None, "status": {"id": 1, "description": "Created"}}),
     (AdobeVipMarketplace, "orderId", {"orderId": None, "status": "1000"})],
)  # fmt: skip
def test_a_record_without_an_id_is_an_error_naming_the_field(
    vendor: type[Vendor], field: str, record: dict[str, Any]
) -> None:
    """Never the id "None", which made every such record after the first a repeat, dropped."""
    instance = make(vendor)
    with pytest.raises(ValueError, match=rf"^field '{field}' is empty, not an order id$"):
        instance.normalise(record)
