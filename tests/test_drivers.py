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
