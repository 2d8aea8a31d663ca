"""Acme Supply, a throw-away sixth vendor: proof that a vendor is one module, one hook, one sandbox app.

- Auth: a static API key in ``X-Api-Key``.
- List: ``GET /v2/orders?page=&per_page=&state=``, body ``{"orders": [...], "total": N}``, newest first.
- One order: ``GET /v2/orders/<id>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_orders.models import Order, OrderStatus
from airflow_provider_orders.vendors.base import Vendor
from airflow_provider_orders.vendors.filters import OrderFilters
from airflow_provider_orders.vendors.http import HttpRequest
from airflow_provider_orders.vendors.listing import ListingPlan, OrderLookup
from airflow_provider_orders.vendors.paging import PageNumberPager
from airflow_provider_orders.vendors.parsing import all_of, in_window, parse_time, record_id
from airflow_provider_orders.vendors.settings import COMMON_FIELDS, ConnectionSettings
from airflow_provider_orders.vendors.spec import VendorSpec


class AcmeFilters(OrderFilters):
    """Acme filters: only the common ones."""


class AcmeSupply(Vendor):
    conn_type = "acme_supply"
    display_name = "Acme Supply"
    default_host = ""
    filters_model = AcmeFilters
    settings_model = ConnectionSettings
    STATUS_MAP = {
        "open": OrderStatus.PROCESSING,
        "done": OrderStatus.COMPLETED,
        "error": OrderStatus.FAILED,
        "void": OrderStatus.CANCELED,
    }
    password_label = "API key"
    connection_fields = COMMON_FIELDS
    error_fields = ("problem",)

    def auth_headers(self, token: str | None) -> dict[str, str]:
        return {"X-Api-Key": self.settings.secret(self.settings.password)}

    def plan_listing(self, filters: OrderFilters) -> ListingPlan:
        natives = sorted(self.native_statuses(filters.status)) if filters.status else []
        since, until = filters.created_since, filters.created_until
        size = filters.effective_page_size

        def page(n: int) -> HttpRequest:
            params = [("page", str(n)), ("per_page", str(size)), *(("state", s) for s in natives)]
            return HttpRequest("GET", "/v2/orders", tuple(params))

        window = (lambda o: in_window(o, since, until)) if since or until else None
        return ListingPlan(
            PageNumberPager(self.conn_type, page, size, items_key="orders", total_key="total"),
            all_of(window),
            sort="desc",
            since=since,
            until=until,
            max_orders=filters.max_orders,
        )

    def order_lookup(self, order_id: str, scope: Mapping[str, Any]) -> OrderLookup:
        return OrderLookup(request=HttpRequest("GET", f"/v2/orders/{order_id}"))

    def normalise(self, record: dict[str, Any]) -> Order:
        state = str(record["state"])
        return Order(
            vendor=self.conn_type,
            id=record_id(record, "id"),
            status=self.map_status(state),
            vendor_status=state,
            created_at=parse_time(record["created"]),
            raw=record,
        )


SPEC = VendorSpec(
    vendor_class=AcmeSupply,
    hook="tests.sixth_vendor.hook.AcmeSupplyHook",
    sandbox_app="tests.sixth_vendor.sandbox_app.AcmeSupplyApp",
)
