"""Fleetio purchase orders (API v1, date-versioned).

- Auth: static ``Authorization: Token <API key>`` and ``Account-Token`` headers. An API key is locked to
  the version of the day it was created; ``X-Api-Version`` overrides it per request, and this provider
  always sends the connection's ``api_version`` (default 2024-03-15).
- List ``GET /api/v1/purchase_orders``, from version 2024-03-15: ``per_page`` (2..100), ``start_cursor``,
  ``filter[state][include]=a,b``, ``filter[created_at][gte|lt]=...``, ``filter[vendor_id][eq]=...``,
  ``sort[created_at]=asc``; the body ``{records, next_cursor, ...}`` has ``next_cursor`` null at the end.
- Before 2024-03-15 the same path answers a bare array of up to 100 records, paged by ``page`` with
  ``X-Pagination-*`` headers, and ignores filters and sort: the pager reads either shape, and every
  filter is then applied on the client.
- Single order: ``GET /api/v1/purchase_orders/{number}``: the key is the PO number, not the id.
- Amounts are in cents of the account's currency; a purchase order names no currency, so ``currency``
  comes from the connection (extra ``currency``) or stays ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from pydantic import AwareDatetime, Field, SecretStr, field_validator

from airflow_provider_orders.errors import InvalidFilterError, OrdersError
from airflow_provider_orders.models import Order, OrderStatus
from airflow_provider_orders.vendors.base import Vendor
from airflow_provider_orders.vendors.filters import OrderFilters
from airflow_provider_orders.vendors.http import HttpRequest, HttpResponse, path_segment
from airflow_provider_orders.vendors.listing import ListingPlan, OrderLookup
from airflow_provider_orders.vendors.paging import CursorOrNumberedPager
from airflow_provider_orders.vendors.parsing import all_of, in_window, parse_time, record_id, zulu
from airflow_provider_orders.vendors.settings import COMMON_FIELDS, ConnectionField, ConnectionSettings
from airflow_provider_orders.vendors.spec import VendorSpec

LIST_PATH = "/api/v1/purchase_orders"
ACCOUNTS_PATH = "/api/v1/accounts"
#: The first version whose purchase-order reference documents cursors, filters and sort (and the
#: newest this provider's reading of the reference has checked).
CURSOR_API_VERSION = "2024-03-15"
DEFAULT_API_VERSION = CURSOR_API_VERSION
# Filters Fleetio takes as filter[<name>][eq]=<value>.
EQ_FILTERS = (
    "vendor_id",
    "number",
    "part_location_id",
    "created_by_id",
    "approved_by_id",
    "purchased_by_id",
    "rejected_by_id",
    "submitted_for_approval_by_id",
)


class FleetioFilters(OrderFilters):
    """Fleetio filters. Besides the common ones, each ``*_id`` and ``number`` is an equality filter.

    :param labels: one label or a list (included).
    :param updated_since: inclusive lower bound on ``updated_at`` (tz-aware).
    """

    DEFAULT_PAGE_SIZE = 100
    MAX_PAGE_SIZE = 100
    MIN_PAGE_SIZE = 2

    vendor_id: int | None = None
    number: int | None = None
    part_location_id: int | None = None
    created_by_id: int | None = None
    approved_by_id: int | None = None
    purchased_by_id: int | None = None
    rejected_by_id: int | None = None
    submitted_for_approval_by_id: int | None = None
    labels: list[str] | None = None
    updated_since: AwareDatetime | None = None

    @field_validator("labels", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class FleetioSettings(ConnectionSettings):
    password: SecretStr
    account_token: SecretStr
    api_version: str = Field(default=DEFAULT_API_VERSION, pattern=r"^\d{4}-\d{2}-\d{2}$")
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")

    @property
    def has_cursors(self) -> bool:
        """Whether the configured version answers cursor pages with filters and sort applied."""
        return self.api_version >= CURSOR_API_VERSION


class Fleetio(Vendor):
    conn_type = "fleetio"
    display_name = "Fleetio"
    default_host = "https://secure.fleetio.com"
    filters_model = FleetioFilters
    settings_model = FleetioSettings
    STATUS_MAP = {
        "draft": OrderStatus.DRAFT,
        "submitted_for_approval": OrderStatus.PENDING,
        "approved": OrderStatus.PROCESSING,
        "rejected": OrderStatus.FAILED,
        "purchased": OrderStatus.PROCESSING,
        "received_partial": OrderStatus.PROCESSING,
        "received_full": OrderStatus.COMPLETED,
        "closed": OrderStatus.COMPLETED,
    }
    password_label = "API key"
    connection_fields = (
        ConnectionField(
            "account_token",
            "Account token",
            description="Names the Fleetio account to read; sent as the Account-Token header. "
            "GET /api/v1/accounts lists the accounts of your API key with their tokens.",
            sensitive=True,
            required=True,
        ),
        ConnectionField(
            "api_version",
            "API version",
            description="Sent as X-Api-Version. 2024-03-15 and later list with cursors and filters on "
            "the server; older versions are paged by number and filtered here.",
            default=DEFAULT_API_VERSION,
        ),
        ConnectionField(
            "currency",
            "Currency",
            description="ISO code of the account's currency (purchase orders name none), e.g. USD.",
        ),
        *COMMON_FIELDS,
    )
    settings: FleetioSettings

    def auth_headers(self, token: str | None) -> dict[str, str]:
        s = self.settings
        return {
            "Authorization": f"Token {s.secret(s.password)}",
            "Account-Token": s.secret(s.account_token),
        }

    def request_headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "X-Api-Version": self.settings.api_version}

    def api_refused_hint(self, status: int, code: str | None) -> str:
        if status == 401:
            return (
                "Fleetio answers 401 for a wrong API key and for a wrong account token alike: "
                "`airflow connections test <conn id>` tells which."
            )
        return super().api_refused_hint(status, code)

    def credential_check(self) -> HttpRequest:
        # GET /api/v1/accounts needs the API key only (no Account-Token) and lists the key's accounts
        # with their tokens: it tells a wrong key from a wrong account token.
        s = self.settings
        return HttpRequest(
            "GET",
            ACCOUNTS_PATH,
            headers={"Authorization": f"Token {s.secret(s.password)}"},
            authenticated=False,
        )

    def explain_refusal(self, answer: HttpResponse | OrdersError) -> str:
        if isinstance(answer, OrdersError):
            if answer.status == 401:
                return "Fleetio refused the API key (the connection's password field); the account token was not checked"
            return super().explain_refusal(answer)
        body = answer.json()
        records = body.get("records") if isinstance(body, dict) else body
        accounts = [r for r in records or [] if isinstance(r, dict)]
        s = self.settings
        if any(str(r.get("token")) == s.secret(s.account_token) for r in accounts):
            return "Fleetio accepts the API key and the account token, but not together for this call: check the user's access to the account"
        names = ", ".join(repr(str(r.get("name"))) for r in accounts[:5]) or "none"
        return (
            "Fleetio accepts the API key, but the account token is not one of its accounts "
            f"({names}): set the Account token extra to the token of the account to read"
        )

    def _request(self, filters: FleetioFilters, cursor: str | None) -> HttpRequest:
        params: list[tuple[str, str]] = [("per_page", str(filters.effective_page_size))]
        if filters.status:
            params.append(("filter[state][include]", ",".join(sorted(self.native_statuses(filters.status)))))
        if filters.created_since:
            params.append(("filter[created_at][gte]", zulu(filters.created_since)))
        if filters.created_until:
            params.append(("filter[created_at][lt]", zulu(filters.created_until)))
        if filters.updated_since:
            params.append(("filter[updated_at][gte]", zulu(filters.updated_since)))
        for name in EQ_FILTERS:
            value = getattr(filters, name)
            if value is not None:
                params.append((f"filter[{name}][eq]", str(value)))
        if filters.labels:
            params.append(("filter[labels][include]", ",".join(filters.labels)))
        params.append(("sort[created_at]", "asc"))
        if cursor:
            params.append(("start_cursor", cursor))
        return HttpRequest("GET", LIST_PATH, params=tuple(params))

    def _numbered_request(self, page: int) -> HttpRequest:
        return HttpRequest("GET", LIST_PATH, params=(("page", str(page)),))

    def plan_listing(self, filters: OrderFilters) -> ListingPlan:
        assert isinstance(filters, FleetioFilters)
        needle = filters.search.lower() if filters.search else None
        search_check = (lambda o: _matches(o, needle)) if needle else None
        cursors = self.settings.has_cursors
        pager = CursorOrNumberedPager(
            self.conn_type,
            lambda cursor: self._request(filters, cursor),
            self._numbered_request,
            numbered_first=not cursors,
        )
        return ListingPlan(
            pager,
            all_of(search_check),
            # An older version sorts as it likes: no early stop on a bound there.
            sort="asc" if cursors else None,
            since=filters.created_since,
            until=filters.created_until,
            max_orders=filters.max_orders,
            full_filter=all_of(self._client_checks(filters), search_check),
        )

    def _client_checks(self, filters: FleetioFilters) -> Callable[[Order], bool] | None:
        """Every pushed-down filter as a check on the record, for versions that ignore them."""
        natives = self.native_statuses(filters.status) if filters.status else None
        since, until, updated = filters.created_since, filters.created_until, filters.updated_since
        equal = {
            name: str(getattr(filters, name)) for name in EQ_FILTERS if getattr(filters, name) is not None
        }
        labels = set(filters.labels or ())
        if not (natives or since or until or updated or equal or labels):
            return None
        version = self.settings.api_version

        def check(order: Order) -> bool:
            raw = order.raw
            if natives is not None and order.vendor_status not in natives:
                return False
            if (since or until) and not in_window(order, since, until):
                return False
            if updated is not None and (order.updated_at is None or order.updated_at < updated):
                return False
            for name, wanted in equal.items():
                if name not in raw:
                    raise InvalidFilterError(
                        f"filter {name!r}: purchase orders of API version {version} have no {name!r} to "
                        f"filter on; set the connection's api_version to {CURSOR_API_VERSION} or later",
                        vendor=self.conn_type,
                    )
                if str(raw[name]) != wanted:
                    return False
            return not labels or bool(labels & _label_names(raw))

        return check

    def order_lookup(self, order_id: str, scope: Mapping[str, Any]) -> OrderLookup:
        order = path_segment(order_id, "order_id", self.conn_type)
        return OrderLookup(request=HttpRequest("GET", f"{LIST_PATH}/{order}"))

    def probe_request(self) -> HttpRequest | None:
        return HttpRequest("GET", LIST_PATH, params=(("per_page", "2"),))

    def normalise(self, record: dict[str, Any]) -> Order:
        state = str(record.get("state") or "")
        cents = record.get("total_amount_cents")
        return Order.trusted(
            vendor=self.conn_type,
            id=(number := record_id(record, "number")),
            number=number,
            status=self.map_status(state),
            vendor_status=state,
            created_at=parse_time(record.get("created_at"), field="created_at"),
            updated_at=parse_time(record.get("updated_at"), field="updated_at"),
            total_amount=_amount(cents),
            currency=self.settings.currency,
            raw=record,
        )

    def read_error(self, response: HttpResponse) -> tuple[str | None, str]:
        try:
            body = response.json()
        except ValueError:
            return super().read_error(response)
        if isinstance(body, dict) and isinstance(body.get("errors"), dict):
            parts = [
                f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                for k, v in body["errors"].items()
            ]
            return None, "; ".join(parts) or "invalid request"
        return super().read_error(response)


def _label_names(raw: dict[str, Any]) -> set[str]:
    """Label names: ``labels`` objects (2024-03-15 on) or the ``label_list`` strings of older versions."""
    names = {str(label.get("name")) for label in raw.get("labels") or () if isinstance(label, dict)}
    return names | {str(name) for name in raw.get("label_list") or ()}


def _matches(order: Order, needle: str) -> bool:
    raw = order.raw
    return any(needle in str(f).lower() for f in (order.id, raw.get("description")) if f)


def _amount(cents: Any) -> Decimal | None:
    """Fleetio's ``total_amount_cents`` as an amount."""
    if cents is None:
        return None
    try:
        return Decimal(int(cents)) / 100
    except (TypeError, ValueError):
        raise ValueError(
            f"field 'total_amount_cents' is not a whole number of cents: {str(cents)[:40]!r}"
        ) from None


SPEC = VendorSpec(
    vendor_class=Fleetio,
    hook="airflow_provider_orders.hooks.fleetio.FleetioHook",
    sandbox_app="airflow_provider_orders.sandbox.fleetio.FleetioApp",
)
