"""``python -m airflow_provider_orders.sandbox.demo``: the provider end to end, offline.

1. starts the sandbox on a free loopback port and points the five ``<vendor>_default`` connections at it
   through ``AIRFLOW_CONN_*`` variables;
2. lists every order of every vendor through the hooks and prints a summary;
3. runs the example DAGs with ``airflow dags test`` on SQLite (daily export of all five vendors,
   place-and-wait with a deferrable sensor, tenant fan-out with dynamic task mapping, a day's Crayon
   orders merged into a table of a throw-away PostgreSQL, or of a SQLite file where PostgreSQL's server
   is not installed);
4. prints where the files landed, what the sensor saw and what the table holds;
5. starts a real Airflow (api-server, scheduler, dag-processor, triggerer) on loopback and shows the
   event-driven DAG run when an order of the watched tenant settles, and the table refreshed for it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

from airflow_provider_orders.sandbox import Sandbox, SandboxConfig, sandbox_env
from airflow_provider_orders.sandbox.process import loopback_direct
from airflow_provider_orders.sandbox.store import ANCHOR

DAG_RUNS = [
    ("orders_daily_export", [ANCHOR.date().isoformat()]),
    ("orders_place_and_wait", []),
    ("orders_tenant_fanout", []),
    ("orders_to_postgres", [ANCHOR.date().isoformat()]),
]


def list_with_hooks() -> None:
    from airflow_provider_orders.registry import all_specs

    print(f"{'vendor':<24}{'orders':>8}{'seconds':>9}  statuses")
    for spec in all_specs():
        hook = spec.hook_class()()
        started = time.monotonic()
        orders = list(hook.iter_orders(spec.sandbox_filters))
        elapsed = time.monotonic() - started
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(Counter(o.status.value for o in orders).items()))
        print(f"{spec.conn_type:<24}{len(orders):>8}{elapsed:>9.2f}  {statuses}")
    print("(Granite is slowest on purpose: the client keeps to its 60 requests a minute.)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=500, help="orders per vendor and tenant (default 500)")
    parser.add_argument("--out", default="demo-output", help="where the DAGs write (default ./demo-output)")
    parser.add_argument("--dags", default=str(Path.cwd() / "example_dags"), help="the example DAGs folder")
    parser.add_argument("--hooks-only", action="store_true", help="skip the DAG runs")
    args = parser.parse_args(argv)

    out = Path(args.out).resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    home = Path(os.environ.get("AIRFLOW_HOME", Path.cwd() / ".airflow-home")).resolve()
    airflow = str(Path(sys.executable).with_name("airflow"))
    # The newest order of each tenant stays in progress for 20 s after a reset, then completes. The date is
    # pinned, so that the export of 2026-01-01 prints the same numbers on every run.
    config = SandboxConfig(orders=args.orders, live=1, live_delay=20.0, as_of=ANCHOR)
    database = None if args.hooks_only else Database.start(out)
    try:
        return _demo(args, out, home, airflow, config, database)
    finally:
        if database is not None:
            database.stop()


def _demo(
    args: argparse.Namespace, out: Path, home: Path, airflow: str, config: SandboxConfig, database: Any
) -> int:
    with Sandbox(config) as sandbox:
        env = {
            **loopback_direct(os.environ),
            **sandbox_env(sandbox.url),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": args.dags,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "ORDERS_EXPORT_BASE": f"file://{out}",
            **(database.env if database is not None else {}),
        }
        os.environ.update(env)
        print(f"sandbox: {sandbox.url} ({args.orders} orders per vendor and tenant)\n")
        print("== 1. every order of every vendor, through the hooks")
        list_with_hooks()
        if args.hooks_only:
            return 0

        print(f"\n== 2. the example DAGs, with `airflow dags test` (AIRFLOW_HOME={home})")
        logs = home / "demo-logs"
        logs.mkdir(parents=True, exist_ok=True)
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
        failed = 0
        seen: dict[str, list[dict[str, Any]]] = {}
        for dag_id, extra in DAG_RUNS:
            sandbox.reset()  # the place-and-wait order starts processing again
            log = logs / f"{dag_id}.log"
            started = time.monotonic()
            with open(log, "wb") as handle:
                code = subprocess.run([airflow, "dags", "test", dag_id, *extra], env=env, stdout=handle,
                                      stderr=subprocess.STDOUT).returncode  # fmt: skip
            state = _final_state(log.read_text(errors="replace"))
            failed += code != 0 or state != "success"
            seen[dag_id] = list(sandbox.requests_seen)
            print(f"{dag_id:<24} {state:<8} {time.monotonic() - started:5.1f}s  log: {log}")

        print(f"\n== 3. where the files landed ({out})")
        for path in sorted(p for p in out.rglob("*") if p.is_file()):
            lines = len(path.read_text().splitlines())
            print(f"{lines:>6} lines  {path.relative_to(out)}")

        print("\n== 4. what the sensor saw")
        result = out / "place_and_wait" / "result.json"
        if result.exists():
            summary = json.loads(result.read_text())
            # The sensor looks the order up (a search for its id, with requests); deferred, the trigger's
            # poller lists the tenant once per round (httpx), for every wait on that tenant at once.
            api = [
                r
                for r in seen["orders_place_and_wait"]
                if r["vendor"] == "crayon" and "token" not in r["path"]
            ]
            agents = Counter(r["headers"].get("user-agent", "?").split("/")[0] for r in api)
            print(f"Crayon order {summary['order_id']} ({summary['product']}): {summary['vendor_status']} "
                  f"-> {summary['status']}")  # fmt: skip
            print(f"checked {agents.get('python-urllib3', 0)} time(s) by the sensor, then deferred: "
                  f"{agents.get('python-httpx', 0)} polls of the tenant by the trigger until it completed")  # fmt: skip
        else:
            print("the place-and-wait DAG wrote no result; see its log above")

        print(f"\n== 5. the table crayon_orders ({database.description})")
        print(database.summary())

        print("\n== 6. event-driven: a real Airflow runs orders_event_driven when a watched order settles")
        failed += not event_driven(sandbox, env, home, args.dags, database)
        return 1 if failed else 0


class Database:
    """The SQL example's database: a throw-away PostgreSQL where its server is installed, else SQLite."""

    def __init__(self, env: dict[str, str], description: str, server: Any, path: Path | None) -> None:
        self.env, self.description, self.server, self.path = env, description, server, path

    @classmethod
    def start(cls, out: Path) -> Database:
        from airflow_provider_orders.sandbox.postgres import PostgresServer, postgres_bin

        if postgres_bin() is not None:
            server = PostgresServer()
            server.start()
            env = {"AIRFLOW_CONN_ORDERS_POSTGRES": server.airflow_uri()}
            return cls(
                env, f"PostgreSQL on 127.0.0.1:{server.port}, connection orders_postgres", server, None
            )
        path = out / "orders.db"
        env = {"ORDERS_SQL_CONN_ID": "orders_sqlite",
               "AIRFLOW_CONN_ORDERS_SQLITE": json.dumps({"conn_type": "sqlite", "host": str(path)})}  # fmt: skip
        return cls(env, f"SQLite {path}: PostgreSQL's server is not installed", None, path)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.server is not None:
            with self.server.connect() as conn:
                return list(conn.execute(sql).fetchall())
        import sqlite3

        with closing(sqlite3.connect(str(self.path))) as conn:
            return list(conn.execute(sql).fetchall())

    def summary(self) -> str:
        try:
            counts = self.rows("SELECT status, COUNT(*) FROM crayon_orders GROUP BY status ORDER BY status")
        except Exception as exc:
            return f"no table: {type(exc).__name__}: {exc}"
        total = sum(n for _, n in counts)
        return f"{total} orders, one row each: " + ", ".join(f"{status} {n}" for status, n in counts)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def event_driven(sandbox: Sandbox, env: dict[str, str], home: Path, dags: str, database: Database) -> bool:
    """Start Airflow's components, let the AssetWatcher's trigger record tenant 1003, restart the sandbox's
    live orders (the newest is Processing again, then Succeeded 20 s later) and wait for the run it makes,
    and for the table's refresh (orders_to_postgres_refresh, scheduled on the same asset)."""
    from airflow_provider_orders.sandbox.local_airflow import LocalAirflow

    dag_id, tenant = "orders_event_driven", "1003"
    airflow = LocalAirflow(home, env, dags)
    started = time.monotonic()

    def watcher_polls() -> int:
        """The listings of the tenant the watcher made (their first pages)."""
        wanted = {("customerTenantId", tenant), ("page", "1")}
        return sum(1 for r in list(sandbox.requests_seen)
                   if r["vendor"] == "crayon" and wanted <= {tuple(q) for q in r["query"]})  # fmt: skip

    try:
        airflow.start()
        airflow.wait_for(lambda: airflow.request("GET", f"/api/v2/dags/{dag_id}/details"), 180, "the DAG")
        for unpause in (dag_id, "orders_to_postgres_refresh"):
            path = f"/api/v2/dags/{unpause}"
            airflow.wait_for(lambda path=path: airflow.request("GET", f"{path}/details"), 180, unpause)
            airflow.request("PATCH", f"/api/v2/dags/{unpause}", {"is_paused": False})
        airflow.wait_for(lambda: watcher_polls() >= 2, 180, "the watcher's first polls")
        print(f"Airflow up and the watcher polling Crayon tenant {tenant} after {time.monotonic() - started:.0f}s "
              f"(logs: {home}/*.out)")  # fmt: skip
        sandbox.reset()  # the newest order of the tenant: Processing now, Succeeded in 20 s
        (live,) = sandbox.apps["crayon"].live_orders(tenant)
        print(f"order {live['id']} is {live['state']}; it settles in {live['settles_after']:.0f}s")

        def finished_run(dag: str = dag_id) -> dict[str, Any] | None:
            runs = airflow.request("GET", f"/api/v2/dags/{dag}/dagRuns")["dag_runs"]
            done = [r for r in runs if r["state"] in ("success", "failed")]
            return done[0] if done else None

        run = airflow.wait_for(finished_run, 180, "the asset-triggered run")
        ti = f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances/provision"
        value = airflow.request("GET", f"{ti}/xcomEntries/return_value")["value"]
        orders = json.loads(value) if isinstance(value, str) else value
        print(f"run {run['dag_run_id']} ({run['run_type']}): {run['state']}")
        for order in orders:
            print(f"  Crayon order {order['id']}: {order['previous_vendor_status']} -> {order['vendor_status']}, "
                  f"dedup_key {order['dedup_key']}")  # fmt: skip
        refresh = airflow.wait_for(
            lambda: finished_run("orders_to_postgres_refresh"), 180, "the table's refresh"
        )
        ti = f"/api/v2/dags/orders_to_postgres_refresh/dagRuns/{refresh['dag_run_id']}/taskInstances"
        counts = airflow.request("GET", f"{ti}/refresh_tenant_orders/xcomEntries/return_value")["value"]
        counts = json.loads(counts) if isinstance(counts, str) else counts
        print(f"orders_to_postgres_refresh ({refresh['run_type']}): {refresh['state']}, tenant {tenant} "
              f"merged into crayon_orders: {counts}")  # fmt: skip
        print(f"crayon_orders: {database.summary()}")
        return bool(run["state"] == "success" and [o["id"] for o in orders] == [live["id"]]
                    and refresh["state"] == "success")  # fmt: skip
    except AssertionError as exc:  # a wait timed out
        print(f"event-driven: {exc}; see {home}/triggerer.out and scheduler.out")
        return False
    finally:
        airflow.stop()


def _final_state(log: str) -> str:
    for line in reversed(log.splitlines()):
        if "DagRun Finished" in line and "state=" in line:
            return line.split("state=", 1)[1].split(",", 1)[0]
    return "unknown"


if __name__ == "__main__":
    sys.exit(main())
