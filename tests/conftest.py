from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

# Airflow reads its home at import: give the suite its own, before anything imports airflow. Under
# pytest-xdist each worker process gets a home of its own below it (its own metadata database).
_HOME = tempfile.mkdtemp(prefix="orders-airflow-home-")
os.environ.setdefault("AIRFLOW_HOME", _HOME)
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
# This module runs twice in a process (pytest's conftest, and ``tests.conftest`` for the tests' imports):
# the worker's home is made once.
if _WORKER and os.path.basename(os.environ["AIRFLOW_HOME"]) != _WORKER:
    os.environ["AIRFLOW_HOME"] = os.path.join(os.environ["AIRFLOW_HOME"], _WORKER)
    os.makedirs(os.environ["AIRFLOW_HOME"], exist_ok=True)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
# Every sandbox of the suite (in this process, or started by it) dates its newest order 2026-01-01, so
# that tests check exact record sets; tests of the default (today) take the variable away.
os.environ["ORDERS_SANDBOX_AS_OF"] = "2026-01-01T00:00:00+00:00"
EXAMPLE_DAGS = str(Path(__file__).resolve().parents[1] / "example_dags")
# dag.test() runs DAGs found in the dags folder: the examples plus the suite's own test DAGs.
DAGS_FOLDER = os.path.join(_HOME, "dags")
os.makedirs(DAGS_FOLDER, exist_ok=True)
for _folder in (EXAMPLE_DAGS, str(Path(__file__).resolve().parent / "dags")):
    for _name in os.listdir(_folder):
        if _name.endswith(".py"):
            shutil.copy(os.path.join(_folder, _name), DAGS_FOLDER)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = DAGS_FOLDER
# The suite's servers (the sandbox, moto, Redis, Airflow) are on loopback: a proxy in the environment of
# whoever runs it is never asked for them, by the suite's own clients or the processes it starts.
from airflow_provider_orders.sandbox.process import loopback_direct  # noqa: E402

os.environ.update(loopback_direct(os.environ))

from airflow_provider_orders.engine.budget import clear_budgets  # noqa: E402
from airflow_provider_orders.engine.policy import clear_registries  # noqa: E402
from airflow_provider_orders.sandbox import Sandbox, SandboxConfig, sandbox_connections  # noqa: E402
from airflow_provider_orders.sandbox import SandboxProcess as BaseSandboxProcess  # noqa: E402
from airflow_provider_orders.sandbox.local_airflow import free_port  # noqa: E402

ORDERS = 230  # not a multiple of any page size used, so every listing ends on a short page
# The test sandbox enforces 20 Granite requests per 2 s (600 a minute). The client's limit sits 20% under it:
# the sandbox counts arrivals, and a loaded machine delays one request by a fraction of a second and not the
# next. A real 60 s window leaves the connection's 2% headroom 1.2 s of such jitter; a 2 s window leaves it
# 40 ms (CI's 3.2 leg once got a 429 at request 24). At 540 a minute (0.27 s) a machine loaded four times
# over its cores still bunched three requests into one window; 480 leaves four requests, 0.5 s.
GRANITE_CLIENT_RPM = 480


def _airflow_release() -> tuple[int, int]:
    import airflow

    major, minor = airflow.__version__.split(".")[:2]
    return int(major), int(minor)


AIRFLOW_RELEASE = _airflow_release()
#: Per-vendor connection forms come from the provider's ``conn-fields``, which Airflow reads from 3.2 on;
#: 3.0 and 3.1 build forms only from WTForms widgets, and a plain install has no WTForms.
needs_conn_fields = pytest.mark.skipif(
    AIRFLOW_RELEASE < (3, 2),
    reason="Airflow < 3.2 reads no conn-fields: the connection form is Airflow's generic one (docs/installation.md)",
)
#: dag.test() runs tasks through Airflow's in-process Execution API. On 3.2 that API does not start with
#: the web libraries pip resolves today (``KeyError: 'svcs_registry'`` on every task call; 3.3 reworked
#: its start-up), and the release's published constraints that would pin them are out of reach here.
#: The same DAGs run on 3.2 under a real scheduler and triggerer (tests/test_airflow_running.py).
needs_dag_test = pytest.mark.skipif(
    AIRFLOW_RELEASE == (3, 2),
    reason="Airflow 3.2's in-process Execution API fails to start with today's libraries (docs/installation.md); "
    "the DAGs run under a real scheduler instead",
)


@pytest.fixture(autouse=True)
def _fresh_registries() -> Iterator[None]:
    clear_registries()
    clear_budgets()
    yield
    clear_registries()
    clear_budgets()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    config = SandboxConfig(orders=ORDERS, granite_rpm=20, granite_window=2.0, live=4, live_delay=3600)
    with Sandbox(config) as running:
        yield running


@pytest.fixture
def sbx(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """The sandbox, reset, with every ``<vendor>_default`` connection pointing at it."""
    sandbox.reset()
    use_sandbox(
        sandbox, monkeypatch, granite_access_express_default={"requests_per_minute": GRANITE_CLIENT_RPM}
    )
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
    app = sandbox.apps[vendor]
    store = app.orders(scope)
    out = set()
    for i in range(store.size):
        record = app.record(store, i)
        if keep is None or keep(record, store, i):
            out.add(app.order_id(record))
    return out


def expected_records(sandbox: Sandbox, vendor: str, scope: str = "") -> list[dict[str, Any]]:
    """Every record of ``vendor``/``scope`` the sandbox serves, one per order (per line at Crayon)."""
    app = sandbox.apps[vendor]
    store = app.orders(scope)
    return [app.record(store, i) for i in range(store.size)]


def expected_id_list(sandbox: Sandbox, vendor: str, scope: str = "") -> list[str]:
    """The order id of every record, sorted, repeats kept: a Crayon order with two lines counts twice."""
    app = sandbox.apps[vendor]
    return sorted(app.order_id(record) for record in expected_records(sandbox, vendor, scope))


def canonical(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True)


@pytest.fixture(autouse=True)
def _private_token_files(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shared token files (emnify) go to a directory of this test's own, never the user's cache."""
    monkeypatch.setenv("AIRFLOW_PROVIDER_ORDERS_CACHE_DIR", str(tmp_path_factory.mktemp("tokens")))


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """A migrated SQLite metadata DB in the suite's AIRFLOW_HOME (for dag.test)."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True, timeout=300)
    return os.environ["AIRFLOW_HOME"]


def use_sandbox(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, **extra: dict[str, Any]) -> None:
    """Point every ``<vendor>_default`` connection at ``sandbox`` (with per-connection extra overrides)."""
    for conn_id, conn in sandbox_connections(sandbox.url).items():
        if conn_id in extra:
            conn = {**conn, "extra": {**conn.get("extra", {}), **extra[conn_id]}}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


@contextmanager
def settles_when(
    sandbox: Sandbox, vendor: str, tenant: str, index: int, ready: Callable[[list[dict[str, Any]]], bool]
) -> Iterator[None]:
    """Settle live order ``index`` of ``vendor``'s ``tenant`` once ``ready(the answered requests)`` holds.

    A test that needs an order seen in progress first (a sensor that defers, a poke that repeats) settles
    it on what the sandbox has answered, not after a fixed time a loaded machine may overrun."""
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if ready([r for r in list(sandbox.requests_seen) if "status" in r and r["vendor"] == vendor]):
                assert sandbox.apps[vendor].orders(tenant).settle_now(index)
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, name="settles-when", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join(timeout=5)


class SandboxProcess(BaseSandboxProcess):
    def connections_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for conn_id, conn in sandbox_connections(self.url).items():
            monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A real PostgreSQL server on a free loopback port (tests/postgres.py), for this test session."""
    from airflow_provider_orders.sandbox.postgres import PostgresServer

    server = PostgresServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    """A real S3-compatible server (moto's server mode) on loopback; yields its URL."""
    import time

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.2)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def s3_bucket(moto_s3: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh bucket on the loopback S3, and the ``aws_test`` connection that reaches it."""
    import uuid

    import boto3

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AIRFLOW_CONN_AWS_TEST", json.dumps({
        "conn_type": "aws", "login": "testing", "password": "testing",
        "extra": {"endpoint_url": moto_s3, "region_name": "us-east-1"},
    }))  # fmt: skip
    client = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1")
    name = f"orders-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=name)
    return client, name


def asset_events(airflow: Any, query: str) -> list[dict[str, Any]]:
    """``GET /api/v2/assets/events?<query>`` of a running Airflow (``LocalAirflow``). Airflow 3.3.2 answers
    500 while an event's consumer run is queued and not yet started (its response model wants the run's
    start_date): asked again until it answers (``wait_for`` retries on HTTP errors)."""
    return list(
        airflow.wait_for(
            lambda: airflow.request("GET", f"/api/v2/assets/events?{query}&limit=100")["asset_events"],
            120,
            query,
        )
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The crash tests first: each holds a worker for two minutes, mostly waiting for a triggerer to start
    again, and collected last (by file name) they ran alone at the end (9 minutes where 6:30 did the
    rest). Started first, the rest of the suite runs beside them."""
    items.sort(key=lambda item: item.path.name != "test_triggerer_crash.py")
