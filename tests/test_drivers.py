"""The sync and the async driver meet the same transport faults the same way (one classification)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from airflow_provider_orders.errors import VendorUnavailableError
from airflow_provider_orders.hooks.fleetio import FleetioHook
from airflow_provider_orders.sandbox import Sandbox, sandbox_connections
from tests.conftest import control, expected_id_list

pytestmark = pytest.mark.integration

#: fault -> the kind of transport failure it is, for both drivers.
FAULTS = {
    "close": ({"kind": "close"}, "connect"),
    "stall": ({"kind": "stall", "seconds": 1.0}, "timeout"),
    "bad_gzip": ({"kind": "bad_gzip"}, "protocol"),
}


def fleetio_with(sbx: Sandbox, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> None:
    conn = sandbox_connections(sbx.url)["fleetio_default"]
    conn["extra"] = {**conn["extra"], "timeout": 0.4, **extra}
    monkeypatch.setenv("AIRFLOW_CONN_FLEETIO_DEFAULT", json.dumps(conn))


def get_order(driver: str, order_id: str) -> Any:
    if driver == "sync":
        return FleetioHook().get_order(order_id)
    return asyncio.run(FleetioHook().aget_order(order_id))


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_once_is_retried_alike_by_both_drivers(
    sbx: Sandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    body, kind = FAULTS[fault]
    fleetio_with(sbx, monkeypatch, max_retries=2)
    order_id = expected_id_list(sbx, "fleetio")[0]
    seen = {}
    for driver in ("sync", "async"):
        control(sbx, "/reset", {})
        control(sbx, "/faults", {"vendor": "fleetio", "times": 1, **body})
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="airflow_provider_orders"):
            assert get_order(driver, order_id).id == order_id
        seen[driver] = [
            r.getMessage().split(" on ")[0] for r in caplog.records if "retry 1 of 2" in r.getMessage()
        ]
    assert seen == {"sync": [f"fleetio: {kind}"], "async": [f"fleetio: {kind}"]}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_lasting_fault_ends_in_the_same_retryable_error_from_both_drivers(
    sbx: Sandbox, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    body, kind = FAULTS[fault]
    fleetio_with(sbx, monkeypatch, max_retries=1)
    order_id = expected_id_list(sbx, "fleetio")[0]
    errors = {}
    for driver in ("sync", "async"):
        control(sbx, "/reset", {})
        control(sbx, "/faults", {"vendor": "fleetio", "times": 5, **body})
        with pytest.raises(VendorUnavailableError) as info:
            get_order(driver, order_id)
        errors[driver] = (type(info.value), info.value.retryable, info.value.message.split(":")[0])
    expected = (
        VendorUnavailableError,
        True,
        f"{kind} error on GET /fleetio/api/v1/purchase_orders/{order_id} after 2 attempts",
    )
    assert errors == {"sync": expected, "async": expected}


class TestWaitWithin:
    """The async deadline keeps the caller's cancellation (``asyncio.wait_for`` before 3.12 may drop it)."""

    def test_a_cancellation_arriving_with_the_result_is_kept(self) -> None:
        from airflow_provider_orders.engine.deadlines import wait_within

        async def main() -> asyncio.Task[Any]:
            result: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            waiter = asyncio.ensure_future(wait_within(result, 10))
            await asyncio.sleep(0)  # the waiter is waiting
            result.set_result(1)
            waiter.cancel()  # same loop turn: Python 3.11's wait_for returns 1 here
            await asyncio.wait({waiter})
            return waiter

        assert asyncio.run(main()).cancelled()

    def test_result_exception_and_timeout(self) -> None:
        from airflow_provider_orders.engine.deadlines import wait_within

        async def fails() -> None:
            raise ValueError("vendor said no")

        async def main() -> None:
            assert await wait_within(asyncio.sleep(0, "ok"), 1) == "ok"
            with pytest.raises(ValueError, match="vendor said no"):
                await wait_within(fails(), 1)
            slow = asyncio.ensure_future(asyncio.sleep(5))
            with pytest.raises(asyncio.TimeoutError):
                await wait_within(slow, 0.05)
            assert slow.cancelled()

        asyncio.run(main())


def test_the_sync_driver_sends_each_header_name_once_the_last_value_winning() -> None:
    """Merged as requests merged them: case-insensitively, the vendor's over the defaults, later over
    earlier; a header is never sent twice under two spellings."""
    from airflow_provider_orders.engine.protocol import PreparedRequest
    from airflow_provider_orders.engine.sync import SyncTransport
    from airflow_provider_orders.vendors.settings import ConnectionSettings
    from tests.hostile import Answer, HostileServer

    with HostileServer(lambda seen: Answer.json({})) as server:
        transport = SyncTransport(ConnectionSettings.model_construct(verify=True))
        headers = {"accept": "application/json", "X-Trace": "1", "x-trace": "2", "CONNECTION": "keep-alive"}
        response = transport.send(PreparedRequest("GET", f"{server.url}/orders#part", (("a", "1"),), headers))
    assert getattr(response, "status", None) == 200
    (seen,) = server.seen
    names = [name.lower() for name, _ in seen.lines]
    assert len(names) == len(set(names)), seen.lines
    assert seen.headers["accept"] == "application/json" and seen.headers["x-trace"] == "2"
    assert "gzip" in seen.headers["accept-encoding"]
    assert (seen.path, seen.query) == ("/orders", {"a": "1"})  # the fragment is never sent
