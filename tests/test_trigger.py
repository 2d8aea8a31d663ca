"""OrderStateTrigger: plain-JSON serialization and one event per outcome, over real HTTP."""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import threading
import time
from typing import Any

import pytest

from airflow_provider_orders.sandbox import Sandbox
from airflow_provider_orders.triggers.orders import OrderStateTrigger
from tests.conftest import SandboxProcess, wire

pytestmark = pytest.mark.integration


def trigger(**overrides: Any) -> OrderStateTrigger:
    kwargs: dict[str, Any] = {
        "conn_id": "crayon_default", "order_id": "0", "target_status": ["completed"],
        "failure_status": ["failed", "canceled"], "scope": {"customer_tenant_id": 1001}, "poll_interval": 0.2,
    }  # fmt: skip
    kwargs.update(overrides)
    return OrderStateTrigger(**kwargs)


def events(t: OrderStateTrigger) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in t.run()]

    return asyncio.run(collect())


def crayon_order(sbx: Sandbox, state: str) -> str:
    app = sbx.apps["crayon"]
    store = app.orders("1001")
    return next(
        app.order_id(app.record(store, i)) for i in range(store.live_start) if store.state(i) == state
    )


def test_serialize_round_trips_through_plain_json() -> None:
    original = trigger(order_id="42", timeout_at=1_900_000_000.5, fail_if_missing=True)
    classpath, kwargs = original.serialize()
    text = json.dumps(kwargs)  # plain JSON: no pickle, no custom encoder
    module, name = classpath.rsplit(".", 1)
    rebuilt = getattr(importlib.import_module(module), name)(**json.loads(text))
    assert rebuilt.serialize() == (classpath, kwargs)
    assert classpath == "airflow_provider_orders.triggers.orders.OrderStateTrigger"
    assert kwargs["target_status"] == ["completed"] and kwargs["scope"] == {"customer_tenant_id": 1001}


def test_success_event_carries_the_order(sbx: Sandbox) -> None:
    order_id = crayon_order(sbx, "Succeeded")
    [event] = events(trigger(order_id=order_id))
    assert event["status"] == "success"
    assert event["order"]["id"] == order_id and event["order"]["vendor_status"] == "Succeeded"
    assert event["vendor"] == "crayon"


def test_failure_event_names_order_status_and_vendor_error(sbx: Sandbox) -> None:
    order_id = crayon_order(sbx, "Failed")
    [event] = events(trigger(order_id=order_id))
    assert event["status"] == "failure"
    assert event["message"] == (
        f"Crayon Cloud-iQ order {order_id} reached failed (Failed): Provisioning failed: seat limit exceeded"
    )


def test_timeout_event_when_the_order_stays_in_progress(sbx: Sandbox) -> None:
    order_id = crayon_order(sbx, "Processing")
    # 8 s: time for the first poll (token, search) on a loaded CI machine: 0.5 s was not once, and 2 s
    # was not once with both cores busy (the event then holds no order).
    [event] = events(trigger(order_id=order_id, timeout_at=time.time() + 8))
    assert event["status"] == "timeout"
    assert event["order"]["vendor_status"] == "Processing"


def test_missing_order_is_waited_on_unless_fail_if_missing(sbx: Sandbox) -> None:
    [waited] = events(trigger(order_id="123", timeout_at=time.time() + 0.5))
    assert waited["status"] == "timeout" and waited["order"] is None
    [failed] = events(trigger(order_id="123", fail_if_missing=True))
    assert failed["status"] == "error" and failed["error_type"] == "OrderNotFoundError"


def test_error_event_on_refused_credentials_without_the_secret(sbx: Sandbox, monkeypatch) -> None:
    conn = json.loads(__import__("os").environ["AIRFLOW_CONN_CRAYON_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_CRAYON_DEFAULT", json.dumps({**conn, "password": "bad-pass-77"}))
    [event] = events(trigger(order_id="1"))
    assert event["status"] == "error" and event["error_type"] == "AuthenticationError"
    assert "bad-pass-77" not in json.dumps(event)


def test_error_event_for_a_connection_of_another_type(sbx: Sandbox, monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_SOMETHING_ELSE", json.dumps({"conn_type": "http", "host": "http://127.0.0.1:9"})
    )
    [event] = events(trigger(conn_id="something_else"))
    assert event["status"] == "error"
    assert "type 'http', which this provider does not serve" in event["message"]


def test_the_trigger_polls_with_the_async_client(sbx: Sandbox) -> None:
    order_id = crayon_order(sbx, "Succeeded")
    events(trigger(order_id=order_id))
    agents = {r["headers"].get("user-agent", "").split("/")[0] for r in wire(sbx, "crayon")}
    assert agents == {"python-httpx"}


def test_many_triggers_share_one_loop_without_a_thread_each(monkeypatch: pytest.MonkeyPatch) -> None:
    # The sandbox runs in its own process, so this process's threads are the triggers' alone.
    with SandboxProcess(
        "--orders", "300", "--live", "300", "--live-delay", "0.004", "--latency-ms", "5"
    ) as sbx:
        sbx.connections_env(monkeypatch)
        ids = [str(1000 + i) for i in range(300)]
        threads_before = threading.active_count()
        peak = [threads_before]

        async def run_all() -> list[dict[str, Any]]:
            async def one(order_id: str) -> dict[str, Any]:
                t = trigger(conn_id="emnify_default", order_id=order_id, scope={}, poll_interval=0.3,
                            failure_status=["canceled"])  # fmt: skip
                async for event in t.run():
                    peak[0] = max(peak[0], threading.active_count())
                    return event.payload
                raise AssertionError("no event")

            return await asyncio.gather(*(one(i) for i in ids))

        results = asyncio.run(run_all())
        authenticate_calls = [r for r in sbx.control("/requests") if r["path"].endswith("/authenticate")]
    assert len(results) == 300
    assert {r["status"] for r in results} == {"success", "failure"}
    assert {r["order_id"] for r in results} == set(ids)
    assert peak[0] - threads_before <= 2  # asyncio's helper threads at most, never one per trigger
    assert len(authenticate_calls) == 1  # one token fetch shared by all 300


@pytest.mark.parametrize(
    ("conn", "message"),
    [
        (None, r"Airflow has no connection 'crayon_default': create it"),
        ({"conn_type": "crayon", "host": "https://api.crayon.com", "login": "u", "password": "p",
          "extra": {"client_id": "c", "client_secret": "s", "timeout": "soon"}}, r"setting 'timeout'"),
        ({"conn_type": "crayon", "host": "https://api.crayon.com", "login": "u", "password": "p",
          "extra": {"client_id": "c", "client_secret": "s", "proxy": "socks5://p:1"}}, r"socks5://"),
    ],
    ids=["missing-connection", "bad-extra", "bad-proxy"],
)  # fmt: skip
def test_a_configuration_error_in_the_triggerer_fails_the_task_with_its_message(
    conn: dict[str, Any] | None, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not retried as if the vendor were down: the sensor fails the task for good, saying what to fix."""
    from airflow.providers.common.compat.sdk import AirflowFailException

    from airflow_provider_orders.boundary import error_from_event, to_airflow
    from airflow_provider_orders.sensors.orders import OrderStateSensor

    if conn is None:
        monkeypatch.delenv("AIRFLOW_CONN_CRAYON_DEFAULT", raising=False)
    else:
        monkeypatch.setenv("AIRFLOW_CONN_CRAYON_DEFAULT", json.dumps(conn))
    [event] = events(trigger(poll_interval=0.05))
    assert event["status"] == "error" and event["error_type"] == "ConnectionConfigError", event
    assert re.search(message, event["message"])
    error = error_from_event(event)
    assert not error.retryable and isinstance(to_airflow(error), AirflowFailException)
    sensor = OrderStateSensor(task_id="wait", conn_id="crayon_default", order_id="0",
                              scope={"customer_tenant_id": 1001})  # fmt: skip
    with pytest.raises(AirflowFailException) as raised:
        sensor.execute_complete({}, event)
    assert re.search(message, str(raised.value.__cause__))


def test_an_unknown_error_in_the_triggerer_is_not_retried_as_a_vendor_outage() -> None:
    from airflow_provider_orders.boundary import error_from_event

    error = error_from_event({"status": "error", "error_type": "KeyError", "message": "'x'"})
    assert not error.retryable and "KeyError in the triggerer" in error.message
