"""Run a DAG whenever a Crayon order of a tenant completes or fails: no schedule, no polling DAG runs.

The asset ``crayon_tenant_orders`` has an ``AssetWatcher`` whose trigger, ``OrderEventTrigger``, runs in the
triggerer: it lists the tenant's orders every ``poll_interval`` seconds and fires when orders reach a
watched state (one event per poll, with every order that changed in it). Each event becomes an asset event,
and the scheduler starts ``orders_event_driven`` for it; several events may land in one run, so the task
reads them all. The trigger remembers where it was (in the asset's state store on Airflow 3.3 and later,
in an Airflow Variable before), so a triggerer restart loses no change.

In the sandbox the newest order of each tenant is Processing, then Succeeded (``python3 dev.py demo``
settles it on request through the sandbox's control API). The demo's orders are dated before 2026, far
older than the watcher's default window (orders created in the last 7 days): the watcher follows the
tenant's open orders however old until they settle, so that order still fires.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from typing import Any

from airflow.sdk import Asset, AssetWatcher, dag, task

from airflow_provider_orders.triggers import OrderEventTrigger

TENANT = 1003
#: The connection the watcher uses (the tests point it at a sandbox of their own).
CONN_ID = os.environ.get("ORDERS_EVENTS_CONN_ID", "crayon_default")
EXPORT_BASE = os.environ.get("ORDERS_EXPORT_BASE", "file:///tmp/orders-export").rstrip("/")

crayon_tenant_orders = Asset(
    name="crayon_tenant_orders",
    watchers=[
        AssetWatcher(
            name="crayon_tenant_orders_settled",
            trigger=OrderEventTrigger(
                conn_id=CONN_ID,
                scope={"customer_tenant_id": TENANT},
                statuses=["completed", "failed"],
                poll_interval=2,
            ),
        )
    ],
)


@dag(
    schedule=[crayon_tenant_orders],
    start_date=datetime(2025, 12, 30, tzinfo=timezone.utc),
    catchup=False,
    tags=["orders", "example"],
)
def orders_event_driven() -> None:
    @task
    def provision(triggering_asset_events: Any = None) -> list[dict[str, Any]]:
        """Every order that reached a watched state, from every event that triggered this run."""
        orders = [
            order
            for event in triggering_asset_events[crayon_tenant_orders]
            for order in event.extra["payload"]["orders"]
        ]
        for order in orders:
            print(f"Crayon order {order['id']}: {order['previous_vendor_status']} -> {order['vendor_status']} "
                  f"(de-duplication key {order['dedup_key']})")  # fmt: skip
        if EXPORT_BASE.startswith("file://"):
            folder = EXPORT_BASE.removeprefix("file://") + "/event_driven"
            os.makedirs(folder, exist_ok=True)
            for order in orders:
                with open(f"{folder}/{order['id']}.json", "w") as out:
                    json.dump(order, out)
        return orders

    provision()


event_driven_dag = orders_event_driven()
