"""Many OrderEventTrigger watchers of one Crayon tenant, in a fresh process, against the sandbox.

``--mode shared`` runs them the way Airflow 3.3's triggerer does for triggers with a
``shared_stream_key``: Airflow's own ``SharedStreamManager`` runs one poll (the trigger's ack-mode
producer) and feeds every watcher's ``filter_shared_stream``. ``--mode alone`` runs each watcher's own ``run()`` loop (Airflow
before 3.3). Halfway through, one live order settles; every watcher must report it exactly once. Prints
one JSON line: requests per poll round, events per watcher.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import urllib.request
from typing import Any

TENANT = "3001"


def control(url: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{url}/_sandbox{path}", data=data, method="POST" if data else "GET")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


async def run(url: str, mode: str, count: int, seconds: float, poll: float) -> list[list[dict[str, Any]]]:
    from airflow_provider_orders.triggers import OrderEventTrigger

    triggers = [
        OrderEventTrigger(conn_id="crayon_default", scope={"customer_tenant_id": int(TENANT)}, lookback=None,
                          statuses=["completed"] if i % 2 else ["completed", "failed"], poll_interval=poll)
        for i in range(count)
    ]  # fmt: skip
    seen: list[list[dict[str, Any]]] = [[] for _ in triggers]

    async def consume(i: int, events: Any) -> None:
        async for event in events:
            seen[i].append(event.payload)

    if mode == "shared":
        from airflow.triggers.shared_stream import SharedStreamManager

        manager = SharedStreamManager()
        streams = [t.filter_shared_stream(manager.subscribe(trigger_id=i, trigger=t, key=t.shared_stream_key()))
                   for i, t in enumerate(triggers)]  # fmt: skip
    else:
        streams = [t.run() for t in triggers]
    tasks = [asyncio.ensure_future(consume(i, s)) for i, s in enumerate(streams)]
    await asyncio.sleep(seconds / 2)
    live = control(url, f"/live?vendor=crayon&tenant={TENANT}")
    control(url, "/settle", {"vendor": "crayon", "tenant": TENANT, "index": live[0]["index"]})
    await asyncio.sleep(seconds / 2)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if mode == "shared":
        await manager.stop_all()
    return seen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--mode", choices=["shared", "alone"], required=True)
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--poll", type=float, default=2.0)
    args = parser.parse_args()
    control(args.url, "/reset", {})
    t0 = time.time()
    seen = asyncio.run(run(args.url, args.mode, args.count, args.seconds, args.poll))
    log = [r for r in control(args.url, "/requests") if r["time"] >= t0 and r["vendor"] == "crayon"]
    api = [r for r in log if "/token" not in r["path"]]
    polls = args.seconds / args.poll
    print(json.dumps({
        "mode": args.mode, "watchers": args.count, "requests": len(api),
        "requests_per_poll": len(api) / polls,
        "events_per_watcher": sorted({len(s) for s in seen}),
        "orders_per_event": sorted({len(e["orders"]) for s in seen for e in s}),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
