"""Fan out over Crayon customer tenants with dynamic task mapping: one mapped task per tenant.

Each mapped ``ListOrdersOperator`` lists one tenant's orders into its own file (the path is templated
from the task's own rendered filters); ``summarize`` then sees every mapped result. The files are one
Asset, ``$ORDERS_EXPORT_BASE/tenants.jsonl``, with an event per file: ``orders_export_consumers.py``
schedules a DAG on it.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import dag, task

from airflow_provider_orders.operators.orders import ListOrdersOperator

EXPORT_BASE = os.environ.get("ORDERS_EXPORT_BASE", "file:///tmp/orders-export").rstrip("/")
TENANTS = [1001, 1002, 1003]
#: One dataset, $ORDERS_EXPORT_BASE/tenants.jsonl, with an event per tenant's file (the file in its extra).
TENANT_FILES = EXPORT_BASE + "/tenants/{{ task.filters['customer_tenant_id'] }}.jsonl"


@dag(
    schedule=None,
    start_date=datetime(2025, 12, 30, tzinfo=timezone.utc),
    catchup=False,
    # A worker lost before or during a tenant's task costs that tenant a retry, not the run (each retry
    # writes the tenant's file anew and moves it into place only when whole).
    default_args={"retries": 2, "retry_delay": timedelta(seconds=20)},
    tags=["orders", "example"],
)
def orders_tenant_fanout() -> None:
    listed = ListOrdersOperator.partial(
        task_id="list_tenant_orders",
        conn_id="crayon_default",
        output_path=TENANT_FILES,
    ).expand(filters=[{"customer_tenant_id": tenant} for tenant in TENANTS])

    @task
    def summarize(results: list[dict[str, Any]]) -> dict[str, int]:
        counts = {result["uri"]: result["count"] for result in results}
        for uri, count in sorted(counts.items()):
            print(f"{count:>6} orders in {uri}")
        return {"files": len(counts), "orders": sum(counts.values())}

    summarize(listed.output)


tenant_fanout_dag = orders_tenant_fanout()
