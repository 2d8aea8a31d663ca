"""What users would write instead: each lists every order and returns how many it got.

- raw: a hand-written ``requests`` loop that only decodes JSON (what a careful user writes);
- urllib3+msgspec: the same loop on urllib3's pool with msgspec's decoder, both already installed with
  Airflow (the practical ceiling for Python: every record still decoded to dicts);
- http-provider: ``HttpOperator`` with a ``pagination_function`` (what Airflow users write today);
- dlt: ``RESTClient.paginate`` with the matching paginator;
- order floor: the least any provider returning one ``Order`` a record can do (:func:`order_floor`);
- provider: this provider's hook (``iter_orders``).
"""

from __future__ import annotations

import base64
import functools
import json
import math
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlsplit

import requests

from airflow_provider_orders.sandbox.adobe_vip import CREDENTIALS as ADOBE
from airflow_provider_orders.sandbox.crayon import CREDENTIALS as CRAYON
from airflow_provider_orders.sandbox.emnify import CREDENTIALS as EMNIFY
from airflow_provider_orders.sandbox.fleetio import CREDENTIALS as FLEETIO
from airflow_provider_orders.sandbox.granite import CREDENTIALS as GRANITE

TENANT = 1001
FLEETIO_HEADERS = {
    "Authorization": f"Token {FLEETIO['api_key']}",
    "Account-Token": FLEETIO["account_token"],
    "X-Api-Version": "2024-03-15",
}


def _pool(url: str) -> Any:
    import urllib3

    host, port = url.removeprefix("http://").split(":")
    return urllib3.HTTPConnectionPool(host, int(port), maxsize=1, retries=False, timeout=30.0)


def _http_connection(url: str) -> None:
    # The http provider reads two Variables on every call; answered from the environment here (the
    # cheapest way for it), so it never waits on a metadata database.
    os.environ["AIRFLOW_VAR_RUNTIME.HTTP_MAX_ERROR_BODY_LENGTH"] = "1000"
    os.environ["AIRFLOW_VAR_RUNTIME.HTTP_SHOW_ERROR_BODY"] = "false"
    host, port = url.removeprefix("http://").split(":")
    os.environ["AIRFLOW_CONN_BENCH_HTTP"] = json.dumps({"conn_type": "http", "host": host, "port": int(port),
                                                        "schema": "http"})  # fmt: skip


# -- one recipe per vendor, the same five competitors for each ---------------------------------------
#
# Each recipe says what a user's loop needs to know of the vendor: its list path, how to authenticate,
# the first page's parameters, where the records are, and how to get from one page to the next. The raw,
# ceiling and http-provider loops below follow it; dlt gets the paginator a dlt user would pick.


@dataclass(frozen=True)
class Recipe:
    path: str
    #: The API's headers, given the server's URL (fetching a token where the vendor has one).
    headers: Callable[[str], dict[str, str]]
    first: dict[str, Any]
    #: Where a page's records are (``None``: the body is the list).
    records: str | None
    #: The next page's parameters from this page's (body, lower-cased headers, parameters); ``None`` at the end.
    next: Callable[[Any, Mapping[str, str], dict[str, Any]], dict[str, Any] | None]

    def count(self, body: Any) -> int:
        return len(body if self.records is None else body[self.records])


def _crayon_headers(url: str) -> dict[str, str]:
    c = CRAYON
    basic = base64.b64encode(f"{c['client_id']}:{c['client_secret']}".encode()).decode()
    response = requests.post(f"{url}/crayon/api/v1/connect/token/", headers={"Authorization": f"Basic {basic}"},
                             data={"grant_type": "password", "username": c["username"], "password": c["password"],
                                   "scope": "CustomerApi"}, timeout=30)  # fmt: skip
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['AccessToken']}", "Accept": "application/json"}


def _crayon_next(body: Any, headers: Mapping[str, str], params: dict[str, Any]) -> dict[str, Any] | None:
    page = int(params["page"])
    if not body["Items"] or page * int(params["pageSize"]) >= body["TotalHits"]:
        return None
    return {**params, "page": page + 1}


def crayon_recipe(tenant: int) -> Recipe:
    """Crayon's recipe for the orders of ``tenant`` (the memory scenario names its own)."""
    return Recipe("/crayon/api/v1/purchaserequest/orders/", _crayon_headers,
                  {"customerTenantId": tenant, "page": 1, "pageSize": 100, "sortOrder": "Descending"}, "Items",
                  _crayon_next)  # fmt: skip


def _fleetio_next(body: Any, headers: Mapping[str, str], params: dict[str, Any]) -> dict[str, Any] | None:
    cursor = body.get("next_cursor")
    return {**params, "start_cursor": cursor} if cursor else None


def _adobe_headers(url: str) -> dict[str, str]:
    c = ADOBE
    response = requests.post(f"{url}/adobe-ims/ims/token/v3", data={"grant_type": "client_credentials",
                             "client_id": c["client_id"], "client_secret": c["client_secret"]}, timeout=30)  # fmt: skip
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}", "X-Api-Key": c["client_id"],
            "X-Correlation-Id": str(uuid.uuid4()), "Accept": "application/json"}  # fmt: skip


def _adobe_next(body: Any, headers: Mapping[str, str], params: dict[str, Any]) -> dict[str, Any] | None:
    uri = (body.get("links") or {}).get("next", {}).get("uri")
    return dict(parse_qsl(urlsplit(uri).query)) if uri and body["items"] else None


def _granite_headers(url: str) -> dict[str, str]:
    c = GRANITE
    basic = base64.b64encode(
        f"{quote_plus(c['client_id'])}:{quote_plus(c['client_secret'])}".encode()
    ).decode()
    response = requests.post(f"{url}/granite-auth/oauth2/token", headers={"Authorization": f"Basic {basic}"},
                             data={"grant_type": "client_credentials", "scope": "urn:grt:accessexpress"}, timeout=30)  # fmt: skip
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}", "Accept": "application/json"}


def _granite_next(body: Any, headers: Mapping[str, str], params: dict[str, Any]) -> dict[str, Any] | None:
    if len(body["data"]) < int(params["page_size"]):
        return None
    return {**params, "page": int(params["page"]) + 1}


def _emnify_headers(url: str) -> dict[str, str]:
    response = requests.post(f"{url}/emnify/api/v1/authenticate", json=EMNIFY, timeout=30)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['auth_token']}", "Accept": "application/json"}


def _emnify_next(body: Any, headers: Mapping[str, str], params: dict[str, Any]) -> dict[str, Any] | None:
    if not body or int(headers["x-page"]) >= int(headers["x-pages"]):
        return None
    return {**params, "page": int(headers["x-page"]) + 1}


RECIPES = {
    "crayon": crayon_recipe(TENANT),
    "fleetio": Recipe("/fleetio/api/v1/purchase_orders", lambda url: dict(FLEETIO_HEADERS),
                      {"per_page": 100, "sort[created_at]": "asc"}, "records", _fleetio_next),
    "adobe": Recipe("/adobe/v3/customers/1005000001/orders", _adobe_headers,
                    {"limit": 100, "offset": 0, "start-date": "2000-01-01"}, "items", _adobe_next),
    "granite": Recipe("/granite/api/v1/ordersAccessExpress", _granite_headers,
                      {"page": 1, "page_size": 100, "sort_order": "asc"}, "data", _granite_next),
    "emnify": Recipe("/emnify/api/v1/shop/order", _emnify_headers,
                     {"page": 1, "per_page": 100, "sort": "-submit_date"}, None, _emnify_next),
}  # fmt: skip


def raw(url: str, recipe: Recipe) -> int:
    session = requests.Session()
    session.headers.update(recipe.headers(url))
    count, params = 0, dict(recipe.first)
    while True:
        response = session.get(f"{url}{recipe.path}", params=params, timeout=30)
        body = response.json()
        count += recipe.count(body)
        nxt = recipe.next(body, {k.lower(): v for k, v in response.headers.items()}, params)
        if nxt is None:
            return count
        params = nxt


def ceiling(url: str, recipe: Recipe) -> int:
    from urllib.parse import urlencode

    import msgspec

    pool = _pool(url)
    headers = recipe.headers(url)
    decode = msgspec.json.Decoder().decode
    count, params = 0, dict(recipe.first)
    while True:
        response = pool.request("GET", f"{recipe.path}?{urlencode(params)}", headers=headers)
        body = decode(response.data)
        count += recipe.count(body)
        nxt = recipe.next(body, {k.lower(): v for k, v in response.headers.items()}, params)
        if nxt is None:
            return count
        params = nxt


def http_provider(url: str, recipe: Recipe, *, keep: list[Any] | None = None) -> int:
    """:param keep: filled with every response (the memory scenario holds them, as HttpOperator does)."""
    from airflow.providers.http.operators.http import HttpOperator

    _http_connection(url)

    def next_page(response: requests.Response) -> dict[str, Any] | None:
        params = dict(parse_qsl(urlsplit(response.request.url or "").query))
        nxt = recipe.next(response.json(), {k.lower(): v for k, v in response.headers.items()}, params)
        return None if nxt is None else {"data": nxt}

    def count(responses: list[requests.Response]) -> int:
        if keep is not None:
            keep.extend(responses)
        return sum(recipe.count(r.json()) for r in responses)

    op = HttpOperator(task_id="list_orders", http_conn_id="bench_http", endpoint=recipe.path, method="GET",
                      data=dict(recipe.first), headers=recipe.headers(url), pagination_function=next_page,
                      response_filter=count, log_response=False)  # fmt: skip
    return int(op.execute({}))


def dlt_pages(url: str, vendor: str) -> Any:
    """The vendor's pages through dlt's ``RESTClient.paginate`` with the paginator a dlt user would pick."""
    from dlt.sources.helpers.rest_client import RESTClient
    from dlt.sources.helpers.rest_client.paginators import (
        JSONLinkPaginator,
        JSONResponseCursorPaginator,
        PageNumberPaginator,
    )

    recipe = RECIPES[vendor]
    headers = recipe.headers(url)
    params = dict(recipe.first)
    paginator: Any
    if vendor == "fleetio":
        paginator = JSONResponseCursorPaginator(cursor_path="next_cursor", cursor_param="start_cursor")
    elif vendor == "adobe":
        paginator = JSONLinkPaginator(next_url_path="links.next.uri")
    elif vendor == "granite":
        params.pop("page")
        paginator = PageNumberPaginator(
            base_page=1, page_param="page", total_path=None, stop_after_empty_page=True
        )
    else:
        # Crayon announces items (TotalHits), emnify pages in a header and repeats its last page past the
        # end; dlt's paginator wants the page count: one probe gives it.
        probe = requests.get(f"{url}{recipe.path}", params=params, headers=headers, timeout=30)
        pages = (
            math.ceil(probe.json()["TotalHits"] / params["pageSize"])
            if vendor == "crayon"
            else int(probe.headers["X-pages"])
        )
        params.pop("page")
        paginator = PageNumberPaginator(
            base_page=1, page_param="page", total_path=None, maximum_page=pages + 1
        )
    client = RESTClient(
        base_url=url, headers=headers, data_selector=recipe.records or "$", paginator=paginator
    )
    return client.paginate(recipe.path, params=params)


def dlt(url: str, vendor: str) -> int:
    return sum(len(page) for page in dlt_pages(url, vendor))


class _Floor:
    """A vendor's part of :func:`order_floor`: the record fields an ``Order`` is made of, as a msgspec
    struct (times parsed by msgspec, in C), the page fields its paging reads, and the ``Order``."""

    def __init__(self, fields: list[tuple[Any, ...]], paging: tuple[str, ...],
                 order: Callable[[Any, Any], Any]) -> None:  # fmt: skip
        import msgspec

        self.record = msgspec.defstruct("Record", fields, kw_only=True)
        self.paging = paging
        self.order = order


@functools.cache  # built once, not in every timed run
def _floors() -> dict[str, _Floor]:
    from datetime import datetime, timezone
    from decimal import Decimal

    from airflow_provider_orders.models import Order, OrderStatus
    from airflow_provider_orders.vendors.adobe_vip import AdobeVipMarketplace
    from airflow_provider_orders.vendors.crayon import Crayon
    from airflow_provider_orders.vendors.emnify import Emnify
    from airflow_provider_orders.vendors.fleetio import Fleetio
    from airflow_provider_orders.vendors.granite import GraniteAccessExpress

    utc, unknown, new = timezone.utc, OrderStatus.UNKNOWN, Order.trusted
    time, text, number = (datetime | None, None), (str, ""), (int | str)
    crayon, fleetio, adobe = Crayon.STATUS_MAP, Fleetio.STATUS_MAP, AdobeVipMarketplace.STATUS_MAP
    granite, emnify = GraniteAccessExpress.STATUS_MAP, Emnify.STATUS_MAP
    return {
        "crayon": _Floor([("OrderReferenceId", number), ("OrderState", *text), ("Created", *time)], ("TotalHits",),
                         lambda r, raw: new("crayon", (i := str(r.OrderReferenceId)), i, crayon.get(r.OrderState, unknown),
                                            r.OrderState, r.Created.replace(tzinfo=utc), None, None, None, raw)),
        "fleetio": _Floor([("number", number), ("state", *text), ("created_at", *time), ("updated_at", *time),
                           ("total_amount_cents", int | None, None)], ("next_cursor",),
                          lambda r, raw: new("fleetio", (i := str(r.number)), i, fleetio.get(r.state, unknown), r.state,
                                             r.created_at.astimezone(utc), r.updated_at.astimezone(utc),
                                             Decimal(r.total_amount_cents) / 100, None, raw)),
        "adobe": _Floor([("orderId", str), ("externalReferenceId", str | None, None), ("status", *text),
                         ("creationDate", *time), ("currencyCode", str | None, None)], ("links",),
                        lambda r, raw: new("adobe_vip_marketplace", r.orderId, r.externalReferenceId or r.orderId,
                                           adobe.get(r.status, unknown), r.status, r.creationDate.astimezone(utc),
                                           None, None, r.currencyCode, raw)),
        "granite": _Floor([("order_number", number), ("status", *text), ("created_at", *time), ("updated_at", *time),
                           ("total_amount", float | int | str | None, None)], (),
                          lambda r, raw: new("granite_access_express", (i := str(r.order_number)), i,
                                             granite.get(r.status, unknown), r.status, r.created_at.astimezone(utc),
                                             r.updated_at.astimezone(utc), Decimal(str(r.total_amount)), None, raw)),
        "emnify": _Floor([("id", int), ("purchase_order_number", str | None, None), ("status", dict[str, Any]),
                          ("submit_date", *time), ("shipped_date", *time), ("delivered_date", *time),
                          ("total", float | None, None), ("currency", dict[str, Any] | None, None)], (),
                         lambda r, raw: new("emnify", str(r.id), r.purchase_order_number or str(r.id),
                                            emnify.get(s := r.status["description"], unknown), s,
                                            r.submit_date.astimezone(utc),
                                            max(t for t in (r.submit_date, r.shipped_date, r.delivered_date) if t),
                                            Decimal(str(r.total)), r.currency and r.currency["code"], raw)),
    }  # fmt: skip


def order_floor(url: str, recipe: Recipe, vendor: str, *, keep: list[Any] | None = None) -> int:
    """The least a provider that returns one ``Order`` a record can do: the ceiling's loop, each page
    decoded by msgspec into typed structs of only the fields an ``Order`` needs (no dict of the record is
    built; ``raw`` is the record's undecoded bytes, as a lazily decoded ``raw`` would hold them), and one
    ``Order`` a record built without validation. No retry, de-duplication, filter or check of any kind:
    a bound on what the provider can reach, not a competitor a user would write.

    :param keep: filled with every ``Order`` (``tests/test_benchmarks.py`` holds them equal to the
        provider's, so the bound does the provider's normalisation, not less).
    """
    from urllib.parse import urlencode

    import msgspec

    floor = _floors()[vendor]
    key = recipe.records
    if key is None:
        pages, records = msgspec.json.Decoder(list[msgspec.Raw]), msgspec.json.Decoder(list[floor.record])
    else:
        page_type = msgspec.defstruct(
            "Page", [(key, list[msgspec.Raw]), *((f, Any, None) for f in floor.paging)]
        )
        pages = msgspec.json.Decoder(page_type)
        records = msgspec.json.Decoder(msgspec.defstruct("Records", [(key, list[floor.record])]))
    pool = _pool(url)
    headers = recipe.headers(url)
    make = floor.order
    count, params = 0, dict(recipe.first)
    while True:
        response = pool.request("GET", f"{recipe.path}?{urlencode(params)}", headers=headers)
        data = response.data
        page = pages.decode(data)
        raws = page if key is None else getattr(page, key)
        typed = records.decode(data)
        orders = [
            make(r, raw) for r, raw in zip(typed if key is None else getattr(typed, key), raws, strict=True)
        ]
        count += len(orders)
        if keep is not None:
            keep.extend(orders)
        body = raws if key is None else {key: raws, **{f: getattr(page, f) for f in floor.paging}}
        nxt = recipe.next(body, {k.lower(): v for k, v in response.headers.items()}, params)
        if nxt is None:
            return count
        params = nxt


def provider(vendor: str) -> int:
    from airflow_provider_orders.hooks.resolve import get_orders_hook

    conn_type = {"adobe": "adobe_vip_marketplace", "granite": "granite_access_express"}.get(vendor, vendor)
    scope = {"crayon": {"customer_tenant_id": TENANT}, "adobe": {"customer_id": "1005000001"}}.get(vendor, {})
    return sum(1 for _ in get_orders_hook(f"{conn_type}_default").iter_orders(page_size=100, **scope))
