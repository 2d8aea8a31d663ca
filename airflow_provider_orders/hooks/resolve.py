"""Pick the hook from a connection's type, the way common-sql does, reading the connection once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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
    """The vendor hook for the Airflow connection ``conn_id``.

    :raises ConnectionConfigError: Airflow has no such connection (not retried: create it).
    """
    with _missing_connection(conn_id):
        conn = BaseHook.get_connection(conn_id)
    return hook_for_connection(conn)


async def aget_orders_hook(conn_id: str) -> OrdersHook:
    """:func:`get_orders_hook` on an event loop: the connection is read with ``get_async_connection``."""
    from airflow.providers.common.compat.connection import get_async_connection

    with _missing_connection(conn_id):
        conn = await get_async_connection(conn_id)
    return hook_for_connection(conn)


@contextmanager
def _missing_connection(conn_id: str) -> Iterator[None]:
    """Airflow's "connection not found" as a :class:`ConnectionConfigError`: a configuration error fails
    the task with its message (in the triggerer too), where any other error would be retried."""
    from airflow_provider_orders.errors import ConnectionConfigError

    try:
        yield
    except _not_found_errors():
        raise ConnectionConfigError(
            f"Airflow has no connection {conn_id!r}: create it (Admin > Connections, `airflow connections "
            "add`, or an AIRFLOW_CONN_ variable) where the task and the triggerer run, or fix the conn_id"
        ) from None


def conn_type_if_known(conn_id: str) -> str | None:
    """The connection's type when it can be looked up now (at DAG parse), else ``None``."""
    if not conn_id or "{{" in conn_id:
        return None
    try:
        return BaseHook.get_connection(conn_id).conn_type
    except Exception:
        return None


def _not_found_errors() -> tuple[type[BaseException], ...]:
    """Airflow's "not found" exceptions: the Task SDK's and the core's (which one a release raises where
    differs between 3.0 and 3.3)."""
    import importlib

    found: list[type[BaseException]] = []
    for module in ("airflow.sdk.exceptions", "airflow.exceptions"):
        try:
            cls = getattr(importlib.import_module(module), "AirflowNotFoundException", None)
        except ImportError:
            continue
        if isinstance(cls, type) and issubclass(cls, BaseException) and cls not in found:
            found.append(cls)
    return tuple(found)
