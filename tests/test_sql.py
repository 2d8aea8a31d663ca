"""OrdersToSqlOperator into a real PostgreSQL (Debian's server, initdb in a temp directory, a free loopback
port) and a real SQLite file, from the sandbox over loopback HTTP."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_orders.boundary import OrdersTaskFailed
from airflow_provider_orders.hooks.resolve import get_orders_hook
from airflow_provider_orders.models import Order, OrderStatus
from airflow_provider_orders.operators.sql import OrdersToSqlOperator
from airflow_provider_orders.sandbox import Sandbox
from airflow_provider_orders.sandbox.postgres import PostgresServer
from airflow_provider_orders.sql import PostgresOrdersTable, SqliteOrdersTable
from tests.conftest import AIRFLOW_RELEASE, ORDERS, control, expected_ids

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("postgres")]

COLUMN_TYPES = {
    "vendor": "text", "id": "text", "number": "text", "status": "text", "vendor_status": "text",
    "created_at": "timestamp with time zone", "updated_at": "timestamp with time zone",
    "total_amount": "numeric", "currency": "text", "raw": "jsonb", "loaded_at": "timestamp with time zone",
}  # fmt: skip


@pytest.fixture
def pg(postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> PostgresServer:
    """The server with an empty database, as the Airflow connection ``orders_db``."""
    with postgres.connect() as conn:
        conn.autocommit = True
        for (schema,) in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'"
        ).fetchall():
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.execute("CREATE SCHEMA public")
    monkeypatch.setenv("AIRFLOW_CONN_ORDERS_DB", postgres.airflow_uri())
    return postgres


@pytest.fixture
def sqlite_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "orders.db"
    monkeypatch.setenv("AIRFLOW_CONN_ORDERS_SQLITE", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    return path


def run(op: OrdersToSqlOperator) -> dict[str, int]:
    ctx: dict[str, Any] = {}
    op.render_template_fields(ctx)
    result: dict[str, int] = op.execute(ctx)
    return result


def listed(conn_id: str, filters: dict[str, Any] | None = None) -> dict[str, Order]:
    """What the provider's listing returns, by id (the listing itself is tested against the sandbox's
    generator elsewhere)."""
    hook = get_orders_hook(conn_id)
    return {o.id: o for o in hook.iter_orders(hook.validate_filters(filters or {}))}


def pg_rows(server: PostgresServer, table: str = '"orders"') -> dict[str, dict[str, Any]]:
    with server.connect() as conn:
        cur = conn.execute(f"SELECT * FROM {table} ORDER BY id")
        names = [d.name for d in cur.description]
        return {row[1]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


def as_row(order: Order) -> dict[str, Any]:
    """An order as PostgreSQL gives its row back (loaded_at aside)."""
    return {
        "vendor": order.vendor, "id": order.id, "number": order.number, "status": order.status.value,
        "vendor_status": order.vendor_status, "created_at": order.created_at, "updated_at": order.updated_at,
        "total_amount": order.total_amount, "currency": order.currency, "raw": order.raw,
    }  # fmt: skip


def test_the_first_run_creates_the_table_with_one_typed_row_per_order(
    sbx: Sandbox, pg: PostgresServer
) -> None:
    op = OrdersToSqlOperator(task_id="load", conn_id="fleetio_default", sql_conn_id="orders_db")
    assert run(op) == {"inserted": ORDERS, "updated": 0, "unchanged": 0}
    rows = pg_rows(pg)
    assert set(rows) == expected_ids(sbx, "fleetio")
    orders = listed("fleetio_default")
    for oid, order in orders.items():
        row = rows[oid]
        loaded = row.pop("loaded_at")
        assert loaded.tzinfo is not None
        assert row == as_row(order)
    assert any(r["total_amount"] is not None for r in rows.values())  # numeric, not text
    with pg.connect() as conn:
        types = dict(conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'orders'"
        ).fetchall())  # fmt: skip
        key = conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'orders'::regclass AND i.indisprimary"
        ).fetchall()
    assert types == COLUMN_TYPES
    assert sorted(k for (k,) in key) == ["id", "vendor"]


def test_a_second_run_updates_the_orders_that_changed_and_leaves_the_rest(
    sbx: Sandbox, pg: PostgresServer
) -> None:
    op = OrdersToSqlOperator(task_id="load", conn_id="emnify_default", sql_conn_id="orders_db")
    run(op)
    before = pg_rows(pg)
    with pg.connect() as conn:  # a row of an order this listing does not return stays as it is
        conn.execute(
            "INSERT INTO orders (vendor, id, status, vendor_status, raw, loaded_at) VALUES "
            "('emnify', 'gone-1', 'completed', '3', '{}', '2025-01-01T00:00:00Z')"
        )
    store = sbx.apps["emnify"].orders("")
    settled = [i for i in range(store.size - 2, store.size) if store.settle_now(i)]
    assert len(settled) == 2
    changed = {sbx.apps["emnify"].order_id(sbx.apps["emnify"].record(store, i)) for i in settled}
    assert {before[oid]["status"] for oid in changed} <= {"pending", "processing"}

    assert run(op) == {"inserted": 0, "updated": 2, "unchanged": ORDERS - 2}
    after = pg_rows(pg)
    now = listed("emnify_default")
    assert set(after) == set(before) | {"gone-1"}
    for oid in changed:
        assert after[oid]["vendor_status"] != before[oid]["vendor_status"]
        assert after[oid]["loaded_at"] > before[oid]["loaded_at"]
        assert {k: v for k, v in after[oid].items() if k != "loaded_at"} == as_row(now[oid])
    for oid in set(before) - changed:
        assert after[oid] == before[oid]  # loaded_at too: an unchanged order is not written
    assert after["gone-1"]["status"] == "completed"


def test_a_vendor_failure_mid_listing_leaves_the_table_as_it_was_and_no_staging_table(
    sbx: Sandbox, pg: PostgresServer
) -> None:
    op = OrdersToSqlOperator(task_id="load", conn_id="emnify_default", sql_conn_id="orders_db", batch_size=40)
    run(op)
    before = pg_rows(pg)
    store = sbx.apps["emnify"].orders("")
    assert store.settle_now(store.size - 1)
    # The third page is refused (not retried): two pages, and a batch, were staged by then.
    control(sbx, "/faults", {"vendor": "emnify", "kind": "status", "status": 400, "on_request": 4})
    with pytest.raises(OrdersTaskFailed):
        run(op)
    assert pg_rows(pg) == before
    with pg.connect() as conn:
        left = conn.execute("SELECT relname FROM pg_class WHERE relname LIKE 'orders_staging%'").fetchall()
    assert left == []


def test_a_reader_during_the_merge_sees_the_old_rows_or_the_new_never_a_mix(
    sbx: Sandbox, pg: PostgresServer
) -> None:
    op = OrdersToSqlOperator(task_id="load", conn_id="emnify_default", sql_conn_id="orders_db")
    run(op)
    old = {oid: r["vendor_status"] for oid, r in pg_rows(pg).items()}
    store = sbx.apps["emnify"].orders("")
    assert all(store.settle_now(i) for i in range(store.size - 4, store.size))
    seen: list[dict[str, str]] = []  # each state the reader saw, in order (repeats folded)
    reads = 0
    done = threading.Event()

    def read() -> None:
        nonlocal reads
        with pg.connect() as conn:
            conn.autocommit = True
            while not done.is_set():
                snapshot = dict(conn.execute("SELECT id, vendor_status FROM orders").fetchall())
                reads += 1
                if not seen or seen[-1] != snapshot:
                    seen.append(snapshot)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert run(op)["updated"] == 4
        committed = reads
        deadline = time.monotonic() + 10
        while reads < committed + 2 and time.monotonic() < deadline:  # a read that began after the commit
            time.sleep(0.01)
    finally:
        done.set()
        reader.join()
    new = {oid: r["vendor_status"] for oid, r in pg_rows(pg).items()}
    assert new != old
    assert seen == [old, new]


def test_an_existing_table_with_missing_or_mistyped_columns_fails_before_any_vendor_request(
    sbx: Sandbox, pg: PostgresServer
) -> None:
    with pg.connect() as conn:
        conn.execute(
            "CREATE TABLE orders (vendor text, id text, number text, status text, vendor_status text, "
            "created_at timestamp, updated_at timestamptz, total_amount double precision, raw json, "
            "loaded_at timestamptz)"
        )
    op = OrdersToSqlOperator(task_id="load", conn_id="emnify_default", sql_conn_id="orders_db")
    with pytest.raises(OrdersTaskFailed) as caught:
        run(op)
    message = str(caught.value.__cause__)
    assert "missing columns: currency" in message
    assert "created_at is timestamp without time zone (wanted timestamptz)" in message
    assert "total_amount is double precision (wanted numeric)" in message
    assert "raw is json (wanted jsonb)" in message
    assert "'orders'" in message and "orders_db" in message
    assert control(sbx, "/requests?vendor=emnify&count=1") == {"count": 0}


def test_a_schema_qualified_table_is_created_in_its_schema_with_its_name_as_written(
    sbx: Sandbox, pg: PostgresServer
) -> None:
    with pg.connect() as conn:
        conn.execute('CREATE SCHEMA "Sales"')
    op = OrdersToSqlOperator(
        task_id="load", conn_id="emnify_default", sql_conn_id="orders_db", table='Sales.Orders "2026"; --'
    )
    assert run(op)["inserted"] == ORDERS
    assert set(pg_rows(pg, '"Sales"."Orders ""2026""; --"')) == expected_ids(sbx, "emnify")
    missing = OrdersToSqlOperator(
        task_id="load2", conn_id="emnify_default", sql_conn_id="orders_db", table="nowhere.orders"
    )
    with pytest.raises(OrdersTaskFailed) as caught:
        run(missing)
    assert "schema 'nowhere' does not exist" in str(caught.value.__cause__)


def test_crayon_order_lines_make_one_row_per_order(sbx: Sandbox, pg: PostgresServer) -> None:
    filters = {"customer_tenant_id": 1001}
    op = OrdersToSqlOperator(
        task_id="load", conn_id="crayon_default", sql_conn_id="orders_db", filters=filters
    )
    counts = run(op)
    ids = expected_ids(sbx, "crayon", "1001")
    assert counts == {"inserted": len(ids), "updated": 0, "unchanged": 0}
    rows = pg_rows(pg)
    assert set(rows) == ids
    hook = get_orders_hook("crayon_default")
    for oid in ids:  # as a lookup of the order gives it: its lines gathered
        expected = hook.get_order(oid, **filters)
        assert {k: v for k, v in rows[oid].items() if k != "loaded_at"} == as_row(expected)
    assert any("Lines" in r["raw"] for r in rows.values())  # the sandbox has orders of several lines
    assert run(op) == {"inserted": 0, "updated": 0, "unchanged": len(ids)}


def test_crayon_order_lines_make_one_row_per_order_in_sqlite_too(sbx: Sandbox, sqlite_db: Path) -> None:
    filters = {"customer_tenant_id": 1001}
    op = OrdersToSqlOperator(
        task_id="load", conn_id="crayon_default", sql_conn_id="orders_sqlite", filters=filters
    )
    ids = expected_ids(sbx, "crayon", "1001")
    assert run(op) == {"inserted": len(ids), "updated": 0, "unchanged": 0}
    db = sqlite3.connect(sqlite_db)
    rows = {oid: json.loads(raw) for oid, raw in db.execute("SELECT id, raw FROM orders")}
    db.close()
    assert set(rows) == ids
    hook = get_orders_hook("crayon_default")
    several = [oid for oid, raw in rows.items() if "Lines" in raw]
    assert several
    for oid in several[:5]:
        assert rows[oid] == hook.get_order(oid, **filters).raw


def test_non_ascii_and_awkward_values_arrive_unchanged(pg: PostgresServer, tmp_path: Path) -> None:
    when = datetime(2026, 1, 1, 12, 30, tzinfo=timezone.utc)
    orders = [
        Order(vendor="fleetio", id="PO-ä-1", number='Nº "1", ok', status=OrderStatus.PROCESSING,
              vendor_status="approved", created_at=when, total_amount=Decimal("1234.5600"), currency="EUR",
              raw={"note": "Grüße, 東京\nline two\t\\ \"q\"", "n": 1.5, "empty": ""}),
        Order(vendor="fleetio", id="PO-2", number="", status=OrderStatus.COMPLETED, vendor_status="closed",
              raw={"emoji": "📦"}),
    ]  # fmt: skip
    loaded = datetime(2026, 1, 2, tzinfo=timezone.utc)
    with pg.connect() as conn:
        table = PostgresOrdersTable(conn, "orders")
        table.check()
        assert table.stage(orders) == 2
        assert table.merge(loaded).as_dict() == {"inserted": 2, "updated": 0, "unchanged": 0}
        table.drop_staging()
    rows = pg_rows(pg)
    assert {k: v for k, v in rows["PO-ä-1"].items() if k != "loaded_at"} == as_row(orders[0])
    assert rows["PO-2"]["number"] == ""  # an empty string stays one (not NULL)
    assert rows["PO-2"]["created_at"] is None
    db = sqlite3.connect(tmp_path / "o.db")
    table2 = SqliteOrdersTable(db, "orders")
    table2.check()
    table2.stage(orders)
    assert table2.merge(loaded).as_dict() == {"inserted": 2, "updated": 0, "unchanged": 0}
    row = db.execute(
        "SELECT number, total_amount, raw, created_at FROM orders WHERE id = 'PO-ä-1'"
    ).fetchone()
    assert row[:2] == ('Nº "1", ok', "1234.5600")
    assert json.loads(row[2]) == orders[0].raw
    assert datetime.fromisoformat(row[3]) == when


def test_an_order_listed_twice_is_merged_once_as_last_read(pg: PostgresServer) -> None:
    first = Order(vendor="emnify", id="1", status=OrderStatus.PROCESSING, vendor_status="1", raw={"v": 1})
    last = Order(vendor="emnify", id="1", status=OrderStatus.COMPLETED, vendor_status="3", raw={"v": 2})
    with pg.connect() as conn:
        table = PostgresOrdersTable(conn, "orders")
        table.check()
        table.stage([first, last])
        assert table.merge(datetime.now(timezone.utc)).as_dict() == {
            "inserted": 1,
            "updated": 0,
            "unchanged": 0,
        }
    assert pg_rows(pg)["1"]["raw"] == {"v": 2}


def test_into_a_sqlite_file_as_text_forms_merged_by_key(sbx: Sandbox, sqlite_db: Path) -> None:
    op = OrdersToSqlOperator(task_id="load", conn_id="fleetio_default", sql_conn_id="orders_sqlite")
    assert run(op) == {"inserted": ORDERS, "updated": 0, "unchanged": 0}
    db = sqlite3.connect(sqlite_db)
    db.row_factory = sqlite3.Row
    rows = {r["id"]: dict(r) for r in db.execute("SELECT * FROM orders")}
    assert set(rows) == expected_ids(sbx, "fleetio")
    for oid, order in listed("fleetio_default").items():
        row = rows[oid]
        assert row["status"] == order.status.value and row["vendor_status"] == order.vendor_status
        assert row["total_amount"] == (None if order.total_amount is None else str(order.total_amount))
        assert (row["created_at"] and datetime.fromisoformat(row["created_at"])) == order.created_at
        assert json.loads(row["raw"]) == order.raw
    types = {r["name"]: r["type"] for r in db.execute("SELECT name, type FROM pragma_table_info('orders')")}
    assert set(types.values()) == {"TEXT"} and len(types) == 11
    db.close()
    store = sbx.apps["fleetio"].orders("")
    live = [i for i in range(store.size) if store.is_live(i)]
    assert store.settle_now(live[-1])
    assert run(op) == {"inserted": 0, "updated": 1, "unchanged": ORDERS - 1}


def test_a_sqlite_table_with_a_numeric_column_is_refused_before_any_request(
    sbx: Sandbox, sqlite_db: Path
) -> None:
    db = sqlite3.connect(sqlite_db)
    db.execute("CREATE TABLE orders (vendor TEXT, id TEXT, number TEXT, status TEXT, vendor_status TEXT, "
               "created_at TEXT, updated_at TEXT, total_amount REAL, currency TEXT, raw TEXT)")  # fmt: skip
    db.close()
    op = OrdersToSqlOperator(task_id="load", conn_id="fleetio_default", sql_conn_id="orders_sqlite")
    with pytest.raises(OrdersTaskFailed) as caught:
        run(op)
    message = str(caught.value.__cause__)
    assert "missing columns: loaded_at" in message and "total_amount is REAL (wanted TEXT)" in message
    assert control(sbx, "/requests?vendor=fleetio&count=1") == {"count": 0}


def test_a_database_without_a_merge_strategy_is_named_before_any_request(
    sbx: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", "mysql://u:secret@127.0.0.1:1/db")
    op = OrdersToSqlOperator(task_id="load", conn_id="emnify_default", sql_conn_id="warehouse")
    with pytest.raises(OrdersTaskFailed) as caught:
        run(op)
    message = str(caught.value.__cause__)
    assert "'warehouse' is of type 'mysql'" in message and "PostgreSQL and SQLite only" in message
    assert "secret" not in message
    assert control(sbx, "/requests?vendor=emnify&count=1") == {"count": 0}


def test_bad_arguments_fail_when_the_dag_is_parsed(sbx: Sandbox) -> None:
    with pytest.raises(AirflowException, match="batch_size must be 1 or more"):
        OrdersToSqlOperator(task_id="t", conn_id="emnify_default", sql_conn_id="db", batch_size=0)
    with pytest.raises(AirflowException, match=r"t: .*no_such_filter"):
        OrdersToSqlOperator(
            task_id="t", conn_id="emnify_default", sql_conn_id="db", filters={"no_such_filter": 1}
        )


def test_the_table_is_the_outlet_asset_named_as_the_postgres_provider_names_tables(
    pg: PostgresServer,
) -> None:
    op = OrdersToSqlOperator(
        task_id="load", conn_id="emnify_default", sql_conn_id="orders_db", table="sales.orders"
    )
    (outlet,) = op.outlets
    if AIRFLOW_RELEASE >= (3, 2):
        assert outlet.uri == f"postgres://127.0.0.1:{pg.port}/orders/sales/orders"
    else:
        assert type(outlet).__name__ == "AssetAlias" and outlet.name == "orders_sql:load"


def test_a_hundred_thousand_orders_load_in_bounded_memory(pg: PostgresServer) -> None:
    """100,000 orders from a generator (as a listing yields them), staged in batches of 5,000: the memory
    Python allocates while they stream and merge stays that of a few batches, not of the whole load
    (held at once, these orders take about 150 MB)."""
    import tracemalloc

    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    n = 100_000

    def orders() -> Iterator[Order]:
        for i in range(n):
            yield Order(vendor="emnify", id=str(i), number=f"N-{i}", status=OrderStatus.COMPLETED,
                        vendor_status="3", created_at=when, total_amount=Decimal(i) / 100, currency="EUR",
                        raw={"id": i, "sku": f"SKU-{i}", "note": "x" * 500})  # fmt: skip

    with pg.connect() as conn:
        table = PostgresOrdersTable(conn, "orders")
        table.check()
        tracemalloc.start()
        try:
            assert table.stage(orders(), batch_size=5000) == n
            counts = table.merge(when)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            table.drop_staging()
    assert counts.as_dict() == {"inserted": n, "updated": 0, "unchanged": 0}
    with pg.connect() as conn:
        assert conn.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM orders").fetchone() == (n, n)
    assert peak < 40 * 2**20, f"peak {peak / 2**20:.0f} MB"
