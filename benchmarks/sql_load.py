"""Orders into PostgreSQL, four ways (the ``sql`` scenario). Each merges every Fleetio order the replay
server serves into a table of its own that already holds half of them, and returns how many orders it
merged:

- provider: ``OrdersToSqlOperator`` (staged with ``COPY``, merged in one transaction, checks and counts);
- executemany loop: what a user writes by hand over the provider's listing: psycopg2's ``executemany``
  of ``INSERT ... ON CONFLICT DO UPDATE``, in one transaction;
- dlt: its ``RESTClient`` reading the same pages, and a pipeline with ``write_disposition="merge"``;
- floor: the provider's listing, a bare ``COPY`` into a temporary table and one ``INSERT ... ON CONFLICT``
  from it: no checks, no counts, no change detection (the least a staged merge can do).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from datetime import datetime, timezone
from typing import Any

from airflow_provider_orders.sandbox.postgres import PostgresServer
from airflow_provider_orders.sql.tables import COLUMNS, csv_field, text_row

VENDOR = "fleetio"
CONN_ID = "orders_bench"
TABLES = {"provider": "provider_orders", "executemany loop": "loop_orders", "floor": "floor_orders"}
#: dlt's own table: its schema, in its dataset.
DLT_DATASET, DLT_TABLE = "dlt_orders", "orders"
NAMES = [c.name for c in COLUMNS]


class Loads:
    """The four competitors against one PostgreSQL server and one replay server."""

    def __init__(self, server: PostgresServer, url: str) -> None:
        self.server = server
        self.url = url
        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = server.airflow_uri()
        os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"  # no traffic but loopback
        self.dlt_dir = tempfile.mkdtemp(prefix="orders-bench-dlt-")
        self.admin = server.connect()
        self.admin.autocommit = True

    def competitors(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "executemany loop": self.loop,
            "dlt": self.dlt,
            "floor": self.floor,
        }

    # -- the competitors ----------------------------------------------------------------------------

    def provider(self) -> int:
        from airflow_provider_orders.operators.sql import OrdersToSqlOperator

        op = OrdersToSqlOperator(task_id="load", conn_id=f"{VENDOR}_default", sql_conn_id=CONN_ID,
                                 table=TABLES["provider"], filters={"page_size": 100})  # fmt: skip
        counts = op.execute({})
        return int(sum(counts.values()))

    def loop(self) -> int:
        import psycopg2

        from airflow_provider_orders.hooks.resolve import get_orders_hook

        hook = get_orders_hook(f"{VENDOR}_default")
        names = ", ".join(NAMES)
        sets = ", ".join(f"{n} = EXCLUDED.{n}" for n in NAMES if n not in ("vendor", "id"))
        marks = ", ".join(["%s"] * len(NAMES))
        statement = (f"INSERT INTO {TABLES['executemany loop']} ({names}) VALUES ({marks}) "
                     f"ON CONFLICT (vendor, id) DO UPDATE SET {sets}")  # fmt: skip
        conn = psycopg2.connect(host="127.0.0.1", port=self.server.port, user=self.server.user,
                                dbname=self.server.database)  # fmt: skip
        count = 0
        loaded_at = datetime.now(timezone.utc)
        try:
            with conn, conn.cursor() as cur:
                batch: list[tuple[Any, ...]] = []
                for order in hook.iter_orders(page_size=100):
                    batch.append((order.vendor, order.id, order.number, order.status.value, order.vendor_status,
                                  order.created_at, order.updated_at, order.total_amount, order.currency,
                                  json.dumps(order.raw), loaded_at))  # fmt: skip
                    if len(batch) == 5000:
                        cur.executemany(statement, batch)
                        count += len(batch)
                        batch = []
                cur.executemany(statement, batch)
                count += len(batch)
        finally:
            conn.close()
        return count

    def floor(self) -> int:
        from airflow_provider_orders.hooks.resolve import get_orders_hook

        hook = get_orders_hook(f"{VENDOR}_default")
        table = TABLES["floor"]
        staged = [n for n in NAMES if n != "loaded_at"]
        sets = ", ".join(f"{n} = EXCLUDED.{n}" for n in NAMES if n not in ("vendor", "id"))
        count = 0
        with self.server.connect() as conn:
            conn.execute(f"CREATE TEMP TABLE s ON COMMIT DROP AS SELECT * FROM {table} WITH NO DATA")
            with conn.cursor().copy(f"COPY s ({', '.join(staged)}) FROM STDIN WITH (FORMAT csv)") as copy:
                buffer = io.StringIO()
                for order in hook.iter_orders(page_size=100):
                    buffer.write(",".join(map(csv_field, text_row(order))) + "\n")
                    count += 1
                    if count % 5000 == 0:
                        copy.write(buffer.getvalue())
                        buffer = io.StringIO()
                copy.write(buffer.getvalue())
            conn.execute(f"INSERT INTO {table} ({', '.join(staged)}, loaded_at) SELECT {', '.join(staged)}, now() "
                         f"FROM s ON CONFLICT (vendor, id) DO UPDATE SET {sets}")  # fmt: skip
        return count

    def dlt(self) -> int:
        import dlt

        from benchmarks.competitors import dlt_pages

        pipeline = self._dlt_pipeline(dlt)
        count = 0

        def orders() -> Any:
            nonlocal count
            for page in dlt_pages(self.url, VENDOR):
                count += len(page)
                yield page

        resource = dlt.resource(orders, name=DLT_TABLE, write_disposition="merge", primary_key="number")
        pipeline.run(resource)
        return count

    def _dlt_pipeline(self, dlt: Any) -> Any:
        # dlt insists on a password; the server trusts loopback, so any will do.
        credentials = (
            f"postgresql://{self.server.user}:unused@127.0.0.1:{self.server.port}/{self.server.database}"
        )
        return dlt.pipeline(pipeline_name="orders_bench", destination=dlt.destinations.postgres(credentials),
                            dataset_name=DLT_DATASET, pipelines_dir=self.dlt_dir)  # fmt: skip

    # -- the tables ---------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Each competitor's table with every order (one run each, which also warms the replay server),
        then half of them kept as the seed every timed run starts from."""
        for name in ("provider", "dlt"):
            self.competitors()[name]()
        for name in ("executemany loop", "floor"):  # every order, as the provider's table holds them
            self.admin.execute(f"CREATE TABLE {TABLES[name]} (LIKE {TABLES['provider']} INCLUDING ALL)")
            self.admin.execute(f"INSERT INTO {TABLES[name]} SELECT * FROM {TABLES['provider']}")
        for table, key in self._tables():
            self.admin.execute(f"DELETE FROM {table} WHERE abs(hashtext({key}::text)) % 2 = 0")
            seed = table.replace(".", "_") + "_seed"
            self.admin.execute(f"CREATE TABLE {seed} AS SELECT * FROM {table}")
        self.reset()

    def _tables(self) -> list[tuple[str, str]]:
        return [(t, "id") for t in TABLES.values()] + [(f"{DLT_DATASET}.{DLT_TABLE}", "number")]

    def _table(self, name: str) -> str:
        return f"{DLT_DATASET}.{DLT_TABLE}" if name == "dlt" else TABLES[name]

    def reset(self, name: str | None = None) -> None:
        """A competitor's table (every one, without ``name``) back to the seed: half of the orders."""
        for table, _ in self._tables():
            if name is not None and table != self._table(name):
                continue
            seed = table.replace(".", "_") + "_seed"
            self.admin.execute(f"TRUNCATE {table}")
            self.admin.execute(f"INSERT INTO {table} SELECT * FROM {seed}")
            self.admin.execute(f"ANALYZE {table}")

    def rows(self, name: str) -> int:
        return int(self.admin.execute(f"SELECT COUNT(*) FROM {self._table(name)}").fetchone()[0])

    def check(self, name: str, expected: int) -> None:
        """After a run: every order in the competitor's table, once."""
        found = self.rows(name)
        assert found == expected, f"{name} left {found} rows, expected {expected}"

    def close(self) -> None:
        self.admin.close()
