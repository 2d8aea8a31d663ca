"""Watching a scope for changes: the watermark logic (no I/O), and ``OrderEventTrigger`` against the sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_orders.engine.watching import (
    Seen,
    Watermark,
    observe,
    open_and_older,
    orders_by_id,
    status_filter,
)
from airflow_provider_orders.errors import InvalidFilterError
from airflow_provider_orders.models import Order, OrderStatus
from airflow_provider_orders.sandbox import Sandbox
from airflow_provider_orders.sandbox.core import Fault
from airflow_provider_orders.triggers import OrderEventTrigger
from airflow_provider_orders.triggers import events as events_module
from airflow_provider_orders.triggers.events import Snapshot, Watch
from airflow_provider_orders.vendors.crayon import Crayon
from airflow_provider_orders.vendors.fleetio import Fleetio
from tests.conftest import control

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
FLEETIO_STATE = {"purchased": OrderStatus.PROCESSING, "received_full": OrderStatus.COMPLETED,
                 "rejected": OrderStatus.FAILED, "approved": OrderStatus.PROCESSING}  # fmt: skip


def order(oid: str, state: str, *, created: datetime = T0, updated: datetime | None = None) -> Order:
    return Order(vendor="fleetio", id=oid, status=FLEETIO_STATE[state], vendor_status=state,
                 created_at=created, updated_at=updated, raw={"id": oid, "state": state})  # fmt: skip


def listing(*orders: Order) -> dict[str, Order]:
    return {o.id: o for o in orders}


def everything(o: Order) -> bool:
    return True


def poll(mark: Watermark, *orders: Order, at: datetime, incremental: bool = False, **kw: Any) -> Any:
    kw.setdefault("watched", everything)
    return observe(mark, listing(*orders), now=at, window_start=kw.pop("window_start", None),
                   incremental=incremental, **kw)  # fmt: skip


def ids(changes: list[Any]) -> list[tuple[str, str, str | None]]:
    return [
        (c.order.id, c.order.vendor_status, c.previous.vendor_status if c.previous else None) for c in changes
    ]


# -- the watermark logic ------------------------------------------------------------------------------


def test_first_poll_records_and_later_polls_report_new_orders_and_changes() -> None:
    changes, mark = poll(Watermark(), order("1", "purchased"), order("2", "received_full"), at=T0)
    assert changes == []  # from now: orders already in a watched state are not events
    assert mark.orders == {"1": Seen("purchased", "processing", T0.timestamp()),
                           "2": Seen("received_full", "completed", T0.timestamp())}  # fmt: skip
    changes, mark = poll(mark, order("1", "received_full"), order("2", "received_full"), order("3", "approved"),
                         at=T0 + timedelta(minutes=1))  # fmt: skip
    assert ids(changes) == [("1", "received_full", "purchased"), ("3", "approved", None)]
    assert [c.kind for c in changes] == ["status", "new"]
    changes, _ = poll(mark, order("1", "received_full"), order("2", "received_full"), order("3", "approved"),
                      at=T0 + timedelta(minutes=2))  # fmt: skip
    assert changes == []  # nothing fires twice


def test_backfill_reports_orders_created_since_on_the_first_poll() -> None:
    old, new = (
        order("1", "received_full", created=T0 - timedelta(days=2)),
        order("2", "received_full", created=T0),
    )
    changes, mark = poll(Watermark(since=T0 - timedelta(days=1)), old, new, at=T0)
    assert ids(changes) == [("2", "received_full", None)]
    assert mark.since is None and set(mark.orders) == {"1", "2"}


def test_an_order_changing_twice_between_polls_is_one_change_to_its_present_state() -> None:
    _, mark = poll(Watermark(), order("1", "approved"), at=T0)
    # approved -> purchased -> received_full while the watcher slept: the listing shows only the last.
    changes, mark = poll(mark, order("1", "received_full"), at=T0 + timedelta(minutes=1))
    assert ids(changes) == [("1", "received_full", "approved")]
    assert changes[0].to_event()["previous_status"] == "processing"
    # Changed and changed back between polls: nothing to see, nothing reported.
    changes, _ = poll(mark, order("1", "received_full"), at=T0 + timedelta(minutes=2))
    assert changes == []


def test_equal_change_times_at_a_page_boundary_are_neither_lost_nor_repeated() -> None:
    """The cursor is inclusive: orders changed at its very instant are listed again and told apart by
    their recorded state; one the vendor indexed late (at that instant) is still found."""
    at = T0 + timedelta(hours=1)
    a, b = (
        order("a", "purchased", updated=at),
        order("b", "purchased", updated=at),
    )  # page 1 ends a, page 2 starts b
    _, mark = poll(Watermark(), order("x", "approved", updated=T0), a, b, at=at)
    assert mark.cursor == at
    late = order("c", "received_full", updated=at)  # same instant, listed only now
    b_done = order("b", "received_full", updated=at)  # changed again within the same second
    changes, mark = poll(mark, a, b_done, late, at=at + timedelta(seconds=5), incremental=True)
    assert ids(changes) == [("b", "received_full", "purchased"), ("c", "received_full", None)]
    assert set(mark.orders) == {"x", "a", "b", "c"}  # an incremental poll keeps what it did not list
    assert mark.orders["x"].vendor_status == "approved"
    changes, mark = poll(mark, a, b_done, late, at=at + timedelta(seconds=10), incremental=True)
    assert changes == []
    assert mark.cursor == at


def test_settled_orders_leaving_the_window_are_forgotten_and_reported_again_if_they_return() -> None:
    early, late = order("1", "rejected", created=T0), order("2", "purchased", created=T0 + timedelta(days=1))
    _, mark = poll(Watermark(), early, late, at=T0 + timedelta(days=1))
    _, mark = poll(mark, late, at=T0 + timedelta(days=2), window_start=T0 + timedelta(hours=1))
    assert set(mark.orders) == {"2"}
    # Incremental polls forget by creation time too.
    _, mark2 = poll(Watermark(), early, late, at=T0 + timedelta(days=1))
    _, mark2 = poll(mark2, at=T0 + timedelta(days=2), window_start=T0 + timedelta(hours=1), incremental=True)
    assert set(mark2.orders) == {"2"}
    changes, _ = poll(mark, order("1", "received_full"), late, at=T0 + timedelta(days=3))
    assert ids(changes) == [("1", "received_full", None)]


def test_an_open_order_leaving_the_window_is_followed_until_it_settles() -> None:
    """However old: the listing no longer has it, the trigger looks it up, and its settling is a change."""
    early, late = order("1", "purchased", created=T0), order("2", "purchased", created=T0 + timedelta(days=1))
    window = {"window_start": T0 + timedelta(hours=1)}
    for incremental in (False, True):
        _, mark = poll(Watermark(), early, late, at=T0 + timedelta(days=1))
        # Not listed (older than the window), still open: recorded, and named for the trigger to follow.
        _, mark = poll(mark, late, at=T0 + timedelta(days=2), incremental=incremental, **window)
        assert set(mark.orders) == {"1", "2"}
        assert open_and_older(mark, window["window_start"]) == ["1"]
        changes, mark = poll(mark, order("1", "received_full"), late, at=T0 + timedelta(days=3), **window)
        assert ids(changes) == [("1", "received_full", "purchased")]
        # Settled: no longer followed, and forgotten once older than the window.
        assert open_and_older(mark, window["window_start"]) == []
        _, mark = poll(mark, late, at=T0 + timedelta(days=4), incremental=incremental, **window)
        assert set(mark.orders) == {"2"}


def test_watched_statuses_normalised_or_native_and_unknown_ones_refused() -> None:
    watched = status_filter(Fleetio, ["completed", "rejected"])
    _, mark = poll(Watermark(), order("1", "approved"), order("2", "approved"), order("3", "approved"), at=T0)
    changes, _ = poll(mark, order("1", "received_full"), order("2", "rejected"), order("3", "purchased"),
                      at=T0 + timedelta(minutes=1), watched=watched)  # fmt: skip
    assert ids(changes) == [("1", "received_full", "approved"), ("2", "rejected", "approved")]
    with pytest.raises(InvalidFilterError, match=r"fleetio.*'shipped'"):
        status_filter(Fleetio, ["shipped"])


def test_the_watermark_round_trips_as_json_and_a_damaged_one_is_refused() -> None:
    _, mark = poll(Watermark(), order("1", "purchased", updated=T0), at=T0)
    stored = json.loads(json.dumps(mark.to_json()))
    assert Watermark.from_json(stored) == mark
    with pytest.raises(ValueError, match="version"):
        Watermark.from_json({"orders": {}})
    with pytest.raises(ValueError, match="damaged"):
        Watermark.from_json({**stored, "orders": {"1": ["purchased"]}})


def test_the_dedup_key_names_the_transition() -> None:
    _, mark = poll(Watermark(), order("1", "purchased"), at=T0)
    (first,), _ = poll(mark, order("1", "received_full"), at=T0 + timedelta(minutes=1))
    (again,), _ = poll(mark, order("1", "received_full"), at=T0 + timedelta(minutes=5))
    (other,), _ = poll(mark, order("1", "rejected"), at=T0 + timedelta(minutes=1))
    assert first.dedup_key == again.dedup_key != other.dedup_key
    assert first.dedup_key.startswith("fleetio:1:")


def test_crayon_lines_split_over_pages_are_one_order() -> None:
    crayon = Crayon.__new__(Crayon)
    line = {"vendor": "crayon", "id": "9", "created_at": T0, "raw": {}}
    lines = [Order(**line, status=OrderStatus.COMPLETED, vendor_status="Succeeded"),
             Order(**line, status=OrderStatus.PROCESSING, vendor_status="Processing")]  # fmt: skip
    (combined,) = orders_by_id(crayon, lines).values()
    assert combined.vendor_status == "Processing"  # the least settled line: not done until every line is


# -- the trigger: a state store that survives restarts ---------------------------------------------------


class StateStore:
    """What Airflow 3.3 injects as ``asset_state_store`` (one asset), kept in a dict: survives a "restart"."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.writes = 0

    async def aget(self, key: str, default: Any = None) -> Any:
        return json.loads(self.values[key]) if key in self.values else default

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = json.dumps(value)
        self.writes += 1


async def feed(*snapshots: Snapshot) -> AsyncIterator[Snapshot]:
    for snapshot in snapshots:
        yield snapshot


def snap(*orders: Order, minute: int) -> Snapshot:
    return Snapshot(Fleetio, listing(*orders), T0 + timedelta(minutes=minute), None)


def watcher(store: StateStore, **kwargs: Any) -> Watch:
    trigger = OrderEventTrigger(conn_id="fleetio_default", lookback=None, **kwargs)
    trigger.asset_state_store = store  # type: ignore[assignment]
    return Watch(trigger)


async def all_events(watch: Watch, *snapshots: Snapshot) -> list[dict[str, Any]]:
    return [e.payload async for e in watch.events(feed(*snapshots))]


def test_a_restart_between_fetching_and_firing_loses_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_module, "COMMIT_DELAY", 0.0)
    store = StateStore()
    baseline = snap(order("1", "purchased"), order("2", "purchased"), minute=0)
    asyncio.run(
        all_events(watcher(store), baseline, snap(order("1", "purchased"), order("2", "purchased"), minute=1))
    )
    saved = store.values.copy()
    assert (
        Watermark.from_json(json.loads(saved[events_module.STATE_KEY])).orders["1"].vendor_status
        == "purchased"
    )

    async def fetch_then_die() -> None:
        watch = watcher(store)
        events = watch.events(feed(snap(order("1", "received_full"), order("2", "purchased"), minute=2)))
        await events.__anext__()  # the change is fetched and its event produced ...
        await events.aclose()  # ... and the triggerer dies before Airflow stored it

    asyncio.run(fetch_then_die())
    assert store.values == saved  # the watermark did not move
    # Restarted: the same change, fired again with the same de-duplication key.
    (event,) = asyncio.run(
        all_events(watcher(store), snap(order("1", "received_full"), order("2", "purchased"), minute=3))
    )
    assert [(o["id"], o["vendor_status"], o["previous_vendor_status"]) for o in event["orders"]] == [
        ("1", "received_full", "purchased")
    ]


def test_a_change_fired_and_committed_is_not_fired_again_after_a_restart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events_module, "COMMIT_DELAY", 0.0)
    store = StateStore()
    done = order("1", "received_full")
    fired = asyncio.run(all_events(watcher(store), snap(order("1", "purchased"), minute=0), snap(done, minute=1),
                                   snap(done, minute=2)))  # fmt: skip
    assert len(fired) == 1
    # The next watcher (another triggerer) goes on from the store: orders created or changed meanwhile fire.
    again = asyncio.run(all_events(watcher(store), snap(done, order("2", "approved"), minute=3)))
    assert [[o["id"] for o in e["orders"]] for e in again] == [["2"]]
    assert again[0]["orders"][0]["change"] == "new"


def test_a_watermark_waits_for_the_commit_delay_after_its_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_module, "COMMIT_DELAY", 3600.0)
    store = StateStore()
    asyncio.run(
        all_events(
            watcher(store), snap(order("1", "purchased"), minute=0), snap(order("1", "purchased"), minute=1)
        )
    )
    writes = store.writes
    done = order("1", "received_full")
    fired = asyncio.run(
        all_events(watcher(store), snap(done, minute=2), snap(done, minute=3), snap(done, minute=4))
    )
    assert len(fired) == 1
    assert store.writes == writes  # the event could still be on its way to the database: not saved yet


def test_without_ack_mode_the_save_after_events_is_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(events_module, "COMMIT_DELAY", 0.0)
    caplog.set_level(logging.INFO, logger=events_module.__name__)
    store = StateStore()
    done = order("1", "received_full")
    snapshots = [snap(order("1", "purchased"), minute=0), snap(done, minute=1), snap(done, minute=2)]
    assert len(asyncio.run(all_events(watcher(store), *snapshots))) == 1
    assert [r.getMessage() for r in caplog.records if "watermark of the poll" in r.getMessage()] == [
        "orders watch of fleetio_default {}: watermark of the poll of 2026-11-01 00:01:00+00:00 saved, 0 s after "
        "its events"
    ]


def test_in_ack_mode_a_watermark_is_saved_when_airflow_has_stored_its_polls_events(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Airflow 3.3's shared streams confirm each poll once its watchers' events are in the database
    (``SnapshotProducer.advance``): only then, and in poll order, is the poll's watermark saved. The save
    after events is logged (from then on a crash does not fire them again); the one without is not."""
    caplog.set_level(logging.INFO, logger=events_module.__name__)
    store = StateStore()

    def saved_lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if "watermark of the poll" in r.getMessage()]

    async def scenario() -> None:
        baseline = replace(snap(order("1", "purchased"), minute=0), persisted=asyncio.Event())
        settled = replace(snap(order("1", "received_full"), minute=1), persisted=asyncio.Event())
        watch = watcher(store)
        fired = [event async for event in watch.events(feed(baseline, settled))]
        assert [o["vendor_status"] for e in fired for o in e.payload["orders"]] == ["received_full"]
        await asyncio.sleep(0.01)
        assert store.writes == 0  # fired, but not yet confirmed stored: a crash now fires it again
        settled.persisted.set()  # type: ignore[union-attr]
        await asyncio.sleep(0.01)
        assert store.writes == 0  # the earlier poll is not confirmed yet: saves keep poll order
        assert saved_lines() == []
        baseline.persisted.set()  # type: ignore[union-attr]
        await asyncio.sleep(0.01)
        saved = Watermark.from_json(await store.aget(events_module.STATE_KEY))
        assert saved.orders["1"].vendor_status == "received_full"
        assert saved_lines() == [
            "orders watch of fleetio_default {}: watermark of the poll of 2026-11-01 00:01:00+00:00 saved: "
            "Airflow has stored its events"
        ]

    asyncio.run(scenario())


def test_two_triggerers_running_one_watcher_report_a_change_once() -> None:
    """A hand-over while the first triggerer still runs, or two picking the watcher up at once: both poll
    the scope. The one that polls later goes on from the watermark the other saved, so a change is one
    event, not two."""
    store = StateStore()

    async def scenario() -> list[dict[str, Any]]:
        feeds: list[asyncio.Queue[Snapshot]] = [asyncio.Queue(), asyncio.Queue()]

        async def snapshots(queue: asyncio.Queue[Snapshot]) -> AsyncIterator[Snapshot]:
            while True:
                yield await queue.get()

        fired: list[dict[str, Any]] = []

        async def run(i: int) -> None:
            async for event in watcher(store).events(snapshots(feeds[i])):
                fired.append(event.payload)

        tasks = [asyncio.ensure_future(run(i)) for i in (0, 1)]

        async def poll(i: int, state: str, minute: int) -> None:
            tracked = replace(snap(order("1", state), minute=minute), persisted=asyncio.Event())
            tracked.persisted.set()  # type: ignore[union-attr]  # Airflow stored its events at once
            await feeds[i].put(tracked)
            await asyncio.sleep(0.05)

        await poll(0, "purchased", 0)
        await poll(1, "purchased", 0)
        await poll(0, "received_full", 2)  # the first triggerer reports it and saves
        await poll(1, "received_full", 3)  # the second, a minute later, finds that saved
        await poll(0, "received_full", 4)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return fired

    fired = asyncio.run(scenario())
    assert [(o["id"], o["vendor_status"]) for e in fired for o in e["orders"]] == [("1", "received_full")]


# -- the trigger against the sandbox ---------------------------------------------------------------------


def test_parse_time_checks_name_the_field_and_the_fix(sbx: Sandbox) -> None:
    with pytest.raises(InvalidFilterError, match="created_since is set by the watcher itself"):
        OrderEventTrigger(conn_id="fleetio_default", created_since="2026-01-01T00:00:00Z")
    with pytest.raises(InvalidFilterError, match=r"fleetio.*colour"):
        OrderEventTrigger(conn_id="fleetio_default", colour="red")
    with pytest.raises(InvalidFilterError, match=r"fleetio.*'shipped'"):
        OrderEventTrigger(conn_id="fleetio_default", statuses=["shipped"])
    with pytest.raises(InvalidFilterError, match="no time zone"):
        OrderEventTrigger(conn_id="fleetio_default", since="2026-11-30T00:00:00")
    with pytest.raises(InvalidFilterError, match="before the lookback window"):
        OrderEventTrigger(conn_id="fleetio_default", since="2020-01-01T00:00:00Z")
    with pytest.raises(InvalidFilterError, match="poll_interval"):
        OrderEventTrigger(conn_id="fleetio_default", poll_interval=0)
    trigger = OrderEventTrigger(conn_id="crayon_default", scope={"customer_tenant_id": 2003},
                                statuses=[OrderStatus.COMPLETED], search="x", poll_interval=5)  # fmt: skip
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_orders.triggers.events.OrderEventTrigger"
    assert kwargs["statuses"] == ["completed"] and kwargs["search"] == "x"
    assert OrderEventTrigger(**json.loads(json.dumps(kwargs))).serialize() == (path, kwargs)


def settle(sbx: Sandbox, vendor: str, tenant: str | None = None, rank: int = 0) -> dict[str, Any]:
    live = sbx.apps[vendor].live_orders(sbx.tenant(vendor) if tenant is None else tenant)
    control(sbx, "/settle", {"vendor": vendor, "tenant": tenant, "index": live[rank]["index"]})
    return live[rank]


@pytest.fixture
def polls(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """When each watcher poll completed (a complete listing diffed): the tests settle orders after one."""
    done: list[datetime] = []
    observe_one = events_module.observe

    def counted(mark: Watermark, orders: dict[str, Order], **kwargs: Any) -> Any:
        done.append(kwargs["now"])
        return observe_one(mark, orders, **kwargs)

    monkeypatch.setattr(events_module, "observe", counted)
    return done


async def next_event(trigger: OrderEventTrigger, polls: list[datetime], after: Any = None,
                     timeout: float = 15) -> tuple[Any, Any]:  # fmt: skip
    """The trigger's first event, after ``after()`` runs once the trigger has recorded the scope (its
    first poll is complete: a change made earlier would be part of the baseline, not an event)."""
    events = trigger.run()
    pending = asyncio.ensure_future(events.__anext__())
    try:
        for _ in range(int(timeout / 0.05)):
            if polls or pending.done():
                break
            await asyncio.sleep(0.05)
        assert polls, f"no poll completed in {timeout} s"
        if after is not None:
            after()
        event = await asyncio.wait_for(pending, timeout)
    finally:
        await events.aclose()
    return event.payload, events


@pytest.mark.parametrize(("vendor", "conn_id", "scope", "tenant"), [
    ("crayon", "crayon_default", {"customer_tenant_id": 2003}, "2003"),
    ("adobe_vip_marketplace", "adobe_vip_marketplace_default", None, None),
    ("granite_access_express", "granite_access_express_default", None, None),
    ("emnify", "emnify_default", None, None),
    ("fleetio", "fleetio_default", None, None),
])  # fmt: skip
def test_an_order_settling_fires_one_event_with_what_a_dag_needs(
    sbx: Sandbox,
    polls: list[datetime],
    vendor: str,
    conn_id: str,
    scope: dict[str, Any] | None,
    tenant: str | None,
) -> None:
    if scope is None and vendor == "adobe_vip_marketplace":
        scope = {"customer_id": sbx.tenant(vendor)}
    trigger = OrderEventTrigger(conn_id=conn_id, scope=scope, poll_interval=0.2, lookback=None)
    settled: dict[str, Any] = {}
    payload, _ = asyncio.run(next_event(trigger, polls, lambda: settled.update(settle(sbx, vendor, tenant))))
    (changed,) = payload["orders"]
    assert payload["vendor"] == vendor and payload["conn_id"] == conn_id
    assert changed["id"] == settled["id"]
    assert changed["change"] == "status" and changed["status"] == "completed"
    assert changed["previous_status"] in ("processing", "pending")
    assert changed["dedup_key"].startswith(f"{vendor}:")
    assert payload["dedup_key"] == hashlib.sha256(changed["dedup_key"].encode()).hexdigest()[:32]
    assert changed["created_at"] is not None


@pytest.fixture(scope="module")
def aged_sandbox() -> Any:
    """Orders up to now, and per tenant three open orders created 30 days before the rest: older than a
    watch's default 7-day window, settling only when a test says so."""
    from airflow_provider_orders.sandbox import SandboxConfig

    config = SandboxConfig(orders=60, live=2, live_delay=3600, aged=3, granite_rpm=20, granite_window=2.0,
                           as_of=datetime.now(timezone.utc))  # fmt: skip
    with Sandbox(config) as running:
        yield running


@pytest.mark.parametrize(("vendor", "conn_id", "scope"), [
    ("crayon", "crayon_default", {"customer_tenant_id": 2003}),
    ("adobe_vip_marketplace", "adobe_vip_marketplace_default", None),
    ("granite_access_express", "granite_access_express_default", None),
    ("emnify", "emnify_default", None),
    ("fleetio", "fleetio_default", None),
])  # fmt: skip
def test_with_default_arguments_an_open_order_older_than_the_window_fires_when_it_settles(
    aged_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, polls: list[datetime], vendor: str, conn_id: str,
    scope: dict[str, Any] | None,
) -> None:  # fmt: skip
    from tests.conftest import GRANITE_CLIENT_RPM, use_sandbox

    use_sandbox(
        aged_sandbox, monkeypatch, granite_access_express_default={"requests_per_minute": GRANITE_CLIENT_RPM}
    )
    aged_sandbox.reset()
    tenant = "2003" if vendor == "crayon" else None
    if vendor == "adobe_vip_marketplace":
        scope = {"customer_id": aged_sandbox.tenant(vendor)}
    (oldest, *_) = aged_sandbox.apps[vendor].live_orders(
        aged_sandbox.tenant(vendor) if tenant is None else tenant
    )
    assert (
        oldest["aged"]
        and oldest["state"]
        and oldest["created_at"] < (datetime.now(timezone.utc) - timedelta(days=29)).isoformat()
    )
    trigger = OrderEventTrigger(
        conn_id=conn_id, scope=scope, poll_interval=0.2
    )  # lookback: the default 7 days

    def settle_oldest() -> None:
        control(aged_sandbox, "/settle", {"vendor": vendor, "tenant": tenant, "index": oldest["index"]})

    payload, _ = asyncio.run(next_event(trigger, polls, settle_oldest))
    assert [(o["id"], o["change"], o["previous_vendor_status"]) for o in payload["orders"]] == [
        (oldest["id"], "status", oldest["state"])
    ]
    assert payload["orders"][0]["status"] == "completed"


def test_an_old_open_order_that_settles_while_no_triggerer_runs_fires_after_the_restart(
    aged_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, polls: list[datetime]
) -> None:
    """The restarted poll loop lists only the orders open now; the watermark still has the settled one
    open, so the watcher looks it up and reports its settling (Airflow 3.3's asset state store)."""
    from tests.conftest import use_sandbox

    use_sandbox(aged_sandbox, monkeypatch)
    aged_sandbox.reset()
    monkeypatch.setattr(events_module, "COMMIT_DELAY", 0.0)
    store = StateStore()
    (oldest, *_) = aged_sandbox.apps["fleetio"].live_orders(aged_sandbox.tenant("fleetio"))

    def trigger() -> OrderEventTrigger:
        watching = OrderEventTrigger(conn_id="fleetio_default", poll_interval=0.1)
        watching.asset_state_store = store  # type: ignore[assignment]
        return watching

    async def run_a_while() -> None:
        events = trigger().run()
        pending = asyncio.ensure_future(events.__anext__())
        while len(polls) < 3:  # the first poll's watermark is saved when the next one starts
            await asyncio.sleep(0.05)
        pending.cancel()
        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
            await pending
        await events.aclose()

    asyncio.run(run_a_while())
    saved = Watermark.from_json(json.loads(store.values[events_module.STATE_KEY]))
    assert saved.orders[oldest["id"]].vendor_status == oldest["state"]  # recorded open, 30 days old
    control(aged_sandbox, "/settle", {"vendor": "fleetio", "index": oldest["index"]})  # while none runs
    polls.clear()
    payload, _ = asyncio.run(next_event(trigger(), polls))
    assert [(o["id"], o["change"], o["previous_vendor_status"]) for o in payload["orders"]] == [
        (oldest["id"], "status", oldest["state"])
    ]


def test_without_an_asset_state_store_the_watermark_has_a_variable_named_after_the_watch(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Airflow before 3.3: one Variable per trigger (equal arguments are one trigger in Airflow). Where no
    Variable can be read or written (no triggerer, no database), the watch warns and keeps it in memory."""
    crayon = {"conn_id": "crayon_default", "scope": {"customer_tenant_id": 2003}, "statuses": ["completed"]}
    key = events_module.variable_key(OrderEventTrigger(**crayon))
    assert key.startswith("airflow-provider-orders.watermark.")
    assert events_module.variable_key(OrderEventTrigger(**crayon)) == key
    other_tenant = {**crayon, "scope": {"customer_tenant_id": 2004}}
    other_statuses = {**crayon, "statuses": ["failed"]}
    assert (
        len(
            {
                key,
                *(events_module.variable_key(OrderEventTrigger(**k)) for k in (other_tenant, other_statuses)),
            }
        )
        == 3
    )
    store = Watch(OrderEventTrigger(**crayon)).store
    assert store.variable == key
    from airflow.sdk import Variable

    def no_supervisor(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no supervisor to ask")  # what the Task SDK says outside a triggerer or task

    monkeypatch.setattr(Variable, "get", no_supervisor)
    with caplog.at_level(logging.WARNING, logger="airflow_provider_orders.triggers.events"):
        assert asyncio.run(store.load()) is None
    assert store.variable is None
    assert f"cannot be kept in Airflow Variable {key}" in caplog.text and "in memory only" in caplog.text


def test_fleetio_asks_only_for_what_changed_after_the_first_poll(sbx: Sandbox, polls: list[datetime]) -> None:
    trigger = OrderEventTrigger(
        conn_id="fleetio_default", statuses=["completed"], poll_interval=0.2, lookback=None
    )
    payload, _ = asyncio.run(next_event(trigger, polls, lambda: settle(sbx, "fleetio")))
    assert [o["vendor_status"] for o in payload["orders"]] == ["received_full"]
    queries = [dict(r["query"]) for r in control(sbx, "/requests") if r["vendor"] == "fleetio"]
    incremental = ["filter[updated_at][gte]" in q for q in queries]
    # The first poll reads the whole scope (230 orders, 3 pages of 100); every later one only the changes.
    assert incremental[:3] == [False] * 3 and all(incremental[3:]) and len(incremental) >= 4


def test_a_vendor_down_is_retried_and_the_change_made_meanwhile_still_fires(
    sbx: Sandbox, polls: list[datetime], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(events_module, "MAX_BACKOFF", 0.3)
    conn = json.loads(__import__("os").environ["AIRFLOW_CONN_EMNIFY_DEFAULT"])
    conn["extra"] = {**conn["extra"], "max_retries": 0}
    monkeypatch.setenv("AIRFLOW_CONN_EMNIFY_DEFAULT", json.dumps(conn))
    trigger = OrderEventTrigger(conn_id="emnify_default", poll_interval=0.1, lookback=None)

    def outage_then_change() -> None:
        sbx.add_fault(Fault(vendor="emnify", kind="status", status=503, times=4,
                            on_request=sbx.state.counts.get("emnify", 0) + 1))  # fmt: skip
        settle(sbx, "emnify")

    with caplog.at_level(logging.INFO, logger="airflow_provider_orders.triggers.events"):
        payload, _ = asyncio.run(next_event(trigger, polls, outage_then_change))
    assert [o["vendor_status"] for o in payload["orders"]] == ["DELIVERED"]
    failed = [r for r in caplog.records if "the poll failed" in r.getMessage()]
    assert failed and all(r.levelno == logging.WARNING for r in failed)
    assert any("answers again" in r.getMessage() for r in caplog.records)


# -- one poll loop for many watchers: Airflow 3.3's shared streams ----------------------------------------


def test_watchers_of_one_scope_share_one_poll_and_each_applies_its_own_statuses(
    sbx: Sandbox, polls: list[datetime]
) -> None:
    """Through Airflow's own SharedStreamManager, as the 3.3 triggerer runs them."""
    shared_stream = pytest.importorskip(
        "airflow.triggers.shared_stream", reason="shared streams: Airflow 3.3+"
    )
    scope = {"customer_tenant_id": 2003}
    statuses = [["completed"], ["failed"], ["completed", "failed"], []]
    triggers = [OrderEventTrigger(conn_id="crayon_default", scope=scope, statuses=s, poll_interval=0.3, lookback=None)
                for s in statuses]  # fmt: skip
    other = OrderEventTrigger(conn_id="crayon_default", scope={"customer_tenant_id": 2004}, poll_interval=0.3,
                              lookback=None)  # fmt: skip
    assert len({t.shared_stream_key() for t in triggers}) == 1  # statuses are each watcher's own filter
    assert other.shared_stream_key() != triggers[0].shared_stream_key()
    live = sbx.apps["crayon"].live_orders("2003")
    seen: list[list[dict[str, Any]]] = [[] for _ in triggers]

    async def main() -> int:
        manager = shared_stream.SharedStreamManager()

        async def consume(i: int, trigger: OrderEventTrigger) -> None:
            stream = manager.subscribe(trigger_id=i, trigger=trigger, key=trigger.shared_stream_key())
            async for event in trigger.filter_shared_stream(stream):
                seen[i].append(event.payload)

        tasks = [asyncio.ensure_future(consume(i, t)) for i, t in enumerate(triggers)]
        for _ in range(300):  # every watcher has recorded the tenant (diffed the first shared listing)
            if len(polls) >= len(triggers):
                break
            await asyncio.sleep(0.05)
        before = len(first_pages(sbx))
        # live[0] succeeds, live[2] fails (every fourth live order fails, from the third).
        for rank in (0, 2):
            control(sbx, "/settle", {"vendor": "crayon", "tenant": "2003", "index": live[rank]["index"]})
        await asyncio.sleep(1.5)
        during = len(first_pages(sbx)) - before
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await manager.stop_all()
        return during

    during = asyncio.run(main())
    assert during <= 7  # ~5 polls in 1.5 s: one listing each for the four watchers together (alone: 20)
    got = [sorted(o["vendor_status"] for e in s for o in e["orders"]) for s in seen]
    assert got == [["Succeeded"], ["Failed"], ["Failed", "Succeeded"], ["Failed", "Succeeded"]]


def first_pages(sbx: Sandbox) -> list[dict[str, Any]]:
    """Crayon listings: their first pages."""
    return [r for r in control(sbx, "/requests") if r["vendor"] == "crayon" and ["page", "1"] in r["query"]]


def test_a_poll_with_many_changes_fires_them_in_bounded_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_module, "MAX_ORDERS_PER_EVENT", 2)
    created = T0 - timedelta(hours=1)
    backfill = [order(str(i), "received_full", created=T0 + timedelta(minutes=i)) for i in range(5)]
    fired = asyncio.run(all_events(watcher(StateStore(), since=created.isoformat()),
                                   snap(*backfill, minute=10)))  # fmt: skip
    assert [[o["id"] for o in e["orders"]] for e in fired] == [["0", "1"], ["2", "3"], ["4"]]
    assert len({e["dedup_key"] for e in fired}) == 3 and all(len(e["dedup_key"]) == 32 for e in fired)


def test_arguments_still_encoded_by_airflow_3_2s_triggerer_are_decoded() -> None:
    """Airflow 3.2 hands a watcher's trigger its dict kwargs as {"Encoding.VAR": ..., "Encoding.TYPE": "dict"}."""
    encoded = {"Encoding.VAR": {"customer_tenant_id": 1003}, "Encoding.TYPE": "dict"}
    labels = {"Encoding.VAR": ["brakes", "tyres"], "Encoding.TYPE": "tuple"}
    crayon = OrderEventTrigger(conn_id="crayon_events", scope=encoded, poll_interval=2)
    fleetio = OrderEventTrigger(conn_id="fleetio_events", labels=labels, poll_interval=2)
    assert crayon.scope == {"customer_tenant_id": 1003}
    assert crayon.serialize()[1]["scope"] == {"customer_tenant_id": 1003}
    assert fleetio.serialize()[1]["labels"] == ("brakes", "tyres")
