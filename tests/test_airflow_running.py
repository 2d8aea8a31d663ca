"""A real Airflow (api-server, scheduler, dag-processor, triggerer) runs the place-and-wait DAG.

Each component is started on its own, bound to 127.0.0.1 and with its log server off (``airflow
standalone`` would bind its log servers on every interface). The run is triggered through the REST API;
the task-instance history and log show that the sensor deferred to the triggerer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from airflow_provider_orders.registry import all_specs
from airflow_provider_orders.sandbox import sandbox_connections, sandbox_env
from airflow_provider_orders.sandbox.local_airflow import LocalAirflow as Airflow
from airflow_provider_orders.sandbox.postgres import PostgresServer
from tests.browser import ARTIFACTS, ConnectionsUI, browser_page, needs_chromium
from tests.conftest import AIRFLOW_RELEASE, EXAMPLE_DAGS, SandboxProcess, asset_events, needs_conn_fields

# One worker runs the whole file under pytest-xdist: its Airflow (module-scoped) starts once.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("running-airflow")]

BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def events_sandbox() -> Iterator[SandboxProcess]:
    """The event-driven DAG's own sandbox: its live orders change only when a test settles them."""
    with SandboxProcess("--orders", "50", "--live", "3", "--live-delay", "36000") as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def running(
    tmp_path_factory: pytest.TempPathFactory, events_sandbox: SandboxProcess, postgres: PostgresServer
) -> Iterator[tuple[Airflow, SandboxProcess]]:
    # The newest Crayon order stays Processing until a test settles it (``/_sandbox/settle``).
    with SandboxProcess("--orders", "50", "--live", "1", "--live-delay", "36000") as sandbox:
        home = tmp_path_factory.mktemp("airflow-home")
        out = tmp_path_factory.mktemp("orders-out")
        crayon_events = {"conn_type": "crayon", **sandbox_connections(events_sandbox.url)["crayon_default"]}
        # TEST_CONNECTION: the connection tests' Test button and `airflow connections test` (off by default).
        env = {**os.environ, **sandbox_env(sandbox.url), "ORDERS_EXPORT_BASE": f"file://{out}",
               "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
               "ORDERS_EVENTS_CONN_ID": "crayon_events", "AIRFLOW_CONN_CRAYON_EVENTS": json.dumps(crayon_events),
               "AIRFLOW_CONN_ORDERS_POSTGRES": postgres.airflow_uri()}  # fmt: skip
        airflow = Airflow(home, env, EXAMPLE_DAGS)
        try:
            airflow.start()
            yield airflow, sandbox
        finally:
            airflow.stop()


@needs_conn_fields
def test_the_ui_connection_form_has_each_types_own_fields_and_labels(running: tuple[Airflow, Any]) -> None:
    airflow, _ = running
    meta = {h["connection_type"]: h for h in airflow.request("GET", "/ui/connections/hook_meta")}
    expected = {
        "crayon": ("API user name", "API user password", {"client_id": "Client ID", "client_secret": "Client secret"}),
        "adobe_vip_marketplace": ("Client ID", "Client secret",
                                  {"ims_url": "IMS URL", "scopes": "Scopes"}),
        "granite_access_express": ("Client ID", "Client secret", {"oauth_url": "Token URL", "scope": "Scope",
                                                                  "granted_tenant_macnum": "Granted tenant macnum"}),
        "emnify": (None, "Application token", {"orders_path": "Orders path"}),
        "fleetio": (None, "API key", {"account_token": "Account token", "api_version": "API version"}),
    }  # fmt: skip
    for conn_type, (login, password, extras) in expected.items():
        form = meta[conn_type]
        std = form["standard_fields"]
        assert std["password"]["title"] == password, conn_type
        if login is None:
            assert std["login"]["hidden"] is True, conn_type
        else:
            assert std["login"]["title"] == login, conn_type
        assert std["host"]["title"].startswith("API base URL"), conn_type
        # Port is on the form (stored, it lets 3.3.2's Test button work), saying what empty means.
        assert not std["port"].get("hidden"), conn_type
        assert std["port"]["placeholder"].startswith("empty: the URL's own (443 for https)"), conn_type
        titles = {name: field["schema"]["title"] for name, field in form["extra_fields"].items()}
        assert {k: titles[k] for k in extras} == extras, conn_type
        assert {"timeout", "verify", "requests_per_minute", "max_retries"} <= set(titles)
    assert meta["crayon"]["extra_fields"]["client_secret"]["schema"]["format"] == "password"
    assert meta["fleetio"]["extra_fields"]["account_token"]["schema"]["format"] == "password"
    # Required extras: a type without null (the UI marks them and will not save without them).
    required = {t: sorted(n for n, f in meta[t]["extra_fields"].items() if "null" not in f["schema"]["type"])
                for t in expected}  # fmt: skip
    assert required == {"crayon": ["client_id", "client_secret"], "adobe_vip_marketplace": [],
                        "granite_access_express": ["oauth_url"], "emnify": [], "fleetio": ["account_token"]}  # fmt: skip
    # Real defaults: Granite's own rate limit; the placeholder says what an empty host means.
    assert meta["granite_access_express"]["extra_fields"]["requests_per_minute"]["value"] == 60
    assert meta["crayon"]["extra_fields"]["requests_per_minute"]["value"] == 0
    assert (
        meta["crayon"]["standard_fields"]["host"]["placeholder"]
        == "empty: https://api.crayon.com (production)"
    )
    assert meta["granite_access_express"]["standard_fields"]["host"]["title"] == "API base URL (required)"
    # The form opens on the standard fields: the first credential names the required extras folded away.
    hints = {t: meta[t]["standard_fields"][f]["placeholder"] for t, f in
             (("crayon", "login"), ("granite_access_express", "login"), ("fleetio", "password"))}  # fmt: skip
    assert hints == {"crayon": "required too, under Extra Fields: Client ID, Client secret",
                     "granite_access_express": "required too, under Extra Fields: Token URL",
                     "fleetio": "required too, under Extra Fields: Account token"}  # fmt: skip


def test_place_and_wait_defers_to_the_triggerer_and_succeeds(running: tuple[Airflow, SandboxProcess]) -> None:
    airflow, sandbox = running
    dag_id = "orders_place_and_wait"
    airflow.wait_for(lambda: airflow.request("GET", f"/api/v2/dags/{dag_id}"), 120, "the DAG to be parsed")
    airflow.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    sandbox.control("/reset", {})
    (newest,) = sandbox.control("/live?vendor=crayon")
    run = airflow.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None})
    run_id = run["dag_run_id"]
    ti_path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/wait_for_order"
    seen: list[str] = []
    settled = False

    def trigger_has_checked() -> bool:
        """The triggerer (httpx; the worker's check is urllib3's) has had an answer about the order (not
        only its token: on 3.2 the trigger fetched one first, and an order settled then was done at the
        trigger's first check, which logged no "next check in")."""
        return any(
            r["vendor"] == "crayon"
            and "status" in r
            and "token" not in r["path"]
            and r["headers"]["user-agent"].startswith("python-httpx")
            for r in sandbox.control("/requests")
        )

    def deferral_reported() -> bool:
        """The scheduler has heard from the executor that the sensor's first process ended (deferred).

        A trigger that fires before that report makes Airflow fail the task: the late report finds the
        resumed task queued ("task-state-changed-externally"; seen under load with the LocalExecutor)."""
        key = f"TaskInstanceKey(dag_id='{dag_id}', task_id='wait_for_order', run_id='{run_id}', try_number=1"
        log = (airflow.home / "scheduler.out").read_text(errors="replace")
        return f"Received executor event with state success for task instance {key}" in log

    def finished() -> str | None:
        nonlocal settled
        state = airflow.request("GET", ti_path).get("state")
        if state and (not seen or seen[-1] != state):
            seen.append(state)
        # The order stays Processing until the trigger has seen it so and the deferral has been reported
        # (however long a loaded machine takes to get there), then settles: the trigger sees the change.
        if not settled and trigger_has_checked() and deferral_reported():
            sandbox.control("/settle", {"vendor": "crayon", "index": newest["index"]})
            settled = True
        run_state = airflow.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]
        return run_state if run_state in ("success", "failed") else None

    state = airflow.wait_for(finished, 240, "the run to finish")
    if state != "success":  # what the task said, for whoever reads the failure
        tries = airflow.request("GET", ti_path).get("try_number") or 1
        logs = [airflow.request("GET", f"{ti_path}/logs/{n}?full_content=true") for n in range(1, tries + 1)]
        pytest.fail(f"wait_for_order went {seen}; its log: {json.dumps(logs)[-6000:]}")
    assert "deferred" in seen, seen
    assert seen[-1] == "success"
    print("wait_for_order states seen:", " -> ".join(seen))
    log = airflow.request("GET", f"{ti_path}/logs/1?full_content=true")
    text = json.dumps(log)
    assert "DEFERRED" in text or "deferred" in text
    assert "next check in" in text  # the trigger's own log lines, written in the triggerer
    final = airflow.request("GET", f"{ti_path}/xcomEntries/return_value")["value"]
    final = json.loads(final) if isinstance(final, str) else final
    assert final["status"] == "completed" and final["vendor_status"] == "Succeeded"


def producers(dag_id: str, task_id: str) -> list[tuple[str, str]]:
    """The producing tasks the Assets view shows: none on Airflow 3.0 and 3.1, where the operator records
    its Asset through an alias (docs/guides/operators.md)."""
    return [(dag_id, task_id)] if AIRFLOW_RELEASE >= (3, 2) else []


def consumer_results(airflow: Airflow, dag_id: str) -> list[tuple[dict[str, Any], Any]]:
    """Each finished run of the asset-scheduled ``dag_id`` with its task's return value; a failed run fails."""
    (task_id,) = [t["task_id"] for t in airflow.request("GET", f"/api/v2/dags/{dag_id}/tasks")["tasks"]]
    out = []
    for run in airflow.request("GET", f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"]:
        assert run["state"] != "failed", run
        assert run["run_type"] == "asset_triggered", run
        if run["state"] == "success":
            ti = f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances/{task_id}"
            value = airflow.request("GET", f"{ti}/xcomEntries/return_value")["value"]
            out.append((run, json.loads(value) if isinstance(value, str) else value))
    return out


@pytest.mark.parametrize(
    ("dag_id", "logical_date"),
    [("orders_daily_export", "2026-01-01T00:00:00Z"), ("orders_tenant_fanout", None)],
)
def test_the_export_dags_run_under_the_scheduler(
    running: tuple[Airflow, SandboxProcess], dag_id: str, logical_date: str | None
) -> None:
    airflow, _ = running
    # /details reads the serialized DAG: Airflow 3.0 fails the tasks of a run made before it exists.
    airflow.wait_for(lambda: airflow.request("GET", f"/api/v2/dags/{dag_id}/details"), 120, "the DAG")
    # Scheduled on the tenants dataset; on the export's Fleetio dataset by partition (3.3+ names them).
    consumers = ["orders_tenants_report"] if dag_id == "orders_tenant_fanout" else []
    if dag_id == "orders_daily_export" and AIRFLOW_RELEASE >= (3, 3):
        consumers.append("orders_fleetio_partition_report")
    for consumer in consumers:  # scheduled on the export's Fleetio dataset
        airflow.wait_for(lambda: airflow.request("GET", f"/api/v2/dags/{consumer}/details"), 120, consumer)  # noqa: B023
        airflow.request("PATCH", f"/api/v2/dags/{consumer}", {"is_paused": False})
    run = airflow.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": logical_date})
    airflow.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    run_id = run["dag_run_id"]

    def finished() -> str | None:
        state = airflow.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]
        return state if state in ("success", "failed") else None

    assert airflow.wait_for(finished, 300, f"{dag_id} to finish") == "success"
    out = Path(airflow.env["ORDERS_EXPORT_BASE"].removeprefix("file://"))
    if dag_id == "orders_daily_export":
        # 50 orders 7 minutes apart up to 2026-01-01T00:00, which belongs to the next day: 49 a vendor.
        for vendor in ("adobe_vip_marketplace", "granite_access_express", "emnify", "fleetio"):
            assert len((out / "2025-12-31" / f"{vendor}.jsonl").read_text().splitlines()) == 49, vendor
        assert (out / "2025-12-31" / "crayon.jsonl").read_text().strip()
        # Each file's asset event carries the listing's facts.
        events = asset_events(airflow, f"source_dag_id={dag_id}")
        extras = {e["extra"]["vendor"]: e["extra"] for e in events if e["source_run_id"] == run_id}
        window = "2025-12-31T00:00:00Z/2026-01-01T00:00:00Z"
        fleetio_file = f"file://{out}/2025-12-31/fleetio.jsonl"
        assert extras["fleetio"] == {"count": 49, "format": "jsonl", "vendor": "fleetio", "window": window,
                                     "uri": fleetio_file}  # fmt: skip
        # One Asset per vendor dataset: the run's event for Fleetio's file is on it.
        (event,) = [e for e in events if e["source_run_id"] == run_id and e["extra"]["vendor"] == "fleetio"]
        assert event["uri"] == f"file://{out}/fleetio.jsonl"
        partition = "2025-12-31T00:00:00" if AIRFLOW_RELEASE >= (3, 3) else None
        assert event.get("partition_key") == partition
        if AIRFLOW_RELEASE >= (3, 2):  # the Assets view lists it, with its producing task
            (asset,) = airflow.request("GET", f"/api/v2/assets?uri_pattern={out}/fleetio.jsonl")["assets"]
            assert asset["id"] == event["asset_id"]
            producing = [(t["dag_id"], t["task_id"]) for t in asset["producing_tasks"]]
            assert producing == [(dag_id, "export_fleetio")]
        if partition:  # the partition-scheduled consumer runs for the export's day, with its file

            def day_report() -> Any:
                done = consumer_results(airflow, "orders_fleetio_partition_report")
                return [value for run, value in done if run.get("partition_key") == partition]

            (report,) = airflow.wait_for(day_report, 180, "the partition-scheduled consumer")
            assert report == {"partition_key": partition, "files": [fleetio_file]}
        assert set(extras) == {
            "crayon",
            "adobe_vip_marketplace",
            "granite_access_express",
            "emnify",
            "fleetio",
        }
    else:
        lines = {t: (out / "tenants" / f"{t}.jsonl").read_text().splitlines() for t in (1001, 1002, 1003)}
        assert all(len(v) == 50 for v in lines.values()), {t: len(v) for t, v in lines.items()}
        # One event per tenant's file on the one tenants dataset; the asset-scheduled consumer runs on it
        # and reads events of it (how Airflow spreads events that arrive together over runs varies by
        # release: 3.3 hands them to one run, 3.0 may give one event to two runs).
        files = [
            {"uri": f"file://{out}/tenants/{t}.jsonl", "count": 50, "window": None}
            for t in (1001, 1002, 1003)
        ]
        (asset,) = airflow.request("GET", f"/api/v2/assets?uri_pattern={out}/tenants.jsonl")["assets"]
        assert [(t["dag_id"], t["task_id"]) for t in asset["producing_tasks"]] == producers(
            dag_id, "list_tenant_orders"
        )
        events = asset_events(airflow, f"asset_id={asset['id']}")
        extras = sorted((e["extra"] for e in events if e["source_run_id"] == run_id), key=lambda x: x["uri"])
        assert extras == [{**f, "format": "jsonl", "vendor": "crayon"} for f in files]
        seen = airflow.wait_for(
            lambda: [
                line for _, value in consumer_results(airflow, "orders_tenants_report") for line in value
            ],
            180,
            "the asset-scheduled consumer",
        )
        assert seen and all(line in files for line in seen), seen


def test_three_scheduled_days_of_the_export_are_three_partitions_of_one_asset_per_vendor(
    running: tuple[Airflow, SandboxProcess],
) -> None:
    """A backfill of three days (runs made by the timetable, as the scheduler makes them) records one
    event per day on each vendor's one Asset. On Airflow 3.2+ each event is the partition of its day (on
    3.2 the run's, from the export's timetable, as no task can name one there; on 3.3 named by the task),
    and the partition-scheduled consumer runs for each day; on 3.0 and 3.1 the extra carries the window."""
    airflow, _ = running
    dag_id, consumer = "orders_daily_export", "orders_fleetio_partition_report"
    airflow.wait_for(lambda: airflow.request("GET", f"/api/v2/dags/{dag_id}/details"), 120, "the DAG")
    if AIRFLOW_RELEASE >= (3, 2):
        airflow.wait_for(lambda: airflow.request("GET", f"/api/v2/dags/{consumer}/details"), 120, consumer)
        airflow.request("PATCH", f"/api/v2/dags/{consumer}", {"is_paused": False})
    # 0, 0 and 49 orders a vendor. (Not 2026-01-01: the export test's manual run has that logical date.)
    days = ["2025-12-29", "2025-12-30", "2025-12-31"]
    body = {"dag_id": dag_id, "from_date": f"{days[0]}T00:00:00Z", "to_date": f"{days[-1]}T00:00:00Z",
            "max_active_runs": 3, "run_backwards": False, "dag_run_conf": {}, "reprocess_behavior": "none"}  # fmt: skip

    deadline = time.monotonic() + 60
    while True:
        try:
            backfill = airflow.request("POST", "/api/v2/backfills", body)
            break
        except urllib.error.HTTPError as exc:
            # 503 is Airflow's answer while the database is locked (SQLite, busy): try again.
            if exc.code != 503 or time.monotonic() > deadline:
                raise
            time.sleep(1)
    # The scheduler starts no run of a paused DAG, a backfill's included (unpausing also schedules the
    # latest day, in a run of its own).
    airflow.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def finished() -> list[dict[str, Any]] | None:
        runs = airflow.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]
        mine = [r for r in runs if r["run_type"] == "backfill" and r["logical_date"][:10] in days]
        return mine if len(mine) == 3 and all(r["state"] in ("success", "failed") for r in mine) else None

    runs = airflow.wait_for(finished, 300, f"backfill {backfill['id']} of {dag_id}")
    assert {r["logical_date"][:10]: r["state"] for r in runs} == dict.fromkeys(days, "success")
    run_day = {r["dag_run_id"]: r["logical_date"][:10] for r in runs}
    out = Path(airflow.env["ORDERS_EXPORT_BASE"].removeprefix("file://"))
    events_of_runs = [
        e for e in asset_events(airflow, f"source_dag_id={dag_id}") if e["source_run_id"] in run_day
    ]
    for vendor in ("crayon", "adobe_vip_marketplace", "granite_access_express", "emnify", "fleetio"):
        events = [e for e in events_of_runs if e["extra"]["vendor"] == vendor]
        # One Asset, the dataset's, with the three days' events on it.
        assert {(e["asset_id"], e["uri"]) for e in events} == {
            (events[0]["asset_id"], f"file://{out}/{vendor}.jsonl")
        }
        assert sorted(run_day[e["source_run_id"]] for e in events) == days, vendor
        for event in events:
            day = run_day[event["source_run_id"]]
            end = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
            path = out / day / f"{vendor}.jsonl"
            assert event["extra"] == {
                "count": len(path.read_text().splitlines()), "format": "jsonl", "vendor": vendor,
                "window": f"{day}T00:00:00Z/{end}T00:00:00Z", "uri": f"file://{path}",
            }  # fmt: skip
            assert event.get("partition_key") == (f"{day}T00:00:00" if AIRFLOW_RELEASE >= (3, 2) else None)
    if AIRFLOW_RELEASE >= (3, 2):  # one consumer run per day's partition, with that day's file
        keys = [f"{day}T00:00:00" for day in days]

        def reports() -> dict[str, set[str]] | None:
            # A day an earlier test exported too may have had its own run, or shared this one.
            files: dict[str, set[str]] = {}
            for run, value in consumer_results(airflow, consumer):
                assert value["partition_key"] == run["partition_key"], value
                files.setdefault(run["partition_key"], set()).update(value["files"])
            return files if set(keys) <= set(files) else None

        files = airflow.wait_for(reports, 180, "the partition-scheduled consumer's three runs")
        for day, key in zip(days, keys, strict=True):
            assert files[key] == {f"file://{out}/{day}/fleetio.jsonl"}, key


def test_the_event_driven_dag_runs_once_per_change_across_a_triggerer_restart(
    running: tuple[Airflow, SandboxProcess], events_sandbox: SandboxProcess
) -> None:
    """The sandbox settles an order; the asset-triggered run carries it. The triggerer stops, another
    order settles while it is down, and it starts again: exactly that transition makes the next run, and
    the first is not fired again (the watermark is in the asset's state store on Airflow 3.3+, in an
    Airflow Variable before)."""
    airflow, _ = running
    dag_id = "orders_event_driven"
    airflow.wait_for(lambda: airflow.request("GET", f"/api/v2/dags/{dag_id}/details"), 120, "the DAG")
    airflow.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    live = events_sandbox.control("/live?vendor=crayon&tenant=1003")

    def polls() -> int:
        return sum(
            1
            for r in events_sandbox.control("/requests")
            if r["vendor"] == "crayon" and "token" not in r["path"]
        )

    def runs() -> list[dict[str, Any]]:
        found = airflow.request("GET", f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"]
        asset_runs = [r for r in found if r["run_type"] == "asset_triggered"]
        return sorted(asset_runs, key=lambda r: r.get("run_after") or r["queued_at"])

    def orders_of(run: dict[str, Any]) -> list[tuple[str, str, str]]:
        def done() -> bool:
            state = airflow.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}")["state"]
            assert state != "failed", run
            return state == "success"

        airflow.wait_for(done, 120, f"run {run['dag_run_id']}")
        ti = f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances/provision"
        value = airflow.request("GET", f"{ti}/xcomEntries/return_value")["value"]
        value = json.loads(value) if isinstance(value, str) else value
        return [(o["id"], o["previous_vendor_status"], o["vendor_status"]) for o in value]

    airflow.wait_for(lambda: polls() >= 2, 180, "the watcher's first polls")  # it has recorded the tenant
    assert runs() == []  # orders already settled are not events
    events_sandbox.control("/settle", {"vendor": "crayon", "tenant": "1003", "index": live[0]["index"]})
    (first,) = airflow.wait_for(runs, 120, "the first asset-triggered run")
    assert orders_of(first) == [(live[0]["id"], "Processing", "Succeeded")]

    # The triggerer stops once the watermark of that poll is saved (the watch logs it): on 3.3 when Airflow
    # confirms it stored the event, before 3.3 five seconds after it.
    saved = "orders watch of crayon_events {'customer_tenant_id': 1003}: watermark of the poll of"
    airflow.wait_for(lambda: saved in (airflow.home / "triggerer.out").read_text(errors="replace"), 60,
                     "the watermark's save")  # fmt: skip
    airflow.stop_component("triggerer")
    # A change while no triggerer runs is found when one is back.
    events_sandbox.control("/settle", {"vendor": "crayon", "tenant": "1003", "index": live[1]["index"]})
    before = polls()
    airflow.start_component("triggerer")
    airflow.wait_for(lambda: polls() >= before + 2, 180, "the watcher to poll again")
    airflow.wait_for(lambda: len(runs()) >= 2, 120, "the second asset-triggered run")
    settled = polls()
    airflow.wait_for(lambda: polls() >= settled + 3, 60, "three more polls")
    first_again, second = runs()
    assert first_again["dag_run_id"] == first["dag_run_id"]  # Succeeded for live[0] did not fire twice
    assert orders_of(second) == [(live[1]["id"], "Processing", "Succeeded")]


def test_the_scheduler_merges_a_days_crayon_orders_into_postgres(
    running: tuple[Airflow, SandboxProcess], postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """orders_to_postgres, triggered through the REST API for 2026-01-01 and run by the scheduler's
    executor: the table holds exactly the tenant's orders created on 2025-12-31, one row each."""
    from airflow_provider_orders.hooks.resolve import get_orders_hook

    airflow, sandbox = running
    dag_id = "orders_to_postgres"
    airflow.wait_for(lambda: airflow.request("GET", f"/api/v2/dags/{dag_id}/details"), 120, "the DAG")
    with postgres.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS crayon_orders")
    run = airflow.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": "2026-01-01T00:00:00Z"})
    airflow.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}"
    state = airflow.wait_for(
        lambda: (s := airflow.request("GET", path)["state"]) in ("success", "failed") and s, 240, "the run"
    )
    airflow.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": True})
    assert state == "success"
    crayon = {"conn_type": "crayon", **sandbox_connections(sandbox.url)["crayon_default"]}
    monkeypatch.setenv("AIRFLOW_CONN_CRAYON_DEFAULT", json.dumps(crayon))
    hook = get_orders_hook("crayon_default")
    filters = {"customer_tenant_id": 1001, "created_since": "2025-12-31T00:00:00Z",
               "created_until": "2026-01-01T00:00:00Z"}  # fmt: skip
    day = {o.id for o in hook.iter_orders(hook.validate_filters(filters))}
    assert day
    with postgres.connect() as conn:
        rows = conn.execute("SELECT id FROM crayon_orders").fetchall()
    assert sorted(oid for (oid,) in rows) == sorted(day)
    value = airflow.request("GET", f"{path}/taskInstances/crayon_orders_to_postgres/xcomEntries/return_value")
    counts = json.loads(value["value"]) if isinstance(value["value"], str) else value["value"]
    assert counts == {"inserted": len(day), "updated": 0, "unchanged": 0}


# -- connections set up in the UI, in a real browser ------------------------------------------------

#: Per type: the secret made wrong (a standard field or an extra) and what the failure must say.
WRONG_SECRETS: dict[str, list[tuple[str, str]]] = {
    "crayon": [("password", "Crayon accepted the client but refused the API user name or API user password"),
               ("client_secret", "Crayon refused the Client ID or Client secret")],
    "adobe_vip_marketplace": [("password", "Check the connection's Client ID and Client secret.")],
    "granite_access_express": [("password", "Check the client id and secret.")],
    "emnify": [("password", "Check the connection's Application token.")],
    "fleetio": [("password", "Fleetio refused the API key"),
                ("account_token", "Fleetio accepts the API key, but the account token is not one of its accounts")],
}  # fmt: skip


@needs_conn_fields
@needs_chromium
def test_each_connection_type_is_set_up_in_the_ui_form_and_tested(
    running: tuple[Airflow, SandboxProcess],
) -> None:
    """For each type: the add form (screenshots of its two sections), save, reopen (non-secrets shown,
    secrets masked, in the form and the REST API), the Test button, the CLI test, and wrong secrets."""
    airflow, sandbox = running
    shots = ARTIFACTS / "connection-forms"
    shots.mkdir(parents=True, exist_ok=True)
    button: dict[str, tuple[int, Any]] = {}
    clis: dict[str, subprocess.Popen[str]] = {}
    with browser_page() as page:
        ui = ConnectionsUI(page, airflow.url)
        ui.login("admin", airflow.admin_password)
        for spec in all_specs():
            conn_type, name = spec.conn_type, spec.vendor_class.display_name
            conn = sandbox_connections(sandbox.url)[spec.default_conn_id]
            conn_id = f"ui_{conn_type}"
            standard = {k: conn[k] for k in ("host", "login", "password") if k in conn}
            # The URL's own port, stored: the row's Test button sends it back unchanged (docs/troubleshooting.md).
            standard["port"] = str(urlsplit(conn["host"]).port)
            secrets = {conn["password"], *(conn["extra"][f.name] for f in spec.vendor_class.connection_fields
                                           if f.sensitive and f.name in conn["extra"])}  # fmt: skip

            # Add: the empty form as a newcomer sees it, then filled in and saved.
            dialog = ui.add(conn_id, name)
            host_hint = dialog.locator("input[name=host]").get_attribute("placeholder")
            assert host_hint.startswith("empty: https://" if spec.vendor_class.default_host else "required:")
            if spec.vendor_class.login_label is None:
                assert dialog.locator("input[name=login]").count() == 0, conn_type
            required = [f.label for f in spec.vendor_class.connection_fields if f.required]
            first = dialog.locator(
                "input[name=login]" if spec.vendor_class.login_label else "input[name=password]"
            )
            if required:  # what blocks Save, said where the form opens
                assert (
                    first.get_attribute("placeholder")
                    == f"required too, under Extra Fields: {', '.join(required)}"
                )
            first = dialog.screenshot()
            ui.expand_extras(dialog)
            for field in spec.vendor_class.connection_fields:
                box = dialog.locator(f"input[name=element_{field.name}]")
                assert box.evaluate("e => e.required") == field.required, (conn_type, field.name)
            assert dialog.get_by_role("button", name="Save").is_disabled() == bool(required), conn_type
            stitch(page, [first, dialog.screenshot()], shots / f"{conn_type}.png")
            ui.fill_extras(dialog, conn["extra"])
            dialog.get_by_role("button", name="Standard Fields").click()
            ui.fill_standard(dialog, standard)
            assert "successfully created" in ui.save(dialog)
            # The docs' way, `airflow connections test <id>`, on the stored connection: started now, it
            # imports Airflow while the browser goes on.
            clis[conn_type] = subprocess.Popen([str(BIN / "airflow"), "connections", "test", conn_id],
                                               env=airflow.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                               text=True)  # fmt: skip

            # Reopen: every value as typed, every secret masked, none of them in the page.
            dialog = ui.edit(conn_id)
            ui.expand_extras(dialog)
            shown, types = ui.values(dialog), ui.input_types(dialog)
            for key, value in {**standard, **conn["extra"]}.items():
                if value in secrets:
                    # Masked by the API (the form never gets the secret); a password input on 3.3 (3.2
                    # draws a secret extra as a text input holding the mask).
                    assert shown[key] == "***", (conn_type, key)
                    assert types[key] == "password" or (key != "password" and AIRFLOW_RELEASE < (3, 3)), key
                elif isinstance(value, bool):
                    assert shown[key] == ("on" if value else "off"), (conn_type, key)
                else:
                    assert shown[key] == value, (conn_type, key)
            assert not [s for s in secrets if s in page.content()], conn_type
            stored = airflow.request("GET", f"/api/v2/connections/{conn_id}")
            extra = json.loads(stored["extra"])
            assert stored["password"] == "***"
            assert {k: extra[k] for k in conn["extra"]} == {
                k: "***" if v in secrets else v for k, v in conn["extra"].items()
            }, conn_type
            page.keyboard.press("Escape")

            button[conn_type] = ui.test_from_list(conn_id)

    for spec in all_specs():
        conn_type, name = spec.conn_type, spec.vendor_class.display_name
        conn = sandbox_connections(sandbox.url)[spec.default_conn_id]
        good = f"Connected to {name} at {conn['host']}"
        # The Test button, with the port stored: our message, on every release (3.3.2 included).
        assert button[conn_type] == (200, {"status": True, "message": good}), conn_type
        out, err = clis[conn_type].communicate(timeout=180)
        assert "Connection success!" in out, (conn_type, out, err[-2000:])
        # The docs' other way: the REST API without a port tests the stored connection.
        stored = {"connection_id": f"ui_{conn_type}", "conn_type": conn_type}
        assert airflow.request("POST", "/api/v2/connections/test", stored) == {
            "status": True,
            "message": good,
        }
        # Wrong secrets, through the API the Test button calls (the toast shows its message).
        for key, says in WRONG_SECRETS[conn_type]:
            wrong = "wrong-Secret-4f9Q"
            body = connection_test_body(f"ui_{conn_type}", conn, key, wrong)
            answer = airflow.request("POST", "/api/v2/connections/test", body)
            message = answer["message"]
            assert answer["status"] is False, (conn_type, key)
            assert message.startswith(f"{name} at {conn['host']}: HTTP 40"), message
            assert says in message, message
            assert "ui_" not in message and "connection '" not in message, message  # no (random) id
            assert wrong not in message, message


def test_the_cli_shows_the_whole_failure_message(running: tuple[Airflow, SandboxProcess]) -> None:
    """Rich (Airflow's CLI) reads [square brackets] as markup: the message has none, and arrives whole."""
    airflow, sandbox = running
    conn = sandbox_connections(sandbox.url)["crayon_default"]
    env = {**airflow.env, "AIRFLOW_CONN_CRAYON_CLI": json.dumps({**conn, "password": "wrong-Secret-4f9Q"})}
    cli = subprocess.run([str(BIN / "airflow"), "connections", "test", "crayon_cli"], env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    text = " ".join(cli.stdout.split())
    assert (
        f"Crayon Cloud-iQ at {conn['host']}: HTTP 400 (code invalid_grant): the token endpoint refused the "
        "credentials of the connection. Crayon accepted the client but refused the API user name or API user "
        "password."
    ) in text, text
    assert "wrong-Secret-4f9Q" not in cli.stdout + cli.stderr


def connection_test_body(conn_id: str, conn: dict[str, Any], key: str, value: str) -> dict[str, Any]:
    """A ``POST /connections/test`` body of ``conn`` with ``key`` (password or an extra) set to ``value``."""
    extra = dict(conn["extra"])
    password = conn.get("password")
    if key == "password":
        password = value
    else:
        extra[key] = value
    body = {"connection_id": conn_id, "conn_type": conn["conn_type"], "host": conn["host"],
            "password": password, "extra": json.dumps(extra)}  # fmt: skip
    if conn.get("login"):
        body["login"] = conn["login"]
    return body


def stitch(page: Any, images: list[bytes], path: Path) -> None:
    """Screenshots side by side in one PNG, laid out by the same browser (no imaging library)."""
    import base64

    tags = "".join(
        f'<img style="display:block" src="data:image/png;base64,{base64.b64encode(i).decode()}">'
        for i in images
    )
    sheet = page.context.browser.new_page(viewport={"width": 2000, "height": 2600})
    try:
        sheet.set_content(f'<div style="display:inline-flex;align-items:flex-start;gap:8px">{tags}</div>')
        sheet.locator("div").screenshot(path=str(path))
    finally:
        sheet.close()
