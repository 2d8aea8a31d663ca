"""Many waits in one event loop, in a fresh process, against the sandbox: coalesced or one poll per wait.

``--mode triggers`` runs real OrderStateTriggers (one poll per scope). ``--mode alone`` runs what a
trigger did before it shared its scope: its own hook, and ``aget_order`` then a sleep, per wait.
Waits are on the sandbox's live orders (in progress for the whole run), ``--per-scope`` per Crayon tenant
and per Adobe customer. Prints one JSON line: requests per round, round seconds, peak RSS, threads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
import urllib.request
from typing import Any

from benchmarks.memory_probe import peak_rss_mb


def control(url: str, path: str) -> Any:
    with urllib.request.urlopen(f"{url}/_sandbox{path}", timeout=60) as response:
        return json.loads(response.read())


def waits(url: str, scopes: int, per_scope: int) -> list[tuple[str, dict[str, Any], str]]:
    out = []
    for i in range(scopes):
        for vendor, key, tenant in (("crayon", "customer_tenant_id", str(3000 + i)),
                                    ("adobe_vip_marketplace", "customer_id", f"10060{i:05d}")):  # fmt: skip
            live = control(url, f"/live?vendor={vendor}&tenant={tenant}")[:per_scope]
            assert len(live) == per_scope, "start the sandbox with --live >= --per-scope"
            value: Any = int(tenant) if vendor == "crayon" else tenant
            out += [(f"{vendor}_default", {key: value}, order["id"]) for order in live]
    return out


async def run(mode: str, todo: list[tuple[str, dict[str, Any], str]], seconds: float, poll: float,
              sampled: list[int]) -> tuple[list[str], list[int]]:  # fmt: skip
    from airflow_provider_orders.hooks.resolve import aget_orders_hook
    from airflow_provider_orders.triggers.orders import OrderStateTrigger

    deadline = time.time() + seconds
    polls: list[list[float]] = []

    async def trigger(conn_id: str, scope: dict[str, Any], order_id: str) -> str:
        t = OrderStateTrigger(conn_id=conn_id, order_id=order_id, target_status=["completed"], scope=scope,
                              failure_status=["failed"], poll_interval=poll, timeout_at=deadline)  # fmt: skip
        async for event in t.run():
            return str(event.payload["status"])
        return "none"

    async def alone(conn_id: str, scope: dict[str, Any], order_id: str) -> str:
        hook = await aget_orders_hook(conn_id)
        done: list[float] = []
        while True:  # at least one poll, as a trigger makes, even where starting took the whole time
            await hook.aget_order(order_id, **scope)
            done.append(time.time())
            if time.time() >= deadline:
                break
            await asyncio.sleep(min(poll, max(0.0, deadline - time.time())))
        polls.append(done)
        return "timeout"

    async def sample() -> None:
        while time.time() < deadline + 1:
            sampled.append(threading.active_count())
            await asyncio.sleep(0.1)

    sampler = asyncio.ensure_future(sample())
    one = trigger if mode == "triggers" else alone
    statuses = await asyncio.gather(*(one(*w) for w in todo))
    sampler.cancel()
    return statuses, polls


def rounds(log: list[dict[str, Any]], gap: float) -> list[list[float]]:
    """The API requests' arrival times, grouped into rounds split by a quiet ``gap``."""
    times = sorted(r["time"] for r in log if "/token" not in r["path"] and "/ims/" not in r["path"])
    groups: list[list[float]] = []
    for t in times:
        if groups and t - groups[-1][-1] < gap:
            groups[-1].append(t)
        else:
            groups.append([t])
    return groups


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--mode", choices=["triggers", "alone"], required=True)
    parser.add_argument(
        "--scopes", type=int, required=True, help="Crayon tenants, and as many Adobe customers"
    )
    parser.add_argument("--per-scope", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--poll", type=float, default=10.0)
    args = parser.parse_args()
    todo = waits(args.url, args.scopes, args.per_scope)
    control(args.url, "/requests?clear=1")
    before = threading.active_count()
    sampled = [before]
    started = time.monotonic()
    t0 = time.time()
    statuses, polls = asyncio.run(run(args.mode, todo, args.seconds, args.poll, sampled))
    elapsed = time.monotonic() - started
    log = [r for r in control(args.url, "/requests") if r["time"] >= t0]  # this run's requests only
    api = [r for r in log if "/token" not in r["path"] and "/ims/" not in r["path"]]
    if args.mode == "triggers":
        groups = rounds(log, args.poll / 2)
        per_round = [len(g) for g in groups]
        round_seconds = [g[-1] - g[0] for g in groups]
    else:
        # Each wait polls on its own clock. Round k: from the first wait's k-th poll starting (t0, then
        # the previous round's end + the interval) to the last wait's k-th poll answered.
        k_max = min(len(p) for p in polls)
        per_round = [round(len(api) / (sum(len(p) for p in polls) / len(polls)))]
        round_seconds = []
        start = t0
        for k in range(k_max):
            end = max(p[k] for p in polls)
            round_seconds.append(end - start)
            start = min(p[k] for p in polls) + args.poll
    print(json.dumps({
        "waits": len(todo), "mode": args.mode, "requests": len(api), "per_round": per_round,
        "round_seconds": round_seconds, "threads_before": before, "threads_peak": max(sampled),
        "peak_rss_mb": peak_rss_mb(), "events": sorted(set(statuses)), "seconds": elapsed,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
