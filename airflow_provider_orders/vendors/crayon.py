"""Crayon Cloud-iQ: processed purchase orders of one customer tenant.

- Token: ``POST /api/v1/connect/token/``, HTTP Basic ``client_id:client_secret``, form password grant
  with ``scope=CustomerApi``; answer ``{AccessToken, ExpiresIn, ...}``.
- List: ``GET /api/v1/purchaserequest/orders/`` with ``customerTenantId`` (required), ``orderState``
  (1 Successful, 2 Failed, 4 Processing), ``search``, ``page``, ``pageSize``, ``sortBy``, ``sortOrder``;
  body ``{Items, TotalHits}``.
- A listing record is one order *line* (a product: ``CatalogId``, ``Name``, ``Quantity``, ...), as the
  checkout takes ``orderLines``; ``OrderReferenceId`` names the order and repeats on each of its lines.
  Every line is kept (de-duplication keys on the whole line, see :meth:`Crayon.line_key`), and
  ``Order.id`` is the order's id.
- No single-order endpoint: an order is found with ``search`` and, failing that, by scanning newest
  first; its lines are gathered into one order whose state is the least settled of theirs.
- Times carry no zone: they are UTC. Records have no change time: ``updated_at`` is ``None``.
"""

from __future__ import annotations

import base64
from collections.abc import Hashable, Mapping
from typing import Any

from pydantic import Field, SecretStr

from airflow_provider_orders.errors import VendorApiError
from airflow_provider_orders.models import Order, OrderStatus
from airflow_provider_orders.vendors.base import Vendor
from airflow_provider_orders.vendors.filters import OrderFilters
from airflow_provider_orders.vendors.http import HttpRequest, HttpResponse, Token
from airflow_provider_orders.vendors.listing import ListingPlan, OrderLookup
from airflow_provider_orders.vendors.paging import PageNumberPager
from airflow_provider_orders.vendors.parsing import all_of, in_window, parse_time, record_id
from airflow_provider_orders.vendors.settings import COMMON_FIELDS, ConnectionField, ConnectionSettings
from airflow_provider_orders.vendors.spec import VendorSpec

LIST_PATH = "/api/v1/purchaserequest/orders/"
TOKEN_PATH = "/api/v1/connect/token/"
ORDER_STATE_CODES = {"Succeeded": "1", "Failed": "2", "Processing": "4"}
#: What a listing record says of its line, besides its state and error (which change over time).
LINE_FIELDS = ("OrderReferenceId", "CatalogId", "Name", "Quantity", "BillingCycle", "TermDuration",
               "EmailReceiver", "Created")  # fmt: skip


class CrayonFilters(OrderFilters):
    """Crayon filters.

    :param customer_tenant_id: the customer tenant whose orders are listed (required).
    :param sort_by: ``CreationDate`` (default) or ``ScheduledDate``.
    """

    DEFAULT_PAGE_SIZE = 100
    MAX_PAGE_SIZE = 1000

    customer_tenant_id: int = Field(ge=1)
    sort_by: str = Field(default="CreationDate", pattern="^(CreationDate|ScheduledDate)$")


class CrayonSettings(ConnectionSettings):
    login: str = Field(min_length=1)
    password: SecretStr
    client_id: str = Field(min_length=1)
    client_secret: SecretStr


class Crayon(Vendor):
    conn_type = "crayon"
    display_name = "Crayon Cloud-iQ"
    default_host = "https://api.crayon.com"
    filters_model = CrayonFilters
    settings_model = CrayonSettings
    has_order_endpoint = False
    STATUS_MAP = {
        "Processing": OrderStatus.PROCESSING,
        "Succeeded": OrderStatus.COMPLETED,
        "Failed": OrderStatus.FAILED,
    }
    STATUS_ALIASES = {"Successful": "Succeeded"}
    login_label = "API user name"
    password_label = "API user password"
    connection_fields = (
        ConnectionField(
            "client_id",
            "Client ID",
            description="The id of your Cloud-iQ API client (sent with its secret as HTTP Basic).",
            required=True,
            credential=True,
        ),
        ConnectionField(
            "client_secret",
            "Client secret",
            description="The secret of the same API client.",
            sensitive=True,
            required=True,
        ),
        *COMMON_FIELDS,
    )
    scope_fields = ("customer_tenant_id",)
    lists_order_lines = True
    error_fields = ("Error",)
    settings: CrayonSettings

    # -- auth --------------------------------------------------------------------------------

    def _basic(self) -> str:
        s = self.settings
        return base64.b64encode(f"{s.client_id}:{s.secret(s.client_secret)}".encode()).decode()

    def secrets(self) -> list[str]:
        # The Basic value is as good as the client secret: mask it too.
        return [*super().secrets(), self._basic()]

    def token_request(self) -> HttpRequest:
        s = self.settings
        basic = self._basic()
        return HttpRequest(
            "POST",
            TOKEN_PATH,
            headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
            form={
                "grant_type": "password",
                "username": s.login,
                "password": s.secret(s.password),
                "scope": "CustomerApi",
            },
            authenticated=False,
            kind="token",
        )

    def read_token(self, response: HttpResponse) -> Token:
        body = response.json()
        if not isinstance(body, dict) or not body.get("AccessToken"):
            raise VendorApiError(
                f"token response has no AccessToken ({(body or {}).get('Error') or 'no error given'})",
                vendor=self.conn_type,
                status=response.status,
            )
        expires = body.get("ExpiresIn")
        return Token(str(body["AccessToken"]), float(expires) if expires else 3600.0)

    def token_refused_hint(self, code: str | None) -> str:
        # OAuth2's codes tell the two pairs apart: the client (Basic header) and the API user (form).
        if code == "invalid_client":
            return "Crayon refused the Client ID or Client secret (the extras); the API user was not checked."
        if code == "invalid_grant":
            return "Crayon accepted the client but refused the API user name or API user password."
        return super().token_refused_hint(code)

    def token_refused(self, response: HttpResponse) -> bool:
        if super().token_refused(response):
            return True
        return response.status == 400

    def auth_headers(self, token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def request_headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "Content-Type": "application/json"}

    # -- listing -----------------------------------------------------------------------------

    def _request(self, filters: CrayonFilters, page: int, page_size: int) -> HttpRequest:
        natives = self.native_statuses(filters.status) if filters.status else frozenset()
        state = ORDER_STATE_CODES[next(iter(natives))] if len(natives) == 1 else "0"
        params = [
            ("customerTenantId", str(filters.customer_tenant_id)),
            ("orderState", state),
            ("page", str(page)),
            ("pageSize", str(page_size)),
            ("sortBy", filters.sort_by),
            # Newest first, so a created_since bound ends the listing early.
            ("sortOrder", "Descending"),
        ]
        if filters.search:
            params.append(("search", filters.search))
        return HttpRequest("GET", LIST_PATH, params=tuple(params))

    def plan_listing(self, filters: OrderFilters) -> ListingPlan:
        assert isinstance(filters, CrayonFilters)
        size = filters.effective_page_size
        natives = self.native_statuses(filters.status) if filters.status else frozenset()
        status_check = (lambda o: o.vendor_status in natives) if len(natives) > 1 else None
        since, until = filters.created_since, filters.created_until
        window = (lambda o: in_window(o, since, until)) if since or until else None
        pager = PageNumberPager(
            self.conn_type,
            lambda page: self._request(filters, page, size),
            size,
            items_key="Items",
            total_key="TotalHits",
        )
        return ListingPlan(
            pager,
            all_of(status_check, window),
            sort="desc" if filters.sort_by == "CreationDate" else None,
            since=since,
            until=until,
            max_orders=filters.max_orders,
        )

    def order_lookup(self, order_id: str, scope: Mapping[str, Any]) -> OrderLookup:
        # No single-order endpoint: search for the id; the engine falls back to a newest-first scan.
        tenant = self.scope_value(scope, "customer_tenant_id")
        searched = CrayonFilters(customer_tenant_id=int(tenant), search=str(order_id))
        everything = CrayonFilters(customer_tenant_id=int(tenant))
        return OrderLookup(listing=self.plan_listing(searched), fallback=self.plan_listing(everything))

    def line_key(self, order: Order) -> Hashable:
        """A line is told apart by everything Crayon gives of it except its state, which changes."""
        key = tuple(map(order.raw.get, LINE_FIELDS))
        try:
            hash(key)
        except TypeError:  # a field holding an object or a list: compare its text instead
            return tuple(map(str, key))
        return key

    def combine_lines(self, lines: list[Order]) -> Order:
        """The order from its lines: in progress while any line is, else failed if any line failed.

        ``raw`` is ``{OrderReferenceId, Created, OrderState, Error, Lines: [line records]}``, with the
        first failed line's ``Error``.
        """
        if len(lines) == 1:
            return lines[0]
        states = [line.vendor_status for line in lines]
        open_states = [s for s in states if s not in ("Succeeded", "Failed")]
        state = open_states[0] if open_states else ("Failed" if "Failed" in states else "Succeeded")
        errors = [line.raw.get("Error") for line in lines if line.vendor_status == "Failed"]
        first = lines[0]
        raw = {
            "OrderReferenceId": first.raw.get("OrderReferenceId"),
            "Created": first.raw.get("Created"),
            "OrderState": state,
            "Error": next((e for e in errors if e), None),
            "Lines": [line.raw for line in lines],
        }
        return Order(
            vendor=first.vendor, id=first.id, number=first.number, status=self.map_status(state),
            vendor_status=state, created_at=first.created_at, raw=raw,
        )  # fmt: skip

    def normalise(self, record: dict[str, Any]) -> Order:
        created = parse_time(record.get("Created"), field="Created", assume_utc=True)
        state = str(record.get("OrderState") or "")
        order_id = record_id(record, "OrderReferenceId")
        return Order.trusted(
            vendor="crayon",
            id=order_id,
            number=order_id,
            status=self.map_status(state),
            vendor_status=state,
            created_at=created,
            updated_at=None,
            total_amount=None,
            currency=None,
            raw=record,
        )

    def read_error(self, response: HttpResponse) -> tuple[str | None, str]:
        try:
            body = response.json()
        except ValueError:
            return super().read_error(response)
        if isinstance(body, dict) and isinstance(body.get("Error"), str) and body["Error"]:
            # The token endpoint: {"Error": "invalid_grant"} (OAuth2's error code, capitalised).
            return body["Error"], str(body.get("ErrorDescription") or body["Error"])
        if isinstance(body, dict) and ("ErrorCode" in body or "Message" in body):
            return (str(body["ErrorCode"]) if body.get("ErrorCode") else None), str(
                body.get("Message") or f"HTTP {response.status}"
            )
        return super().read_error(response)


SPEC = VendorSpec(
    vendor_class=Crayon,
    hook="airflow_provider_orders.hooks.crayon.CrayonHook",
    sandbox_app="airflow_provider_orders.sandbox.crayon.CrayonApp",
    sandbox_filters={"customer_tenant_id": 1001},
)
