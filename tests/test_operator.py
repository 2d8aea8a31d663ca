"""ListOrdersOperator: XCom, file:// and s3:// output, atomic writes, validation, bad input."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_orders.boundary import OrdersTaskFailed
from airflow_provider_orders.operators.orders import ListOrdersOperator
from airflow_provider_orders.sandbox import Sandbox
from tests.conftest import AIRFLOW_RELEASE, ORDERS, control, expected_id_list, expected_ids

pytestmark = pytest.mark.integration


class FakeOutletEvents(dict):
    """Stands in for Airflow's outlet-event accessors in a bare ``execute`` call.

    Keyed like Airflow's own accessors, by the asset's kind and name: an ``Asset`` is not hashable on
    every Airflow 3 release.
    """

    def __getitem__(self, key: Any) -> Any:
        ident = (type(key).__name__, key.name)
        if ident not in self.keys():
            accessor = type("Accessor", (), {"extra": None, "added": []})()
            accessor.add = lambda asset, extra=None: accessor.added.append((asset.uri, extra))
            super().__setitem__(ident, accessor)
        return super().__getitem__(ident)


def dataset_uri(op: ListOrdersOperator) -> str:
    """The URI of the Asset ``op`` records: its outlet, or on Airflow 3.0 and 3.1 the one its alias names."""
    (outlet,) = op.outlets
    if type(outlet).__name__ == "AssetAlias":
        assert AIRFLOW_RELEASE < (3, 2) and outlet.name == f"orders:{op.task_id}"
        return op._dataset_via_alias or ""
    return outlet.uri


def recorded(op: ListOrdersOperator, ctx: dict[str, Any]) -> tuple[str, Any, set[str]]:
    """The Asset URI of the one event ``op`` recorded, its extra and its partition keys, as each release
    records it (an outlet Asset's event; an alias's event on 3.0 and 3.1)."""
    (outlet,) = op.outlets
    accessor = ctx["outlet_events"][outlet]
    if type(outlet).__name__ == "AssetAlias":
        ((uri, extra),) = accessor.added
        return uri, extra, set()
    assert accessor.added == []  # no Asset per file
    return outlet.uri, accessor.extra, getattr(accessor, "partition_keys", set())


def run(op: ListOrdersOperator, context: dict[str, Any] | None = None) -> Any:
    ctx: dict[str, Any] = {"outlet_events": FakeOutletEvents(), **(context or {})}
    op.render_template_fields(ctx)
    return op.execute(ctx), ctx


def test_without_output_path_orders_go_to_xcom_as_json(sbx: Sandbox) -> None:
    op = ListOrdersOperator(task_id="t", conn_id="fleetio_default", filters={"status": "completed"})
    result, _ = run(op)
    keep = lambda rec, store, i: store.state(i) in ("received_full", "closed")
    assert {o["id"] for o in result} == expected_ids(sbx, "fleetio", keep=keep)
    assert all(set(o) >= {"vendor", "id", "status", "vendor_status", "created_at", "raw"} for o in result)
    json.dumps(result)  # JSON-safe as XCom needs


def test_more_orders_than_max_xcom_orders_fails_and_says_to_set_output_path(sbx: Sandbox) -> None:
    op = ListOrdersOperator(task_id="t", conn_id="emnify_default", max_xcom_orders=100)
    with pytest.raises(
        AirflowException, match=r"more than max_xcom_orders=100 orders match.*set output_path"
    ):
        run(op)


@pytest.mark.parametrize(
    "vendor", ["crayon", "adobe_vip_marketplace", "granite_access_express", "emnify", "fleetio"]
)
def test_jsonl_file_holds_every_order_once(sbx: Sandbox, tmp_path: Path, vendor: str) -> None:
    scope = {"crayon": {"customer_tenant_id": 1001}, "adobe_vip_marketplace": {"customer_id": "1005000001"}}
    target = tmp_path / "out" / f"{vendor}.jsonl"
    op = ListOrdersOperator(task_id="t", conn_id=f"{vendor}_default", filters=scope.get(vendor, {}),
                            output_path=f"file://{target}")  # fmt: skip
    result, ctx = run(op)
    lines = target.read_text().splitlines()
    assert len(lines) == ORDERS
    ids = [json.loads(line)["id"] for line in lines]
    key = {"crayon": "1001", "adobe_vip_marketplace": "1005000001"}.get(vendor, "")
    assert sorted(ids) == expected_id_list(sbx, vendor, key)
    assert result == {"uri": f"file://{target}", "count": ORDERS, "format": "jsonl", "vendor": vendor}
    assert list(target.parent.iterdir()) == [target]  # no temporary file left beside it
    assert recorded(op, ctx)[:2] == (f"file://{target}", {"count": ORDERS, "format": "jsonl", "vendor": vendor,
                                                          "window": None, "uri": f"file://{target}"})  # fmt: skip


def test_csv_holds_the_normalised_fields(sbx: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "orders.csv"
    op = ListOrdersOperator(task_id="t", conn_id="fleetio_default", filters={"max_orders": 3}, format="csv",
                            output_path=str(target))  # fmt: skip
    run(op)
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [r["id"] for r in rows] == ["1", "2", "3"]
    first = rows[0]
    app = sbx.apps["fleetio"]
    record = app.record(app.orders(""), 0)
    assert first["vendor"] == "fleetio" and first["vendor_status"] == record["state"]
    assert first["total_amount"] == f"{record['total_amount_cents'] / 100:.2f}"
    assert first["created_at"].endswith("Z")


def test_parquet_holds_every_order_with_raw_as_json(sbx: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "orders.parquet"
    op = ListOrdersOperator(
        task_id="t", conn_id="emnify_default", format="parquet", output_path=f"file://{target}"
    )
    run(op)
    table = pq.read_table(target)
    assert table.num_rows == ORDERS
    assert set(table.column("id").to_pylist()) == expected_ids(sbx, "emnify")
    assert json.loads(table.column("raw")[0].as_py())["id"] == int(table.column("id")[0].as_py())


def test_a_failed_listing_leaves_no_file_where_readers_look(sbx: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "orders.jsonl"
    target.write_text("yesterday's complete file\n")
    control(sbx, "/faults", {"vendor": "emnify", "kind": "status", "status": 400, "on_request": 3})
    op = ListOrdersOperator(
        task_id="t", conn_id="emnify_default", filters={"page_size": 20}, output_path=str(target)
    )
    with pytest.raises(OrdersTaskFailed) as info:
        run(op)
    assert "HTTP 400" in str(info.value.__cause__)
    assert target.read_text() == "yesterday's complete file\n"  # untouched
    assert list(tmp_path.iterdir()) == [target]  # and the partial temporary file is gone


def test_templated_filters_are_rendered_then_validated(sbx: Sandbox, tmp_path: Path) -> None:
    from airflow_provider_orders.sandbox.store import ANCHOR, STEP

    op = ListOrdersOperator(
        task_id="t", conn_id="emnify_default",
        filters={"created_since": "{{ data_interval_start }}", "created_until": "{{ data_interval_end }}"},
    )  # fmt: skip
    start, end = ANCHOR - STEP * 30, ANCHOR - STEP * 10
    result, _ = run(op, {"data_interval_start": start, "data_interval_end": end})
    keep = lambda rec, store, i: start <= store.created(i) < end
    assert {o["id"] for o in result} == expected_ids(sbx, "emnify", keep=keep)
    assert len(result) == 20


def test_an_unknown_filter_fails_the_dag_parse(sbx: Sandbox) -> None:
    with pytest.raises(AirflowException, match=r"crayon.*unknown filter 'customer_id'"):
        ListOrdersOperator(
            task_id="t", conn_id="crayon_default", filters={"customer_tenant_id": 1, "customer_id": 2}
        )


def test_an_unknown_filter_after_templating_fails_the_task_before_any_request(sbx: Sandbox) -> None:
    op = ListOrdersOperator(task_id="t", conn_id="{{ params.conn }}", filters={"colour": "red"})
    with pytest.raises(OrdersTaskFailed) as info:
        run(op, {"params": {"conn": "fleetio_default"}})
    assert "unknown filter 'colour'" in str(info.value.__cause__)
    assert control(sbx, "/requests") == []


def test_an_unknown_connection_type_is_a_clear_error(sbx: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_MY_HTTP", json.dumps({"conn_type": "http", "host": "http://127.0.0.1:9"})
    )
    with pytest.raises(
        AirflowException, match=r"type 'http', which this provider does not serve; use one of"
    ):
        ListOrdersOperator(task_id="t", conn_id="my_http")  # at DAG parse, when the connection is known
    op = ListOrdersOperator(task_id="t", conn_id="{{ params.conn }}")
    with pytest.raises(OrdersTaskFailed) as info:
        run(op, {"params": {"conn": "my_http"}})  # or when the task runs
    assert "type 'http', which this provider does not serve; use one of" in str(info.value.__cause__)


def test_an_output_scheme_without_a_filesystem_is_a_clear_error() -> None:
    with pytest.raises(AirflowException, match=r"needs a filesystem for 'gcs://' that is not installed"):
        ListOrdersOperator(task_id="t", conn_id="crayon_default", output_path="gcs://bucket/orders.jsonl")


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(AirflowException, match=r"format 'xml' is not one of"):
        ListOrdersOperator(task_id="t", conn_id="crayon_default", format="xml")


class PartitionedOutletEvents(FakeOutletEvents):
    """Airflow 3.3's accessors: an asset's accessor also takes partition keys."""

    def __getitem__(self, key: Any) -> Any:
        accessor = super().__getitem__(key)
        if not hasattr(accessor, "partition_keys"):
            accessor.partition_keys = set()
            accessor.add_partitions = lambda keys: accessor.partition_keys.update(
                [keys] if isinstance(keys, str) else keys
            )
        return accessor


@pytest.mark.parametrize(
    ("output_path", "dataset"),
    [
        ("{tmp}/export/{{{{ ds }}}}/fleetio.jsonl", "{tmp}/export/fleetio.jsonl"),
        ("{tmp}/export/fleetio/{{{{ data_interval_start | ds }}}}.jsonl", "{tmp}/export/fleetio.jsonl"),
        ("{tmp}/export/orders_{{{{ ds_nodash }}}}.jsonl", "{tmp}/export/orders.jsonl"),
    ],
)
def test_a_templated_output_path_is_one_asset_with_an_event_per_run(
    sbx: Sandbox, tmp_path: Path, output_path: str, dataset: str
) -> None:
    """One Asset per dataset (the location without the run's window), known when the DAG is parsed; each
    run's event names the file, the window, and (Airflow 3.3+) the window's start as its partition."""

    def operator() -> ListOrdersOperator:  # each task instance renders a copy of its own
        return ListOrdersOperator(task_id="t", conn_id="fleetio_default", output_path="file://" + output_path.format(tmp=tmp_path),
                                  filters={"max_orders": 2, "created_since": "{{ data_interval_start }}",
                                           "created_until": "{{ data_interval_end }}"})  # fmt: skip

    want = "file://" + dataset.format(tmp=tmp_path)
    assert dataset_uri(operator()) == want
    for day in ("2025-12-30", "2025-12-31"):
        start = datetime.fromisoformat(f"{day}T00:00:00+00:00")
        end = start + timedelta(days=1)
        context = {"ds": day, "ds_nodash": day.replace("-", ""), "data_interval_start": start,
                   "data_interval_end": end, "outlet_events": PartitionedOutletEvents()}  # fmt: skip
        op = operator()
        result, ctx = run(op, context)
        window = f"{day}T00:00:00Z/{end.date()}T00:00:00Z"
        uri, extra, partitions = recorded(op, ctx)
        assert (uri, extra) == (want, {"count": 2, "format": "jsonl", "vendor": "fleetio", "window": window,
                                       "uri": result["uri"]})  # fmt: skip
        assert partitions == ({f"{day}T00:00:00"} if AIRFLOW_RELEASE >= (3, 2) else set())
        assert day in result["uri"] or day.replace("-", "") in result["uri"]
        assert Path(result["uri"].removeprefix("file://")).read_text().count("\n") == 2


def test_a_partitioned_runs_own_key_stands(sbx: Sandbox, tmp_path: Path) -> None:
    op = ListOrdersOperator(task_id="t", conn_id="fleetio_default", output_path=f"file://{tmp_path}/o.jsonl",
                            filters={"max_orders": 1, "created_since": "2025-12-30T00:00:00Z"})  # fmt: skip
    dag_run = type("DagRun", (), {"partition_key": "2025-12-30"})()
    _, ctx = run(op, {"outlet_events": PartitionedOutletEvents(), "dag_run": dag_run})
    _, extra, partitions = recorded(op, ctx)
    assert partitions == set()  # Airflow gives the event the run's key
    assert extra["window"] == "2025-12-30T00:00:00Z/.."


def test_asset_alias_records_an_asset_per_file_as_before(sbx: Sandbox, tmp_path: Path) -> None:
    op = ListOrdersOperator(task_id="t", conn_id="fleetio_default", output_path=f"file://{tmp_path}/{{{{ ds }}}}.jsonl",
                            filters={"max_orders": 2, "created_since": "2025-12-30T00:00:00Z"},
                            asset_alias="orders:t")  # fmt: skip
    (alias,) = op.outlets
    assert alias.name == "orders:t"
    _, ctx = run(op, {"ds": "2026-01-01"})
    window = "2025-12-30T00:00:00Z/.."  # ISO 8601: open at the end
    assert ctx["outlet_events"][alias].added == [
        (
            f"file://{tmp_path}/2026-01-01.jsonl",
            {"count": 2, "format": "jsonl", "vendor": "fleetio", "window": window},
        )
    ]


def test_an_asset_is_named_when_the_bucket_is_templated() -> None:
    with pytest.raises(AirflowException, match=r"template in its bucket or host.*pass asset="):
        ListOrdersOperator(
            task_id="t", conn_id="crayon_default", output_path="s3://{{ var.value.b }}/o.jsonl"
        )
    op = ListOrdersOperator(task_id="t", conn_id="crayon_default", output_path="s3://{{ var.value.b }}/o.jsonl",
                            asset="s3://orders-bucket/o.jsonl")  # fmt: skip
    assert dataset_uri(op) == "s3://orders-bucket/o.jsonl"
