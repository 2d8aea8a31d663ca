"""A sixth vendor, built in the test tree (``tests/sixth_vendor``), served after one registry line.

Its vendor module, thin hook and sandbox app are its own files; :func:`register` is the one line that
adds it. It then goes through everything the built-in vendors go through: the registry, the hook (sync
and async), the operator, the sensor, the trigger, ``dag.test()`` and the sandbox.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_orders.hooks.resolve import get_orders_hook
from airflow_provider_orders.operators.orders import ListOrdersOperator
from airflow_provider_orders.registry import VendorSpec, conn_types, register, unregister
from airflow_provider_orders.sandbox import Sandbox, SandboxConfig, sandbox_connections
from airflow_provider_orders.sensors.orders import OrderStateSensor
from airflow_provider_orders.triggers.orders import OrderStateTrigger
from tests.conftest import DAGS_FOLDER, needs_dag_test, settles_when
from tests.test_operator import run

pytestmark = pytest.mark.integration

ORDERS = 130


@pytest.fixture(scope="module")
def acme() -> Iterator[VendorSpec]:
    spec = register("tests.sixth_vendor.vendor")  # the one registry line
    yield spec
    unregister(spec.conn_type)


@pytest.fixture(scope="module")
def acme_sandbox(acme: VendorSpec) -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(orders=ORDERS, live=2, live_delay=3600)) as sandbox:
        yield sandbox


@pytest.fixture
def sbx6(acme_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    acme_sandbox.reset()
    for conn_id, conn in sandbox_connections(acme_sandbox.url).items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return acme_sandbox


def records(sandbox: Sandbox, keep: Any = lambda record: True) -> list[dict[str, Any]]:
    app = sandbox.apps["acme_supply"]
    store = app.orders("")
    return [r for r in (app.record(store, i) for i in range(store.size)) if keep(r)]


def an_order(sandbox: Sandbox, state: str) -> str:
    app = sandbox.apps["acme_supply"]
    store = app.orders("")
    return next(str(5000 + i) for i in range(store.live_start) if store.state(i) == state)


def test_one_registry_line_makes_it_a_vendor_of_every_layer(sbx6: Sandbox, acme: VendorSpec) -> None:
    from tests.sixth_vendor.hook import AcmeSupplyHook

    assert "acme_supply" in conn_types()
    hook = get_orders_hook("acme_supply_default")
    assert type(hook) is AcmeSupplyHook
    assert (AcmeSupplyHook.conn_type, AcmeSupplyHook.hook_name, AcmeSupplyHook.default_conn_name) == (
        "acme_supply", "Acme Supply", "acme_supply_default",
    )  # fmt: skip
    assert sbx6.base_url("acme_supply") == f"{sbx6.url}/acme"
    assert sandbox_connections(sbx6.url)["acme_supply_default"]["conn_type"] == "acme_supply"


def test_the_hook_lists_every_order_and_sends_the_key(sbx6: Sandbox) -> None:
    hook = get_orders_hook("acme_supply_default")
    orders = hook.list_orders(page_size=25)
    assert sorted(o.id for o in orders) == sorted(str(r["id"]) for r in records(sbx6))
    done = hook.list_orders(status="completed")
    assert sorted(o.id for o in done) == sorted(
        str(r["id"]) for r in records(sbx6, lambda r: r["state"] == "done")
    )
    seen = [r for r in sbx6.requests_seen if r["vendor"] == "acme_supply"]
    assert {r["headers"]["x-api-key"] for r in seen} == {"sandbox-acme-api-key"}
    some = orders[7]
    assert hook.get_order(some.id) == some
    assert asyncio.run(hook.aget_order(some.id)) == some


def test_the_operator_writes_every_order_to_a_file(sbx6: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "acme.jsonl"
    op = ListOrdersOperator(task_id="t", conn_id="acme_supply_default", output_path=f"file://{target}")
    result, _ = run(op)
    ids = sorted(json.loads(line)["id"] for line in target.read_text().splitlines())
    assert ids == sorted(str(r["id"]) for r in records(sbx6))
    assert result["count"] == ORDERS and result["vendor"] == "acme_supply"


def test_the_sensor_succeeds_and_fails_with_the_vendors_error_text(sbx6: Sandbox) -> None:
    done, failed = an_order(sbx6, "done"), an_order(sbx6, "error")
    sensor = OrderStateSensor(task_id="w", conn_id="acme_supply_default", order_id=done, poke_interval=1)
    assert sensor.poke({}).xcom_value["id"] == done
    sensor = OrderStateSensor(task_id="w", conn_id="acme_supply_default", order_id=failed, poke_interval=1)
    with pytest.raises(
        AirflowFailException, match=rf"Acme Supply order {failed} reached failed \(error\): out of stock"
    ):
        sensor.poke({})


def test_the_trigger_waits_through_the_async_hook(sbx6: Sandbox) -> None:
    done = an_order(sbx6, "done")
    trigger = OrderStateTrigger(conn_id="acme_supply_default", order_id=done, target_status=["completed"],
                                failure_status=["failed"], poll_interval=1)  # fmt: skip

    async def first_event() -> Any:
        async for event in trigger.run():
            return event.payload

    event = asyncio.run(first_event())
    assert (event["status"], event["vendor"], event["order"]["id"]) == ("success", "acme_supply", done)
    agents = {
        r["headers"]["user-agent"].split("/")[0] for r in sbx6.requests_seen if r["vendor"] == "acme_supply"
    }
    assert agents == {"python-httpx"}


@needs_dag_test
@pytest.mark.e2e
def test_a_dag_lists_then_waits_deferrably_under_dag_test(
    airflow_db: str, acme: VendorSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The newest order stays open until the sensor's first check has been answered; then it settles, so
    # the sensor defers and the trigger sees it done, however long a loaded machine takes to get there.
    with Sandbox(SandboxConfig(orders=ORDERS, live=1, live_delay=3600.0)) as sandbox:
        for conn_id, conn in sandbox_connections(sandbox.url).items():
            monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        newest = str(5000 + ORDERS - 1)
        monkeypatch.setenv("ACME_ORDER", newest)
        monkeypatch.setenv("ACME_OUTPUT", f"file://{tmp_path}")
        spec = importlib.util.spec_from_file_location(
            "orders_sixth_vendor", f"{DAGS_FOLDER}/orders_sixth_vendor.py"
        )
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sandbox.reset()
        path = f"/acme/v2/orders/{newest}"
        with settles_when(
            sandbox, "acme_supply", "", ORDERS - 1, lambda seen: any(r["path"] == path for r in seen)
        ):
            run_ = module.dag.test()
        polls = [r for r in sandbox.requests_seen if r["path"] == f"/acme/v2/orders/{newest}"]
    assert run_.state == "success"
    (written,) = tmp_path.glob("*/acme.jsonl")
    assert len(written.read_text().splitlines()) == ORDERS
    agents = [r["headers"]["user-agent"].split("/")[0] for r in polls]
    assert agents[0] == "python-urllib3" and "python-httpx" in agents  # checked once, then deferred
