"""Hook for Fleetio orders."""

from __future__ import annotations

from airflow_provider_orders.hooks.base import OrdersHook
from airflow_provider_orders.vendors.fleetio import Fleetio


class FleetioHook(OrdersHook):
    """Fleetio orders through the Airflow connection ``conn_id`` (type ``fleetio``).

    See :class:`~airflow_provider_orders.hooks.base.OrdersHook` for the methods (sync and ``a…`` async)
    and :class:`~airflow_provider_orders.vendors.fleetio.Fleetio` for the filters and the connection fields.

    :param conn_id: the Airflow connection id, default ``fleetio_default``.
    """

    vendor_class = Fleetio
