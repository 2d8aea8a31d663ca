"""One worker of the shared-budget benchmark, in its own process: lists Granite from ``--start-at`` for
``--seconds``, sync (a Celery or Local worker) or async (the triggerer), and prints {"orders": n, "failed":
the error class when 429s outlasted every retry, else null}.

The Granite connection, with its ``rate_budget``, comes from the environment (AIRFLOW_CONN_...).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["sync", "async"], required=True)
    parser.add_argument("--start-at", type=float, required=True, help="UNIX time to start at")
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args()
    from airflow_provider_orders.hooks.granite import GraniteAccessExpressHook

    hook = GraniteAccessExpressHook()
    hook.engine  # noqa: B018 - read the connection and build the engine before the clock starts
    time.sleep(max(0.0, args.start_at - time.time()))
    stop = args.start_at + args.seconds
    from airflow_provider_orders.errors import OrdersError

    count = 0
    failed = None
    try:
        if args.mode == "sync":
            for _ in hook.iter_orders(page_size=1):
                count += 1
                if time.time() >= stop:
                    break
        else:

            async def listing() -> int:
                n = 0
                async for _ in hook.aiter_orders(page_size=1):
                    n += 1
                    if time.time() >= stop:
                        break
                return n

            count = asyncio.run(listing())
    except OrdersError as exc:  # a worker that meets 429 after every retry fails, as its task would
        failed = type(exc).__name__
    print(json.dumps({"orders": count, "failed": failed}))


if __name__ == "__main__":
    main()
