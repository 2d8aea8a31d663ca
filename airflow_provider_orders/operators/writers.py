"""Streaming writers for ``ListOrdersOperator``: one order in, bytes out, constant memory."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import IO, Any

from airflow_provider_orders.models import Order

FORMATS = ("jsonl", "csv", "parquet")
CSV_COLUMNS = (
    "vendor", "id", "number", "status", "vendor_status", "created_at", "updated_at", "total_amount", "currency",
)  # fmt: skip


class OrderWriter:
    """Writes orders to a binary file object; ``close()`` flushes what is buffered (not the file)."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.count = 0

    def write(self, order: Order) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Flush anything buffered."""


class JsonLinesWriter(OrderWriter):
    """One ``Order`` as JSON per line, ``raw`` included."""

    def write(self, order: Order) -> None:
        self.out.write(order.model_dump_json().encode())
        self.out.write(b"\n")
        self.count += 1


#: What a spreadsheet reads as the start of a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$")


def neutralise(cell: str) -> str:
    """``cell`` made inert for spreadsheets: a leading ``'`` where it would start a formula (not numbers)."""
    if cell.startswith(FORMULA_STARTS) and not NUMBER.match(cell):
        return "'" + cell
    return cell


class CsvWriter(OrderWriter):
    """The normalised fields, one row per order, with a header; times in ISO-8601 UTC.

    :param escape_formulas: prefix ``'`` to a cell that starts with ``= + - @``, a tab or a CR (numbers
        such as ``-12.50`` excepted), so that a vendor's text cannot run as a formula when the file is
        opened in a spreadsheet. Turn it off for readers that want the values untouched.
    """

    def __init__(self, out: IO[bytes], *, escape_formulas: bool = True) -> None:
        super().__init__(out)
        self.escape_formulas = escape_formulas
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, lineterminator="\n")
        self._csv.writerow(CSV_COLUMNS)
        self._flush()

    def _flush(self) -> None:
        self.out.write(self._buffer.getvalue().encode())
        self._buffer.seek(0)
        self._buffer.truncate()

    def write(self, order: Order) -> None:
        data = order.model_dump(mode="json", exclude={"raw"})
        cells = ["" if data[c] is None else str(data[c]) for c in CSV_COLUMNS]
        if self.escape_formulas:
            cells = [neutralise(cell) for cell in cells]
        self._csv.writerow(cells)
        self.count += 1
        if self.count % 1000 == 0:
            self._flush()

    def close(self) -> None:
        self._flush()


class ParquetWriter(OrderWriter):
    """Parquet (the ``parquet`` extra, pyarrow): row groups of ``row_group_size`` orders; ``raw`` as JSON."""

    def __init__(self, out: IO[bytes], row_group_size: int = 10_000) -> None:
        super().__init__(out)
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise ImportError(
                "format='parquet' needs pyarrow: pip install 'airflow-provider-orders[parquet]'"
            ) from None
        self._pa = pa
        self.schema = pa.schema(
            [
                ("vendor", pa.string()), ("id", pa.string()), ("number", pa.string()), ("status", pa.string()),
                ("vendor_status", pa.string()), ("created_at", pa.timestamp("us", tz="UTC")),
                ("updated_at", pa.timestamp("us", tz="UTC")), ("total_amount", pa.string()),
                ("currency", pa.string()), ("raw", pa.string()),
            ]
        )  # fmt: skip
        self._writer = pq.ParquetWriter(out, self.schema)
        self._rows: list[dict[str, Any]] = []
        self.row_group_size = row_group_size

    def write(self, order: Order) -> None:
        self._rows.append(
            {
                "vendor": order.vendor, "id": order.id, "number": order.number, "status": order.status.value,
                "vendor_status": order.vendor_status, "created_at": order.created_at,
                "updated_at": order.updated_at,
                "total_amount": str(order.total_amount) if order.total_amount is not None else None,
                "currency": order.currency, "raw": json.dumps(order.raw, default=str),
            }
        )  # fmt: skip
        self.count += 1
        if len(self._rows) >= self.row_group_size:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._writer.write_table(self._pa.Table.from_pylist(self._rows, schema=self.schema))
            self._rows = []

    def close(self) -> None:
        self._flush()
        self._writer.close()


def writer_for(fmt: str, out: IO[bytes], *, escape_formulas: bool = True) -> OrderWriter:
    if fmt == "jsonl":
        return JsonLinesWriter(out)
    if fmt == "csv":
        return CsvWriter(out, escape_formulas=escape_formulas)
    if fmt == "parquet":
        return ParquetWriter(out)
    raise ValueError(f"format {fmt!r} is not one of {FORMATS}")
