"""Daily incremental export of every vendor's orders to object storage.

Each run lists the orders created in its data interval (``created_since`` inclusive, ``created_until``
exclusive, so consecutive runs neither overlap nor leave gaps) and streams them to
``$ORDERS_EXPORT_BASE/<interval start date>/<vendor>.jsonl`` (default ``file:///tmp/orders-export``); point it at
``s3://aws_default@bucket/orders`` to write to S3. Each vendor's files are one Asset,
``$ORDERS_EXPORT_BASE/<vendor>.jsonl``, with an event per run whose partition is the day (Airflow 3.2+):
``orders_export_consumers.py`` schedules DAGs on it.

``CronDataIntervalPartitionTimetable`` is ``CronDataIntervalTimetable`` whose scheduled and backfilled runs
are also the partition of their day: Airflow 3.2 takes an event's partition from its DAG run. On 3.3+ the
task names the partition of a manual run too; on 3.0 and 3.1 (no partitions) it is the plain schedule and
each event carries its window in its extra.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import dag

from airflow_provider_orders.operators.orders import ListOrdersOperator
from airflow_provider_orders.registry import all_specs
from airflow_provider_orders.timetables import CronDataIntervalPartitionTimetable

EXPORT_BASE = os.environ.get("ORDERS_EXPORT_BASE", "file:///tmp/orders-export").rstrip("/")


@dag(
    schedule=CronDataIntervalPartitionTimetable("@daily", timezone="UTC"),
    start_date=datetime(2025, 12, 30, tzinfo=timezone.utc),
    catchup=False,
    # A vendor that is briefly down, or a worker lost mid-task, costs a retry, not the day's file: each
    # retry writes the file anew and moves it into place only when whole.
    default_args={"retries": 2, "retry_delay": timedelta(seconds=20)},
    tags=["orders", "example"],
)
def orders_daily_export() -> None:
    # One task per vendor of the provider. The filters start from the sandbox's tenant of each vendor
    # (Crayon and Adobe list one customer at a time); with real accounts, put your own tenant ids there.
    for spec in all_specs():
        vendor = spec.conn_type
        ListOrdersOperator(
            task_id=f"export_{vendor}",
            conn_id=spec.default_conn_id,
            filters={
                **spec.sandbox_filters,
                "created_since": "{{ data_interval_start }}",
                "created_until": "{{ data_interval_end }}",
            },
            output_path=f"{EXPORT_BASE}/{{{{ data_interval_start | ds }}}}/{vendor}.jsonl",
        )


daily_export_dag = orders_daily_export()
