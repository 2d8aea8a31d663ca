"""Test DAGs: OrderStateSensor in poke and in reschedule mode (the order comes from the environment)."""

from __future__ import annotations

import os
from datetime import datetime, timezone

from airflow.sdk import DAG

from airflow_provider_orders.sensors.orders import OrderStateSensor

for mode in ("poke", "reschedule"):
    with DAG(
        f"orders_sensor_{mode}", schedule=None, start_date=datetime(2025, 1, 1, tzinfo=timezone.utc)
    ) as dag:
        OrderStateSensor(
            task_id="wait",
            conn_id="crayon_default",
            order_id=os.environ.get("SENSOR_TEST_ORDER_ID", "0"),
            scope={"customer_tenant_id": 1001},
            mode=mode,
            deferrable=False,
            poke_interval=1,
            timeout=120,
        )
    globals()[f"dag_{mode}"] = dag
