"""Every example DAG runs with dag.test() against the sandbox; its outputs are checked line by line."""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_orders.sandbox import Sandbox, SandboxConfig
from airflow_provider_orders.sandbox.store import ANCHOR
from tests.conftest import (
    AIRFLOW_RELEASE,
    EXAMPLE_DAGS,
    ORDERS,
    expected_id_list,
    needs_dag_test,
    settles_when,
    use_sandbox,
)

pytestmark = [pytest.mark.e2e, needs_dag_test]

SCOPES = {"crayon": "1001", "adobe_vip_marketplace": "1005000001", "granite_access_express": "", "emnify": "",
          "fleetio": ""}  # fmt: skip


def load_dag(name: str, dag_id: str | None = None) -> Any:
    """The DAG of the example file ``name`` (the one named ``dag_id`` where the file has several)."""
    spec = importlib.util.spec_from_file_location(
        f"example_{name}_{time.monotonic_ns()}", f"{EXAMPLE_DAGS}/{name}.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (dag,) = [v for v in vars(module).values()
              if type(v).__name__ == "DAG" and dag_id in (None, v.dag_id)]  # fmt: skip
    return dag


def xcom(run: Any, task_id: str, map_index: int = -1) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        value = session.scalar(
            select(XComModel.value).where(
                XComModel.dag_id == run.dag_id,
                XComModel.run_id == run.run_id,
                XComModel.task_id == task_id,
                XComModel.map_index == map_index,
                XComModel.key == "return_value",
            )
        )
    return json.loads(value) if isinstance(value, str) else value


@pytest.fixture
def fresh_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    # The newest order of each scope stays Processing until a test settles it (``settles_when``).
    with Sandbox(SandboxConfig(orders=ORDERS, live=1, live_delay=36000.0)) as sandbox:
        use_sandbox(sandbox, monkeypatch, granite_access_express_default={"requests_per_minute": 0})
        yield sandbox


def test_daily_export_writes_each_vendors_orders_of_the_interval(
    airflow_db: str, fresh_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERS_EXPORT_BASE", f"file://{tmp_path}")
    dag = load_dag("orders_daily_export")
    run = dag.test(logical_date=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert run.state == "success"
    start, end = datetime(2025, 12, 31, tzinfo=timezone.utc), ANCHOR
    for vendor, scope in SCOPES.items():
        path = tmp_path / "2025-12-31" / f"{vendor}.jsonl"
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        app = fresh_sandbox.apps[vendor]
        store = app.orders(scope)
        want = sorted(app.order_id(app.record(store, i)) for i in range(store.size)
                      if start <= store.created(order_start(vendor, app, store, i)) < end)  # fmt: skip
        assert sorted(o["id"] for o in lines) == want, vendor
        # Orders of 2025-12-31 (Crayon: their lines); the one at exactly 2026-01-01T00:00 is the next day's.
        assert len(want) == 205 if vendor != "crayon" else 200 <= len(want) <= 210
        assert all(start.isoformat().replace("+00:00", "Z") <= o["created_at"] < "2026-01-01" for o in lines)
        result = xcom(run, f"export_{vendor}")
        assert result == {"uri": f"file://{path}", "count": len(want), "format": "jsonl", "vendor": vendor}


def test_daily_export_run_today_writes_each_vendors_orders_of_yesterday(
    airflow_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A newcomer's first run: a sandbox of today (no pinned date) and the export run now, as the UI's
    trigger does. The run's interval is yesterday; every vendor has orders in it."""
    monkeypatch.delenv("ORDERS_SANDBOX_AS_OF")
    monkeypatch.setenv("ORDERS_EXPORT_BASE", f"file://{tmp_path}")
    with Sandbox(SandboxConfig(live=1, live_delay=36000.0)) as sandbox:  # the default size
        use_sandbox(sandbox, monkeypatch, granite_access_express_default={"requests_per_minute": 0})
        run = load_dag("orders_daily_export").test()
    assert run.state == "success"
    start, end = run.data_interval_start, run.data_interval_end
    assert end - start == timedelta(days=1) and end <= datetime.now(timezone.utc)
    for vendor, scope in SCOPES.items():
        path = tmp_path / start.date().isoformat() / f"{vendor}.jsonl"
        app = sandbox.apps[vendor]
        store = app.orders(scope)
        want = sorted(app.order_id(app.record(store, i)) for i in range(store.size)
                      if start <= store.created(order_start(vendor, app, store, i)) < end)  # fmt: skip
        assert want, vendor  # 250 orders 7 minutes apart up to now always reach into yesterday
        assert sorted(json.loads(line)["id"] for line in path.read_text().splitlines()) == want, vendor


def order_start(vendor: str, app: Any, store: Any, i: int) -> int:
    """The record that starts record ``i``'s order: itself, except for later lines of a Crayon order."""
    return app._order_start(store, i) if vendor == "crayon" else i


def test_three_daily_runs_make_one_asset_per_vendor_dataset_with_an_event_each(
    airflow_db: str, fresh_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One Asset per vendor (the location without the day) and one event per run on it, whose extra holds
    the file, the count and the window; on Airflow 3.3+ the event's partition is the day."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    monkeypatch.setenv("ORDERS_EXPORT_BASE", f"file://{tmp_path}")
    days = [datetime(2025, 12, 30, tzinfo=timezone.utc) + timedelta(days=n) for n in range(3)]
    runs = []
    for day in days:
        run = load_dag("orders_daily_export").test(logical_date=day + timedelta(days=1))
        assert run.state == "success"
        runs.append(run.run_id)
    with create_session() as session:
        assets = {
            a.uri: a
            for a in session.scalars(select(AssetModel).where(AssetModel.uri.like(f"file://{tmp_path}%")))
        }
        # One per vendor dataset, none per file (dag.test() also registers the other example DAGs' assets).
        assert {f"file://{tmp_path}/{vendor}.jsonl" for vendor in SCOPES} <= set(assets)
        assert [uri for uri in assets if "/2025-12-" in uri or "/2026-01-" in uri] == []
        for vendor in SCOPES:
            events = session.scalars(
                select(AssetEvent).where(AssetEvent.asset_id == assets[f"file://{tmp_path}/{vendor}.jsonl"].id)
                .order_by(AssetEvent.id)
            ).all()  # fmt: skip
            assert [e.source_run_id for e in events] == runs, vendor
            for event, day in zip(events, days, strict=True):
                start, end = (d.strftime("%Y-%m-%dT%H:%M:%SZ") for d in (day, day + timedelta(days=1)))
                path = tmp_path / day.date().isoformat() / f"{vendor}.jsonl"
                count = len(path.read_text().splitlines())
                assert event.extra == {"count": count, "format": "jsonl", "vendor": vendor,
                                       "window": f"{start}/{end}", "uri": f"file://{path}"}  # fmt: skip
                partition = getattr(event, "partition_key", None)
                assert partition == (day.strftime("%Y-%m-%dT%H:%M:%S") if AIRFLOW_RELEASE >= (3, 3) else None)


def test_daily_export_to_s3(
    airflow_db: str, fresh_sandbox: Sandbox, s3_bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, bucket = s3_bucket
    monkeypatch.setenv("ORDERS_EXPORT_BASE", f"s3://aws_test@{bucket}/orders")
    run = load_dag("orders_daily_export").test(logical_date=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert run.state == "success"
    listed = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"])
    assert listed == [f"orders/2025-12-31/{v}.jsonl" for v in sorted(SCOPES)]
    body = client.get_object(Bucket=bucket, Key="orders/2025-12-31/emnify.jsonl")["Body"].read().decode()
    assert len(body.splitlines()) == 205


def test_place_and_wait_defers_until_the_order_completes(
    airflow_db: str, fresh_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERS_EXPORT_BASE", f"file://{tmp_path}")
    dag = load_dag("orders_place_and_wait")
    fresh_sandbox.reset()
    app = fresh_sandbox.apps["crayon"]
    newest = app.order_id(app.record(app.orders("1001"), ORDERS - 1))

    def trigger_has_polled(answered: list[dict[str, Any]]) -> bool:  # a listing, not only its token
        return any(
            r["headers"]["user-agent"].startswith("python-httpx") and "token" not in r["path"]
            for r in answered
        )

    # Processing until the trigger has seen it so: the sensor defers, then the trigger sees it complete.
    with settles_when(fresh_sandbox, "crayon", "1001", ORDERS - 1, trigger_has_polled):
        run = dag.test()
    assert run.state == "success"
    assert str(xcom(run, "place_order")) == newest
    final = xcom(run, "wait_for_order")
    assert (final["id"], final["status"], final["vendor_status"]) == (newest, "completed", "Succeeded")
    summary = json.loads((tmp_path / "place_and_wait" / "result.json").read_text())
    assert summary == {"order_id": newest, "status": "completed", "vendor_status": "Succeeded",
                       "product": final["raw"]["Name"]}  # fmt: skip
    # The sensor checked once with requests (a search for the id), then the trigger polled with httpx
    # until Succeeded: through its scope's poller, one listing of the tenant per round.
    api = [r for r in fresh_sandbox.requests_seen if r["vendor"] == "crayon" and "token" not in r["path"]]
    checks = [r for r in api if ["search", newest] in [list(q) for q in r["query"]]]
    assert [r["headers"]["user-agent"].split("/")[0] for r in checks] == ["python-urllib3"]
    rounds = [r for r in api if r["headers"]["user-agent"].startswith("python-httpx")]
    assert len(rounds) >= 2
    assert all(["customerTenantId", "1001"] in [list(q) for q in r["query"]] for r in rounds)


def test_tenant_fanout_maps_one_task_per_tenant(
    airflow_db: str, fresh_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERS_EXPORT_BASE", f"file://{tmp_path}")
    run = load_dag("orders_tenant_fanout").test()
    assert run.state == "success"
    for tenant in (1001, 1002, 1003):
        lines = (tmp_path / "tenants" / f"{tenant}.jsonl").read_text().splitlines()
        assert sorted(json.loads(line)["id"] for line in lines) == expected_id_list(
            fresh_sandbox, "crayon", str(tenant)
        )
    assert xcom(run, "summarize") == {"files": 3, "orders": 3 * ORDERS}


@pytest.mark.parametrize(
    "mode",
    [
        "poke",
        pytest.param("reschedule", marks=pytest.mark.skipif(
            AIRFLOW_RELEASE < (3, 1),
            reason="Airflow 3.0's dag.test() hands a reschedule sensor its first start as a string "
            "(TypeError in BaseSensorOperator.execute); fixed in 3.1 (docs/installation.md)",
        )),
    ],
)  # fmt: skip
def test_sensor_waits_in_poke_and_reschedule_mode(
    airflow_db: str, fresh_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    from tests.conftest import DAGS_FOLDER

    app = fresh_sandbox.apps["crayon"]
    newest = app.order_id(app.record(app.orders("1001"), ORDERS - 1))
    monkeypatch.setenv("SENSOR_TEST_ORDER_ID", newest)
    spec = importlib.util.spec_from_file_location(f"modes_{mode}", f"{DAGS_FOLDER}/orders_sensor_modes.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fresh_sandbox.reset()

    def polled_twice(answered: list[dict[str, Any]]) -> bool:
        return sum(("search", newest) in r["query"] for r in answered) >= 2

    with settles_when(fresh_sandbox, "crayon", "1001", ORDERS - 1, polled_twice):
        run = getattr(module, f"dag_{mode}").test()
    assert run.state == "success"
    assert xcom(run, "wait")["vendor_status"] == "Succeeded"
    polls = [r for r in fresh_sandbox.requests_seen if ("search", newest) in r["query"]]
    assert len(polls) >= 3  # it saw Processing before Succeeded
    assert {r["headers"]["user-agent"].split("/")[0] for r in polls} == {"python-urllib3"}  # never deferred


def test_orders_to_postgres_merges_the_days_orders_then_the_refresh_writes_only_what_changed(
    airflow_db: str, fresh_sandbox: Sandbox, postgres: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daily load into a real PostgreSQL, then the event-driven refresh of tenant 1003 after its
    newest order settled: one row per order, and the counts each task returned."""
    monkeypatch.setenv("AIRFLOW_CONN_ORDERS_POSTGRES", postgres.airflow_uri())
    with postgres.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS crayon_orders")
    daily = load_dag("orders_to_postgres", "orders_to_postgres")
    run = daily.test(logical_date=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert run.state == "success"
    app = fresh_sandbox.apps["crayon"]
    start, end = datetime(2025, 12, 31, tzinfo=timezone.utc), ANCHOR

    def ids_of(tenant: str, window: bool) -> set[str]:
        store = app.orders(tenant)
        return {app.order_id(app.record(store, i)) for i in range(store.size)
                if not window or start <= store.created(order_start("crayon", app, store, i)) < end}  # fmt: skip

    def table() -> dict[str, tuple[str, str]]:
        with postgres.connect() as conn:
            rows = conn.execute(
                "SELECT id, vendor_status, raw->>'OrderReferenceId' FROM crayon_orders"
            ).fetchall()
        return {oid: (state, ref) for oid, state, ref in rows}

    day = ids_of("1001", window=True)
    assert set(table()) == day
    assert xcom(run, "crayon_orders_to_postgres") == {"inserted": len(day), "updated": 0, "unchanged": 0}

    refresh = load_dag("orders_to_postgres", "orders_to_postgres_refresh")
    run = refresh.test()
    assert run.state == "success"
    tenant = ids_of("1003", window=False)
    assert set(table()) == day | tenant
    assert xcom(run, "refresh_tenant_orders") == {"inserted": len(tenant), "updated": 0, "unchanged": 0}
    settled = app.order_id(app.record(app.orders("1003"), ORDERS - 1))
    assert table()[settled][0] == "Processing"

    assert app.orders("1003").settle_now(ORDERS - 1)  # what the watcher's event is about
    run = refresh.test()
    assert run.state == "success"
    assert xcom(run, "refresh_tenant_orders") == {"inserted": 0, "updated": 1, "unchanged": len(tenant) - 1}
    assert table()[settled][0] == "Succeeded"
