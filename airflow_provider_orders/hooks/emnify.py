"""Hook for emnify orders."""

from __future__ import annotations

from airflow_provider_orders.hooks.base import OrdersHook
from airflow_provider_orders.vendors.emnify import Emnify


class EmnifyHook(OrdersHook):
    """emnify orders through the Airflow connection ``conn_id`` (type ``emnify``).

    See :class:`~airflow_provider_orders.hooks.base.OrdersHook` for the methods (sync and ``a…`` async)
    and :class:`~airflow_provider_orders.vendors.emnify.Emnify` for the filters and the connection fields.

    :param conn_id: the Airflow connection id, default ``emnify_default``.
    """

    vendor_class = Emnify
