"""Adobe VIP Marketplace Partner API (CPAPI v3): a customer's order history.

- Token: Adobe IMS ``POST {ims_url}/ims/token/v3``, client credentials; ``X-Api-Key`` is the client id.
- Every request carries a new ``X-Request-Id``. ``X-Correlation-Id`` is kept for a retry after a timeout
  (no answer) and made anew once any answer arrived, a 5xx or 429 included.
- List: ``GET /v3/customers/{customer_id}/orders`` with ``limit`` (1..100), ``offset``, repeated
  ``status``/``order-type``/``offer-id`` (OR), ``start-date``/``end-date`` in Zulu time. Newest first.
  Pages link to the next one in ``links.next.uri``. Without ``start-date`` Adobe answers only the
  customer's current term, so the whole history is asked for from ``history_start_date``.
- The ``status`` parameter takes 1000, 1002, 1004 and 1026 only, and ``order-type`` NEW, TRANSFER and
  RENEWAL: other codes (1008, 1020, 1022, 1024) and RETURN orders are selected on the client.
- The order resource has no change time: ``updated_at`` is ``None``.
- Single order: ``GET /v3/customers/{customer_id}/orders/{order_id}``; unknown gives 404 code 2115.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import Field, SecretStr, field_validator

from airflow_provider_orders.models import Order, OrderStatus
from airflow_provider_orders.vendors.base import ClientCredentialsVendor
from airflow_provider_orders.vendors.filters import OrderFilters
from airflow_provider_orders.vendors.http import HttpRequest, path_segment
from airflow_provider_orders.vendors.listing import ListingPlan, OrderLookup
from airflow_provider_orders.vendors.paging import OffsetLinkPager
from airflow_provider_orders.vendors.parsing import (
    all_of,
    in_window,
    optional_text,
    parse_time,
    record_id,
    zulu,
)
from airflow_provider_orders.vendors.settings import (
    COMMON_FIELDS,
    ConnectionField,
    ConnectionSettings,
    checked_url,
)
from airflow_provider_orders.vendors.spec import VendorSpec

PRODUCTION_IMS = "https://ims-na1.adobelogin.com"
DEFAULT_SCOPES = "openid,AdobeID,read_organizations"
#: "customerId ... Max: 40 characters" (VIP Marketplace reference, "Resources and fields").
CUSTOMER_ID_MAX = 40
#: Order types an order can have (a RETURN order cancels lines of a NEW or RENEWAL one) ...
ORDER_TYPES = ("NEW", "TRANSFER", "RENEWAL", "RETURN")
#: ... and those the order-history ``order-type`` parameter documents.
ORDER_TYPE_PARAM = ("NEW", "TRANSFER", "RENEWAL")
#: The codes the order-history ``status`` parameter documents; an undocumented one is answered 400, 1132.
STATUS_PARAM = frozenset({"1000", "1002", "1004", "1026"})
#: Before any VIP Marketplace order: the default start of a full-history listing.
HISTORY_START = "2000-01-01"


def _listify(value: Any) -> Any:
    if isinstance(value, (str, int)):
        return [str(value)]
    return value


class AdobeVipFilters(OrderFilters):
    """Adobe VIP Marketplace filters.

    :param customer_id: the customer whose orders are listed (required).
    :param order_type: ``NEW``, ``TRANSFER``, ``RENEWAL`` or ``RETURN``; one or a list (OR).
    :param offer_id: one offer id or a list (OR).
    :param reference_order_id: orders that reference this order.
    """

    DEFAULT_PAGE_SIZE = 100
    MAX_PAGE_SIZE = 100

    customer_id: str = Field(min_length=1)
    order_type: list[str] | None = None
    offer_id: list[str] | None = None
    reference_order_id: str | None = None

    _listify_type = field_validator("order_type", "offer_id", mode="before")(_listify)

    @field_validator("order_type")
    @classmethod
    def _known_type(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        upper = [v.upper() for v in value]
        bad = [v for v in upper if v not in ORDER_TYPES]
        if bad:
            raise ValueError(f"{bad} not in {list(ORDER_TYPES)}")
        return upper


class AdobeVipSettings(ConnectionSettings):
    URL_FIELDS = ("ims_url",)

    login: str = Field(min_length=1)
    password: SecretStr
    ims_url: str = PRODUCTION_IMS
    scopes: str = DEFAULT_SCOPES
    #: Sent as ``start-date`` when a listing has no ``created_since``: Adobe's default is the start of
    #: the customer's current term, which would leave out every earlier order.
    history_start_date: date = date.fromisoformat(HISTORY_START)

    @field_validator("ims_url")
    @classmethod
    def _ims(cls, value: str) -> str:
        return checked_url(value)


class AdobeVipMarketplace(ClientCredentialsVendor):
    conn_type = "adobe_vip_marketplace"
    display_name = "Adobe VIP Marketplace"
    default_host = "https://partners.adobe.io"
    filters_model = AdobeVipFilters
    settings_model = AdobeVipSettings
    STATUS_MAP = {
        "1000": OrderStatus.COMPLETED,
        "1002": OrderStatus.PROCESSING,
        "1004": OrderStatus.FAILED,
        "1008": OrderStatus.CANCELED,
        "1020": OrderStatus.FAILED,
        "1022": OrderStatus.FAILED,
        "1024": OrderStatus.FAILED,
        "1026": OrderStatus.FAILED,
    }
    login_label = "Client ID"
    form_placeholders = {"login": "the integration's client id (also sent as X-Api-Key)"}
    password_label = "Client secret"
    connection_fields = (
        ConnectionField(
            "ims_url", "IMS URL", description="IMS origin; /ims/token/v3 is appended.", default=PRODUCTION_IMS
        ),
        ConnectionField(
            "scopes", "Scopes", description="Comma-separated IMS scopes.", default=DEFAULT_SCOPES
        ),
        ConnectionField(
            "history_start_date",
            "History start date",
            description="start-date of a listing without created_since (Adobe's own default is the "
            "customer's current term start). Any date before the customer's first order.",
            default=HISTORY_START,
        ),
        *COMMON_FIELDS,
    )
    scope_fields = ("customer_id",)

    def probe_request(self) -> HttpRequest:
        # Every orders call names a customer; none is known here. A customer that does not exist answers
        # 404 only once the token and the API key were accepted (401/403 otherwise).
        return HttpRequest("GET", "/v3/customers/0/orders", params=(("limit", "1"),))

    def probe_accepts(self, status: int) -> bool:
        return status == 404

    @classmethod
    def error_text(cls, raw: Mapping[str, Any]) -> str | None:
        """Adobe explains a failed order on its line items (``statusDescription``)."""
        for item in raw.get("lineItems") or ():
            if isinstance(item, dict) and item.get("statusDescription"):
                return str(item["statusDescription"])
        return None

    settings: AdobeVipSettings

    def token_url(self) -> str:
        return f"{self.settings.ims_url}/ims/token/v3"

    def token_scope(self) -> str:
        return self.settings.scopes

    def auth_headers(self, token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "X-Api-Key": self.settings.login}

    def request_headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "Content-Type": "application/json"}

    def per_attempt_headers(self) -> dict[str, str]:
        return {"X-Request-Id": str(uuid.uuid4())}

    def per_call_headers(self) -> dict[str, str]:
        return {"X-Correlation-Id": str(uuid.uuid4())}

    def plan_listing(self, filters: OrderFilters) -> ListingPlan:
        assert isinstance(filters, AdobeVipFilters)
        params: list[tuple[str, str]] = [("limit", str(filters.effective_page_size)), ("offset", "0")]
        natives = self.native_statuses(filters.status) if filters.status else frozenset()
        # Values of one parameter are OR'ed: push them down only when Adobe documents every one.
        status_check = None
        if natives <= STATUS_PARAM:
            params += [("status", code) for code in sorted(natives)]
        else:
            status_check = lambda o: o.vendor_status in natives
        types = filters.order_type or []
        type_check = None
        if set(types) <= set(ORDER_TYPE_PARAM):
            params += [("order-type", t) for t in types]
        else:
            wanted_types = set(types)
            type_check = lambda o: o.raw.get("orderType") in wanted_types
        params += [("offer-id", o) for o in filters.offer_id or ()]
        if filters.reference_order_id:
            params.append(("reference-order-id", filters.reference_order_id))
        since, until = filters.created_since, filters.created_until
        params.append(("start-date", zulu(since) if since else self.settings.history_start_date.isoformat()))
        if until:
            params.append(("end-date", zulu(until)))
        customer = path_segment(
            filters.customer_id, "customer_id", self.conn_type, max_length=CUSTOMER_ID_MAX
        )
        first = HttpRequest("GET", f"/v3/customers/{customer}/orders", params=tuple(params))
        # end-date may be inclusive at Adobe; the window check keeps created_until exclusive.
        window = (lambda o: in_window(o, since, until)) if since or until else None
        search = filters.search.lower() if filters.search else None
        search_check = (lambda o: _matches(o, search)) if search else None
        return ListingPlan(
            OffsetLinkPager(self.conn_type, first, self.settings.host),
            all_of(status_check, type_check, window, search_check),
            sort="desc",
            since=since,
            until=until,
            max_orders=filters.max_orders,
        )

    def order_lookup(self, order_id: str, scope: Mapping[str, Any]) -> OrderLookup:
        customer = path_segment(
            self.scope_value(scope, "customer_id"), "customer_id", self.conn_type, max_length=CUSTOMER_ID_MAX
        )
        order = path_segment(order_id, "order_id", self.conn_type)
        return OrderLookup(request=HttpRequest("GET", f"/v3/customers/{customer}/orders/{order}"))

    def normalise(self, record: dict[str, Any]) -> Order:
        created = parse_time(record.get("creationDate"), field="creationDate")
        status = str(record.get("status") or "")
        return Order.trusted(
            vendor=self.conn_type,
            id=(order_id := record_id(record, "orderId")),
            number=str(record.get("externalReferenceId") or order_id),
            status=self.map_status(status),
            vendor_status=status,
            created_at=created,
            updated_at=None,
            total_amount=None,
            currency=optional_text(record.get("currencyCode"), "currencyCode"),
            raw=record,
        )

    def is_not_found(self, status: int, code: str | None) -> bool:
        return status == 404 or code == "2115"


def _matches(order: Order, needle: str) -> bool:
    raw = order.raw
    fields = (order.id, raw.get("externalReferenceId"), raw.get("referenceOrderId"))
    return any(needle in str(f).lower() for f in fields if f)


SPEC = VendorSpec(
    vendor_class=AdobeVipMarketplace,
    hook="airflow_provider_orders.hooks.adobe_vip.AdobeVipMarketplaceHook",
    sandbox_app="airflow_provider_orders.sandbox.adobe_vip.AdobeApp",
    sandbox_filters={"customer_id": "1005000001"},
)
