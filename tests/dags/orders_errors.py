"""Test DAGs: one task each that meets one kind of error, with one retry and no retry delay.

Each task records the exception it hands Airflow (its class, fields and cause, and the try) to
``$ORDERS_ERRORS_RECORD``, one JSON line per failed try. It records it where it leaves the operator:
Airflow before 3.2 puts no ``exception`` in a callback's context under ``dag.test()``.
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


def record(exc: Exception, context: Any) -> None:
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


def recorded(call: Any, context: Any, *args: Any) -> Any:
    try:
        return call(context, *args)
    except Exception as exc:
        record(exc, context)
        raise


class RecordedList(ListOrdersOperator):
    def execute(self, context: Any) -> Any:
        return recorded(super().execute, context)


class RecordedWait(OrderStateSensor):
    def execute(self, context: Any) -> Any:
        return recorded(super().execute, context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        return recorded(super().execute_complete, context, event)


ORDER = os.environ.get("ORDERS_ERRORS_ORDER_ID", "0")
TASKS = {
    "connection": lambda: RecordedList(task_id="run", conn_id="orders_errors_fleetio"),
    "filter": lambda: RecordedList(
        task_id="run", conn_id="fleetio_default", filters={"created_since": "{{ 'yesterday' }}"}
    ),
    "credentials": lambda: RecordedList(task_id="run", conn_id="orders_errors_emnify"),
    "vendor_4xx": lambda: RecordedList(task_id="run", conn_id="orders_errors_fleetio"),
    "missing_order": lambda: RecordedWait(
        task_id="run", conn_id="fleetio_default", order_id="999999", fail_if_missing=True, timeout=60
    ),
    "rate_limit": lambda: RecordedList(task_id="run", conn_id="orders_errors_fleetio"),
    "vendor_5xx": lambda: RecordedList(task_id="run", conn_id="orders_errors_fleetio"),
    "transport": lambda: RecordedList(task_id="run", conn_id="orders_errors_fleetio"),
    "trigger_4xx": lambda: RecordedWait(
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
        default_args={"retries": 1, "retry_delay": timedelta(0)},
    ) as dag:
        make()
    globals()[f"dag_{case}"] = dag
