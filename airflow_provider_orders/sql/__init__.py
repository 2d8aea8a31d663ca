"""Orders into SQL tables: one small strategy per database (create, check, stage, merge), chosen by the
connection, as common-sql chooses a dialect. :class:`~airflow_provider_orders.operators.sql.OrdersToSqlOperator`
is the Airflow face."""

from airflow_provider_orders.sql.tables import (
    COLUMNS,
    MergeCounts,
    OrdersTable,
    PostgresOrdersTable,
    SqliteOrdersTable,
    TableError,
    orders_table_for,
)

__all__ = [
    "COLUMNS",
    "MergeCounts",
    "OrdersTable",
    "PostgresOrdersTable",
    "SqliteOrdersTable",
    "TableError",
    "orders_table_for",
]
