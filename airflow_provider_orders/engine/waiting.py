"""Deciding whether a waited-for order is done: shared by the sensor (sync) and the trigger (async)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_orders.errors import InvalidFilterError
from airflow_provider_orders.models import Order, OrderStatus

if TYPE_CHECKING:
    from airflow_provider_orders.vendors.base import Vendor

Outcome = Literal["success", "failure"]


def as_status_list(value: Any) -> list[str]:
    """One status or many, normalised or native, as a list of strings."""
    if value is None:
        return []
    if isinstance(value, (str, OrderStatus, int)):
        value = [value]
    return [v.value if isinstance(v, OrderStatus) else str(v) for v in value]


@dataclass(frozen=True)
class StatusMatcher:
    """Which statuses end the wait, and how.

    Each status may be normalised (``completed``: every native state that maps to it, and any state the
    vendor adds later that maps to it) or native (``Succeeded``, ``1000``, ``received_full``).
    """

    vendor_class: type[Vendor]
    target: frozenset[str]
    target_normalised: frozenset[OrderStatus]
    failure: frozenset[str]
    failure_normalised: frozenset[OrderStatus]

    @classmethod
    def build(
        cls, vendor_class: type[Vendor], target: Iterable[str], failure: Iterable[str]
    ) -> StatusMatcher:
        target, failure = list(target), list(failure)
        conn_type = vendor_class.conn_type
        if not target:
            raise InvalidFilterError("target_status is empty: nothing could end the wait", vendor=conn_type)
        natives = vendor_class.native_statuses
        overlap = natives(target) & natives(failure) if failure else set()
        if overlap:
            raise InvalidFilterError(
                f"{sorted(overlap)} is both a target and a failure status", vendor=conn_type
            )
        return cls(
            vendor_class,
            natives(target),
            normalised_statuses(target),
            natives(failure) if failure else frozenset(),
            normalised_statuses(failure),
        )

    def decide(self, order: Order) -> Outcome | None:
        native = order.vendor_status
        if native in self.target or order.status in self.target_normalised:
            return "success"
        if native in self.failure or order.status in self.failure_normalised:
            return "failure"
        return None


def normalised_statuses(values: Iterable[str]) -> frozenset[OrderStatus]:
    """The normalised statuses among ``values`` (native ones are left to ``Vendor.native_statuses``)."""
    known = {s.value: s for s in OrderStatus}
    return frozenset(known[v.lower()] for v in values if v.lower() in known)


def failure_message(order: Order, vendor_class: type[Vendor]) -> str:
    """The error a failed wait raises: vendor, order, status and the vendor's own error text."""
    detail = vendor_class.error_text(order.raw)
    text = (
        f"{vendor_class.display_name} order {order.id} reached {order.status.value} ({order.vendor_status})"
    )
    return f"{text}: {detail}" if detail else text
