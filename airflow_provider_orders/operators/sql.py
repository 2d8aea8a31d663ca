"""``OrdersToSqlOperator``: a vendor's orders into a SQL table, merged by key, all or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, Asset, AssetAlias, BaseHook, BaseOperator
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_2_PLUS

from airflow_provider_orders.errors import TableError
from airflow_provider_orders.operators.orders import validate_filters_at_parse

if TYPE_CHECKING:
    from airflow_provider_orders.sql.tables import OrdersTable


class OrdersToSqlOperator(BaseOperator):
    """Lists every order matching ``filters`` at the vendor of ``conn_id`` and merges them into ``table``
    of the SQL connection ``sql_conn_id``: one row per ``(vendor, id)``.

    **The table** has the :class:`~airflow_provider_orders.models.Order` fields as typed columns
    (``vendor``, ``id``, ``number``, ``status`` (normalised), ``vendor_status``, ``created_at``,
    ``updated_at``, ``total_amount``, ``currency``, ``raw``) and ``loaded_at``, when the row was last
    written. PostgreSQL gets ``text``, ``timestamptz``, ``numeric`` and ``jsonb``; SQLite the text forms
    (ISO 8601 times, the exact decimal, JSON). It is created with its key ``(vendor, id)`` where missing.
    An existing table with a missing or mistyped column fails the task, naming them, before any vendor
    request.

    **The merge.** New orders are inserted, orders whose values changed are updated, the rest are left
    alone (their ``loaded_at`` too), and rows of orders not in this run's listing stay as they are. The
    orders stream in batches of ``batch_size`` into a temporary staging table (``COPY`` on PostgreSQL,
    ``executemany`` on SQLite), and one transaction merges them: readers see all of a run or none of it.
    A failure at any page leaves the table exactly as it was and no staging table behind. An order the
    listing returns twice (it moved between pages while they were read) is merged once, as last read.

    **Databases**: PostgreSQL (the ``postgres`` extra) and SQLite (the ``sqlite`` extra); any other
    connection type fails before any vendor request, naming the database.

    **Assets and lineage.** The table is the task's outlet Asset, named as Airflow's SQL providers name
    tables (``postgres://host:5432/database/schema/table``; ``sqlite:///path/to/file.db/table``); each run's
    event carries the counts and the vendor. Where the SQL connection cannot be read when the DAG is
    parsed, and on Airflow 3.0 and 3.1 (whose ``dag.test()`` does not register a DAG's outlet Assets), the
    Asset is recorded through an AssetAlias ``orders_sql:<task_id>``. OpenLineage sees the vendor's order
    API as the input and the table as the output.

    :param conn_id: a connection of one of this provider's vendor types. (templated)
    :param filters: the vendor's filters, validated and templated as
        :class:`~airflow_provider_orders.operators.orders.ListOrdersOperator`'s are, for example
        ``{"created_since": "{{ data_interval_start }}", "created_until": "{{ data_interval_end }}"}``.
        (templated)
    :param sql_conn_id: an Airflow ``postgres`` or ``sqlite`` connection. (templated)
    :param table: the table, optionally schema-qualified (``analytics.orders``). Each part is quoted,
        so it is used as written, case included. (templated)
    :param batch_size: orders per staged batch: the most held in memory at once.
    :param asset: the table's Asset (an ``Asset`` or a URI) instead of the one named from the connection.
    :return: the counts of the merge: ``{"inserted": n, "updated": n, "unchanged": n}``.
    """

    template_fields: Sequence[str] = ("conn_id", "filters", "sql_conn_id", "table")
    template_fields_renderers = {"filters": "json"}
    ui_color = "#e8eef8"

    def __init__(
        self,
        *,
        conn_id: str,
        sql_conn_id: str,
        filters: dict[str, Any] | None = None,
        table: str = "orders",
        batch_size: int = 5000,
        asset: Any = None,
        **kwargs: Any,
    ) -> None:
        if batch_size < 1:
            raise AirflowException("OrdersToSqlOperator: batch_size must be 1 or more")
        if not table or not str(table).strip():
            raise AirflowException(
                "OrdersToSqlOperator: table is empty: name the table, for example 'orders'"
            )
        outlet = _outlet(sql_conn_id, table, asset, kwargs.get("task_id"))
        self._table_via_alias = isinstance(outlet, AssetAlias)
        kwargs.setdefault("outlets", [outlet])
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.sql_conn_id = sql_conn_id
        self.filters = dict(filters or {})
        self.table = table
        self.batch_size = batch_size
        validate_filters_at_parse(self.task_id, self.conn_id, self.filters)

    def execute(self, context: Any) -> dict[str, int]:
        from contextlib import closing

        from airflow_provider_orders.boundary import airflow_errors
        from airflow_provider_orders.hooks.resolve import get_orders_hook
        from airflow_provider_orders.operators.orders import listing_facts
        from airflow_provider_orders.sql.tables import monotonic_progress

        with airflow_errors():
            hook = get_orders_hook(self.conn_id)
            filters = hook.validate_filters(self.filters)
            sql_hook, sql_conn, table_class = _sql_hook(self.sql_conn_id)
            self._lineage = listing_facts(hook, filters)
            with closing(sql_hook.get_conn()) as conn:
                table = table_class(conn, self.table, conn_id=self.sql_conn_id)
                existed = table.check()  # before any vendor request
                self.log.info(
                    "Loading %s orders from connection %r into the %s%s",
                    hook.vendor_class.display_name,
                    self.conn_id,
                    table.describe(),
                    "" if existed else ", created with the first merge",
                )
                try:
                    staged = table.stage(
                        hook.iter_orders(filters),
                        batch_size=self.batch_size,
                        progress=monotonic_progress(self.log.info),
                    )
                    if hook.vendor_class.lists_order_lines:  # Crayon lists order lines: one row per order
                        combined = table.combine_lines(hook.vendor.combine_lines)
                        self.log.info("Gathered the lines of %d orders with more than one line", combined)
                    self.log.info(
                        "Staged %d orders; merging them into %s in one transaction", staged, self.table
                    )
                    counts = table.merge(datetime.now(timezone.utc))
                finally:
                    table.drop_staging()
                uri = _table_uri(sql_conn, table)
        result = counts.as_dict()
        self.log.info(
            "%s: %d inserted, %d updated, %d unchanged", self.table, counts.inserted, counts.updated,
            counts.unchanged,
        )  # fmt: skip
        self._lineage.update(table_uri=uri, count=staged)
        self._record_asset(context, uri, {**result, "vendor": hook.conn_type})
        return result

    def _record_asset(self, context: Any, uri: str | None, extra: dict[str, Any]) -> None:
        events = context.get("outlet_events") if hasattr(context, "get") else None
        if events is None:
            return
        for outlet in self.outlets:
            if isinstance(outlet, AssetAlias) and self._table_via_alias and uri is not None:
                events[outlet].add(Asset(uri), extra=extra)
            elif isinstance(outlet, Asset):
                events[outlet].extra = extra

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the vendor's order API and scope as the input, the table (with the number of
        orders merged) as the output, named as Airflow's SQL providers name tables."""
        from airflow.providers.common.compat.openlineage.facet import (
            Dataset,
            OutputDataset,
            OutputStatisticsOutputDatasetFacet,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage

        facts = getattr(self, "_lineage", None)
        if facts is None:
            return OperatorLineage()
        inputs = [Dataset(namespace=facts["namespace"], name=facts["name"])]
        outputs = []
        named = _openlineage_name(facts.get("table_uri"))
        if named is not None:
            statistics = OutputStatisticsOutputDatasetFacet(rowCount=facts["count"])
            outputs.append(OutputDataset(namespace=named[0], name=named[1],
                                         outputFacets={"outputStatistics": statistics}))  # fmt: skip
        return OperatorLineage(inputs=inputs, outputs=outputs)


def _sql_hook(sql_conn_id: str) -> tuple[Any, Any, type[OrdersTable]]:
    """The SQL hook of ``sql_conn_id`` (common-sql's ``DbApiHook``), the connection it read, and the orders
    table strategy for its type; a :class:`TableError` naming the database where it has no strategy here
    or its provider is missing."""
    from airflow_provider_orders.hooks.resolve import _missing_connection
    from airflow_provider_orders.sql.tables import orders_table_class

    with _missing_connection(sql_conn_id):
        conn = BaseHook.get_connection(sql_conn_id)
    table_class = orders_table_class(conn.conn_type, sql_conn_id)
    try:
        sql_hook = conn.get_hook()
    except Exception as exc:
        extra = {"postgres": "postgres", "sqlite": "sqlite"}.get(str(conn.conn_type))
        hint = f" (pip install 'airflow-provider-orders[{extra}]')" if extra else ""
        raise TableError(
            f"OrdersToSqlOperator: connection {sql_conn_id!r} of type {conn.conn_type!r} has no hook here: "
            f"{type(exc).__name__}: {exc}{hint}"
        ) from None
    if not hasattr(sql_hook, "get_conn"):
        raise TableError(
            f"OrdersToSqlOperator: connection {sql_conn_id!r} of type {conn.conn_type!r} is not a SQL "
            "database: name a postgres or sqlite connection"
        )
    return sql_hook, conn, table_class


def _outlet(sql_conn_id: str, table: str, asset: Any, task_id: str | None) -> Any:
    """The table's Asset when it can be named now; else the AssetAlias the run records it through."""
    if isinstance(asset, Asset):
        return asset
    if asset is not None:
        return Asset(str(asset))
    alias = AssetAlias(f"orders_sql:{task_id or 'orders_to_sql'}")
    if not AIRFLOW_V_3_2_PLUS or "{{" in f"{sql_conn_id}{table}":
        return alias
    try:
        conn = BaseHook.get_connection(sql_conn_id)
    except Exception:
        return alias
    uri = _uri_of(conn.conn_type, conn, table, default_schema="public")
    return Asset(uri) if uri is not None else alias


def _table_uri(conn: Any, table: OrdersTable) -> str | None:
    """The table's URI for its Asset, from the connection the run used (already read)."""
    schema = table.schema
    if schema is None and conn.conn_type == "postgres":
        cur = table.conn.cursor()
        cur.execute("SELECT current_schema()")
        (schema,) = cur.fetchone()
    return _uri_of(conn.conn_type, conn, f"{schema}.{table.name}" if schema else table.name, "public")


def _uri_of(conn_type: str | None, conn: Any, table: str, default_schema: str) -> str | None:
    from urllib.parse import quote

    schema, _, name = table.rpartition(".")
    if conn_type == "postgres":
        host = conn.host or "localhost"
        database = conn.schema or "postgres"
        parts = (database, schema or default_schema, name)
        return f"postgres://{host}:{conn.port or 5432}/" + "/".join(quote(p, safe="") for p in parts)
    if conn_type == "sqlite":
        import os

        path = os.path.abspath(conn.host or "")
        return f"sqlite://{quote(path)}/{quote(name, safe='')}"
    return None


def _openlineage_name(uri: str | None) -> tuple[str, str] | None:
    """OpenLineage's namespace and name of a table URI: ``postgres://host:port`` and
    ``database.schema.table``, as the postgres provider converts its Assets; a SQLite file and its table."""
    if uri is None:
        return None
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(uri)
    if parts.scheme == "postgres":
        database, schema, name = (unquote(p) for p in parts.path.lstrip("/").split("/"))
        return f"postgres://{parts.netloc}", f"{database}.{schema}.{name}"
    path, _, name = unquote(parts.path).rpartition("/")
    return f"sqlite://{path}", unquote(name)
