"""One memory measurement in a fresh process: prints {"orders", "peak_rss_mb", "seconds"} as JSON.

``--what provider`` streams the orders to a jsonl file with ListOrdersOperator; ``--what http-provider``
lists them with HttpOperator and a pagination_function, which keeps every response.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--what", choices=["provider", "http-provider"], required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--tenant", type=int, required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    if args.what == "provider":
        from airflow_provider_orders.operators.orders import ListOrdersOperator

        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "orders.jsonl"
            op = ListOrdersOperator(task_id="t", conn_id="crayon_default", output_path=f"file://{target}",
                                    filters={"customer_tenant_id": args.tenant, "page_size": 100})  # fmt: skip
            count = op.execute({})["count"]
            lines = sum(1 for _ in target.open())
            assert lines == count
    else:
        from benchmarks.competitors import crayon_recipe, http_provider

        kept: list[object] = []
        count = http_provider(args.url, crayon_recipe(args.tenant), keep=kept)
    print(
        json.dumps({"orders": count, "peak_rss_mb": peak_rss_mb(), "seconds": time.perf_counter() - started})
    )


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent
    across fork and exec, so a probe started by a large process would report the parent's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
