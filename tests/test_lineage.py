"""OpenLineage, with the real openlineage provider: what ``ListOrdersOperator`` reports, captured from the
events its file transport writes during ``airflow dags test`` of the daily export DAG."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_orders.sandbox import sandbox_connections, sandbox_env
from tests.conftest import EXAMPLE_DAGS, SandboxProcess, needs_dag_test

pytestmark = [pytest.mark.e2e, needs_dag_test]

pytest.importorskip("airflow.providers.openlineage", reason="the openlineage extra (in the test extra)")


def test_the_export_reports_the_vendor_api_as_input_and_the_file_with_its_row_count(tmp_path: Path) -> None:
    events_file = tmp_path / "openlineage.jsonl"
    out = tmp_path / "out"
    home = tmp_path / "home"
    with SandboxProcess("--orders", "50") as sandbox:
        env = {
            **os.environ,
            **sandbox_env(sandbox.url),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": EXAMPLE_DAGS,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "ORDERS_EXPORT_BASE": f"file://{out}",
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                {"type": "file", "log_file_path": str(events_file), "append": True}
            ),
            "AIRFLOW__OPENLINEAGE__NAMESPACE": "orders-tests",
        }
        airflow = str(Path(sys.executable).with_name("airflow"))
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
        run = subprocess.run([airflow, "dags", "test", "orders_daily_export", "2026-01-01"], env=env,
                             capture_output=True, text=True, timeout=600)  # fmt: skip
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    complete = {e["job"]["name"].rsplit(".", 1)[-1]: e for e in events if e["eventType"] == "COMPLETE"}
    port = sandbox.url.rsplit(":", 1)[1]
    expected_inputs = {
        "crayon": "crayon/orders?customer_tenant_id=1001",
        "adobe_vip_marketplace": "adobe_vip_marketplace/orders?customer_id=1005000001",
        "granite_access_express": "granite_access_express/orders",
        "emnify": "emnify/orders",
        "fleetio": "fleetio/orders",
    }
    for vendor, name in expected_inputs.items():
        event: dict[str, Any] = complete[f"export_{vendor}"]
        (source,) = event["inputs"]
        assert source["namespace"] == f"http://127.0.0.1:{port}"
        assert source["name"] == name, vendor
        (written,) = event["outputs"]
        path = out / "2025-12-31" / f"{vendor}.jsonl"
        assert (written["namespace"], written["name"]) == ("file", str(path))
        statistics = written["outputFacets"]["outputStatistics"]
        assert statistics["rowCount"] == len(path.read_text().splitlines()) > 0, vendor
        assert statistics["size"] == path.stat().st_size
    text = events_file.read_text()
    secrets = [c.get("password") for c in sandbox_connections(sandbox.url).values()]
    secrets += [
        c["extra"][k]
        for c in sandbox_connections(sandbox.url).values()
        for k in ("client_secret", "account_token")
        if k in c.get("extra", {})
    ]
    assert [s for s in secrets if s and s in text] == []  # no credential in the lineage
