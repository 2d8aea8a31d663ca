"""Downstream of the exports: DAGs scheduled on the datasets they write.

``ListOrdersOperator`` records one Asset per dataset (the output location without the run's window) and
one event on it per file, whose extra names the file, its order count and the listing's window.

- ``orders_tenants_report`` is asset-scheduled (``schedule=[asset]``): it runs after the tenant fan-out
  writes its files, and reads the events that triggered it. The fan-out lists every order (no window), so
  its events are plain.
- ``orders_fleetio_partition_report`` (Airflow 3.2+) is partition-scheduled: one run per partition of the
  daily export's Fleetio dataset, with the partition (the day, ``2025-12-31T00:00:00``) as
  ``dag_run.partition_key``. The export names its partitions on Airflow 3.3+; on 3.2 Airflow takes them
  from the producing DAG run only, so there this DAG runs for the export's scheduled and backfilled runs
  (its ``CronDataIntervalPartitionTimetable`` makes each run a day's partition). Airflow queues partitioned events for partition-scheduled DAGs only: a plain
  ``schedule=[asset]`` DAG on the daily export's datasets needs ``partition=False`` on the export.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import dag, task

from airflow_provider_orders.compat import PartitionedAssetTimetable
from airflow_provider_orders.operators.orders import orders_asset

EXPORT_BASE = os.environ.get("ORDERS_EXPORT_BASE", "file:///tmp/orders-export").rstrip("/")
# A worker lost before its task started (Airflow 3.0's scheduler can hand a task to a worker before
# it records the task as queued) costs a retry, not the run and its asset events.
RETRIES = {"retries": 2, "retry_delay": timedelta(seconds=20)}
# The output_path of the producing tasks: orders_asset() gives the Asset they record.
TENANT_ORDERS = orders_asset(EXPORT_BASE + "/tenants/{{ task.filters['customer_tenant_id'] }}.jsonl")
FLEETIO_ORDERS = orders_asset(f"{EXPORT_BASE}/{{{{ data_interval_start | ds }}}}/fleetio.jsonl")


@dag(
    schedule=[TENANT_ORDERS],
    start_date=datetime(2025, 12, 30, tzinfo=timezone.utc),
    default_args=RETRIES,
    tags=["orders", "example"],
)
def orders_tenants_report() -> None:
    @task
    def report(triggering_asset_events: Any = None) -> list[dict[str, Any]]:
        """One line per file that triggered this run: where it is, its order count and window."""
        out = []
        for events in (triggering_asset_events or {}).values():
            for event in events:
                line = {k: event.extra.get(k) for k in ("uri", "count", "window")}
                print(f"exported: {line}")
                out.append(line)
        return out

    report()


tenants_report_dag = orders_tenants_report()

if PartitionedAssetTimetable is not None:

    @dag(
        schedule=PartitionedAssetTimetable(assets=FLEETIO_ORDERS),
        start_date=datetime(2025, 12, 30, tzinfo=timezone.utc),
        default_args=RETRIES,
        catchup=False,
        tags=["orders", "example"],
    )
    def orders_fleetio_partition_report() -> None:
        @task
        def report_partition(dag_run: Any = None, triggering_asset_events: Any = None) -> dict[str, Any]:
            """The partition this run is for (the export's day) and the file of that day."""
            files = [
                e.extra.get("uri") for events in (triggering_asset_events or {}).values() for e in events
            ]
            print(f"partition {dag_run.partition_key}: {files}")
            return {"partition_key": dag_run.partition_key, "files": files}

        report_partition()

    fleetio_partition_report_dag = orders_fleetio_partition_report()
