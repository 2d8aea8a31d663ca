"""One token refresh at a time per credential, across real processes and machines.

Eight OS processes (half with the sync hook, half with the async one, as a triggerer would; forked from one
launcher that imported Airflow, ``tests/forked.py``) start listing emnify at the same instant with a cold token cache, against a sandbox
that takes 0.4 s to answer (so every process is still waiting for a token when the others ask). emnify
allows 100 ``authenticate`` calls per 5 minutes per IP: a fleet of mapped tasks must not spend eight.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_orders.sandbox import Sandbox, SandboxConfig, sandbox_connections
from benchmarks.redis_server import RedisServer
from tests.forked import Forked

pytestmark = pytest.mark.integration

WORKER = """
import asyncio, os, sys, time
from airflow_provider_orders.hooks.emnify import EmnifyHook
hook = EmnifyHook()
hook.engine, hook._sync, hook._async  # connection read, engine and transports built: only the listing is left
async def alist():
    return [order async for order in hook.aiter_orders()]
barrier = sys.argv[1]
print(os.getpid())
open(os.path.join(barrier, str(os.getpid())), "w").close()  # ready
while not os.path.exists(os.path.join(barrier, "go")):
    time.sleep(0.001)
print(len(hook.list_orders() if sys.argv[2] == "sync" else asyncio.run(alist())))
"""
PROCESSES = 8


@pytest.fixture(scope="module")
def slow_sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(orders=30, latency_ms=400)) as sandbox:
        yield sandbox


def authentications(sandbox: Sandbox) -> int:
    return sum(r["path"].endswith("/api/v1/authenticate") for r in sandbox.requests_seen)


def run_together(
    sandbox: Sandbox, tmp_path: Path, cache_dirs: list[str], redis: RedisServer | None = None, **extra: Any
) -> None:
    """:data:`PROCESSES` processes, spread over ``cache_dirs`` (one per machine), listing at one instant:
    each says it is ready, then all start when the last one is."""
    conn = sandbox_connections(sandbox.url)["emnify_default"]
    conn["extra"] = {**conn["extra"], **extra}
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = {"AIRFLOW_CONN_EMNIFY_DEFAULT": json.dumps(conn)}
    if redis is not None:
        env["AIRFLOW_CONN_TOKENS_REDIS"] = redis.url
    workers = Forked(
        WORKER,
        [[str(barrier), ("sync", "async")[i % 2]] for i in range(PROCESSES)],
        workdir=tmp_path / "workers",
        preload=["airflow_provider_orders.hooks.emnify"],
        env=env,
        child_env=[
            {"AIRFLOW_PROVIDER_ORDERS_CACHE_DIR": str(tmp_path / cache_dirs[i % len(cache_dirs)])}
            for i in range(PROCESSES)
        ],
    )
    deadline = time.monotonic() + 120
    while len(list(barrier.iterdir())) < PROCESSES:
        assert time.monotonic() < deadline and workers.running(), "a worker did not start"
        time.sleep(0.05)
    (barrier / "go").touch()
    results = workers.wait(timeout=120)
    assert len({r.stdout.split()[0] for r in results}) == PROCESSES  # one PID each: separate processes
    for result in results:
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stdout.strip().splitlines()[-1] == "30"


def test_processes_of_one_machine_share_one_authentication(slow_sandbox: Sandbox, tmp_path: Path) -> None:
    slow_sandbox.reset()
    run_together(slow_sandbox, tmp_path, ["machine"])
    assert authentications(slow_sandbox) == 1


def test_machines_sharing_redis_share_one_authentication(slow_sandbox: Sandbox, tmp_path: Path) -> None:
    slow_sandbox.reset()
    with RedisServer() as redis:
        machines = ["machine-a", "machine-b"]
        run_together(
            slow_sandbox, tmp_path, machines, redis, rate_budget="redis", redis_conn_id="tokens_redis"
        )
        import redis as redis_client

        keys = [
            k.decode() for k in redis_client.Redis.from_url(redis.url).keys("airflow-provider-orders:token*")
        ]
    assert authentications(slow_sandbox) == 1
    # The token, under a one-way name; the lock was released.
    assert len(keys) == 1 and keys[0].startswith("airflow-provider-orders:token:")


def test_without_a_shared_cache_each_process_authenticates(slow_sandbox: Sandbox, tmp_path: Path) -> None:
    """The baseline the two tests above improve on: ``auth_cache=memory`` keeps the token per process."""
    slow_sandbox.reset()
    run_together(slow_sandbox, tmp_path, ["machine"], auth_cache="memory")
    assert authentications(slow_sandbox) == PROCESSES
