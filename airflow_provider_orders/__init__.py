"""Airflow provider for vendor orders: Crayon Cloud-iQ, Adobe VIP Marketplace, Granite AccessExpress, emnify, Fleetio.

This module stays light: Airflow imports it to read :func:`get_provider_info` without importing hooks.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def get_provider_info() -> dict[str, Any]:
    """The provider's metadata for Airflow's ProvidersManager (the ``apache_airflow_provider`` entry point).

    Served from a literal (``_provider_info.py``) so that every Airflow process can read it without
    importing the vendor modules; a test keeps it equal to :func:`build_provider_info`.
    """
    import copy

    from airflow_provider_orders._provider_info import PROVIDER_INFO

    return copy.deepcopy(PROVIDER_INFO)


def build_provider_info() -> dict[str, Any]:
    """The provider's metadata, derived from the vendor registry (the source of ``_provider_info.py``)."""
    from airflow_provider_orders.hooks.connection_form import conn_fields, ui_field_behaviour
    from airflow_provider_orders.registry import all_specs

    specs = all_specs()
    names = [spec.display_name for spec in specs]

    def modules(layer: str, *names_in_layer: str) -> list[dict[str, Any]]:
        paths = [f"airflow_provider_orders.{layer}.{module}" for module in names_in_layer or ("orders",)]
        return [{"integration-name": name, "python-modules": paths} for name in names]

    return {
        "package-name": "airflow-provider-orders",
        "name": "Orders",
        "description": f"List and wait for orders at {', '.join(names[:-1])} and {names[-1]}.",
        "versions": [__version__],
        "integrations": [{"integration-name": name, "tags": ["service"]} for name in names],
        "hooks": [
            {"integration-name": spec.display_name, "python-modules": [spec.hook.rsplit(".", 1)[0]]}
            for spec in specs
        ],
        "operators": modules("operators", "orders", "sql"),
        "sensors": modules("sensors"),
        "triggers": modules("triggers", "orders", "events"),
        "connection-types": [
            {
                "hook-class-name": spec.hook,
                "hook-name": spec.display_name,
                "connection-type": spec.conn_type,
                "conn-fields": conn_fields(spec.vendor_class),
                "ui-field-behaviour": ui_field_behaviour(spec.vendor_class),
            }
            for spec in specs
        ],
    }
