"""One module per vendor: its requests, pages, states and errors, free of I/O.

Vendor modules are imported on first use, so that a DAG file importing an operator pays only for the
vendor it uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_orders.vendors.adobe_vip import AdobeVipMarketplace
    from airflow_provider_orders.vendors.base import Vendor
    from airflow_provider_orders.vendors.crayon import Crayon
    from airflow_provider_orders.vendors.emnify import Emnify
    from airflow_provider_orders.vendors.fleetio import Fleetio
    from airflow_provider_orders.vendors.granite import GraniteAccessExpress

#: connection type -> "module:class" of its vendor module.
VENDOR_CLASSES = {
    "crayon": "airflow_provider_orders.vendors.crayon:Crayon",
    "adobe_vip_marketplace": "airflow_provider_orders.vendors.adobe_vip:AdobeVipMarketplace",
    "granite_access_express": "airflow_provider_orders.vendors.granite:GraniteAccessExpress",
    "emnify": "airflow_provider_orders.vendors.emnify:Emnify",
    "fleetio": "airflow_provider_orders.vendors.fleetio:Fleetio",
}


def _load(path: str) -> Any:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def all_vendors() -> dict[str, type[Vendor]]:
    """Every vendor class by connection type (imports all five)."""
    return {conn_type: _load(path) for conn_type, path in VENDOR_CLASSES.items()}


def vendor_for(conn_type: str | None, conn_id: str = "?") -> type[Vendor]:
    """The vendor module class of a connection type; a clear error for any other type."""
    from airflow_provider_orders.errors import ConnectionConfigError

    path = VENDOR_CLASSES.get(conn_type or "")
    if path is None:
        raise ConnectionConfigError(
            f"connection {conn_id!r} has type {conn_type!r}, which this provider does not serve; "
            f"use one of {sorted(VENDOR_CLASSES)}"
        )
    vendor: type[Vendor] = _load(path)
    return vendor


def __getattr__(name: str) -> Any:
    for path in VENDOR_CLASSES.values():
        if path.endswith(f":{name}"):
            return _load(path)
    raise AttributeError(name)


__all__ = [
    "VENDOR_CLASSES",
    "AdobeVipMarketplace",
    "Crayon",
    "Emnify",
    "Fleetio",
    "GraniteAccessExpress",
    "all_vendors",
    "vendor_for",
]
