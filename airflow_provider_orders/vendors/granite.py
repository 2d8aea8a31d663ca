"""Granite360 AccessExpress: a customer's orders.

- Token: OAuth2 client credentials at the connection's ``token_url`` (production URLs are not public),
  scope ``urn:grt:accessexpress``.
- List: ``GET /api/v1/ordersAccessExpress`` with ``page`` (from 1), ``page_size`` (1..100), ``status``
  (comma-separated), ``requester``, ``start_date`` (on or after), ``search``, ``sort_field``,
  ``sort_order``, ``granted_tenant_macnum``. The envelope is not published: a bare array or an object
  with ``data``/``orders``/``items``/``results``. A short page is the last.
- 60 requests per minute: the client-side limiter defaults to that.
- No single-order endpoint: ``search`` matches ``order_number``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, SecretStr, field_validator

from airflow_provider_orders.models import Order, OrderStatus
from airflow_provider_orders.vendors.base import (
    COMMON_FIELDS,
    ClientCredentialsVendor,
    ConnectionField,
    ConnectionSettings,
    HttpRequest,
    ListingPlan,
    OrderFilters,
    OrderLookup,
    all_of,
    in_window,
    parse_time,
    to_decimal,
    zulu,
)
from airflow_provider_orders.vendors.paging import ShortPagePager

LIST_PATH = "/api/v1/ordersAccessExpress"
DEFAULT_SCOPE = "urn:grt:accessexpress"


class GraniteFilters(OrderFilters):
    """Granite AccessExpress filters.

    :param requester: one requester or a list.
    :param granted_tenant_macnum: act for this sub-tenant (overrides the connection's).
    """

    DEFAULT_PAGE_SIZE = 100
    MAX_PAGE_SIZE = 100

    requester: list[str] | None = None
    granted_tenant_macnum: str | None = None

    @field_validator("requester", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class GraniteSettings(ConnectionSettings):
    DEFAULT_REQUESTS_PER_MINUTE = 60

    login: str = Field(min_length=1)
    password: SecretStr
    token_url: str
    scope: str = DEFAULT_SCOPE
    granted_tenant_macnum: str | None = None

    @field_validator("token_url")
    @classmethod
    def _token_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be the OAuth2 token URL, e.g. https://login.example.com/oauth2/token")
        return value


class GraniteAccessExpress(ClientCredentialsVendor):
    conn_type = "granite_access_express"
    display_name = "Granite AccessExpress"
    # Granite publishes no production URL (only staging, https://api.staging.granitemsp.com): the
    # connection must name its host.
    default_host = ""
    filters_model = GraniteFilters
    settings_model = GraniteSettings
    STATUS_MAP = {
        "draft": OrderStatus.DRAFT,
        "submitted": OrderStatus.PENDING,
        "pending": OrderStatus.PROCESSING,
        "completed": OrderStatus.COMPLETED,
        "canceled": OrderStatus.CANCELED,
    }
    STATUS_ALIASES = {"cancelled": "canceled"}
    login_label = "Client ID"
    password_label = "Client secret"
    connection_fields = (
        ConnectionField("token_url", "Token URL", description="OAuth2 token endpoint (required)."),
        ConnectionField("scope", "Scope", default=DEFAULT_SCOPE),
        ConnectionField(
            "granted_tenant_macnum", "Granted tenant macnum", description="Act for a sub-tenant."
        ),
        *COMMON_FIELDS,
    )
    scope_fields = ("granted_tenant_macnum",)
    settings: GraniteSettings

    def token_url(self) -> str:
        return self.settings.token_url

    def token_scope(self) -> str:
        return self.settings.scope

    def _request(self, filters: GraniteFilters, page: int, size: int) -> HttpRequest:
        params: list[tuple[str, str]] = [("page", str(page)), ("page_size", str(size))]
        if filters.status:
            params.append(("status", ",".join(sorted(self.native_statuses(filters.status)))))
        for requester in filters.requester or ():
            params.append(("requester", requester))
        if filters.created_since:
            params.append(("start_date", zulu(filters.created_since)))
        if filters.search:
            params.append(("search", filters.search))
        # Oldest first (sort_field defaults to created_at): a created_until bound ends paging early.
        params.append(("sort_order", "asc"))
        macnum = filters.granted_tenant_macnum or self.settings.granted_tenant_macnum
        if macnum:
            params.append(("granted_tenant_macnum", macnum))
        return HttpRequest("GET", LIST_PATH, params=tuple(params))

    def plan_listing(self, filters: OrderFilters) -> ListingPlan:
        assert isinstance(filters, GraniteFilters)
        size = filters.effective_page_size
        until = filters.created_until
        window = (lambda o: in_window(o, None, until)) if until else None
        return ListingPlan(
            ShortPagePager(self.conn_type, lambda page: self._request(filters, page, size), size),
            all_of(window),
            sort="asc",
            since=filters.created_since,
            until=until,
            max_orders=filters.max_orders,
        )

    def order_lookup(self, order_id: str, scope: Mapping[str, Any]) -> OrderLookup:
        filters = GraniteFilters(
            search=str(order_id), granted_tenant_macnum=scope.get("granted_tenant_macnum")
        )
        return OrderLookup(listing=self.plan_listing(filters))

    def normalise(self, record: dict[str, Any]) -> Order:
        created = parse_time(record.get("created_at"), assume_utc=True)
        status = str(record.get("status") or "")
        return Order.from_vendor(
            vendor=self.conn_type,
            id=str(record["order_number"]),
            number=str(record["order_number"]),
            status=self.map_status(status),
            vendor_status=status,
            created_at=created,
            updated_at=parse_time(record.get("updated_at"), assume_utc=True) or created,
            total_amount=to_decimal(record.get("total_amount")),
            currency=record.get("currency"),
            raw=record,
        )
