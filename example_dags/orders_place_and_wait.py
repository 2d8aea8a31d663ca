"""Place an order, wait deferrably until the vendor completes it, then process the result.

Placing an order is the vendor's checkout API, outside this provider: here the ``place_order`` task stands
in for it and hands on the id of the newest Crayon order (or the ``order_id`` param). In the sandbox the
newest order of a tenant is Processing for a while after the sandbox starts (or is reset), then Succeeded.
``OrderStateSensor`` then waits in the triggerer, holding no worker slot, until the order is completed;
it fails at once if the order fails or is canceled.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from typing import Any

from airflow.sdk import Param, dag, task

from airflow_provider_orders.hooks.crayon import CrayonHook
from airflow_provider_orders.sensors.orders import OrderStateSensor

TENANT = 1001
EXPORT_BASE = os.environ.get("ORDERS_EXPORT_BASE", "file:///tmp/orders-export").rstrip("/")


@dag(
    schedule=None,
    start_date=datetime(2025, 12, 30, tzinfo=timezone.utc),
    catchup=False,
    params={"order_id": Param(None, type=["null", "string"], description="the order to wait for")},
    tags=["orders", "example"],
)
def orders_place_and_wait() -> None:
    @task
    def place_order(params: dict[str, Any] | None = None) -> str:
        if params and params.get("order_id"):
            return str(params["order_id"])
        for order in CrayonHook().iter_orders(customer_tenant_id=TENANT, max_orders=1):  # newest first
            print(f"placed (stand-in): Crayon order {order.id}, now {order.vendor_status}")
            return order.id
        raise RuntimeError(f"tenant {TENANT} has no orders; pass an order_id param")

    order_id = place_order()

    wait = OrderStateSensor(
        task_id="wait_for_order",
        conn_id="crayon_default",
        order_id=order_id,
        scope={"customer_tenant_id": TENANT},
        target_status="completed",
        deferrable=True,
        poke_interval=2,
        timeout=600,
    )

    @task
    def process_result(order: dict[str, Any]) -> dict[str, Any]:
        summary = {"order_id": order["id"], "status": order["status"], "vendor_status": order["vendor_status"],
                   "product": order["raw"].get("Name")}  # fmt: skip
        print(f"processing the completed order: {json.dumps(summary)}")
        if EXPORT_BASE.startswith("file://"):
            path = EXPORT_BASE.removeprefix("file://") + "/place_and_wait/result.json"
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as out:
                json.dump(summary, out)
        return summary

    process_result(wait.output)


place_and_wait_dag = orders_place_and_wait()
