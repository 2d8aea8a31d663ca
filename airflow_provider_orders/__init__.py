"""Airflow provider for orders at Crayon, Adobe VIP Marketplace, Granite AccessExpress, emnify and Fleetio.

This module stays light: Airflow imports it to read :func:`get_provider_info` without importing hooks.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

HOOKS = {
    "crayon": "airflow_provider_orders.hooks.crayon.CrayonHook",
    "adobe_vip_marketplace": "airflow_provider_orders.hooks.adobe_vip.AdobeVipMarketplaceHook",
    "granite_access_express": "airflow_provider_orders.hooks.granite.GraniteAccessExpressHook",
    "emnify": "airflow_provider_orders.hooks.emnify.EmnifyHook",
    "fleetio": "airflow_provider_orders.hooks.fleetio.FleetioHook",
}


def get_provider_info() -> dict[str, Any]:
    """The provider's metadata for Airflow's ProvidersManager (the ``apache_airflow_provider`` entry point).

    Served from a literal (``_provider_info.py``) so that every Airflow process can read it without
    importing the vendor modules; a test keeps it equal to :func:`build_provider_info`.
    """
    import copy

    from airflow_provider_orders._provider_info import PROVIDER_INFO

    return copy.deepcopy(PROVIDER_INFO)


def build_provider_info() -> dict[str, Any]:
    """The provider's metadata, derived from the vendor modules (the source of ``_provider_info.py``)."""
    from airflow_provider_orders.engine.connection import conn_fields, ui_field_behaviour
    from airflow_provider_orders.vendors import all_vendors

    vendors = all_vendors()
    integrations = [vendor.display_name for vendor in vendors.values()]
    return {
        "package-name": "airflow-provider-orders",
        "name": "Orders",
        "description": "List and wait for orders at Crayon Cloud-iQ, Adobe VIP Marketplace, Granite360 "
        "AccessExpress, emnify and Fleetio.",
        "versions": [__version__],
        "integrations": [{"integration-name": name, "tags": ["service"]} for name in integrations],
        "hooks": [
            {"integration-name": vendors[conn_type].display_name, "python-modules": [path.rsplit(".", 1)[0]]}
            for conn_type, path in HOOKS.items()
        ],
        "operators": [
            {"integration-name": name, "python-modules": ["airflow_provider_orders.operators.orders"]}
            for name in integrations
        ],
        "sensors": [
            {"integration-name": name, "python-modules": ["airflow_provider_orders.sensors.orders"]}
            for name in integrations
        ],
        "triggers": [
            {"integration-name": name, "python-modules": ["airflow_provider_orders.triggers.orders"]}
            for name in integrations
        ],
        "connection-types": [
            {
                "hook-class-name": HOOKS[conn_type],
                "hook-name": vendor.display_name,
                "connection-type": conn_type,
                "conn-fields": conn_fields(vendor),
                "ui-field-behaviour": ui_field_behaviour(vendor),
            }
            for conn_type, vendor in vendors.items()
        ],
    }
