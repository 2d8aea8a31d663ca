"""emnify SIM orders (shop API).

- Auth: ``POST /api/v1/authenticate`` with ``{"application_token": ...}`` gives ``{"auth_token": JWT}``
  (240 minutes, no refresh token). The authenticate call is limited to 100 calls per 5 minutes per IP,
  so the token is cached, by default in a file every process of the user on the machine shares.
- List: ``GET {orders_path}`` (default ``/api/v1/shop/order``) with ``page``, ``per_page``, ``q``
  (``<field><op><value>``, comma-separated, AND) and ``sort`` (``-submit_date``). Paging is driven by
  the ``X-page``/``X-pages``/``X-count`` headers; a page past the end repeats the last page.
- Single order: ``GET {orders_path}/{id}``.
- Status is an object ``{id, description}``: 0 EDITING, 1 SUBMITTED, 2 SHIPPED, 3 DELIVERED, 4 CANCELED.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator

from airflow_provider_orders.errors import VendorApiError
from airflow_provider_orders.models import Order, OrderStatus
from airflow_provider_orders.vendors.base import Vendor
from airflow_provider_orders.vendors.filters import OrderFilters
from airflow_provider_orders.vendors.http import HttpRequest, HttpResponse, Token, path_segment
from airflow_provider_orders.vendors.listing import ListingPlan, OrderLookup
from airflow_provider_orders.vendors.paging import HeaderPager
from airflow_provider_orders.vendors.parsing import (
    all_of,
    in_window,
    optional_text,
    parse_time,
    record_id,
    to_decimal,
    zulu,
)
from airflow_provider_orders.vendors.settings import COMMON_FIELDS, ConnectionField, ConnectionSettings
from airflow_provider_orders.vendors.spec import VendorSpec

DEFAULT_ORDERS_PATH = "/api/v1/shop/order"
AUTH_PATH = "/api/v1/authenticate"
STATUS_CODES = {"EDITING": 0, "SUBMITTED": 1, "SHIPPED": 2, "DELIVERED": 3, "CANCELED": 4}
STATUS_NAMES = {v: k for k, v in STATUS_CODES.items()}
TOKEN_LIFETIME = 240 * 60.0


class EmnifyFilters(OrderFilters):
    """emnify filters.

    :param paid: only paid (``True``) or unpaid (``False``) orders.
    """

    DEFAULT_PAGE_SIZE = 100
    MAX_PAGE_SIZE = 1000

    paid: bool | None = None


class EmnifySettings(ConnectionSettings):
    password: SecretStr
    orders_path: str = DEFAULT_ORDERS_PATH
    #: ``file``: every process of this user on this machine reuses one auth_token until it expires
    #: (``POST /api/v1/authenticate`` is limited to 100 calls per 5 minutes per IP); ``memory``: each
    #: process authenticates for itself.
    #: Named so that Airflow does not mask it (it masks any extra whose name holds "token");
    #: ``token_cache``, its first name, is still read.
    auth_cache: Literal["file", "memory"] = Field(
        default="file", validation_alias=AliasChoices("auth_cache", "token_cache")
    )

    @field_validator("orders_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must be a path starting with '/', e.g. /api/v1/shop/order")
        return value.rstrip("/")


class Emnify(Vendor):
    conn_type = "emnify"
    display_name = "emnify"
    default_host = "https://cdn.emnify.net"
    filters_model = EmnifyFilters
    settings_model = EmnifySettings
    STATUS_MAP = {
        "EDITING": OrderStatus.DRAFT,
        "SUBMITTED": OrderStatus.PENDING,
        "SHIPPED": OrderStatus.PROCESSING,
        "DELIVERED": OrderStatus.COMPLETED,
        "CANCELED": OrderStatus.CANCELED,
    }
    STATUS_ALIASES = {str(code): name for name, code in STATUS_CODES.items()} | {"CANCELLED": "CANCELED"}
    password_label = "Application token"
    connection_fields = (
        ConnectionField(
            "orders_path",
            "Orders path",
            description="List path of the shop API.",
            default=DEFAULT_ORDERS_PATH,
        ),
        ConnectionField(
            "auth_cache",
            "Auth token cache",
            description="file: processes on one machine share the auth_token until it expires (emnify "
            "allows 100 authentications per 5 minutes per IP); memory: each process authenticates.",
            default="file",
        ),
        *COMMON_FIELDS,
    )
    settings: EmnifySettings

    def token_request(self) -> HttpRequest:
        return HttpRequest(
            "POST",
            AUTH_PATH,
            headers={"Accept": "application/json", "Content-Type": "application/json"},
            json_body={"application_token": self.settings.secret(self.settings.password)},
            authenticated=False,
            kind="token",
        )

    def read_token(self, response: HttpResponse) -> Token:
        body = response.json()
        if not isinstance(body, dict) or not body.get("auth_token"):
            raise VendorApiError("authenticate response has no auth_token", vendor=self.conn_type)
        token = str(body["auth_token"])
        return Token(token, _jwt_lifetime(token) or TOKEN_LIFETIME)

    def shares_token_between_processes(self) -> bool:
        return self.settings.auth_cache == "file"

    def auth_headers(self, token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def _request(self, filters: EmnifyFilters, page: int) -> HttpRequest:
        params: list[tuple[str, str]] = [("page", str(page)), ("per_page", str(filters.effective_page_size))]
        q = []
        natives = self.native_statuses(filters.status) if filters.status else frozenset()
        if len(natives) == 1:
            q.append(f"status:{STATUS_CODES[next(iter(natives))]}")
        if filters.created_since:
            q.append(f"submit_date>={zulu(filters.created_since)}")
        if filters.created_until:
            q.append(f"submit_date<{zulu(filters.created_until)}")
        if filters.paid is not None:
            q.append(f"paid:{int(filters.paid)}")
        if q:
            params.append(("q", ",".join(q)))
        params.append(("sort", "-submit_date"))
        return HttpRequest("GET", self.settings.orders_path, params=tuple(params))

    def plan_listing(self, filters: OrderFilters) -> ListingPlan:
        assert isinstance(filters, EmnifyFilters)
        natives = self.native_statuses(filters.status) if filters.status else frozenset()
        status_check = (lambda o: o.vendor_status in natives) if len(natives) > 1 else None
        since, until = filters.created_since, filters.created_until
        window = (lambda o: in_window(o, since, until)) if since or until else None
        needle = filters.search.lower() if filters.search else None
        search_check = (lambda o: _matches(o, needle)) if needle else None
        return ListingPlan(
            HeaderPager(self.conn_type, lambda page: self._request(filters, page)),
            all_of(status_check, window, search_check),
            sort="desc",
            since=since,
            until=until,
            max_orders=filters.max_orders,
        )

    def order_lookup(self, order_id: str, scope: Mapping[str, Any]) -> OrderLookup:
        order = path_segment(order_id, "order_id", self.conn_type)
        return OrderLookup(request=HttpRequest("GET", f"{self.settings.orders_path}/{order}"))

    def normalise(self, record: dict[str, Any]) -> Order:
        raw_status = record.get("status")
        if isinstance(raw_status, dict):
            code = raw_status.get("id")
            name = str(
                raw_status.get("description") or STATUS_NAMES.get(int(code) if code is not None else -1, "")
            )
        else:
            name = STATUS_NAMES.get(int(raw_status), str(raw_status)) if raw_status is not None else ""
        name = name.upper()
        submitted = parse_time(record.get("submit_date"), field="submit_date", assume_utc=True)
        updated = submitted  # the latest of submit, ship and delivery
        for key in ("shipped_date", "delivered_date"):
            at = parse_time(record.get(key), assume_utc=True, field=key)
            if at is not None and (updated is None or at > updated):
                updated = at
        currency = record.get("currency")
        if isinstance(currency, dict):
            currency = currency.get("code") or currency.get("symbol")
        return Order.trusted(
            vendor=self.conn_type,
            id=(order_id := record_id(record, "id")),
            number=str(record.get("purchase_order_number") or order_id),
            status=self.map_status(name),
            vendor_status=name,
            created_at=submitted,
            updated_at=updated,
            total_amount=to_decimal(record.get("total"), "total"),
            currency=optional_text(currency, "currency"),
            raw=record,
        )


def _matches(order: Order, needle: str) -> bool:
    raw = order.raw
    fields = (
        order.id,
        raw.get("purchase_order_number"),
        raw.get("external_payment_reference"),
        raw.get("external_shipping_reference"),
    )
    return any(needle in str(f).lower() for f in fields if f)


def _jwt_lifetime(token: str) -> float | None:
    """Seconds until the JWT's ``exp`` relative to its ``iat``; ``None`` when it says neither."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"]) - float(claims["iat"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


SPEC = VendorSpec(
    vendor_class=Emnify,
    hook="airflow_provider_orders.hooks.emnify.EmnifyHook",
    sandbox_app="airflow_provider_orders.sandbox.emnify.EmnifyApp",
)
