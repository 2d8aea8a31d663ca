"""Deferrable triggers: :class:`OrderStateTrigger` waits for one order, :class:`OrderEventTrigger` watches a
scope for an ``AssetWatcher``. Imported lazily, so a DAG file that names one does not load the other."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_orders.triggers.events import OrderEventTrigger
    from airflow_provider_orders.triggers.orders import OrderStateTrigger

__all__ = ["OrderEventTrigger", "OrderStateTrigger"]


def __getattr__(name: str) -> Any:
    if name == "OrderEventTrigger":
        from airflow_provider_orders.triggers.events import OrderEventTrigger

        return OrderEventTrigger
    if name == "OrderStateTrigger":
        from airflow_provider_orders.triggers.orders import OrderStateTrigger

        return OrderStateTrigger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
