"""Pick the hook from a connection's type, the way common-sql does, reading the connection once."""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_orders.hooks.base import OrdersHook


def hook_class_for(conn_type: str | None, conn_id: str = "?") -> type[OrdersHook]:
    """The hook class for ``conn_type``; a :class:`ConnectionConfigError` naming the served types otherwise."""
    # The registry loads here, when a connection's type is known, not when a DAG file is parsed.
    from airflow_provider_orders.registry import spec_for

    hook_class: type[OrdersHook] = spec_for(conn_type, conn_id).hook_class()
    return hook_class


def hook_for_connection(conn: Any) -> OrdersHook:
    """The vendor hook for a connection already read (it is not read again)."""
    return hook_class_for(conn.conn_type, conn.conn_id)(conn_id=conn.conn_id, connection=conn)


def get_orders_hook(conn_id: str) -> OrdersHook:
    """The vendor hook for the Airflow connection ``conn_id``."""
    return hook_for_connection(BaseHook.get_connection(conn_id))


async def aget_orders_hook(conn_id: str) -> OrdersHook:
    """:func:`get_orders_hook` on an event loop: the connection is read with ``get_async_connection``."""
    from airflow.providers.common.compat.connection import get_async_connection

    return hook_for_connection(await get_async_connection(conn_id))


def conn_type_if_known(conn_id: str) -> str | None:
    """The connection's type when it can be looked up now (at DAG parse), else ``None``."""
    if not conn_id or "{{" in conn_id:
        return None
    try:
        return BaseHook.get_connection(conn_id).conn_type
    except Exception:
        return None
