"""A newcomer's first hour, in a real browser, as ``docs/first-run.md`` walks it.

A fresh Airflow (api-server, scheduler, dag-processor, triggerer on loopback) with the example DAGs and a
sandbox dated now (as a newcomer starts it, no ``--as-of``). The other four vendors' connections come from
the environment, as the page's step 3 allows; Fleetio's is created in the UI form. Then: test it from the
connections list, trigger ``orders_daily_export`` with the dialog's default date, read the task's log,
open the asset. The pictures land in ``test-artifacts/first-run/`` (the page's are copies of them).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from airflow_provider_orders.sandbox import Sandbox, SandboxConfig, sandbox_connections, sandbox_env
from airflow_provider_orders.sandbox.local_airflow import LocalAirflow
from tests.browser import ARTIFACTS, ConnectionsUI, browser_page, needs_chromium
from tests.conftest import AIRFLOW_RELEASE, EXAMPLE_DAGS, asset_events, expected_ids, needs_conn_fields

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("first-run")]

DAG_ID = "orders_daily_export"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalAirflow, Sandbox, Path]]:
    # Dated now, as `python -m airflow_provider_orders.sandbox` starts without --as-of (the suite pins
    # the date for everything else): 250 orders a vendor, the last 29 hours, so yesterday has some.
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    with Sandbox(SandboxConfig(orders=250, as_of=now)) as sandbox:
        out = tmp_path_factory.mktemp("orders-export")
        others = {k: v for k, v in sandbox_env(sandbox.url).items() if k != "AIRFLOW_CONN_FLEETIO_DEFAULT"}
        env = {**os.environ, **others, "ORDERS_EXPORT_BASE": f"file://{out}",
               "AIRFLOW__CORE__TEST_CONNECTION": "Enabled"}  # fmt: skip
        env.pop("AIRFLOW_CONN_FLEETIO_DEFAULT", None)
        airflow = LocalAirflow(tmp_path_factory.mktemp("airflow-home"), env, EXAMPLE_DAGS)
        try:
            airflow.start()
            yield airflow, sandbox, out
        finally:
            airflow.stop()


@needs_conn_fields
@needs_chromium
def test_a_newcomers_first_run_in_the_ui(fresh: tuple[LocalAirflow, Sandbox, Path]) -> None:
    airflow, sandbox, out = fresh
    shots = ARTIFACTS / "first-run"
    shots.mkdir(parents=True, exist_ok=True)
    conn = sandbox_connections(sandbox.url)["fleetio_default"]
    port = str(urlsplit(conn["host"]).port)
    airflow.wait_for(lambda: airflow.request("GET", f"/api/v2/dags/{DAG_ID}/details"), 120, "the DAG")
    with browser_page(1300, 1000) as page:
        ui = ConnectionsUI(page, airflow.url)
        ui.login("admin", airflow.admin_password)

        # 3. Create the connection, as the page's table says.
        dialog = ui.add("fleetio_default", "Fleetio")
        ui.fill_standard(dialog, {"host": conn["host"], "password": conn["password"], "port": port})
        dialog.screenshot(path=str(shots / "3-connection.png"))
        ui.expand_extras(dialog)
        ui.fill_extras(dialog, conn["extra"])
        assert "successfully created" in ui.save(dialog)

        # 4. Test it: the row's button (Port stored, so Airflow 3.3.2 lets it through).
        status, body = ui.test_from_list("fleetio_default")
        assert (status, body) == (200, {"status": True, "message": f"Connected to Fleetio at {conn['host']}"})
        page.get_by_role("status").filter(has_text="Connected to Fleetio").wait_for()
        page.screenshot(path=str(shots / "4-test.png"))

        # 5. Trigger the DAG with the dialog's defaults (now; unpause on trigger), then read the task's log.
        page.goto(f"{airflow.url}/dags/{DAG_ID}")
        page.get_by_role("button", name="Trigger Dag").click()
        trigger = page.get_by_role("dialog")
        trigger.get_by_text("Inferred from Logical Date and Timetable").wait_for()
        page.screenshot(path=str(shots / "5-trigger.png"))
        with page.expect_response(
            lambda r: r.url.endswith("/dagRuns") and r.request.method == "POST"
        ) as made:
            trigger.get_by_role("button", name="Trigger", exact=True).click()
        run = made.value.json()
        assert run["run_type"] == "manual" and run["triggered_by"] == "ui", run
        run_id = run["dag_run_id"]

        def finished() -> str | None:
            state = airflow.request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id)}")["state"]
            return state if state in ("success", "failed") else None

        assert airflow.wait_for(finished, 300, "the triggered run") == "success"

        # The run's window is yesterday (the dialog's date is now); its file holds exactly the sandbox's
        # Fleetio orders created in it, each once.
        start = datetime.fromisoformat(run["data_interval_start"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(run["data_interval_end"].replace("Z", "+00:00"))
        assert (end - start).days == 1 and end.date() == datetime.now(timezone.utc).date(), run
        day = start.date().isoformat()
        expected = expected_ids(sandbox, "fleetio", keep=lambda _r, store, i: start <= store.created(i) < end)
        written = out / day / "fleetio.jsonl"
        ids = [json.loads(line)["id"] for line in written.read_text().splitlines()]
        assert len(ids) == len(set(ids)) and set(ids) == expected and expected, (len(ids), len(expected))

        page.goto(f"{airflow.url}/dags/{DAG_ID}/runs/{quote(run_id)}/tasks/export_fleetio")
        wrote = f"Wrote {len(ids)} orders to file://{written} as jsonl"
        page.get_by_text(wrote).wait_for()
        page.screenshot(path=str(shots / "5-log.png"))

        # 6. Open the asset: one per dataset, produced by the task, with this run's event on it.
        page.goto(f"{airflow.url}/assets")
        page.get_by_role("link", name=f"file://{out}/fleetio.jsonl", exact=True).click()
        page.get_by_text("Producing Tasks").wait_for()
        page.locator(".react-flow__node").filter(has_text=DAG_ID).first.wait_for()  # the graph, drawn
        page.get_by_role("link", name=DAG_ID, exact=True).last.wait_for()  # an event's "Source:"
        if AIRFLOW_RELEASE >= (3, 3):
            page.get_by_text(f"Partition Key: {day}T00:00:00").first.wait_for()
        page.screenshot(path=str(shots / "6-asset.png"))
        asset_id = int(page.url.rstrip("/").rsplit("/", 1)[1])

    events = asset_events(airflow, f"asset_id={asset_id}")
    (event,) = [e for e in events if e["source_run_id"] == run_id]
    assert event["extra"] == {"uri": f"file://{written}", "count": len(ids), "format": "jsonl",
                              "vendor": "fleetio", "window": f"{run['data_interval_start']}/{run['data_interval_end']}"}  # fmt: skip
    assert event.get("partition_key") == (f"{day}T00:00:00" if AIRFLOW_RELEASE >= (3, 3) else None)
    asset = airflow.request("GET", f"/api/v2/assets/{asset_id}")
    assert asset["uri"] == f"file://{out}/fleetio.jsonl"
    assert [(t["dag_id"], t["task_id"]) for t in asset["producing_tasks"]] == [(DAG_ID, "export_fleetio")]
