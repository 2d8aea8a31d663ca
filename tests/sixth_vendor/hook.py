"""Hook for Acme Supply orders."""

from __future__ import annotations

from airflow_provider_orders.hooks.base import OrdersHook
from tests.sixth_vendor.vendor import AcmeSupply


class AcmeSupplyHook(OrdersHook):
    """Acme Supply orders through the Airflow connection ``conn_id`` (type ``acme_supply``)."""

    vendor_class = AcmeSupply
