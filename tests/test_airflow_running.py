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
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_orders.sandbox import sandbox_env
from tests.conftest import EXAMPLE_DAGS, SandboxProcess, free_port, needs_conn_fields

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent


class Airflow:
    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **env,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": EXAMPLE_DAGS,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        self.token = ""

    def start(self) -> None:
        subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=self.env, check=True, capture_output=True,
                       timeout=300)  # fmt: skip
        commands = {
            "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(self.port)],
            "scheduler": ["scheduler", "--skip-serve-logs"],
            "dag-processor": ["dag-processor"],
            "triggerer": ["triggerer", "--skip-serve-logs"],
        }
        for name, args in commands.items():
            log = open(self.home / f"{name}.out", "wb")  # noqa: SIM115 - closed with the process
            self.procs.append(subprocess.Popen([str(BIN / "airflow"), *args], env=self.env, stdout=log,
                                               stderr=subprocess.STDOUT))  # fmt: skip
        self.wait_for(
            lambda: self.request("GET", "/api/v2/monitor/health", auth=False), 180, "the api-server"
        )
        password = json.loads((self.home / "simple_auth_manager_passwords.json.generated").read_text())[
            "admin"
        ]
        self.token = self.request("POST", "/auth/token", {"username": "admin", "password": password},
                                  auth=False)["access_token"]  # fmt: skip

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    def request(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> Any:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=30) as response:
            payload = response.read()
            return (
                json.loads(payload) if payload and payload.strip()[:1] in (b"{", b"[") else payload.decode()
            )

    @staticmethod
    def wait_for(check: Any, seconds: float, what: str) -> Any:
        deadline = time.monotonic() + seconds
        while True:
            try:
                result = check()
                if result:
                    return result
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.5)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Airflow, SandboxProcess]]:
    # The newest Crayon order stays Processing for 25 s after the sandbox is reset, then Succeeded.
    with SandboxProcess("--orders", "50", "--live", "1", "--live-delay", "25") as sandbox:
        home = tmp_path_factory.mktemp("airflow-home")
        out = tmp_path_factory.mktemp("orders-out")
        airflow = Airflow(
            home, {**os.environ, **sandbox_env(sandbox.url), "ORDERS_EXPORT_BASE": f"file://{out}"}
        )
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
        "adobe_vip_marketplace": ("Client ID (also sent as X-Api-Key)", "Client secret",
                                  {"ims_url": "IMS URL", "scopes": "Scopes"}),
        "granite_access_express": ("Client ID", "Client secret", {"token_url": "Token URL", "scope": "Scope",
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
        assert std["host"]["title"] == "API base URL"
        titles = {name: field["schema"]["title"] for name, field in form["extra_fields"].items()}
        assert {k: titles[k] for k in extras} == extras, conn_type
        assert {"timeout", "verify", "requests_per_minute", "max_retries"} <= set(titles)
    assert meta["crayon"]["extra_fields"]["client_secret"]["schema"]["format"] == "password"
    assert meta["fleetio"]["extra_fields"]["account_token"]["schema"]["format"] == "password"


def test_place_and_wait_defers_to_the_triggerer_and_succeeds(running: tuple[Airflow, SandboxProcess]) -> None:
    airflow, sandbox = running
    dag_id = "orders_place_and_wait"
    airflow.wait_for(lambda: airflow.request("GET", f"/api/v2/dags/{dag_id}"), 120, "the DAG to be parsed")
    airflow.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    sandbox.control("/reset", {})
    run = airflow.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None})
    run_id = run["dag_run_id"]
    ti_path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/wait_for_order"
    seen: list[str] = []

    def finished() -> str | None:
        state = airflow.request("GET", ti_path).get("state")
        if state and (not seen or seen[-1] != state):
            seen.append(state)
        run_state = airflow.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]
        return run_state if run_state in ("success", "failed") else None

    assert airflow.wait_for(finished, 240, "the run to finish") == "success", seen
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
    else:
        lines = {t: (out / "tenants" / f"{t}.jsonl").read_text().splitlines() for t in (1001, 1002, 1003)}
        assert all(len(v) == 50 for v in lines.values()), {t: len(v) for t, v in lines.items()}
