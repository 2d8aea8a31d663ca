"""An offline sandbox of the five vendor APIs, for building and testing DAGs without vendor accounts.

Start it with ``python -m airflow_provider_orders.sandbox`` (or ``orders-sandbox``), or in-process::

    from airflow_provider_orders.sandbox import Sandbox, SandboxConfig

    with Sandbox(SandboxConfig(orders=100)) as sandbox:
        connections = sandbox_connections(sandbox.url)
"""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_orders.sandbox import credentials
from airflow_provider_orders.sandbox.process import SandboxProcess
from airflow_provider_orders.sandbox.server import Fault, Sandbox, SandboxConfig

__all__ = ["Fault", "Sandbox", "SandboxConfig", "SandboxProcess", "sandbox_connections", "sandbox_env"]


def sandbox_connections(
    url: str, *, granite_client_auth: str = "client_secret_basic"
) -> dict[str, dict[str, Any]]:
    """Airflow connections (as JSON-able dicts) for every vendor of a sandbox at ``url``."""
    c = credentials
    return {
        "crayon_default": {
            "conn_type": "crayon", "host": f"{url}/crayon", "login": c.CRAYON["username"],
            "password": c.CRAYON["password"],
            "extra": {"client_id": c.CRAYON["client_id"], "client_secret": c.CRAYON["client_secret"]},
        },
        "adobe_vip_marketplace_default": {
            "conn_type": "adobe_vip_marketplace", "host": f"{url}/adobe", "login": c.ADOBE["client_id"],
            "password": c.ADOBE["client_secret"], "extra": {"ims_url": f"{url}/adobe-ims"},
        },
        "granite_access_express_default": {
            "conn_type": "granite_access_express", "host": f"{url}/granite", "login": c.GRANITE["client_id"],
            "password": c.GRANITE["client_secret"], "extra": {"token_url": f"{url}/granite-auth/oauth2/token",
                                                       "client_auth": granite_client_auth},
        },
        "emnify_default": {
            "conn_type": "emnify", "host": f"{url}/emnify", "password": c.EMNIFY["application_token"],
        },
        "fleetio_default": {
            "conn_type": "fleetio", "host": f"{url}/fleetio", "password": c.FLEETIO["api_key"],
            "extra": {"account_token": c.FLEETIO["account_token"]},
        },
    }  # fmt: skip


def sandbox_env(url: str, *, granite_client_auth: str = "client_secret_basic") -> dict[str, str]:
    """``AIRFLOW_CONN_*`` environment variables for every vendor of a sandbox at ``url``."""
    return {
        f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn)
        for conn_id, conn in sandbox_connections(url, granite_client_auth=granite_client_auth).items()
    }
