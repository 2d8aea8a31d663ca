"""Every error class through ``dag.test()``: the retry decision Airflow makes, and the facts it keeps.

Each case runs a one-task DAG (``tests/dags/orders_errors.py``) with ``retries=1``: a task that Airflow
retries runs twice, one that fails for good runs once. Each task records the exception it hands Airflow:
its class, its fields, and the provider's error as its cause.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_orders.sandbox import Fault, Sandbox, sandbox_connections
from tests.conftest import DAGS_FOLDER, needs_dag_test

pytestmark = [pytest.mark.e2e, needs_dag_test]

WRONG_TOKEN = "wrong-application-token-4f9a"

# case -> (sandbox fault, Airflow exception, [vendor, http_status, code, error_type, retryable], tries, in cause)
CASES: dict[str, tuple[dict[str, Any] | None, str, list[Any], int, str]] = {
    "connection": (None, "OrdersTaskFailed", ["fleetio", None, None, "ConnectionConfigError", False], 1,
                   "unknown setting 'colour'"),
    "filter": (None, "OrdersTaskFailed", ["fleetio", None, None, "InvalidFilterError", False], 1,
               "filter 'created_since'"),
    "credentials": (None, "OrdersTaskFailed", ["emnify", 401, "1102", "AuthenticationError", False], 1,
                    "refused the credentials of connection 'orders_errors_emnify'"),
    "vendor_4xx": ({"vendor": "fleetio", "kind": "status", "status": 400, "times": 9}, "OrdersTaskFailed",
                   ["fleetio", 400, None, "VendorApiError", False], 1, "injected HTTP 400"),
    "missing_order": (None, "OrdersTaskFailed", ["fleetio", 404, None, "OrderNotFoundError", False], 1,
                      "no order '999999'"),
    "rate_limit": ({"vendor": "fleetio", "kind": "status", "status": 429, "times": 9}, "OrdersTaskError",
                   ["fleetio", 429, "injected HTTP 429", "RateLimitError", True], 2, "Lower requests_per_minute"),
    "vendor_5xx": ({"vendor": "fleetio", "kind": "status", "status": 503, "times": 9}, "OrdersTaskError",
                   ["fleetio", 503, None, "VendorUnavailableError", True], 2, "injected HTTP 503"),
    "transport": ({"vendor": "fleetio", "kind": "close", "times": 9}, "OrdersTaskError",
                  ["fleetio", None, None, "VendorUnavailableError", True], 2, "connect error on GET"),
    # The first check (in the worker) sees the order Processing; the trigger's next one gets a 400.
    "trigger_4xx": ({"vendor": "crayon", "kind": "status", "status": 400, "on_request": 2, "times": 99},
                    "OrdersTaskFailed", ["crayon", 400, "E400", "VendorApiError", False], 1, "injected HTTP 400"),
}  # fmt: skip


def run_case(case: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"orders_errors_{case}", f"{DAGS_FOLDER}/orders_errors.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, f"dag_{case}").test()


@pytest.mark.parametrize("case", list(CASES))
def test_each_error_class_gets_its_retry_decision_and_keeps_its_facts(
    airflow_db: str, sbx: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capfd: pytest.CaptureFixture[str], case: str,
) -> None:  # fmt: skip
    fault, airflow_type, fields, tries, in_cause = CASES[case]
    conns = sandbox_connections(sbx.url)
    fleetio = conns["fleetio_default"]
    extra = {"colour": "red"} if case == "connection" else {"max_retries": 0}
    monkeypatch.setenv("AIRFLOW_CONN_ORDERS_ERRORS_FLEETIO",
                       json.dumps({**fleetio, "extra": {**fleetio["extra"], **extra}}))  # fmt: skip
    monkeypatch.setenv(
        "AIRFLOW_CONN_ORDERS_ERRORS_EMNIFY", json.dumps({**conns["emnify_default"], "password": WRONG_TOKEN})
    )
    crayon = sbx.apps["crayon"]
    store = crayon.orders("1001")
    monkeypatch.setenv("ORDERS_ERRORS_ORDER_ID", crayon.order_id(crayon.record(store, store.size - 1)))
    record = tmp_path / "record.jsonl"
    monkeypatch.setenv("ORDERS_ERRORS_RECORD", str(record))
    if fault:
        sbx.add_fault(Fault(**fault))

    run = run_case(case)

    assert run.state == "failed"
    (ti,) = run.get_task_instances()
    assert ti.try_number == tries  # retried once, or failed for good at the first try
    seen = [json.loads(line) for line in record.read_text().splitlines()]
    assert [s["try"] for s in seen] == list(range(1, tries + 1))
    for s in seen:
        assert (s["type"], s["fields"], s["cause_type"]) == (airflow_type, fields, fields[3])
        assert s["fails_for_good"] is (airflow_type == "OrdersTaskFailed")
        assert in_cause in s["cause"]
    log = capfd.readouterr()
    text = log.out + log.err
    # Airflow 3.0's dag.test() logs, at debug level, the very message that asks its masker to hide a secret
    # (MaskSecret(value=...)); that line is Airflow's own, and later releases leave it out.
    assert not [line for line in text.splitlines() if WRONG_TOKEN in line and "MaskSecret(" not in line]
    # The task log states the provider's error (vendor, status, code, message, fix) once per try. Spaces are
    # ignored: Airflow 3.0 renders tracebacks with rich, which wraps long lines.
    assert "".join(text.split()).count("".join(seen[0]["cause"].split())) == tries
