"""Hook for Crayon Cloud-iQ orders."""

from __future__ import annotations

from airflow_provider_orders.hooks.base import OrdersHook
from airflow_provider_orders.vendors.crayon import Crayon


class CrayonHook(OrdersHook):
    """Crayon Cloud-iQ orders through the Airflow connection ``conn_id`` (type ``crayon``).

    See :class:`~airflow_provider_orders.hooks.base.OrdersHook` for the methods (sync and ``a…`` async)
    and :class:`~airflow_provider_orders.vendors.crayon.Crayon` for the filters and the connection fields.

    :param conn_id: the Airflow connection id, default ``crayon_default``.
    """

    vendor_class = Crayon
