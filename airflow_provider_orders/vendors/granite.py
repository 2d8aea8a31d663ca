"""Granite360 AccessExpress: a customer's orders.

- Token: OAuth2 client credentials at the connection's ``oauth_url`` (formerly ``token_url``; production URLs are not public),
  scope ``urn:grt:accessexpress``. The staging token URL is an Okta-style authorization server; the
  client authenticates with HTTP Basic (``client_secret_basic``, the method RFC 6749 requires every
  server to support) or in the form body (``client_secret_post``), as the extra ``client_auth`` says.
- ``created_at`` is not among the documented response fields (only ``start_date``, "created on or
  after", and the default sort on it are): ``created_since`` is pushed down as ``start_date`` and never
  checked on the client; ``created_until`` is checked on the client, and a record without
  ``created_at`` then raises instead of being dropped.
- List: ``GET /api/v1/ordersAccessExpress`` with ``page`` (from 1), ``page_size`` (1..100), ``status``
  (comma-separated), ``requester``, ``start_date`` (on or after), ``search``, ``sort_field``,
  ``sort_order``, ``granted_tenant_macnum``. The envelope is not published: a bare array or an object
  with ``data``/``orders``/``items``/``results``. A short page is the last.
- 60 requests per minute: the client-side limiter defaults to that.
- No single-order endpoint: ``search`` matches ``order_number``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, field_validator

from airflow_provider_orders.errors import InvalidFilterError
from airflow_provider_orders.models import Order, OrderStatus
from airflow_provider_orders.vendors.base import ClientAuth, ClientCredentialsVendor
from airflow_provider_orders.vendors.filters import OrderFilters
from airflow_provider_orders.vendors.http import HttpRequest
from airflow_provider_orders.vendors.listing import ListingPlan, OrderLookup
from airflow_provider_orders.vendors.paging import ShortPagePager
from airflow_provider_orders.vendors.parsing import optional_text, parse_time, record_id, to_decimal, zulu
from airflow_provider_orders.vendors.settings import (
    COMMON_FIELDS,
    ConnectionField,
    ConnectionSettings,
    checked_url,
)
from airflow_provider_orders.vendors.spec import VendorSpec

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
    URL_FIELDS = ("oauth_url",)

    login: str = Field(min_length=1)
    password: SecretStr
    #: The token endpoint. Named so that Airflow does not mask it (it masks any extra whose name holds
    #: "token"); ``token_url``, its first name, is still read.
    oauth_url: str = Field(validation_alias=AliasChoices("oauth_url", "token_url"))
    scope: str = DEFAULT_SCOPE
    granted_tenant_macnum: str | None = None
    client_auth: ClientAuth = "client_secret_basic"

    @field_validator("oauth_url")
    @classmethod
    def _oauth_url(cls, value: str) -> str:
        return checked_url(value)


class GraniteAccessExpress(ClientCredentialsVendor):
    conn_type = "granite_access_express"
    display_name = "Granite AccessExpress"
    # Granite publishes no production URL (only staging, https://api.staging.granitemsp.com): the
    # connection must name its host.
    default_host = ""
    filters_model = GraniteFilters
    settings_model = GraniteSettings
    has_order_endpoint = False
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
        ConnectionField(
            "oauth_url",
            "Token URL",
            description="Your authorization server's OAuth2 token endpoint, https://.../oauth2/token "
            "(Granite publishes none). Read from the extra token_url too.",
            required=True,
        ),
        ConnectionField(
            "scope",
            "Scope",
            description="The OAuth2 scope the token is asked for; keep the default unless Granite gave you "
            "another.",
            default=DEFAULT_SCOPE,
        ),
        ConnectionField(
            "client_auth",
            "Client authentication",
            description="How the client id and secret reach the token URL: client_secret_basic (HTTP "
            "Basic, the default) or client_secret_post (form body). Use what your authorization server's "
            "app is set to.",
            default="client_secret_basic",
        ),
        ConnectionField(
            "granted_tenant_macnum", "Granted tenant macnum", description="Act for a sub-tenant."
        ),
        *COMMON_FIELDS,
    )
    scope_fields = ("granted_tenant_macnum",)
    settings: GraniteSettings

    def token_url(self) -> str:
        return self.settings.oauth_url

    def token_scope(self) -> str:
        return self.settings.scope

    def client_auth(self) -> ClientAuth:
        return self.settings.client_auth

    def token_refused_hint(self, code: str | None) -> str:
        if code != "invalid_client":
            return super().token_refused_hint(code)
        other = "client_secret_post" if self.client_auth() == "client_secret_basic" else "client_secret_basic"
        return (
            "Check the client id and secret. If they are right, the authorization server expects the "
            f"other client authentication method: set the connection extra client_auth to {other} "
            f"(it is {self.client_auth()})."
        )

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
        window = (lambda o: self._created_before(o, until)) if until else None
        return ListingPlan(
            ShortPagePager(self.conn_type, lambda page: self._request(filters, page, size), size),
            window,
            sort="asc",
            since=filters.created_since,
            until=until,
            max_orders=filters.max_orders,
        )

    def _created_before(self, order: Order, until: datetime) -> bool:
        if order.created_at is None:
            raise InvalidFilterError(
                f"filter 'created_until': order {order.id} has no created_at (Granite does not document "
                "the field), so the bound cannot be applied; drop created_until, or filter the listing "
                "downstream",
                vendor=self.conn_type,
            )
        return order.created_at < until

    def order_lookup(self, order_id: str, scope: Mapping[str, Any]) -> OrderLookup:
        filters = GraniteFilters(
            search=str(order_id), granted_tenant_macnum=scope.get("granted_tenant_macnum")
        )
        return OrderLookup(listing=self.plan_listing(filters))

    def normalise(self, record: dict[str, Any]) -> Order:
        created = parse_time(record.get("created_at"), field="created_at", assume_utc=True)
        status = str(record.get("status") or "")
        return Order.trusted(
            vendor=self.conn_type,
            id=(number := record_id(record, "order_number")),
            number=number,
            status=self.map_status(status),
            vendor_status=status,
            created_at=created,
            updated_at=parse_time(record.get("updated_at"), field="updated_at", assume_utc=True),
            total_amount=to_decimal(record.get("total_amount"), "total_amount"),
            currency=optional_text(record.get("currency"), "currency"),
            raw=record,
        )


SPEC = VendorSpec(
    vendor_class=GraniteAccessExpress,
    hook="airflow_provider_orders.hooks.granite.GraniteAccessExpressHook",
    sandbox_app="airflow_provider_orders.sandbox.granite.GraniteApp",
)
