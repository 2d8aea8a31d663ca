"""Import cost in a fresh process: prints {"sdk_ms", "added_ms", "heavy"} as JSON."""

from __future__ import annotations

import json
import sys
import time

HEAVY = ("pyarrow", "s3fs", "boto3", "dlt", "fsspec", "httpx", "requests", "pydantic")


def main() -> None:
    target = sys.argv[1]
    t0 = time.perf_counter()
    import airflow.sdk

    t1 = time.perf_counter()
    before = {name for name in HEAVY if name in sys.modules}
    if target == "provider":
        import airflow_provider_orders.operators.orders
        import airflow_provider_orders.sensors.orders  # noqa: F401
    else:
        import airflow.providers.http.operators.http
        import airflow.providers.http.sensors.http  # noqa: F401
    t2 = time.perf_counter()
    heavy = sorted(name for name in HEAVY if name in sys.modules and name not in before)
    print(json.dumps({"sdk_ms": (t1 - t0) * 1e3, "added_ms": (t2 - t1) * 1e3, "heavy": heavy}))


if __name__ == "__main__":
    main()
