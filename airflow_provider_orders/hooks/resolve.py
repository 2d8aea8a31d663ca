"""Pick the hook from a connection's type, the way common-sql does."""

from __future__ import annotations

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_orders import HOOKS
from airflow_provider_orders.hooks.base import OrdersHook
from airflow_provider_orders.vendors import vendor_for


def hook_class_for(conn_type: str | None, conn_id: str = "?") -> type[OrdersHook]:
    """The hook class for ``conn_type``; a clear error naming the supported types otherwise."""
    from airflow.providers.common.compat.module_loading import import_string

    vendor_for(conn_type, conn_id)  # raises ConnectionConfigError for an unknown type
    hook_class: type[OrdersHook] = import_string(HOOKS[str(conn_type)])
    return hook_class


def get_orders_hook(conn_id: str) -> OrdersHook:
    """The vendor hook for the Airflow connection ``conn_id``."""
    conn = BaseHook.get_connection(conn_id)
    return hook_class_for(conn.conn_type, conn_id)(conn_id=conn_id)


def conn_type_if_known(conn_id: str) -> str | None:
    """The connection's type when it can be looked up now (at DAG parse), else ``None``."""
    if not conn_id or "{{" in conn_id:
        return None
    try:
        return BaseHook.get_connection(conn_id).conn_type
    except Exception:
        return None
