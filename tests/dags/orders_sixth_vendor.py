"""Test DAG: the tests' sixth vendor listed to a file, then one order waited on deferrably.

Defined only while ``tests/test_sixth_vendor.py`` has the vendor registered; the order id and the output
path come from the environment.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from airflow.sdk import DAG

from airflow_provider_orders.operators.orders import ListOrdersOperator
from airflow_provider_orders.registry import conn_types
from airflow_provider_orders.sensors.orders import OrderStateSensor

if "acme_supply" in conn_types():
    with DAG(
        "orders_sixth_vendor", schedule=None, start_date=datetime(2025, 1, 1, tzinfo=timezone.utc)
    ) as dag:
        # A templated path (recorded through an AssetAlias): Airflow 3.0's dag.test() refuses a static asset
        # that no DAG parse has registered.
        base = os.environ.get("ACME_OUTPUT", "file:///tmp/acme")
        listed = ListOrdersOperator(
            task_id="list", conn_id="acme_supply_default", output_path=base + "/{{ ds }}/acme.jsonl"
        )
        wait = OrderStateSensor(task_id="wait", conn_id="acme_supply_default", order_id=os.environ.get("ACME_ORDER", "0"),
                                deferrable=True, poke_interval=1, timeout=120)  # fmt: skip
        listed >> wait
