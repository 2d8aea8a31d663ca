from __future__ import annotations

import json
import os
import tempfile
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

# Airflow reads its home at import: give the suite its own, before anything imports airflow.
_HOME = tempfile.mkdtemp(prefix="orders-airflow-home-")
os.environ.setdefault("AIRFLOW_HOME", _HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from airflow_provider_orders.engine.policy import clear_registries  # noqa: E402
from airflow_provider_orders.sandbox import Sandbox, SandboxConfig, sandbox_connections  # noqa: E402

ORDERS = 230  # not a multiple of any page size used, so every listing ends on a short page


@pytest.fixture(autouse=True)
def _fresh_registries() -> Iterator[None]:
    clear_registries()
    yield
    clear_registries()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    config = SandboxConfig(orders=ORDERS, granite_rpm=20, granite_window=2.0, live=4, live_delay=3600)
    with Sandbox(config) as running:
        yield running


@pytest.fixture
def sbx(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """The sandbox, reset, with every ``<vendor>_default`` connection pointing at it."""
    sandbox.reset()
    for conn_id, conn in sandbox_connections(sandbox.url).items():
        if conn["conn_type"] == "granite_access_express":
            # The test sandbox enforces 20 requests per 2 s; the client limit matches it.
            conn = {**conn, "extra": {**conn["extra"], "requests_per_minute": 600}}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return sandbox


def control(sandbox: Sandbox, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{sandbox.url}/_sandbox{path}", data=data, method="POST" if data else "GET"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wire(sandbox: Sandbox, vendor: str) -> list[dict[str, Any]]:
    """The requests ``vendor``'s API received, as they arrived."""
    return [r for r in control(sandbox, "/requests") if r["vendor"] == vendor]


def expected_ids(sandbox: Sandbox, vendor: str, scope: str = "", keep: Any = None) -> set[str]:
    """Every order id of ``vendor``/``scope``, computed from the sandbox's own generator."""
    app = sandbox.vendors[vendor]
    store = app.orders(scope)
    out = set()
    for i in range(store.size):
        record = app.record(store, i)
        if keep is None or keep(record, store, i):
            out.add(app.order_id(record))
    return out
