"""What users would write instead: each lists every order and returns how many it got.

- raw: a hand-written ``requests`` loop that only decodes JSON (what a careful user writes);
- urllib3+msgspec: the same loop on urllib3's pool with msgspec's decoder, both already installed with
  Airflow (the practical ceiling for Python: every record still decoded to dicts);
- http-provider: ``HttpOperator`` with a ``pagination_function`` (what Airflow users write today);
- dlt: ``RESTClient.paginate`` with the matching paginator;
- provider: this provider's hook (``iter_orders``).
"""

from __future__ import annotations

import base64
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

CRAYON_PATH = "/crayon/api/v1/purchaserequest/orders/"
FLEETIO_PATH = "/fleetio/api/v1/purchase_orders"


def crayon_token(url: str) -> str:
    c = CRAYON
    basic = base64.b64encode(f"{c['client_id']}:{c['client_secret']}".encode()).decode()
    response = requests.post(f"{url}/crayon/api/v1/connect/token/", headers={"Authorization": f"Basic {basic}"},
                             data={"grant_type": "password", "username": c["username"], "password": c["password"],
                                   "scope": "CustomerApi"}, timeout=30)  # fmt: skip
    response.raise_for_status()
    return str(response.json()["AccessToken"])


FLEETIO_HEADERS = {
    "Authorization": f"Token {FLEETIO['api_key']}",
    "Account-Token": FLEETIO["account_token"],
    "X-Api-Version": "2024-03-15",
}


# -- raw ------------------------------------------------------------------------------------------


def raw_crayon(url: str, tenant: int, page_size: int) -> int:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {crayon_token(url)}"
    count, page = 0, 1
    while True:
        body = session.get(f"{url}{CRAYON_PATH}", params={"customerTenantId": tenant, "page": page,
                           "pageSize": page_size, "sortOrder": "Descending"}, timeout=30).json()  # fmt: skip
        count += len(body["Items"])
        if not body["Items"] or page * page_size >= body["TotalHits"]:
            return count
        page += 1


def raw_fleetio(url: str, page_size: int) -> int:
    session = requests.Session()
    session.headers.update(FLEETIO_HEADERS)
    count, cursor = 0, None
    while True:
        params: dict[str, Any] = {"per_page": page_size, "sort[created_at]": "asc"}
        if cursor:
            params["start_cursor"] = cursor
        body = session.get(f"{url}{FLEETIO_PATH}", params=params, timeout=30).json()
        count += len(body["records"])
        cursor = body.get("next_cursor")
        if not cursor:
            return count


# -- urllib3 + msgspec: the ceiling ----------------------------------------------------------------


def _pool(url: str) -> Any:
    import urllib3

    host, port = url.removeprefix("http://").split(":")
    return urllib3.HTTPConnectionPool(host, int(port), maxsize=1, retries=False, timeout=30.0)


def ceiling_crayon(url: str, tenant: int, page_size: int) -> int:
    from urllib.parse import urlencode

    import msgspec

    pool = _pool(url)
    headers = {"Authorization": f"Bearer {crayon_token(url)}", "Accept": "application/json"}
    decode = msgspec.json.Decoder().decode
    count, page = 0, 1
    while True:
        query = urlencode(
            {"customerTenantId": tenant, "page": page, "pageSize": page_size, "sortOrder": "Descending"}
        )
        body = decode(pool.request("GET", f"{CRAYON_PATH}?{query}", headers=headers).data)
        count += len(body["Items"])
        if not body["Items"] or page * page_size >= body["TotalHits"]:
            return count
        page += 1


def ceiling_fleetio(url: str, page_size: int) -> int:
    from urllib.parse import urlencode

    import msgspec

    pool = _pool(url)
    decode = msgspec.json.Decoder().decode
    count, cursor = 0, None
    while True:
        params: dict[str, Any] = {"per_page": page_size, "sort[created_at]": "asc"}
        if cursor:
            params["start_cursor"] = cursor
        body = decode(
            pool.request("GET", f"{FLEETIO_PATH}?{urlencode(params)}", headers=FLEETIO_HEADERS).data
        )
        count += len(body["records"])
        cursor = body.get("next_cursor")
        if not cursor:
            return count


# -- HttpOperator with a pagination_function -------------------------------------------------------


def _http_connection(url: str) -> None:
    # The http provider reads two Variables on every call; answered from the environment here (the
    # cheapest way for it), so it never waits on a metadata database.
    os.environ["AIRFLOW_VAR_RUNTIME.HTTP_MAX_ERROR_BODY_LENGTH"] = "1000"
    os.environ["AIRFLOW_VAR_RUNTIME.HTTP_SHOW_ERROR_BODY"] = "false"
    host, port = url.removeprefix("http://").split(":")
    os.environ["AIRFLOW_CONN_BENCH_HTTP"] = json.dumps({"conn_type": "http", "host": host, "port": int(port),
                                                        "schema": "http"})  # fmt: skip


def http_provider_crayon(url: str, tenant: int, page_size: int, *, keep: list[Any] | None = None) -> int:
    from airflow.providers.http.operators.http import HttpOperator

    _http_connection(url)
    params = {"customerTenantId": tenant, "page": 1, "pageSize": page_size, "sortOrder": "Descending"}

    def next_page(response: requests.Response) -> dict[str, Any] | None:
        body = response.json()
        page = int(response.request.url.split("page=")[1].split("&")[0]) if response.request.url else 1
        if not body["Items"] or page * page_size >= body["TotalHits"]:
            return None
        return {"data": {**params, "page": page + 1}}

    def count(responses: list[requests.Response]) -> int:
        if keep is not None:
            keep.extend(responses)
        return sum(len(r.json()["Items"]) for r in responses)

    op = HttpOperator(task_id="list_orders", http_conn_id="bench_http", endpoint=CRAYON_PATH, method="GET",
                      data=params, headers={"Authorization": f"Bearer {crayon_token(url)}"},
                      pagination_function=next_page, response_filter=count, log_response=False)  # fmt: skip
    return int(op.execute({}))


def http_provider_fleetio(url: str, page_size: int) -> int:
    from airflow.providers.http.operators.http import HttpOperator

    _http_connection(url)
    params = {"per_page": page_size, "sort[created_at]": "asc"}

    def next_page(response: requests.Response) -> dict[str, Any] | None:
        cursor = response.json().get("next_cursor")
        return {"data": {**params, "start_cursor": cursor}} if cursor else None

    op = HttpOperator(task_id="list_orders", http_conn_id="bench_http", endpoint=FLEETIO_PATH, method="GET",
                      data=params, headers=FLEETIO_HEADERS, pagination_function=next_page,
                      response_filter=lambda responses: sum(len(r.json()["records"]) for r in responses),
                      log_response=False)  # fmt: skip
    return int(op.execute({}))


# -- dlt -----------------------------------------------------------------------------------------


def dlt_crayon(url: str, tenant: int, page_size: int) -> int:
    from dlt.sources.helpers.rest_client import RESTClient
    from dlt.sources.helpers.rest_client.paginators import PageNumberPaginator

    headers = {"Authorization": f"Bearer {crayon_token(url)}"}
    params = {"customerTenantId": tenant, "pageSize": page_size, "sortOrder": "Descending"}
    # Crayon announces items (TotalHits), dlt's paginator wants pages: one probe gives the page count.
    total = requests.get(f"{url}{CRAYON_PATH}", params={**params, "page": 1, "pageSize": 1}, headers=headers,
                         timeout=30).json()["TotalHits"]  # fmt: skip
    client = RESTClient(base_url=url, headers=headers, data_selector="Items",
                        paginator=PageNumberPaginator(base_page=1, page_param="page", total_path=None,
                                                      maximum_page=math.ceil(total / page_size) + 1))  # fmt: skip
    return sum(len(page) for page in client.paginate(CRAYON_PATH, params=params))


def dlt_fleetio(url: str, page_size: int) -> int:
    from dlt.sources.helpers.rest_client import RESTClient
    from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator

    client = RESTClient(base_url=url, headers=FLEETIO_HEADERS, data_selector="records",
                        paginator=JSONResponseCursorPaginator(cursor_path="next_cursor", cursor_param="start_cursor"))  # fmt: skip
    params = {"per_page": page_size, "sort[created_at]": "asc"}
    return sum(len(page) for page in client.paginate(FLEETIO_PATH, params=params))


# -- this provider -------------------------------------------------------------------------------


def provider_crayon(tenant: int, page_size: int, concurrency: int = 1) -> int:
    from airflow_provider_orders.hooks.crayon import CrayonHook

    return sum(1 for _ in CrayonHook().iter_orders(customer_tenant_id=tenant, page_size=page_size,
                                                   concurrency=concurrency))  # fmt: skip


def provider_fleetio(page_size: int) -> int:
    from airflow_provider_orders.hooks.fleetio import FleetioHook

    return sum(1 for _ in FleetioHook().iter_orders(page_size=page_size))


# -- Adobe, Granite, emnify: the same five competitors from one recipe per vendor --------------------
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


def http_provider(url: str, recipe: Recipe) -> int:
    from airflow.providers.http.operators.http import HttpOperator

    _http_connection(url)

    def next_page(response: requests.Response) -> dict[str, Any] | None:
        params = dict(parse_qsl(urlsplit(response.request.url or "").query))
        nxt = recipe.next(response.json(), {k.lower(): v for k, v in response.headers.items()}, params)
        return None if nxt is None else {"data": nxt}

    op = HttpOperator(task_id="list_orders", http_conn_id="bench_http", endpoint=recipe.path, method="GET",
                      data=dict(recipe.first), headers=recipe.headers(url), pagination_function=next_page,
                      response_filter=lambda responses: sum(recipe.count(r.json()) for r in responses),
                      log_response=False)  # fmt: skip
    return int(op.execute({}))


def dlt(url: str, vendor: str) -> int:
    from dlt.sources.helpers.rest_client import RESTClient
    from dlt.sources.helpers.rest_client.paginators import JSONLinkPaginator, PageNumberPaginator

    recipe = RECIPES[vendor]
    headers = recipe.headers(url)
    params = dict(recipe.first)
    paginator: Any
    if vendor == "adobe":
        paginator = JSONLinkPaginator(next_url_path="links.next.uri")
    elif vendor == "granite":
        params.pop("page")
        paginator = PageNumberPaginator(
            base_page=1, page_param="page", total_path=None, stop_after_empty_page=True
        )
    else:
        # emnify announces the page count in a header and repeats its last page past the end: one probe
        # gives the count, as with Crayon.
        pages = requests.get(f"{url}{recipe.path}", params=params, headers=headers, timeout=30).headers[
            "X-pages"
        ]
        params.pop("page")
        paginator = PageNumberPaginator(base_page=1, page_param="page", total_path=None,
                                        maximum_page=int(pages) + 1)  # fmt: skip
    client = RESTClient(
        base_url=url, headers=headers, data_selector=recipe.records or "$", paginator=paginator
    )
    return sum(len(page) for page in client.paginate(recipe.path, params=params))


def provider(vendor: str) -> int:
    from airflow_provider_orders.hooks.resolve import get_orders_hook

    hook = get_orders_hook({"adobe": "adobe_vip_marketplace", "granite": "granite_access_express"}.get(vendor, vendor)
                           + "_default")  # fmt: skip
    filters = {"customer_id": "1005000001"} if vendor == "adobe" else {}
    return sum(1 for _ in hook.iter_orders(page_size=100, **filters))
