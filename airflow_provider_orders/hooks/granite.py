"""Hook for Granite AccessExpress orders."""

from __future__ import annotations

from airflow_provider_orders.hooks.base import OrdersHook
from airflow_provider_orders.vendors.granite import GraniteAccessExpress


class GraniteAccessExpressHook(OrdersHook):
    """Granite AccessExpress orders through the Airflow connection ``conn_id`` (type ``granite_access_express``).

    See :class:`~airflow_provider_orders.hooks.base.OrdersHook` for the methods (sync and ``a…`` async)
    and :class:`~airflow_provider_orders.vendors.granite.GraniteAccessExpress` for the filters and the connection fields.

    :param conn_id: the Airflow connection id, default ``granite_access_express_default``.
    """

    vendor_class = GraniteAccessExpress
