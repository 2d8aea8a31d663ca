"""``python -m airflow_provider_orders.sandbox.demo``: list orders from all five vendors, offline.

Starts the sandbox on a free loopback port, points the five ``<vendor>_default`` connections at it
through ``AIRFLOW_CONN_*`` variables, lists every order through the hooks and prints a summary.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from typing import Any

from airflow_provider_orders.sandbox import Sandbox, SandboxConfig, sandbox_env

SCOPES: dict[str, dict[str, Any]] = {
    "crayon": {"customer_tenant_id": 1001},
    "adobe_vip_marketplace": {"customer_id": "1005000001"},
    "granite_access_express": {},
    "emnify": {},
    "fleetio": {},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=500, help="orders per vendor (default 500)")
    args = parser.parse_args(argv)

    from airflow_provider_orders.hooks.adobe_vip import AdobeVipMarketplaceHook
    from airflow_provider_orders.hooks.crayon import CrayonHook
    from airflow_provider_orders.hooks.emnify import EmnifyHook
    from airflow_provider_orders.hooks.fleetio import FleetioHook
    from airflow_provider_orders.hooks.granite import GraniteAccessExpressHook

    hooks = [CrayonHook, AdobeVipMarketplaceHook, GraniteAccessExpressHook, EmnifyHook, FleetioHook]
    with Sandbox(SandboxConfig(orders=args.orders)) as sandbox:
        os.environ.update(sandbox_env(sandbox.url))
        print(f"sandbox: {sandbox.url} ({args.orders} orders per vendor and scope)\n")
        print(f"{'vendor':<24}{'orders':>8}{'seconds':>9}  statuses")
        total = 0
        for hook_class in hooks:
            hook = hook_class()
            started = time.monotonic()
            orders = list(hook.iter_orders(**SCOPES[hook.conn_type]))
            elapsed = time.monotonic() - started
            statuses = Counter(o.status.value for o in orders)
            summary = ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
            print(f"{hook.conn_type:<24}{len(orders):>8}{elapsed:>9.2f}  {summary}")
            total += len(orders)
            newest = orders[0] if hook.conn_type not in ("granite_access_express", "fleetio") else orders[-1]
            again = hook.get_order(newest.id, **SCOPES[hook.conn_type])
            assert again.id == newest.id
        print(f"\n{total} orders listed through the five hooks.")
        print("Granite took longest on purpose: the client keeps to its 60 requests a minute.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
