"""One module per vendor: its requests, pages, states and errors, free of I/O."""

from __future__ import annotations

from airflow_provider_orders.vendors.adobe_vip import AdobeVipMarketplace
from airflow_provider_orders.vendors.base import Vendor
from airflow_provider_orders.vendors.crayon import Crayon
from airflow_provider_orders.vendors.emnify import Emnify
from airflow_provider_orders.vendors.fleetio import Fleetio
from airflow_provider_orders.vendors.granite import GraniteAccessExpress

VENDORS: dict[str, type[Vendor]] = {
    v.conn_type: v for v in (Crayon, AdobeVipMarketplace, GraniteAccessExpress, Emnify, Fleetio)
}

__all__ = [
    "VENDORS",
    "AdobeVipMarketplace",
    "Crayon",
    "Emnify",
    "Fleetio",
    "GraniteAccessExpress",
    "Vendor",
    "vendor_for",
]


def vendor_for(conn_type: str | None, conn_id: str = "?") -> type[Vendor]:
    """The vendor module class of a connection type; a clear error for any other type."""
    from airflow_provider_orders.errors import ConnectionConfigError

    found = VENDORS.get(conn_type or "")
    if found is None:
        raise ConnectionConfigError(
            f"connection {conn_id!r} has type {conn_type!r}, which this provider does not serve; "
            f"use one of {sorted(VENDORS)}"
        )
    return found
