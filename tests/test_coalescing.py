"""Many OrderStateTriggers in one event loop share one poll per scope, over real HTTP to the sandbox.

The oracle for "the event it would have got alone" is the hook's own ``get_order`` (the lookup a wait
polling alone makes), decided by the same status rules.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from airflow_provider_orders.boundary import event_from_error
from airflow_provider_orders.engine.waiting import StatusMatcher, failure_message
from airflow_provider_orders.errors import OrderNotFoundError, OrdersError
from airflow_provider_orders.hooks.resolve import get_orders_hook
from airflow_provider_orders.sandbox import Sandbox, SandboxConfig
from airflow_provider_orders.triggers.orders import OrderStateTrigger
from airflow_provider_orders.triggers.polling import pollers
from tests.conftest import control, use_sandbox, wire

pytestmark = pytest.mark.integration

TARGET = ["completed"]
FAILURE = ["failed", "canceled"]
SCOPES = {
    "crayon": ("customer_tenant_id", ["2001", "2002", "2003", "2004", "2005"]),
    "adobe_vip_marketplace": ("customer_id", ["1005000001", "1005000002"]),
    "fleetio": (None, [""]),
}


def scope_of(vendor: str, tenant: str) -> dict[str, Any]:
    key = SCOPES[vendor][0]
    return {key: int(tenant) if vendor == "crayon" else tenant} if key else {}


def orders_by_state(sbx: Sandbox, vendor: str, tenant: str) -> dict[str, list[str]]:
    """The settled orders of a scope by native state (live orders left out: they change)."""
    app = sbx.apps[vendor]
    store = app.orders(tenant)
    out: dict[str, list[str]] = {}
    for i in range(store.live_start):
        order_id = app.order_id(app.record(store, i))
        if order_id not in {o for ids in out.values() for o in ids}:
            out.setdefault(store.state(i), []).append(order_id)
    return out


def make(vendor: str, tenant: str, order_id: str, **kwargs: Any) -> OrderStateTrigger:
    values: dict[str, Any] = {"target_status": TARGET, "failure_status": FAILURE, "poll_interval": 0.5}
    values.update(kwargs)
    return OrderStateTrigger(
        conn_id=f"{vendor}_default", order_id=order_id, scope=scope_of(vendor, tenant), **values
    )


async def first_event(trigger: OrderStateTrigger) -> dict[str, Any]:
    async for event in trigger.run():
        return dict(event.payload)
    raise AssertionError("the trigger ended without an event")


def run_together(triggers: list[OrderStateTrigger]) -> list[dict[str, Any]]:
    async def main() -> list[dict[str, Any]]:
        events = await asyncio.gather(*(first_event(t) for t in triggers))
        assert pollers() == []  # every poller stopped with its last wait
        return list(events)

    return asyncio.run(main())


def alone(trigger: OrderStateTrigger) -> dict[str, Any]:
    """The event ``trigger`` gets polling alone, from the hook's own single-order lookup."""
    hook = get_orders_hook(trigger.conn_id)
    vendor_class = hook.vendor_class
    base = {"order_id": trigger.order_id, "conn_id": trigger.conn_id, "vendor": vendor_class.conn_type}
    matcher = StatusMatcher.build(vendor_class, trigger.target_status, trigger.failure_status)
    timeout = {
        "status": "timeout",
        "message": f"order {trigger.order_id} did not reach {trigger.target_status} in time",
    }
    try:
        order = hook.get_order(trigger.order_id, **trigger.scope)
    except OrderNotFoundError as exc:
        return (
            {**base, **event_from_error(exc)}
            if trigger.fail_if_missing
            else {**base, **timeout, "order": None}
        )
    except OrdersError as exc:
        return {**base, **event_from_error(exc)}
    dumped = order.model_dump(mode="json")
    outcome = matcher.decide(order)
    if outcome == "success":
        return {**base, "status": "success", "order": dumped}
    if outcome == "failure":
        return {**base, "status": "failure", "order": dumped, "message": failure_message(order, vendor_class)}
    return {**base, **timeout, "order": dumped}


def api_requests(sbx: Sandbox, vendor: str) -> list[dict[str, Any]]:
    return [r for r in wire(sbx, vendor) if "token" not in r["path"] and "/ims" not in r["path"]]


def test_500_waits_on_5_scopes_cost_one_listing_per_scope_per_round(sbx: Sandbox) -> None:
    waits = []
    for tenant in SCOPES["crayon"][1]:
        ids = sorted(o for ids in orders_by_state(sbx, "crayon", tenant).values() for o in ids)[:100]
        assert len(ids) == 100, "the sandbox tenant has too few orders for this test"
        waits += [(tenant, order_id) for order_id in ids]
    started = time.time()
    # No Crayon state is "canceled": every wait runs until its timeout, polled all along. The timeout lies
    # past the first answer even on a loaded machine (CI's 3.2 leg once had none for a wait at 2.5 s, and a
    # timeout before any answer carries no order).
    triggers = [make("crayon", t, o, target_status=["canceled"], failure_status=[], poll_interval=1.5,
                     timeout_at=started + 4.5) for t, o in waits]  # fmt: skip
    events = run_together(triggers)
    assert [e["status"] for e in events] == ["timeout"] * 500
    assert [e["order"]["id"] for e in events] == [o for _, o in waits]
    calls = api_requests(sbx, "crayon")
    first_pages = [r for r in calls if ("page", "1") in [tuple(q) for q in r["query"]]]
    by_tenant: dict[str, int] = {}
    for r in first_pages:
        tenant = dict(map(tuple, r["query"]))["customerTenantId"]
        by_tenant[tenant] = by_tenant.get(tenant, 0) + 1
    # Rounds at about 0 s, 1.5 s and 3 s before the 4.5 s timeout: one listing per scope each, not 100.
    assert sorted(by_tenant) == SCOPES["crayon"][1]
    assert all(2 <= n <= 4 for n in by_tenant.values()), by_tenant
    # Each listing reads only until its 100 orders are found: a few pages, nowhere near 500 per round.
    assert len(calls) <= 5 * 4 * 3, len(calls)
    # A sample against the oracle: the last order each reported is what a lookup alone returns.
    for trigger, event in list(zip(triggers, events, strict=True))[::50]:
        assert event == {**alone(trigger), "status": "timeout"}


@pytest.mark.parametrize("vendor", ["crayon", "adobe_vip_marketplace", "fleetio"])
def test_every_wait_gets_the_event_it_would_have_got_alone(sbx: Sandbox, vendor: str) -> None:
    triggers = []
    for tenant in SCOPES[vendor][1]:
        states = orders_by_state(sbx, vendor, tenant)
        app_states = sbx.apps[vendor].states
        succeeded, failed, open_ = _pick(vendor, states, app_states)
        # Past the first answer even on a loaded machine (CI's 3.0 leg once took 1.5 s to answer, and a
        # timeout before any answer carries no order, where the lookup alone has one).
        deadline = time.time() + 4.0
        triggers += [
            make(vendor, tenant, succeeded),
            make(vendor, tenant, failed),
            make(vendor, tenant, open_, timeout_at=deadline),
            make(vendor, tenant, "999999999", fail_if_missing=True),
            make(vendor, tenant, "999999998", timeout_at=deadline),
        ]
    if vendor == "fleetio":
        triggers = triggers[:2]  # two waits: answered by single lookups, not a listing
    events = run_together(triggers)
    expected = [alone(t) for t in triggers]
    assert events == expected
    statuses = {e["status"] for e in events}
    assert statuses == (
        {"success", "failure"} if vendor == "fleetio" else {"success", "failure", "timeout", "error"}
    )
    if vendor == "fleetio":
        calls = api_requests(sbx, "fleetio")
        assert all("/purchase_orders/" in r["path"] for r in calls)  # single lookups


def _pick(vendor: str, states: dict[str, list[str]], known: tuple[str, ...]) -> tuple[str, str, str]:
    done = {"crayon": "Succeeded", "adobe_vip_marketplace": "1000", "fleetio": "received_full"}[vendor]
    bad = {"crayon": "Failed", "adobe_vip_marketplace": "1004", "fleetio": "rejected"}[vendor]
    open_state = {
        "crayon": "Processing",
        "adobe_vip_marketplace": "1002",
        "fleetio": "submitted_for_approval",
    }[vendor]
    for state in (done, bad, open_state):
        assert states.get(state), (
            f"{vendor}: no settled order in state {state} (has {sorted(states)}, of {known})"
        )
    return states[done][0], states[bad][0], states[open_state][0]


def test_a_vendor_failure_reaches_every_wait_of_the_scope_as_it_would_alone(sbx: Sandbox) -> None:
    states = orders_by_state(sbx, "crayon", "2001")
    triggers = [
        make("crayon", "2001", states["Succeeded"][0]),
        make("crayon", "2001", states["Processing"][0]),
    ]
    control(
        sbx, "/faults", {"vendor": "crayon", "kind": "status", "status": 400, "on_request": 1, "times": 50}
    )
    events = run_together(triggers)
    expected = [alone(t) for t in triggers]  # the fault is still on: the lookup alone fails the same way
    assert events == expected
    assert [(e["status"], e["http_status"], e["error_type"]) for e in events] == [
        ("error", 400, "VendorApiError")
    ] * 2


def test_a_wait_cancelled_mid_round_disturbs_no_other(sbx: Sandbox) -> None:
    states = orders_by_state(sbx, "crayon", "2002")
    keep = [make("crayon", "2002", states["Succeeded"][0]), make("crayon", "2002", states["Failed"][0])]
    leaving = make("crayon", "2002", states["Succeeded"][1])
    # The first listing request is held for 1 s: the cancel lands while the round is in flight.
    control(sbx, "/faults", {"vendor": "crayon", "kind": "stall", "seconds": 1.0, "on_request": 1})

    async def main() -> tuple[list[dict[str, Any]], bool]:
        tasks = [asyncio.ensure_future(first_event(t)) for t in [*keep, leaving]]
        await asyncio.sleep(0.5)
        assert len(pollers()) == 1 and pollers()[0].rounds == 1  # the round is running
        tasks[-1].cancel()
        events = await asyncio.gather(*tasks[:2])
        cancelled = tasks[-1].cancelled()
        assert pollers() == []
        return list(events), cancelled

    events, cancelled = asyncio.run(main())
    assert cancelled
    assert events == [alone(t) for t in keep]
    assert [e["status"] for e in events] == ["success", "failure"]


def test_every_wait_cancelled_stops_the_poller(sbx: Sandbox) -> None:
    states = orders_by_state(sbx, "crayon", "2003")
    triggers = [make("crayon", "2003", o, poll_interval=0.2) for o in states["Processing"][:3]]

    async def main() -> list[Any]:
        tasks = [asyncio.ensure_future(first_event(t)) for t in triggers]
        await asyncio.sleep(0.6)
        (poller,) = pollers()
        assert poller.rounds >= 2
        polling = poller._task
        assert polling is not None
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert pollers() == []
        await asyncio.wait([polling], timeout=5)
        assert polling.cancelled()
        return results

    results = asyncio.run(main())
    assert all(isinstance(r, asyncio.CancelledError) for r in results)


def test_waits_with_different_intervals_are_served_at_the_shortest(monkeypatch: pytest.MonkeyPatch) -> None:
    with Sandbox(SandboxConfig(orders=30, live=2, live_delay=1.0)) as sbx:
        use_sandbox(sbx, monkeypatch)
        live = sbx.apps["crayon"].live_orders("2004")
        # The slow wait's order settles after about 1 s, the fast wait's after about 2 s.
        fast = make("crayon", "2004", live[1]["id"], poll_interval=0.2, timeout_at=time.time() + 8)
        slow = make("crayon", "2004", live[0]["id"], poll_interval=60.0, timeout_at=time.time() + 8)
        events = run_together([fast, slow])
        # The 60 s wait learns of its order at the 0.2 s wait's rounds: before its own 8 s timeout.
        assert [e["status"] for e in events] == ["success", "success"]
        assert events == [alone(fast), alone(slow)]
        first_pages = [r for r in api_requests(sbx, "crayon") if ["page", "1"] in r["query"]]
        assert len(first_pages) >= 4  # one listing per 0.2 s round, for both waits
