"""One OrderEventTrigger on a Crayon tenant whose open orders are all older than its window, in a fresh
process, against the sandbox (``--aged N``): what following them costs a poll, and the watermark's size.

``--lookback default`` is the trigger's default (7 days: the open orders are followed beyond it);
``--lookback none`` lists every order of the scope each poll. Halfway through, the oldest open order
settles; the watch must report it once. Prints one JSON line: requests, wall and CPU seconds per poll
after the first, the first poll's, the saved watermark's size in bytes and the events seen.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from typing import Any

from benchmarks.watchers_probe import TENANT, control  # the same tenant and control API client


def api_requests(url: str) -> int:
    """Crayon API requests the sandbox has answered (token requests aside)."""
    return sum(1 for r in control(url, "/requests") if r["vendor"] == "crayon" and "/token" not in r["path"])


class DictStore:
    """An asset state store in a dict (what Airflow 3.3 injects): the watermark the watch saves."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def aget(self, key: str, default: Any = None) -> Any:
        return json.loads(self.values[key]) if key in self.values else default

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = json.dumps(value)


async def run(url: str, lookback: str, polls: int) -> dict[str, Any]:
    from airflow_provider_orders.triggers import OrderEventTrigger
    from airflow_provider_orders.triggers import events as events_module

    events_module.COMMIT_DELAY = 0.0
    kwargs: dict[str, Any] = {} if lookback == "default" else {"lookback": None}
    trigger = OrderEventTrigger(conn_id="crayon_default", scope={"customer_tenant_id": int(TENANT)},
                                poll_interval=0.01, **kwargs)  # fmt: skip
    store = DictStore()
    trigger.asset_state_store = store  # type: ignore[assignment]
    done: list[tuple[float, float, int]] = []  # (wall, cpu, requests) when each poll was diffed
    observe = events_module.observe

    def counted(*args: Any, **kw: Any) -> Any:
        done.append((time.perf_counter(), time.process_time(), api_requests(url)))
        return observe(*args, **kw)

    events_module.observe = counted
    seen: list[dict[str, Any]] = []
    start = (time.perf_counter(), time.process_time(), api_requests(url))

    async def consume() -> None:
        async for event in trigger.run():
            seen.append(event.payload)

    task = asyncio.ensure_future(consume())
    settled = False
    while len(done) < polls:
        await asyncio.sleep(0.01)
        if not settled and len(done) >= polls // 2:
            oldest = control(url, f"/live?vendor=crayon&tenant={TENANT}")[0]
            control(url, "/settle", {"vendor": "crayon", "tenant": TENANT, "index": oldest["index"]})
            settled = True
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    marks = [start, *done]
    steps = [(b[0] - a[0], b[1] - a[1], b[2] - a[2]) for a, b in itertools.pairwise(marks)]
    first, later = steps[0], steps[1:]
    return {
        "lookback": lookback, "polls": len(later),
        "first_poll": {"seconds": first[0], "cpu": first[1], "requests": first[2]},
        "requests_per_poll": sum(s[2] for s in later) / len(later),
        "seconds_per_poll": sum(s[0] for s in later) / len(later),
        "cpu_per_poll": sum(s[1] for s in later) / len(later),
        "watermark_bytes": len(store.values.get(events_module.STATE_KEY, "")),
        "orders_per_event": [len(e["orders"]) for e in seen],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--lookback", choices=["default", "none"], required=True)
    parser.add_argument("--polls", type=int, default=6)
    args = parser.parse_args()
    control(args.url, "/reset", {})
    print(json.dumps(asyncio.run(run(args.url, args.lookback, args.polls))))


if __name__ == "__main__":
    main()
