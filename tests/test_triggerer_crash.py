"""Event-driven DAGs across triggerer crashes, on a real Airflow (issue 26).

A real Airflow (api-server, scheduler, dag-processor, triggerer) watches two Crayon tenants of a sandbox with
``OrderEventTrigger`` at its defaults (7-day window); each tenant's asset schedules a DAG. Orders settle at
random moments: recent ones and ones 30 days old (``--aged``), beyond the window. The triggerer is killed
with SIGKILL at ten random moments, each while the watcher runs, and started again; in the second test two
triggerers run at once and one of them is killed each time. Through the REST API: every settled order is
in an asset event, and in a DAG run, exactly once.

The one exception Airflow 3.3.2 leaves open is measured, not hidden: Airflow confirms that it stored an
event at the triggerer's next state sync (each second); the watch saves its watermark then. A kill between
the two fires that event again on restart (the trigger cannot read asset events to tell). The watch logs
each save; the test allows a repeated event only where a kill fell between Airflow storing it and its
watermark's save, prints how many there were and how long that took, and fails on any other.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_orders.sandbox import sandbox_connections
from airflow_provider_orders.sandbox.local_airflow import LocalAirflow as Airflow
from airflow_provider_orders.sandbox.process import SandboxProcess
from tests.conftest import AIRFLOW_RELEASE, asset_events

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        AIRFLOW_RELEASE < (3, 3),
        reason="Airflow < 3.3 has no ack mode: the watermark is saved COMMIT_DELAY after its events, a crash "
        "within it fires them again (README's release table); the restart test covers these releases",
    ),
]

KILLS = 10
#: Per tenant: live orders (created in the last hours) and aged ones (30 days older: beyond the window).
LIVE, AGED = 10, 3

DAG = """
from datetime import datetime, timezone

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Asset, AssetWatcher

from airflow_provider_orders.triggers import OrderEventTrigger

for tenant in (1101, 1102):
    asset = Asset(name=f"crash_orders_{tenant}", watchers=[AssetWatcher(
        name=f"crash_orders_{tenant}_settled",
        trigger=OrderEventTrigger(conn_id="crayon_crash", scope={"customer_tenant_id": tenant},
                                  statuses=["completed", "failed"], poll_interval=1),
    )])
    with DAG(f"orders_after_crash_{tenant}", schedule=[asset], catchup=False,
             start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)):
        EmptyOperator(task_id="consume")
"""


@pytest.fixture(scope="module")
def crash_airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Airflow, SandboxProcess]]:
    now = datetime.now(timezone.utc).isoformat()
    with SandboxProcess("--orders", "40", "--live", str(LIVE), "--aged", str(AGED), "--live-delay", "360000",
                        "--as-of", now, "--request-log", "100000") as sandbox:  # fmt: skip
        home = tmp_path_factory.mktemp("crash-airflow-home")
        dags = tmp_path_factory.mktemp("crash-dags")
        (dags / "orders_after_crash.py").write_text(DAG)
        conn = {"conn_type": "crayon", **sandbox_connections(sandbox.url)["crayon_default"]}
        # A killed triggerer's watchers are handed to a live one once its heartbeat is older than the
        # threshold (30 s by default): 3 s here, with a heartbeat each second.
        env = {**os.environ, "AIRFLOW_CONN_CRAYON_CRASH": json.dumps(conn),
               "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
               "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "3"}  # fmt: skip
        airflow = Airflow(home, env, str(dags))
        try:
            airflow.start()
            yield airflow, sandbox
        finally:
            airflow.stop()


def polls(sandbox: SandboxProcess, tenant: int) -> int:
    """The watcher's listings of the tenant's orders so far (one a poll)."""
    return int(sandbox.control(f"/requests?vendor=crayon&customerTenantId={tenant}&count=1")["count"])


def watermark_saves(airflow: Airflow, tenant: int) -> list[tuple[datetime, float]]:
    """(poll, when its watermark was saved) from every triggerer's log: the watch logs each save that
    follows events, once Airflow has confirmed it stored them."""
    line = re.compile(
        rf"^(\S+) \[info\s*\] orders watch of crayon_crash {{'customer_tenant_id': {tenant}}}: watermark of the "
        r"poll of (.+?) saved"
    )
    found = []
    for log in airflow.home.glob("triggerer*.out"):
        for match in filter(None, map(line.match, log.read_text(errors="replace").splitlines())):
            at = datetime.fromisoformat(match[1].replace("Z", "+00:00")).timestamp()
            found.append((datetime.fromisoformat(match[2]), at))
    return found


def crash_and_count(
    airflow: Airflow, sandbox: SandboxProcess, tenant: int, triggerers: list[str], seed: int
) -> None:
    """Settle the tenant's open orders at random moments while a triggerer of ``triggerers`` is killed ten
    times (each while the watcher polls) and started again; then check every settled order's events."""
    rng = random.Random(seed)
    print(f"seed {seed}")
    dag_id = f"orders_after_crash_{tenant}"
    airflow.wait_for(lambda: airflow.request("GET", f"/api/v2/dags/{dag_id}/details"), 120, "the DAG")
    airflow.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    (asset,) = airflow.request("GET", f"/api/v2/assets?name_pattern=crash_orders_{tenant}")["assets"]
    open_orders = sandbox.control(f"/live?vendor=crayon&tenant={tenant}")
    assert len(open_orders) == LIVE + AGED and sum(1 for o in open_orders if o.get("aged")) == AGED
    started = polls(sandbox, tenant)
    airflow.wait_for(lambda: polls(sandbox, tenant) >= started + 2, 180, "the watcher's first polls")

    settled: dict[str, float] = {}
    kills: list[float] = []
    batches = [open_orders[n::KILLS] for n in range(KILLS)]  # 13 orders: one or two a cycle
    rng.shuffle(batches)
    for n, batch in enumerate(batches):
        victim = triggerers[n % len(triggerers)]
        # Each cycle starts while the watcher polls (not while no triggerer has it yet); in the next
        # 3 s its orders settle and the triggerer is killed, each at a random moment, in either order.
        before = polls(sandbox, tenant)
        airflow.wait_for(lambda b=before: polls(sandbox, tenant) > b, 120, "the watcher to poll")
        cycle = time.monotonic()
        plan = sorted([(rng.uniform(0.0, 3.0), order) for order in batch] + [(rng.uniform(0.0, 3.0), None)],
                      key=lambda step: step[0])  # fmt: skip
        for at, order in plan:
            time.sleep(max(0.0, cycle + at - time.monotonic()))
            if order is None:
                airflow.kill_component(victim)
                kills.append(time.time())
                airflow.start_component(victim)
            else:
                sandbox.control(
                    "/settle", {"vendor": "crayon", "tenant": str(tenant), "index": order["index"]}
                )
                settled[order["id"]] = time.time()
    assert len(settled) == len(open_orders) and len(kills) == KILLS

    def events() -> list[dict[str, Any]]:
        return asset_events(airflow, f"asset_id={asset['id']}")

    def reported() -> set[str]:
        return {o["id"] for e in events() for o in e["extra"]["payload"]["orders"]}

    airflow.wait_for(lambda: reported() >= set(settled), 240, "every settled order's event")
    now = polls(sandbox, tenant)
    airflow.wait_for(lambda: polls(sandbox, tenant) >= now + 5, 120, "five more polls")  # nothing more fires

    found = events()
    per_order: dict[str, list[dict[str, Any]]] = {}
    for event in found:
        for order in event["extra"]["payload"]["orders"]:
            assert order["previous_vendor_status"] == "Processing", order
            assert order["vendor_status"] in ("Succeeded", "Failed"), order
            per_order.setdefault(order["id"], []).append(event)
    assert set(per_order) == set(settled)  # no order that did not settle, none missed

    def stored(event: dict[str, Any]) -> float:
        return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()

    timeline = sorted([(stored(e), f"event {e['id']}: {[o['id'] for o in e['extra']['payload']['orders']]}")
                       for e in found] + [(k, "kill") for k in kills]
                      + [(t, f"settled {oid}") for oid, t in settled.items()])  # fmt: skip
    print("\n".join(f"{datetime.fromtimestamp(t, timezone.utc):%H:%M:%S.%f} {what}" for t, what in timeline))
    # When each poll's watermark was saved (the triggerers' logs): from then on a restart does not fire
    # that poll's events again. Before it, a kill does: Airflow has stored them, and the trigger has not
    # heard (the confirmation comes with the triggerer's next state sync, each second).
    saves = watermark_saves(airflow, tenant)
    again = 0
    for oid, its_events in per_order.items():
        ordered = sorted(its_events, key=stored)
        for previous, repeat in itertools.pairwise(ordered):
            polled = datetime.fromisoformat(previous["extra"]["payload"]["polled_at"])
            covered = min((at for poll, at in saves if poll >= polled), default=float("inf"))
            explained = [k for k in kills if stored(previous) <= k < min(covered, stored(repeat))]
            assert explained, (f"order {oid}: event {repeat['id']} repeats event {previous['id']} although its "
                               f"watermark was saved before any kill")  # fmt: skip
            again += 1
    for event in found:  # never saved before Airflow stored the events: a kill then would lose them
        polled = datetime.fromisoformat(event["extra"]["payload"]["polled_at"])
        assert all(at >= stored(event) for poll, at in saves if poll == polled), (event, saves)
    windows = sorted(
        round(min((at for poll, at in saves if poll >= datetime.fromisoformat(e["extra"]["payload"]["polled_at"])),
                  default=float("nan")) - stored(e), 2)
        for e in found
    )  # fmt: skip
    print(f"{len(settled)} orders settled, {len(kills)} kills, {len(found)} asset events, {again} repeated (a "
          f"kill between Airflow storing an event and the watermark's save); seconds from an event stored to "
          f"its watermark saved: {windows}")  # fmt: skip

    # Each event is consumed by exactly one DAG run (several events may share one): an order is in as many
    # runs as it has events, once where it fired once.
    def runs_of_events() -> dict[int, list[str]]:
        got = {e["id"]: [r["run_id"] for r in e["created_dagruns"]] for e in events()}
        return got if all(got.values()) else {}

    created = airflow.wait_for(runs_of_events, 180, "a DAG run for every event")
    assert set(created) == {e["id"] for e in found}
    assert all(len(runs) == 1 for runs in created.values()), created


# Each on a worker of its own where there are several (each worker then starts its own Airflow): they
# mostly wait, for a triggerer to start again.
@pytest.mark.xdist_group("crash-one-triggerer")
def test_each_settled_order_fires_once_across_ten_triggerer_kills(
    crash_airflow: tuple[Airflow, SandboxProcess],
) -> None:
    airflow, sandbox = crash_airflow
    crash_and_count(airflow, sandbox, 1101, ["triggerer"], seed=int(time.time()) + 1101)


@pytest.mark.xdist_group("crash-two-triggerers")
def test_each_settled_order_fires_once_with_two_triggerers(
    crash_airflow: tuple[Airflow, SandboxProcess],
) -> None:
    airflow, sandbox = crash_airflow
    airflow.start_component("triggerer#2")
    try:
        crash_and_count(airflow, sandbox, 1102, ["triggerer", "triggerer#2"], seed=int(time.time()) + 1102)
    finally:
        airflow.stop_component("triggerer#2")
