"""``python -m airflow_provider_orders.sandbox``: serve the five emulated vendor APIs on loopback."""

from __future__ import annotations

import argparse
import json
import sys

from airflow_provider_orders.sandbox import Sandbox, SandboxConfig, sandbox_env
from airflow_provider_orders.sandbox.core import resolve_as_of


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="orders-sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8610, help="port (0 picks a free one; default 8610)")
    parser.add_argument("--orders", type=int, default=250, help="orders per vendor and tenant (default 250)")
    parser.add_argument("--seed", type=int, default=7, help="changes every generated order")
    parser.add_argument("--live", type=int, default=4, help="newest orders per tenant that change state")
    parser.add_argument("--live-delay", type=float, default=5.0, help="seconds between live orders settling")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every API request")
    parser.add_argument("--token-ttl", type=float, default=3600.0, help="lifetime of issued tokens (s)")
    parser.add_argument("--granite-rpm", type=int, default=60, help="Granite's enforced requests per minute")
    parser.add_argument("--granite-window", type=float, default=60.0, help="Granite's rate window (s)")
    parser.add_argument("--request-log", type=int, default=2000, help="requests /_sandbox/requests keeps")
    parser.add_argument("--granite-client-auth", choices=("client_secret_basic", "client_secret_post"),
                        default="client_secret_basic", help="how Granite's token URL wants the client id and secret")  # fmt: skip
    parser.add_argument("--granite-no-created-at", action="store_true",
                        help="leave Granite's undocumented created_at out of its records")  # fmt: skip
    parser.add_argument("--adobe-term-days", type=float, default=0.5,
                        help="days of history Adobe lists when a request has no start-date (default 0.5)")  # fmt: skip
    parser.add_argument("--aged", type=int, default=0,
                        help="oldest orders per tenant made 30 days older, in progress until settled through "
                        "POST /_sandbox/settle (open orders beyond a watch's default window)")  # fmt: skip
    parser.add_argument("--as-of", default=None,
                        help="when the newest order was created (ISO 8601, e.g. 2026-01-01); default "
                        "$ORDERS_SANDBOX_AS_OF, else now: orders run up to today")  # fmt: skip
    parser.add_argument("--print-env", action="store_true",
                        help="print the AIRFLOW_CONN_* exports of the sandbox at --host and --port (running, or "
                        "to be started) and exit, without binding the port")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        as_of = resolve_as_of(args.as_of)
    except ValueError as exc:
        parser.error(str(exc))
    config = SandboxConfig(
        orders=args.orders, seed=args.seed, live=args.live, live_delay=args.live_delay, aged=args.aged,
        latency_ms=args.latency_ms, token_ttl=args.token_ttl, granite_rpm=args.granite_rpm,
        granite_window=args.granite_window, request_log=args.request_log,
        granite_client_auth=args.granite_client_auth, granite_created_at=not args.granite_no_created_at,
        adobe_term_days=args.adobe_term_days, as_of=as_of,
    )  # fmt: skip
    if args.print_env:
        # Beside a sandbox already serving on that port: only its URL is needed, never the port itself.
        if args.port == 0:
            parser.error("--print-env needs the --port of the sandbox the connections should reach")
        host = f"[{args.host}]" if ":" in args.host else args.host
        for key, value in sandbox_env(f"http://{host}:{args.port}", config).items():
            print(f"export {key}='{value}'")
        return 0
    sandbox = Sandbox(config, host=args.host, port=args.port)
    print(
        json.dumps({"url": sandbox.url, "orders": args.orders, "as_of": config.as_of.isoformat()}), flush=True
    )
    try:
        sandbox.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
