"""An offline sandbox of every registered vendor's API, for building and testing DAGs without accounts.

Start it with ``python -m airflow_provider_orders.sandbox`` (or ``orders-sandbox``), or in-process::

    from airflow_provider_orders.sandbox import Sandbox, SandboxConfig

    with Sandbox(SandboxConfig(orders=100)) as sandbox:
        connections = sandbox_connections(sandbox.url)
"""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_orders.registry import all_specs
from airflow_provider_orders.sandbox.core import Fault, SandboxConfig, VendorApp
from airflow_provider_orders.sandbox.process import SandboxProcess
from airflow_provider_orders.sandbox.server import Sandbox

__all__ = ["Fault", "Sandbox", "SandboxConfig", "SandboxProcess", "sandbox_connections", "sandbox_env"]


def sandbox_connections(url: str, config: SandboxConfig | None = None) -> dict[str, dict[str, Any]]:
    """Airflow connections (as JSON-able dicts) for every vendor of a sandbox at ``url``.

    :param url: the sandbox's root URL, in this process or another.
    :param config: the sandbox's settings where they change what a client must send (Granite's
        ``granite_client_auth``); default settings otherwise.
    """
    config = config or SandboxConfig()
    out = {}
    for spec in all_specs():
        app: type[VendorApp] = spec.sandbox_app_class()
        conn = app.connection(f"{url}/{app.prefix}", url, config)
        # The sandbox speaks plain http on loopback: the connection says so explicitly.
        extra = {**conn.get("extra", {}), "allow_insecure_http": True}
        out[spec.default_conn_id] = {"conn_type": spec.conn_type, **conn, "extra": extra}
    return out


def sandbox_env(url: str, config: SandboxConfig | None = None) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` environment variables for every vendor of a sandbox at ``url``."""
    return {
        f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn)
        for conn_id, conn in sandbox_connections(url, config).items()
    }
