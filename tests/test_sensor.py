"""OrderStateSensor in poke and deferrable modes, against the sandbox over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    TaskDeferred,
)

from airflow_provider_orders.boundary import OrdersTaskError, OrdersTaskFailed
from airflow_provider_orders.errors import AuthenticationError, OrderNotFoundError, RateLimitError
from airflow_provider_orders.models import OrderStatus
from airflow_provider_orders.sandbox import Sandbox
from airflow_provider_orders.sensors.orders import OrderStateSensor
from airflow_provider_orders.triggers.orders import OrderStateTrigger

pytestmark = pytest.mark.integration


def order_in(sbx: Sandbox, vendor: str, scope: str, state: str) -> str:
    app = sbx.apps[vendor]
    store = app.orders(scope)
    return next(
        app.order_id(app.record(store, i)) for i in range(store.live_start) if store.state(i) == state
    )


def sensor(**kwargs: Any) -> OrderStateSensor:
    return OrderStateSensor(task_id="wait", poke_interval=1, timeout=60, **kwargs)


def test_poke_succeeds_on_the_target_status_and_returns_the_order(sbx: Sandbox) -> None:
    order_id = order_in(sbx, "adobe_vip_marketplace", "1005000001", "1000")
    s = sensor(
        conn_id="adobe_vip_marketplace_default", order_id=order_id, scope={"customer_id": "1005000001"}
    )
    result = s.poke({})
    assert result.is_done
    assert result.xcom_value["id"] == order_id and result.xcom_value["status"] == "completed"


def test_native_target_status_is_accepted(sbx: Sandbox) -> None:
    order_id = order_in(sbx, "fleetio", "", "closed")
    s = sensor(conn_id="fleetio_default", order_id=order_id, target_status=["received_full", "closed"])
    assert s.poke({}).is_done


def test_poke_keeps_waiting_while_in_progress(sbx: Sandbox) -> None:
    order_id = order_in(sbx, "emnify", "", "SHIPPED")
    assert not sensor(conn_id="emnify_default", order_id=order_id).poke({}).is_done


def test_a_failure_status_fails_at_once_with_the_vendor_error_text(sbx: Sandbox) -> None:
    order_id = order_in(sbx, "crayon", "1001", "Failed")
    s = sensor(conn_id="crayon_default", order_id=order_id, scope={"customer_tenant_id": 1001})
    with pytest.raises(AirflowFailException) as info:
        s.poke({})
    assert str(info.value) == (
        f"Crayon Cloud-iQ order {order_id} reached failed (Failed): Provisioning failed: seat limit exceeded"
    )


def test_a_missing_order_is_waited_on_unless_fail_if_missing(sbx: Sandbox) -> None:
    assert not sensor(conn_id="fleetio_default", order_id="999999").poke({}).is_done
    with pytest.raises(OrdersTaskFailed) as info:
        sensor(conn_id="fleetio_default", order_id="999999", fail_if_missing=True).poke({})
    assert isinstance(info.value.__cause__, OrderNotFoundError)
    assert "999999" in str(info.value.__cause__)


def test_deferrable_defers_to_the_trigger_with_plain_arguments(sbx: Sandbox) -> None:
    order_id = order_in(sbx, "crayon", "1001", "Processing")
    s = sensor(conn_id="crayon_default", order_id=order_id, scope={"customer_tenant_id": 1001}, deferrable=True,
               target_status="Succeeded", failure_status=[OrderStatus.FAILED])  # fmt: skip
    with pytest.raises(TaskDeferred) as info:
        s.execute({})
    trigger = info.value.trigger
    assert isinstance(trigger, OrderStateTrigger)
    _, kwargs = trigger.serialize()
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert (kwargs["order_id"], kwargs["target_status"], kwargs["failure_status"]) == (
        order_id,
        ["Succeeded"],
        ["failed"],
    )
    assert info.value.method_name == "execute_complete"


def test_deferrable_returns_at_once_when_already_done(sbx: Sandbox) -> None:
    order_id = order_in(sbx, "crayon", "1001", "Succeeded")
    s = sensor(
        conn_id="crayon_default", order_id=order_id, scope={"customer_tenant_id": 1001}, deferrable=True
    )
    assert s.execute({})["id"] == order_id


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ({"status": "failure", "message": "order 1 reached failed"}, AirflowFailException),
        ({"status": "timeout", "message": "did not reach"}, AirflowSensorTimeout),
    ],
)
def test_execute_complete_turns_each_event_into_the_task_outcome(event: dict[str, Any], error: type) -> None:
    s = sensor(conn_id="{{ conn }}", order_id="1")
    with pytest.raises(error, match=event["message"]):
        s.execute_complete({}, event)


def test_an_error_event_becomes_the_error_the_trigger_met_with_the_same_retry_decision() -> None:
    s = sensor(conn_id="{{ conn }}", order_id="1")
    event = {"status": "error", "message": "refused", "error_type": "AuthenticationError", "vendor": "crayon",
             "http_status": 401, "code": "invalid_grant"}  # fmt: skip
    with pytest.raises(OrdersTaskFailed) as info:
        s.execute_complete({}, event)
    cause = info.value.__cause__
    assert isinstance(cause, AuthenticationError)
    assert (cause.vendor, cause.status, cause.code, cause.message) == (
        "crayon",
        401,
        "invalid_grant",
        "refused",
    )
    assert (info.value.vendor, info.value.http_status, info.value.code) == ("crayon", 401, "invalid_grant")
    event = {**event, "error_type": "RateLimitError", "http_status": 429, "code": None}
    with pytest.raises(OrdersTaskError) as retried:
        s.execute_complete({}, event)
    assert isinstance(retried.value.__cause__, RateLimitError) and retried.value.retryable


def test_execute_complete_returns_the_order_on_success() -> None:
    order = {"id": "1", "status": "completed", "vendor_status": "Succeeded"}
    assert (
        sensor(conn_id="{{ conn }}", order_id="1").execute_complete({}, {"status": "success", "order": order})
        == order
    )


def test_an_unknown_status_for_the_vendor_fails_the_dag_parse(sbx: Sandbox) -> None:
    with pytest.raises(AirflowException, match=r"'Delivered-ish' is not a state of emnify"):
        sensor(conn_id="emnify_default", order_id="1", target_status="Delivered-ish")


def test_a_wrong_scope_key_fails_the_dag_parse(sbx: Sandbox) -> None:
    with pytest.raises(AirflowException, match=r"unknown scope key\(s\) \['customer_id'\]"):
        sensor(conn_id="crayon_default", order_id="1", scope={"customer_id": "x"})


def test_the_airflow_exception_pickles_with_its_facts() -> None:
    import pickle

    failed = OrdersTaskFailed(AuthenticationError("refused", vendor="emnify", status=401, code="1102"))
    again = pickle.loads(pickle.dumps(failed))
    assert (type(again), str(again), again.vendor, again.http_status, again.code) == (
        OrdersTaskFailed, str(failed), "emnify", 401, "1102",
    )  # fmt: skip
    assert isinstance(again.error, AuthenticationError) and again.error.message == "refused"
