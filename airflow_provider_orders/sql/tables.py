"""The orders table, one strategy per database: check it, stage a run's orders, merge them by key.

A run's orders stream in bounded batches into a temporary staging table of the run's own (``COPY`` on
PostgreSQL, ``executemany`` on SQLite), with no lock on the target and no long transaction. Then one
short transaction creates the table where it is missing, keeps the last row of each ``(vendor, id)``,
updates the rows whose values changed, and inserts the new ones: readers see all of a run or none of it.
A failure before that commit leaves the table as it was; the staging table is dropped, and being
temporary it goes with the session in any case.

Identifiers are quoted by each database's own rule (the driver's ``quote_ident`` on PostgreSQL); values
only ever travel as bound parameters or ``COPY`` data, never in the SQL text.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import msgspec

from airflow_provider_orders.errors import TableError
from airflow_provider_orders.models import Order


@dataclass(frozen=True)
class Column:
    """A column of the orders table: ``kind`` is ``text``, ``time``, ``decimal`` or ``json``."""

    name: str
    kind: str
    nullable: bool = True


#: The table's columns, in order: the :class:`~airflow_provider_orders.models.Order` fields and the time
#: the row was last written (inserted, or updated because a value changed).
COLUMNS: tuple[Column, ...] = (
    Column("vendor", "text", nullable=False),
    Column("id", "text", nullable=False),
    Column("number", "text"),
    Column("status", "text", nullable=False),
    Column("vendor_status", "text", nullable=False),
    Column("created_at", "time"),
    Column("updated_at", "time"),
    Column("total_amount", "decimal"),
    Column("currency", "text"),
    Column("raw", "json", nullable=False),
    Column("loaded_at", "time", nullable=False),
)
KEY = ("vendor", "id")
#: What a run writes; ``loaded_at`` is set by the merge.
STAGED = tuple(c for c in COLUMNS if c.name != "loaded_at")
#: A row whose values differ in any of these is updated; otherwise it is unchanged, and left alone.
COMPARED = tuple(c.name for c in STAGED if c.name not in KEY)

_encode_json = msgspec.json.Encoder(order="sorted").encode


@dataclass(frozen=True)
class MergeCounts:
    """What a run did to the table."""

    inserted: int
    updated: int
    unchanged: int

    def as_dict(self) -> dict[str, int]:
        return {"inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged}


class OrdersTable:
    """The orders table of one database connection: the strategy a database's subclass completes.

    :param conn: an open DB-API connection (the SQL hook's ``get_conn()``); the caller closes it.
    :param table: the table's name, optionally schema-qualified (``analytics.orders``), used as written:
        each part is quoted, so its case is kept.
    :param conn_id: the Airflow connection's id, for messages.
    """

    #: The database's name in messages.
    database: ClassVar[str]
    #: The column type each kind is created with.
    types: ClassVar[dict[str, str]]
    #: The DB-API parameter placeholder.
    placeholder: ClassVar[str] = "%s"
    #: Null-safe "differs" between two column references.
    distinct: ClassVar[str] = "{a} IS DISTINCT FROM {b}"

    def __init__(self, conn: Any, table: str, *, conn_id: str = "?") -> None:
        self.conn = conn
        self.conn_id = conn_id
        parts = table.split(".")
        if len(parts) > 2 or not all(p.strip() for p in parts) or "\x00" in table:
            raise TableError(
                f"OrdersToSqlOperator: table {table!r} is not a table name: give 'name' or 'schema.name' "
                "(each part is used as written, case included)"
            )
        self.schema: str | None = parts[0] if len(parts) == 2 else None
        self.name = parts[-1]
        self.table = table
        self.staging = f"orders_staging_{uuid.uuid4().hex[:12]}"
        self._staging_made = False
        self._staging_indexed = False

    # -- what a database's subclass says ------------------------------------------------------------

    def quote(self, identifier: str) -> str:
        """``identifier`` quoted by the database's rule."""
        raise NotImplementedError

    def existing_columns(self) -> dict[str, str] | None:
        """The table's columns and their declared types, or ``None`` when it does not exist."""
        raise NotImplementedError

    def accepts(self, kind: str, declared: str) -> bool:
        """Whether a column declared ``declared`` holds a column of ``kind`` without loss."""
        raise NotImplementedError

    def check_can_create(self) -> None:
        """Raise :class:`TableError` where the missing table could not be created (no such schema)."""

    def create_staging(self) -> None:
        raise NotImplementedError

    def write_batch(self, orders: Sequence[Order]) -> None:
        """Append ``orders`` to the staging table, in the transaction the caller opened."""
        raise NotImplementedError

    def begin(self) -> None:
        """Start the merge's transaction."""
        raise NotImplementedError

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def before_merge(self, cur: Any) -> None:
        """Statements at the start of the merge's transaction, after the table exists (a lock, statistics)."""

    def update_sql(self) -> str:
        """The rows of staged orders whose values differ, updated (``UPDATE ... FROM``), ``loaded_at`` a
        parameter."""
        key_match = " AND ".join(f"t.{self.quote(k)} = s.{self.quote(k)}" for k in KEY)
        sets = ", ".join(f"{self.quote(n)} = s.{self.quote(n)}" for n in COMPARED)
        return (
            f"UPDATE {self.target} AS t SET {sets}, {self.quote('loaded_at')} = {self.placeholder} "
            f"FROM {self.staged_table} AS s WHERE {key_match} AND ({self.changed_condition()})"
        )

    # -- the strategy -------------------------------------------------------------------------------

    @property
    def target(self) -> str:
        """The table's name as SQL: each part quoted."""
        return ".".join(self.quote(p) for p in (self.schema, self.name) if p is not None)

    @property
    def staged_table(self) -> str:
        return self.quote(self.staging)

    def describe(self) -> str:
        return f"{self.database} table {self.table!r} (connection {self.conn_id!r})"

    def check(self) -> bool:
        """Check the table before any vendor request: whether it exists; :class:`TableError` naming every
        missing and mistyped column where it exists and cannot take the orders."""
        found = self.existing_columns()
        if found is None:
            self.check_can_create()
            return False
        missing = [c.name for c in COLUMNS if c.name not in found]
        wrong = [
            f"{c.name} is {found[c.name] or 'untyped'} (wanted {self.types[c.kind]})"
            for c in COLUMNS
            if c.name in found and not self.accepts(c.kind, found[c.name])
        ]
        if missing or wrong:
            problems = ([f"missing columns: {', '.join(missing)}"] if missing else []) + (
                [f"mistyped columns: {'; '.join(wrong)}"] if wrong else []
            )
            raise TableError(
                f"OrdersToSqlOperator: the {self.describe()} cannot take the orders: {'. '.join(problems)}. "
                f"Add or alter those columns, or name a table that does not exist yet (it is created "
                f"with the right columns): {self.create_sql()}"
            )
        return True

    def create_sql(self) -> str:
        columns = ", ".join(
            f"{self.quote(c.name)} {self.types[c.kind]}{'' if c.nullable else ' NOT NULL'}" for c in COLUMNS
        )
        key = ", ".join(self.quote(k) for k in KEY)
        return f"CREATE TABLE IF NOT EXISTS {self.target} ({columns}, PRIMARY KEY ({key}))"

    def stage(
        self,
        orders: Iterable[Order],
        *,
        batch_size: int = 5000,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Write ``orders`` into the staging table in batches of ``batch_size`` (what is held in memory at
        once); the number staged."""
        self.create_staging()
        staged = 0
        batch: list[Order] = []
        with self.staging_stream() as write:
            for order in orders:
                batch.append(order)
                if len(batch) >= batch_size:
                    write(batch)
                    staged += len(batch)
                    batch = []
                    if progress is not None:
                        progress(staged)
            if batch:
                write(batch)
                staged += len(batch)
        return staged

    @contextlib.contextmanager
    def staging_stream(self) -> Iterator[Callable[[Sequence[Order]], None]]:
        """What :meth:`stage` hands each batch to: here one transaction per batch on the staging table;
        a database with a faster stream (PostgreSQL's ``COPY``) overrides it."""
        yield self._staged_batch

    def _staged_batch(self, orders: Sequence[Order]) -> None:
        self.begin_staging()
        try:
            self.write_batch(orders)
            self.end_staging()
        except BaseException:
            self.rollback()
            raise

    def combine_lines(self, combine: Callable[[list[Order]], Order], *, chunk: int = 1000) -> int:
        """Where the vendor lists order *lines* (Crayon), make the staged lines of each order one row:
        ``combine`` (the vendor's ``combine_lines``) gathers them, in the order they were listed. The keys
        of orders with more than one line go into a temporary table of their own, read ``chunk`` at a
        time (keyset), and the staging table is indexed by key: time and memory grow with the orders,
        not with their square. The number of orders combined."""
        s, vendor, ident = self.staged_table, self.quote("vendor"), self.quote("id")
        repeated = self.quote(f"{self.staging}_repeated")
        names = ", ".join(self.quote(c.name) for c in STAGED)
        cur = self.conn.cursor()
        self.index_staging()
        cur.execute(f"CREATE TEMPORARY TABLE {repeated} AS SELECT {vendor}, {ident} FROM {s} "
                    f"GROUP BY {vendor}, {ident} HAVING COUNT(*) > 1")  # fmt: skip
        cur.execute(
            f"CREATE INDEX {self.quote(f'{self.staging}_repeated_key')} ON {repeated} ({vendor}, {ident})"
        )
        p = self.placeholder
        combined_orders = 0
        last: tuple[str, str] | None = None
        while True:
            after = "" if last is None else f"WHERE ({vendor}, {ident}) > ({p}, {p}) "
            cur.execute(f"SELECT {vendor}, {ident} FROM {repeated} {after}ORDER BY {vendor}, {ident} LIMIT {int(chunk)}",
                        last or ())  # fmt: skip
            keys = [(str(v), str(i)) for v, i in cur.fetchall()]
            if not keys:
                break
            last = keys[-1]
            by_vendor: dict[str, list[str]] = {}
            for v, i in keys:
                by_vendor.setdefault(v, []).append(i)
            for v, ids in by_vendor.items():
                where = f"{vendor} = {p} AND {ident} IN ({', '.join(p for _ in ids)})"
                cur.execute(f"SELECT {names} FROM {s} WHERE {where} ORDER BY {ident}, seq", (v, *ids))
                lines: dict[str, list[Order]] = {}
                for row in cur.fetchall():
                    lines.setdefault(row[1], []).append(self.order_of(row))
                combined = [combine(found) for found in lines.values()]
                self.begin_staging()
                try:
                    cur.execute(f"DELETE FROM {s} WHERE {where}", (v, *ids))
                    self.write_batch(combined)
                    self.end_staging()
                except BaseException:
                    self.rollback()
                    raise
                combined_orders += len(combined)
        cur.execute(f"DROP TABLE {repeated}")
        return combined_orders

    def index_staging(self) -> None:
        """Index the staging table by key (once): what gathering lines and keeping the last row of each
        key look up."""
        if self._staging_indexed:
            return
        s, vendor, ident = self.staged_table, self.quote("vendor"), self.quote("id")
        cur = self.conn.cursor()
        cur.execute(f"CREATE INDEX {self.quote(f'{self.staging}_key')} ON {s} ({vendor}, {ident}, seq)")
        # Statistics, which no autovacuum gathers for a temporary table: without them PostgreSQL guessed
        # that a lookup of a thousand keys matches most rows and scanned the whole table each time.
        cur.execute(self.analyze_staging_sql())
        self._staging_indexed = True

    def analyze_staging_sql(self) -> str:
        return f"ANALYZE {self.staged_table}"

    def prepare_merge(self) -> None:
        """What the merge's statements need of the staging table: here its key index (SQLite looks each
        key up in it)."""
        self.index_staging()

    def order_of(self, row: Sequence[Any]) -> Order:
        """A staged row as an :class:`Order` again (the driver's types or the text forms)."""
        import json

        values = dict(zip((c.name for c in STAGED), row, strict=True))
        raw = values["raw"]
        values["raw"] = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
        return Order.model_validate(values)

    def begin_staging(self) -> None:
        """Start a transaction on the staging table alone."""
        self.begin()

    def end_staging(self) -> None:
        self.commit()

    def merge(self, loaded_at: datetime) -> MergeCounts:
        """In one transaction: create the table where missing, keep the last staged row of each key, update
        the rows that changed (``loaded_at`` set to ``loaded_at``) and insert the new ones."""
        s, t = self.staged_table, self.target
        key_match = " AND ".join(f"t.{self.quote(k)} = s.{self.quote(k)}" for k in KEY)
        names = ", ".join(self.quote(c.name) for c in STAGED)
        self.prepare_merge()
        self.begin()
        try:
            cur = self.conn.cursor()
            cur.execute(self.create_sql())
            self.before_merge(cur)
            # A listing can return an order twice (it moved between pages while they were read): the
            # last row read is the newest. A semi-join (hashed on PostgreSQL, the key index on SQLite);
            # NOT IN over a million seqs outgrew PostgreSQL's work_mem and went quadratic.
            key_later = " AND ".join(f"later.{self.quote(k)} = {s}.{self.quote(k)}" for k in KEY)
            cur.execute(f"DELETE FROM {s} WHERE EXISTS (SELECT 1 FROM {s} AS later WHERE {key_later} "
                        f"AND later.seq > {s}.seq)")  # fmt: skip
            cur.execute(f"SELECT COUNT(*) FROM {s}")
            (distinct_orders,) = cur.fetchone()
            cur.execute(self.update_sql(), (self.time_param(loaded_at),))
            updated = cur.rowcount
            cur.execute(
                f"INSERT INTO {t} ({names}, {self.quote('loaded_at')}) "
                f"SELECT {', '.join(f's.{self.quote(c.name)}' for c in STAGED)}, {self.placeholder} "
                f"FROM {s} AS s WHERE NOT EXISTS (SELECT 1 FROM {t} AS t WHERE {key_match})",
                (self.time_param(loaded_at),),
            )
            inserted = cur.rowcount
            self.commit()
        except BaseException:
            self.rollback()
            raise
        return MergeCounts(inserted=inserted, updated=updated, unchanged=distinct_orders - inserted - updated)

    def time_param(self, value: datetime) -> Any:
        """A time as a bound parameter: its ISO 8601 text, where the database has no time type."""
        return value.isoformat()

    def changed_condition(self) -> str:
        return " OR ".join(
            self.distinct.format(a=f"t.{self.quote(n)}", b=f"s.{self.quote(n)}") for n in COMPARED
        )

    def drop_staging(self) -> None:
        """Drop the staging table (a temporary table: it also goes when the session ends)."""
        if not self._staging_made:
            return
        self._staging_made = False
        try:
            self.after_transaction()
            self.conn.cursor().execute(f"DROP TABLE IF EXISTS {self.staged_table}")
            self.after_transaction()
        except Exception:
            pass  # the session's end drops it

    def after_transaction(self) -> None:
        """Leave a failed transaction, if one is open, so that the next statement can run."""
        with contextlib.suppress(Exception):
            self.rollback()

    def row(self, order: Order) -> tuple[str | None, ...]:
        return text_row(order)


class PostgresOrdersTable(OrdersTable):
    """PostgreSQL: ``timestamptz``, ``numeric`` and ``jsonb`` columns; staged with ``COPY``; the merge
    holds a ``SHARE ROW EXCLUSIVE`` lock, which two merges cannot hold at once and readers never wait for."""

    database = "PostgreSQL"
    types: ClassVar[dict[str, str]] = {
        "text": "text",
        "time": "timestamptz",
        "decimal": "numeric",
        "json": "jsonb",
    }
    _accepted: ClassVar[dict[str, tuple[str, ...]]] = {
        "text": ("text", "character varying"),
        "time": ("timestamp with time zone",),
        "decimal": ("numeric",),
        "json": ("jsonb",),
    }

    def __init__(self, conn: Any, table: str, *, conn_id: str = "?") -> None:
        super().__init__(conn, table, conn_id=conn_id)
        self._psycopg3 = type(conn).__module__.split(".")[0] == "psycopg"
        conn.autocommit = True  # each staged batch on its own; the merge opens its transaction

    def quote(self, identifier: str) -> str:
        if self._psycopg3:
            from psycopg import sql

            return str(sql.Identifier(identifier).as_string(self.conn))
        from psycopg2.extensions import quote_ident

        return str(quote_ident(identifier, self.conn))

    def existing_columns(self) -> dict[str, str] | None:
        cur = self.conn.cursor()
        cur.execute("SELECT to_regclass(%s)::oid", (self.target,))
        (oid,) = cur.fetchone()
        if oid is None:
            return None
        cur.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped",
            (oid,),
        )
        return {name: declared for name, declared in cur.fetchall()}

    def accepts(self, kind: str, declared: str) -> bool:
        return declared.split("(")[0].strip().lower() in self._accepted[kind]

    def check_can_create(self) -> None:
        cur = self.conn.cursor()
        if self.schema is not None:
            cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,))
            if cur.fetchone() is None:
                raise TableError(
                    f"OrdersToSqlOperator: the {self.describe()} cannot be created: schema "
                    f"{self.schema!r} does not exist in this database. Create it (CREATE SCHEMA "
                    f"{self.quote(self.schema)}) or name a table in an existing schema"
                )

    def create_staging(self) -> None:
        columns = ", ".join(f"{self.quote(c.name)} {self.types[c.kind]}" for c in STAGED)
        self.conn.cursor().execute(f"CREATE TEMPORARY TABLE {self.staged_table} (seq bigserial, {columns})")
        self._staging_made = True

    def analyze_staging_sql(self) -> str:
        # The key's statistics alone: what the plans of the merge and of gathering lines depend on
        # (statistics of every column, the JSON documents' included, took longer than the COPY's end).
        return f"ANALYZE {self.staged_table} ({self.quote('vendor')}, {self.quote('id')}, seq)"

    def prepare_merge(self) -> None:
        """Statistics only: the merge's joins are hashed, and need no index on the staging table (unless
        gathering lines built one)."""
        if not self._staging_indexed:
            self.conn.cursor().execute(self.analyze_staging_sql())

    def copy_statement(self) -> str:
        names = ", ".join(self.quote(c.name) for c in STAGED)
        return f"COPY {self.staged_table} ({names}) FROM STDIN WITH (FORMAT csv)"

    def csv_text(self, orders: Sequence[Order]) -> str:
        return "".join(",".join(map(csv_field, self.row(o))) + "\n" for o in orders)

    def write_batch(self, orders: Sequence[Order]) -> None:
        cur = self.conn.cursor()
        if self._psycopg3:
            with cur.copy(self.copy_statement()) as copy:
                copy.write(self.csv_text(orders))
        else:
            import io

            cur.copy_expert(self.copy_statement(), io.StringIO(self.csv_text(orders)))

    @contextlib.contextmanager
    def staging_stream(self) -> Iterator[Callable[[Sequence[Order]], None]]:
        """With psycopg 3, one ``COPY`` for the whole listing: each batch is sent as it is listed, and
        PostgreSQL stores it while the next page is read (a ``COPY`` per batch waited for the server
        at each batch's end: 40% of a 100,000-order load). An error ends the ``COPY`` (its rows are
        not kept) and the staging table goes with the run. psycopg2 reads a ``COPY``'s data from a
        file: a batch each."""
        if not self._psycopg3:
            yield self._staged_batch
            return
        with self.conn.cursor().copy(self.copy_statement()) as copy:
            yield lambda orders: copy.write(self.csv_text(orders))

    def begin(self) -> None:
        self.conn.autocommit = False

    def commit(self) -> None:
        self.conn.commit()
        self.conn.autocommit = True

    def rollback(self) -> None:
        self.conn.rollback()
        self.conn.autocommit = True

    def after_transaction(self) -> None:
        if not self.conn.autocommit:
            self.conn.rollback()
            self.conn.autocommit = True

    def time_param(self, value: datetime) -> Any:
        return value

    def before_merge(self, cur: Any) -> None:
        cur.execute(f"LOCK TABLE {self.target} IN SHARE ROW EXCLUSIVE MODE")


class SqliteOrdersTable(OrdersTable):
    """SQLite: every column in its text form (ISO 8601 times, exact decimal text, JSON with sorted
    keys), so that nothing is rounded by a numeric affinity; staged with ``executemany``; the merge is one
    ``BEGIN IMMEDIATE`` transaction (readers keep the last committed state until it commits)."""

    database = "SQLite"
    types: ClassVar[dict[str, str]] = {"text": "TEXT", "time": "TEXT", "decimal": "TEXT", "json": "TEXT"}
    placeholder = "?"
    distinct = "{a} IS NOT {b}"
    #: UPDATE ... FROM arrived in SQLite 3.33.0.
    MINIMUM_VERSION = (3, 33, 0)

    def __init__(self, conn: Any, table: str, *, conn_id: str = "?") -> None:
        import sqlite3

        super().__init__(conn, table, conn_id=conn_id)
        if sqlite3.sqlite_version_info < self.MINIMUM_VERSION:
            raise TableError(
                f"OrdersToSqlOperator: SQLite {sqlite3.sqlite_version} has no UPDATE ... FROM, which the "
                "merge needs: use a Python whose sqlite3 module is built on SQLite 3.33.0 or later"
            )
        conn.isolation_level = None  # transactions are begun here, explicitly

    def quote(self, identifier: str) -> str:
        # SQLite's rule for a quoted identifier: in double quotes, each double quote doubled.
        return '"' + identifier.replace('"', '""') + '"'

    def existing_columns(self) -> dict[str, str] | None:
        cur = self.conn.cursor()
        cur.execute("SELECT name, type FROM pragma_table_info(?, ?)", (self.name, self.schema or "main"))
        found = {name: declared for name, declared in cur.fetchall()}
        return found or None

    def accepts(self, kind: str, declared: str) -> bool:
        # SQLite's type affinity: a declared type holding CHAR, CLOB or TEXT (and not INT) keeps text as is.
        upper = declared.upper()
        return "INT" not in upper and any(word in upper for word in ("CHAR", "CLOB", "TEXT"))

    def check_can_create(self) -> None:
        if self.schema is None:
            return
        cur = self.conn.cursor()
        cur.execute("SELECT 1 FROM pragma_database_list WHERE name = ?", (self.schema,))
        if cur.fetchone() is None:
            raise TableError(
                f"OrdersToSqlOperator: the {self.describe()} cannot be created: {self.schema!r} is not a "
                "database of this connection (SQLite's schemas are main, temp and attached databases): "
                "name the table without a schema"
            )

    def create_staging(self) -> None:
        columns = ", ".join(f"{self.quote(c.name)} TEXT" for c in STAGED)
        self.conn.execute(f"CREATE TEMP TABLE {self.staged_table} (seq INTEGER PRIMARY KEY, {columns})")
        self._staging_made = True

    def write_batch(self, orders: Sequence[Order]) -> None:
        names = ", ".join(self.quote(c.name) for c in STAGED)
        marks = ", ".join("?" for _ in STAGED)
        self.conn.executemany(
            f"INSERT INTO {self.staged_table} ({names}) VALUES ({marks})", [self.row(o) for o in orders]
        )

    def begin_staging(self) -> None:
        self.conn.execute("BEGIN")  # the temporary table only: no write lock on the database's file

    def begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")


#: The SQL connection types with a strategy here.
TABLES: dict[str, type[OrdersTable]] = {"postgres": PostgresOrdersTable, "sqlite": SqliteOrdersTable}


def orders_table_class(conn_type: str | None, conn_id: str) -> type[OrdersTable]:
    """The strategy for an Airflow connection of type ``conn_type``; :class:`TableError` naming the
    database where there is none."""
    found = TABLES.get(str(conn_type))
    if found is not None:
        return found
    raise TableError(
        f"OrdersToSqlOperator: connection {conn_id!r} is of type {conn_type!r}, and orders are merged into "
        f"{' and '.join(c.database for c in TABLES.values())} only (connection types "
        f"{', '.join(map(repr, TABLES))}): a {conn_type} database has no staging bulk path and merge "
        "statement here. Load into one of those, or write the orders to object storage with "
        "ListOrdersOperator and load them with your database's own bulk loader"
    )


def orders_table_for(conn_type: str | None, conn: Any, table: str, conn_id: str) -> OrdersTable:
    """The orders table ``table`` on the open DB-API connection ``conn`` of a ``conn_type`` connection."""
    return orders_table_class(conn_type, conn_id)(conn, table, conn_id=conn_id)


def text_row(order: Order) -> tuple[str | None, ...]:
    """An order as the staged columns' text forms (ISO 8601 times, the exact decimal, JSON with sorted keys)."""
    return (
        order.vendor,
        order.id,
        order.number,
        order.status.value,
        order.vendor_status,
        None if order.created_at is None else order.created_at.isoformat(),
        None if order.updated_at is None else order.updated_at.isoformat(),
        None if order.total_amount is None else str(order.total_amount),
        order.currency,
        _encode_json(order.raw).decode(),
    )


def csv_field(value: str | None) -> str:
    """A field of PostgreSQL's CSV ``COPY``: NULL unquoted and empty, any text quoted (so an empty string
    stays one)."""
    if value is None:
        return ""
    return '"' + value.replace('"', '""') + '"'


def monotonic_progress(log: Callable[[str], None], every: float = 10.0) -> Callable[[int], None]:
    """A ``progress`` callback for :meth:`OrdersTable.stage` that logs at most every ``every`` seconds."""
    started = last = time.monotonic()

    def progress(staged: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= every:
            last = now
            log(f"{staged} orders staged so far ({staged / (now - started):.0f} orders/s)")

    return progress
