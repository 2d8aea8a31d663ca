"""Many OrderStateTriggers in one event loop, in a fresh process.

Prints {"triggers", "round_seconds": [...], "per_round": [...], "threads_before", "threads_peak", "peak_rss_mb",
"events"}: the triggers wait on one emnify account, so they share one poller; a round is one burst of
requests in the sandbox's log (first to last), ``per_round`` how many requests it made.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
import urllib.request

from benchmarks.memory_probe import peak_rss_mb


async def run(count: int, seconds: float, poll: float, sampled: list[int]) -> list[str]:
    from airflow_provider_orders.hooks.resolve import get_orders_hook
    from airflow_provider_orders.triggers.orders import OrderStateTrigger
    from airflow_provider_orders.triggers.polling import subscribe  # noqa: F401 (the trigger's first import)

    # What a running triggerer has done long before: the imports and the connection lookup (seconds on a
    # loaded machine). Counted inside a 3 s window, they left the tiny run without a single round.
    get_orders_hook("emnify_default")
    deadline = time.time() + seconds

    async def one(order_id: str) -> str:
        trigger = OrderStateTrigger(conn_id="emnify_default", order_id=order_id, target_status=["completed"],
                                    failure_status=["canceled"], poll_interval=poll, timeout_at=deadline)  # fmt: skip
        async for event in trigger.run():
            return str(event.payload["status"])
        return "none"

    async def sample() -> None:
        while time.time() < deadline + 1:
            sampled.append(threading.active_count())
            await asyncio.sleep(0.05)

    sampler = asyncio.ensure_future(sample())
    statuses = await asyncio.gather(*(one(str(1000 + i)) for i in range(count)))
    sampler.cancel()
    return statuses


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--poll", type=float, default=3.0)
    args = parser.parse_args()
    before = threading.active_count()
    sampled: list[int] = [before]
    statuses = asyncio.run(run(args.count, args.seconds, args.poll, sampled))
    with urllib.request.urlopen(f"{args.url}/_sandbox/requests", timeout=30) as response:
        log = json.loads(response.read())
    from benchmarks.waits_probe import rounds

    emnify = [r for r in log if r["vendor"] == "emnify" and "/shop/order" in r["path"]]
    groups = rounds(emnify, args.poll / 2)
    print(json.dumps({
        "triggers": args.count, "round_seconds": [g[-1] - g[0] for g in groups],
        "per_round": [len(g) for g in groups], "threads_before": before, "threads_peak": max(sampled),
        "peak_rss_mb": peak_rss_mb(), "events": sorted(set(statuses)),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
