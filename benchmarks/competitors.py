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
from typing import Any

import requests

from airflow_provider_orders.sandbox.crayon import CREDENTIALS as CRAYON
from airflow_provider_orders.sandbox.fleetio import CREDENTIALS as FLEETIO

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
