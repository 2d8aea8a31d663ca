"""One memory measurement of ``OrdersToSqlOperator`` in a fresh process: every Crayon order of the
sandbox at ``--url`` merged into a new table of the PostgreSQL at ``--sql-uri``; prints {"orders",
"peak_rss_mb", "seconds"} as JSON."""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid

from benchmarks.memory_probe import peak_rss_mb


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sql-uri", required=True)
    parser.add_argument("--tenant", type=int, required=True)
    args = parser.parse_args()
    os.environ["AIRFLOW_CONN_ORDERS_PROBE"] = args.sql_uri
    from airflow_provider_orders.operators.sql import OrdersToSqlOperator

    started = time.perf_counter()
    op = OrdersToSqlOperator(task_id="t", conn_id="crayon_default", sql_conn_id="orders_probe",
                             table=f"probe_{uuid.uuid4().hex[:8]}",
                             filters={"customer_tenant_id": args.tenant, "page_size": 100})  # fmt: skip
    counts = op.execute({})
    print(json.dumps({"orders": counts["inserted"], "peak_rss_mb": peak_rss_mb(),
                      "seconds": time.perf_counter() - started}))  # fmt: skip


if __name__ == "__main__":
    main()
