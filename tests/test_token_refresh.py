"""One token refresh at a time per credential, across real processes and machines.

Eight OS processes (half with the sync hook, half with the async one, as a triggerer would) start listing
emnify at the same instant with a cold token cache, against a sandbox
that takes 0.4 s to answer (so every process is still waiting for a token when the others ask). emnify
allows 100 ``authenticate`` calls per 5 minutes per IP: a fleet of mapped tasks must not spend eight.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_orders.sandbox import Sandbox, SandboxConfig, sandbox_connections
from benchmarks.redis_server import RedisServer

pytestmark = pytest.mark.integration

WORKER = """
import asyncio, os, sys, time
from airflow_provider_orders.hooks.emnify import EmnifyHook
hook = EmnifyHook()
hook.engine, hook._sync, hook._async  # connection read, engine and transports built: only the listing is left
async def alist():
    return [order async for order in hook.aiter_orders()]
barrier = sys.argv[1]
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
    workers = []
    for i in range(PROCESSES):
        env = {**os.environ, "AIRFLOW_CONN_EMNIFY_DEFAULT": json.dumps(conn),
               "AIRFLOW_PROVIDER_ORDERS_CACHE_DIR": str(tmp_path / cache_dirs[i % len(cache_dirs)])}  # fmt: skip
        if redis is not None:
            env["AIRFLOW_CONN_TOKENS_REDIS"] = redis.url
        workers.append(subprocess.Popen([sys.executable, "-c", WORKER, str(barrier), ("sync", "async")[i % 2]],
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))  # fmt: skip
    deadline = time.monotonic() + 120
    while len(list(barrier.iterdir())) < PROCESSES:
        assert time.monotonic() < deadline and all(w.poll() is None for w in workers), (
            "a worker did not start"
        )
        time.sleep(0.05)
    (barrier / "go").touch()
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err[-3000:]
        assert out.strip().splitlines()[-1] == "30"


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
