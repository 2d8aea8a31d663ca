"""Test DAGs: one task each that meets one kind of error, with one retry and no retry delay.

The callbacks write what Airflow received (the exception's class, fields and cause, and the try) to
``$ORDERS_ERRORS_RECORD``, one JSON line per failed try.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG

from airflow_provider_orders.operators.orders import ListOrdersOperator
from airflow_provider_orders.sensors.orders import OrderStateSensor


def record(context: Any) -> None:
    exc = context["exception"]
    cause = exc.__cause__
    line = {
        "try": context["ti"].try_number,
        "type": type(exc).__name__,
        "fails_for_good": isinstance(exc, AirflowFailException),
        "fields": [
            getattr(exc, name, None) for name in ("vendor", "http_status", "code", "error_type", "retryable")
        ],
        "cause_type": type(cause).__name__,
        "cause": str(cause),
    }
    with open(os.environ["ORDERS_ERRORS_RECORD"], "a") as out:
        out.write(json.dumps(line) + "\n")


ORDER = os.environ.get("ORDERS_ERRORS_ORDER_ID", "0")
TASKS = {
    "connection": lambda: ListOrdersOperator(task_id="run", conn_id="orders_errors_fleetio"),
    "filter": lambda: ListOrdersOperator(
        task_id="run", conn_id="fleetio_default", filters={"created_since": "{{ 'yesterday' }}"}
    ),
    "credentials": lambda: ListOrdersOperator(task_id="run", conn_id="orders_errors_emnify"),
    "vendor_4xx": lambda: ListOrdersOperator(task_id="run", conn_id="orders_errors_fleetio"),
    "missing_order": lambda: OrderStateSensor(
        task_id="run", conn_id="fleetio_default", order_id="999999", fail_if_missing=True, timeout=60
    ),
    "rate_limit": lambda: ListOrdersOperator(task_id="run", conn_id="orders_errors_fleetio"),
    "vendor_5xx": lambda: ListOrdersOperator(task_id="run", conn_id="orders_errors_fleetio"),
    "transport": lambda: ListOrdersOperator(task_id="run", conn_id="orders_errors_fleetio"),
    "trigger_4xx": lambda: OrderStateSensor(
        task_id="run",
        conn_id="crayon_default",
        order_id=ORDER,
        scope={"customer_tenant_id": 1001},
        deferrable=True,
        poke_interval=1,
        timeout=60,
    ),
}

for case, make in TASKS.items():
    with DAG(
        f"orders_error_{case}",
        schedule=None,
        start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
        default_args={
            "retries": 1,
            "retry_delay": timedelta(0),
            "on_failure_callback": record,
            "on_retry_callback": record,
        },
    ) as dag:
        make()
    globals()[f"dag_{case}"] = dag
