"""Crayon orders into a PostgreSQL table: a daily incremental load, and a refresh whenever an order settles.

``orders_to_postgres`` runs daily: each run merges the orders created in its data interval into the table
``crayon_orders`` of the Airflow connection ``orders_postgres`` (one row per order, keyed by ``(vendor,
id)``; the table is created on the first run). A run's orders land all at once or not at all, and the
task returns what it did: ``{"inserted": n, "updated": n, "unchanged": n}``.

An order created on one day often settles days later, after its day's run. ``orders_to_postgres_refresh``
catches that: it is scheduled on the asset ``crayon_tenant_orders``, whose watcher
(``orders_event_driven.py``) fires when an order of tenant 1003 completes or fails, and it merges the
tenant's orders again: only the orders whose state changed are written.

Set-up: a ``postgres`` connection (``pip install 'airflow-provider-orders[postgres]'``), for example
``AIRFLOW_CONN_ORDERS_POSTGRES='postgres://user:password@db.example.com:5432/analytics'``. ``python3 dev.py
demo`` runs both DAGs against the sandbox and a throw-away PostgreSQL.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import Asset, dag

from airflow_provider_orders.compat import CronDataIntervalTimetable
from airflow_provider_orders.operators.sql import OrdersToSqlOperator

#: The SQL connection (the demo and the tests point it at a server of their own).
SQL_CONN_ID = os.environ.get("ORDERS_SQL_CONN_ID", "orders_postgres")
#: The connection the refresh lists with: the one the watcher of orders_event_driven.py uses.
EVENTS_CONN_ID = os.environ.get("ORDERS_EVENTS_CONN_ID", "crayon_default")


@dag(
    # Daily intervals (a plain "@daily" is a point in time on Airflow 3: its interval would be empty).
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2025, 12, 30, tzinfo=timezone.utc),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=20)},
    tags=["orders", "example", "sql"],
)
def orders_to_postgres() -> None:
    OrdersToSqlOperator(
        task_id="crayon_orders_to_postgres",
        conn_id="crayon_default",
        filters={
            "customer_tenant_id": 1001,
            "created_since": "{{ data_interval_start }}",
            "created_until": "{{ data_interval_end }}",
        },
        sql_conn_id=SQL_CONN_ID,
        table="crayon_orders",
    )


@dag(
    # By name: the asset and its watcher are defined in orders_event_driven.py.
    schedule=[Asset.ref(name="crayon_tenant_orders")],
    start_date=datetime(2025, 12, 30, tzinfo=timezone.utc),
    catchup=False,
    tags=["orders", "example", "sql"],
)
def orders_to_postgres_refresh() -> None:
    OrdersToSqlOperator(
        task_id="refresh_tenant_orders",
        conn_id=EVENTS_CONN_ID,
        filters={"customer_tenant_id": 1003},
        sql_conn_id=SQL_CONN_ID,
        table="crayon_orders",
    )


daily_dag = orders_to_postgres()
refresh_dag = orders_to_postgres_refresh()
