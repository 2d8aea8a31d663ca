"""Hook for Adobe VIP Marketplace orders."""

from __future__ import annotations

from airflow_provider_orders.hooks.base import OrdersHook
from airflow_provider_orders.vendors.adobe_vip import AdobeVipMarketplace


class AdobeVipMarketplaceHook(OrdersHook):
    """Adobe VIP Marketplace orders through the Airflow connection ``conn_id`` (type ``adobe_vip_marketplace``).

    See :class:`~airflow_provider_orders.hooks.base.OrdersHook` for the methods (sync and ``a…`` async)
    and :class:`~airflow_provider_orders.vendors.adobe_vip.AdobeVipMarketplace` for the filters and the connection fields.

    :param conn_id: the Airflow connection id, default ``adobe_vip_marketplace_default``.
    """

    vendor_class = AdobeVipMarketplace
