"""The one list of vendors: connection type -> the vendor module that declares everything about it.

Each vendor module ends with a :class:`~airflow_provider_orders.vendors.spec.VendorSpec` named ``SPEC``: its vendor class (name, connection
type, form fields, states, where its records keep their error text), its hook, its sandbox app and the
filters that select the sandbox's orders. Provider info, the hook a connection gets, the sandbox's
routes and connections, the demo and the example DAGs all derive from this registry.

Adding a vendor is one line in :data:`VENDOR_MODULES` (or one :func:`register` call, for a vendor
that lives outside this package). This module imports no vendor module until one is asked for, so a DAG
file pays only for the vendor it uses.
"""

from __future__ import annotations

import importlib

from airflow_provider_orders.vendors.spec import VendorSpec

#: connection type -> the vendor module that holds its ``SPEC``.
VENDOR_MODULES: dict[str, str] = {
    "crayon": "airflow_provider_orders.vendors.crayon",
    "adobe_vip_marketplace": "airflow_provider_orders.vendors.adobe_vip",
    "granite_access_express": "airflow_provider_orders.vendors.granite",
    "emnify": "airflow_provider_orders.vendors.emnify",
    "fleetio": "airflow_provider_orders.vendors.fleetio",
}


def conn_types() -> list[str]:
    """The connection types of every registered vendor, in registry order (no imports)."""
    return list(VENDOR_MODULES)


def spec_for(conn_type: str | None, conn_id: str = "?") -> VendorSpec:
    """The spec of ``conn_type``; a :class:`ConnectionConfigError` naming the served types otherwise."""
    module = VENDOR_MODULES.get(conn_type or "")
    if module is None:
        from airflow_provider_orders.errors import ConnectionConfigError

        raise ConnectionConfigError(
            f"connection {conn_id!r} has type {conn_type!r}, which this provider does not serve; "
            f"use one of {sorted(VENDOR_MODULES)}"
        )
    return _spec_of(module)


def all_specs() -> list[VendorSpec]:
    """Every registered vendor's spec (imports every vendor module)."""
    return [_spec_of(module) for module in VENDOR_MODULES.values()]


def register(module: str) -> VendorSpec:
    """Add the vendor whose module ``module`` declares ``SPEC``; returns the spec.

    For vendors kept outside this package (and the tests' throw-away vendor). Their hooks, operators,
    sensors, triggers and sandbox app then work like the built-in ones'. Provider info, which Airflow
    reads without importing code, lists only the built-in vendors.
    """
    spec = _spec_of(module)
    VENDOR_MODULES[spec.conn_type] = module
    return spec


def unregister(conn_type: str) -> None:
    """Forget a vendor added with :func:`register`."""
    VENDOR_MODULES.pop(conn_type, None)


def _spec_of(module: str) -> VendorSpec:
    spec = getattr(importlib.import_module(module), "SPEC", None)
    if not isinstance(spec, VendorSpec):
        raise TypeError(f"vendor module {module} declares no SPEC = VendorSpec(...)")
    return spec


__all__ = ["VENDOR_MODULES", "VendorSpec", "all_specs", "conn_types", "register", "spec_for", "unregister"]
