"""One request budget across real processes: a real redis-server, the one-machine file, and Redis killed.

Five OS processes (four listing with the sync hook, one with the async hook, as a triggerer would; forked
from one launcher that imported Airflow, ``tests/forked.py``) list Granite from the sandbox over HTTP. The
sandbox allows 20 requests per 2 s per client (600 a minute); each connection says 480 a minute
(``GRANITE_CLIENT_RPM``: 20% under, for arrival jitter on a loaded machine). Sharing the budget, the
sandbox answers no 429 at all; each process keeping its own (``rate_budget=process``), together they send
4 times the limit and meet 429s.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_orders.sandbox import Sandbox, sandbox_connections
from benchmarks.harness import result_line
from benchmarks.redis_server import RedisServer
from tests.conftest import GRANITE_CLIENT_RPM, ORDERS, expected_ids, wire
from tests.forked import Forked

WORKER = """
import asyncio, json, sys
from airflow_provider_orders.hooks.granite import GraniteAccessExpressHook
hook = GraniteAccessExpressHook()
async def alist():
    return [o async for o in hook.aiter_orders(page_size=25)]
orders = asyncio.run(alist()) if sys.argv[1] == "async" else hook.list_orders(page_size=25)
print(json.dumps(sorted(o.id for o in orders)))
"""
WORKERS = ("sync", "sync", "sync", "sync", "async")


@pytest.fixture
def redis_server() -> Any:
    with RedisServer() as server:
        yield server


def start_workers(sbx: Sandbox, tmp_path: Path, redis: RedisServer | None, **extra: Any) -> Forked:
    conn = sandbox_connections(sbx.url)["granite_access_express_default"]
    conn["extra"] = {**conn["extra"], "requests_per_minute": GRANITE_CLIENT_RPM, **extra}
    env = {"AIRFLOW_CONN_GRANITE_ACCESS_EXPRESS_DEFAULT": json.dumps(conn),
           "AIRFLOW_PROVIDER_ORDERS_CACHE_DIR": str(tmp_path / "cache")}  # fmt: skip
    if redis is not None:
        env["AIRFLOW_CONN_BUDGET_REDIS"] = redis.url
    return Forked(
        WORKER,
        [[mode] for mode in WORKERS],
        workdir=tmp_path / "workers",
        preload=["airflow_provider_orders.hooks.granite"],
        env=env,
    )


def finish(workers: Forked) -> list[tuple[list[str], str]]:
    results = []
    for result in workers.wait(timeout=240):
        assert result.returncode == 0, result.stderr[-3000:]
        results.append((result_line(result.stdout), result.stderr + result.stdout))
    return results


def listing_statuses(sbx: Sandbox) -> list[int]:
    return [
        r["status"] for r in wire(sbx, "granite_access_express") if r["path"].endswith("ordersAccessExpress")
    ]


def assert_every_worker_got_every_order(sbx: Sandbox, results: list[tuple[list[str], str]]) -> None:
    expected = sorted(expected_ids(sbx, "granite_access_express"))
    assert len(expected) == ORDERS
    for ids, _ in results:
        assert ids == expected


def test_redis_holds_one_budget_across_processes(
    sbx: Sandbox, tmp_path: Path, redis_server: RedisServer
) -> None:
    time.sleep(2.1)  # let the sandbox's window of earlier tests pass
    results = finish(
        start_workers(sbx, tmp_path, redis_server, rate_budget="redis", redis_conn_id="budget_redis")
    )
    assert_every_worker_got_every_order(sbx, results)
    statuses = listing_statuses(sbx)
    assert len(statuses) == 50 and set(statuses) == {200}  # 5 x 10 pages, not one 429
    assert not any("shared request budget" in err for _, err in results)  # Redis answered: no fallback
    import redis

    keys = [k.decode() for k in redis.Redis.from_url(redis_server.url).keys("*")]
    assert len(keys) <= 1 and all(
        k.startswith("airflow-provider-orders:budget:granite_access_express:") for k in keys
    )


def test_the_machine_default_holds_one_budget_with_no_server(sbx: Sandbox, tmp_path: Path) -> None:
    time.sleep(2.1)
    results = finish(start_workers(sbx, tmp_path, None))  # rate_budget unset: machine
    assert_every_worker_got_every_order(sbx, results)
    statuses = listing_statuses(sbx)
    assert len(statuses) == 50 and set(statuses) == {200}
    assert (tmp_path / "cache" / "budget.sqlite3").exists()


def test_a_budget_per_process_is_what_the_shared_one_prevents(sbx: Sandbox, tmp_path: Path) -> None:
    time.sleep(2.1)
    results = finish(start_workers(sbx, tmp_path, None, rate_budget="process"))
    assert_every_worker_got_every_order(sbx, results)  # 429s are waited out (Retry-After)...
    statuses = listing_statuses(sbx)
    assert statuses.count(429) > 0  # ...but five processes each at the limit exceed it together
    assert statuses.count(200) == 50


def test_redis_killed_mid_run_warns_once_and_the_work_completes(
    sbx: Sandbox, tmp_path: Path, redis_server: RedisServer
) -> None:
    time.sleep(2.1)
    workers = start_workers(sbx, tmp_path, redis_server, rate_budget="redis", redis_conn_id="budget_redis")
    deadline = time.monotonic() + 60
    while len(listing_statuses(sbx)) < 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    redis_server.kill()
    results = finish(workers)
    assert_every_worker_got_every_order(sbx, results)
    assert listing_statuses(sbx).count(200) == 50
    for _, err in results:
        warnings = [
            line for line in err.splitlines() if "shared request budget in Redis at 127.0.0.1" in line
        ]
        assert len(warnings) == 1, err[-2000:]
        assert "using the file" in warnings[0]


def test_a_missing_redis_connection_is_a_clear_error_before_any_request(
    sbx: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_orders.errors import ConnectionConfigError
    from airflow_provider_orders.hooks.granite import GraniteAccessExpressHook

    conn = sandbox_connections(sbx.url)["granite_access_express_default"]
    conn["extra"] = {**conn["extra"], "rate_budget": "redis", "redis_conn_id": "no_such_redis"}
    monkeypatch.setenv("AIRFLOW_CONN_GRANITE_ACCESS_EXPRESS_DEFAULT", json.dumps(conn))
    with pytest.raises(
        ConnectionConfigError, match=r"Redis connection 'no_such_redis'.*set rate_budget to machine"
    ):
        GraniteAccessExpressHook().list_orders()
    assert wire(sbx, "granite_access_express") == []
