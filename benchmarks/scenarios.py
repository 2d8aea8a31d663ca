"""The scenarios, each with its bar. ``Size`` scales them: full for BENCHMARKS.md, tiny for the suite."""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import requests

from benchmarks import competitors as c
from benchmarks.harness import ReplayProcess, Row, Sample, SandboxProcess, alternate, probe, result_line


@dataclass(frozen=True)
class Size:
    throughput_orders: int = 100_000
    repeats: int = 5
    latency_pages: int = 200
    latency_repeats: int = 3
    memory_small: int = 10_000
    memory_large: int = 1_000_000
    http_memory_large: int = 100_000
    rate_seconds: float = 30.0
    triggers: int = 1_000
    trigger_seconds: float = 12.0
    wait_scopes: int = 100
    waits_per_scope: int = 50
    wait_seconds: float = 30.0
    wait_poll: float = 10.0
    budget_seconds: float = 60.0
    #: Seconds the budget workers get to start (import Airflow) before they all begin at once.
    budget_lead: float = 10.0
    import_repeats: int = 7
    watchers: int = 50
    watch_seconds: float = 40.0
    watch_poll: float = 2.0
    #: Open orders older than the watch's window, each followed until it settles.
    open_orders: int = 10_000
    #: Seconds each near-free client asks the replay server, for its capacity line.
    capacity_seconds: float = 3.0
    #: Orders merged into PostgreSQL, into a table holding half of them; repeats of each competitor.
    sql_orders: int = 100_000
    sql_repeats: int = 3
    sql_memory_small: int = 10_000
    sql_memory_large: int = 1_000_000


FULL = Size()
TINY = Size(throughput_orders=2_000, repeats=1, latency_pages=8, latency_repeats=1, memory_small=500,
            memory_large=2_000, http_memory_large=1_000, rate_seconds=3.0, triggers=20, trigger_seconds=3.0,
            import_repeats=1, wait_scopes=2, waits_per_scope=5, wait_seconds=6.0, wait_poll=1.0,
            budget_seconds=3.0, budget_lead=4.0, capacity_seconds=0.5, watchers=5, watch_seconds=4.0, watch_poll=0.5,
            open_orders=60, sql_orders=1_000, sql_repeats=1, sql_memory_small=300, sql_memory_large=1_000)  # fmt: skip

TENANT = 1001


def _verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _rates(runs: dict[str, list[tuple[float, Any]]], expected: int) -> dict[str, Sample]:
    out = {}
    for name, results in runs.items():
        for _, count in results:
            assert count == expected, f"{name} listed {count} orders, expected {expected}"
        out[name] = Sample(name, [expected / seconds for seconds, _ in results])
    return out


def throughput(size: Size) -> list[Row]:
    """Each client lists every order from a replay server (every page rendered once by the sandbox, then
    served from memory in its own process), so the clients are measured, not the server: the server's
    capacity is measured in the same run and printed beside each result."""
    rows: list[Row] = []
    n = size.throughput_orders
    # Granite's 60 requests a minute are a rate-limit scenario of their own: lifted here on both sides.
    with ReplayProcess("--orders", str(n), "--granite-rpm", "1000000000") as server:
        granite = json.loads(os.environ["AIRFLOW_CONN_GRANITE_ACCESS_EXPRESS_DEFAULT"])
        granite["extra"]["requests_per_minute"] = 0
        os.environ["AIRFLOW_CONN_GRANITE_ACCESS_EXPRESS_DEFAULT"] = json.dumps(granite)
        vendors = {
            (name, paging, c.RECIPES[vendor].path): {
                "raw": lambda vendor=vendor: c.raw(server.url, c.RECIPES[vendor]),
                "urllib3+msgspec": lambda vendor=vendor: c.ceiling(server.url, c.RECIPES[vendor]),
                "http-provider": lambda vendor=vendor: c.http_provider(server.url, c.RECIPES[vendor]),
                "dlt": lambda vendor=vendor: c.dlt(server.url, vendor),
                "order floor": lambda vendor=vendor: c.order_floor(server.url, c.RECIPES[vendor], vendor),
                "provider": lambda vendor=vendor: c.provider(vendor),
            }
            for vendor, name, paging in (
                ("crayon", "Crayon", "page 100"),
                ("fleetio", "Fleetio", "cursor pages of 100"),
                ("adobe", "Adobe", "offset pages of 100 linked by links.next"),
                ("granite", "Granite", "numbered pages of 100 to a short page"),
                ("emnify", "emnify", "numbered pages of 100 counted in headers"),
            )
        }
        for (vendor, paging, prefix), competitors in vendors.items():
            for f in competitors.values():  # warm-up: imports, pools, and every answer rendered once
                f()
            kept = server.stats()
            cpu: dict[str, list[float]] = {}
            samples = _rates(alternate(competitors, size.repeats, cpu=cpu), n)
            after = server.stats()
            assert after["misses"] == kept["misses"], f"timed requests reached the sandbox: {kept} -> {after}"
            capacity = server.capacity(prefix, 100, seconds=size.capacity_seconds)
            raw, ceiling = samples["raw"].median, samples["urllib3+msgspec"].median
            fastest = max(s.median for s in samples.values())
            valid = fastest < capacity / 2
            title = (f"throughput: {n:,} {vendor} orders, {paging}; server capacity {capacity:,.0f} orders/s "
                     f"(2 raw-socket clients){'' if valid else ' — INVALID: a client reached half of it'}")  # fmt: skip
            for name, sample in samples.items():
                cpu_us = statistics.median(cpu[name]) / n * 1e6
                sample.note = f"{cpu_us:.1f} µs CPU/order"
                ratio = f"{sample.median / raw:.2f}x raw"
                if name == "provider":
                    ok = valid and sample.median >= raw and sample.median >= 0.8 * ceiling
                    bar = ">= 1.0x raw, >= 0.8x urllib3+msgspec"
                    rows.append(Row(title, sample, f"{ratio}, {sample.median / ceiling:.2f}x ceiling", bar,
                                    _verdict(ok)))  # fmt: skip
                elif name == "order floor":
                    rows.append(Row(title, sample, f"{ratio}, {sample.median / ceiling:.2f}x ceiling"))
                else:
                    rows.append(Row(title, sample, ratio))
    return rows


def latency_bound(size: Size) -> list[Row]:
    from airflow_provider_orders.hooks.adobe_vip import AdobeVipMarketplaceHook
    from airflow_provider_orders.hooks.crayon import CrayonHook
    from airflow_provider_orders.hooks.emnify import EmnifyHook

    rows: list[Row] = []
    pages = size.latency_pages
    orders = pages * 100
    with SandboxProcess("--orders", str(orders), "--latency-ms", "50"):
        vendors = {
            "crayon": lambda n: sum(1 for _ in CrayonHook().iter_orders(customer_tenant_id=TENANT, page_size=100, concurrency=n)),
            "adobe_vip_marketplace": lambda n: sum(1 for _ in AdobeVipMarketplaceHook().iter_orders(
                customer_id="1005000001", page_size=100, concurrency=n)),
            "emnify": lambda n: sum(1 for _ in EmnifyHook().iter_orders(page_size=100, concurrency=n)),
        }  # fmt: skip
        for vendor, listing in vendors.items():
            runs = alternate({"sequential": lambda listing=listing: listing(1),
                              "concurrency=8": lambda listing=listing: listing(8)}, size.latency_repeats)  # fmt: skip
            title = f"latency-bound: {vendor}, {pages} pages, 50 ms each"
            seq = Sample("provider sequential", [s for s, _ in runs["sequential"]], unit="s")
            par = Sample("provider concurrency=8", [s for s, _ in runs["concurrency=8"]], unit="s")
            assert all(n == orders for _, n in runs["sequential"] + runs["concurrency=8"])
            speedup = seq.median / par.median
            rows.append(Row(title, seq, "1.00x"))
            rows.append(Row(title, par, f"{speedup:.1f}x faster", ">= 5x faster", _verdict(speedup >= 5)))
    return rows


def memory(size: Size) -> list[Row]:
    rows: list[Row] = []
    results: dict[tuple[str, int], dict[str, Any]] = {}
    for orders, whats in ((size.memory_small, ("provider", "http-provider")), (size.memory_large, ("provider",)),
                          (size.http_memory_large, ("http-provider",))):  # fmt: skip
        with SandboxProcess("--orders", str(orders)) as sb:
            for what in whats:
                result = probe("memory_probe", "--what", what, "--url", sb.url, "--tenant", str(TENANT))
                assert result["orders"] == orders, result
                results[(what, orders)] = result
    title = "memory: stream Crayon orders to file:// jsonl"
    small = results[("provider", size.memory_small)]["peak_rss_mb"]
    large = results[("provider", size.memory_large)]["peak_rss_mb"]
    rows.append(
        Row(title, Sample(f"provider ListOrdersOperator, {size.memory_small:,}", [small], unit="MB"), "1.00x")
    )
    rows.append(Row(title, Sample(f"provider ListOrdersOperator, {size.memory_large:,}", [large], unit="MB",
                                  note=f"{results[('provider', size.memory_large)]['seconds']:.0f} s"),
                    f"{large / small:.2f}x", "<= 1.3x of the small run", _verdict(large / small <= 1.3)))  # fmt: skip
    h_small = results[("http-provider", size.memory_small)]["peak_rss_mb"]
    h_large = results[("http-provider", size.http_memory_large)]["peak_rss_mb"]
    rows.append(
        Row(
            title, Sample(f"http-provider HttpOperator, {size.memory_small:,}", [h_small], unit="MB"), "1.00x"
        )
    )
    rows.append(Row(title, Sample(f"http-provider HttpOperator, {size.http_memory_large:,}", [h_large], unit="MB",
                                  note="keeps every response"), f"{h_large / h_small:.2f}x"))  # fmt: skip
    return rows


def rate_limit(size: Size) -> list[Row]:
    """Granite's 60/min scaled to 600/min: 100 requests per 10 s sliding window."""
    from airflow_provider_orders.hooks.granite import GraniteAccessExpressHook
    from airflow_provider_orders.sandbox import sandbox_connections

    rows: list[Row] = []
    title = f"rate limit: Granite at 600 req/min for {size.rate_seconds:.0f} s"
    with SandboxProcess("--orders", "100000", "--granite-rpm", "100", "--granite-window", "10",
                        "--request-log", "20000") as sb:  # fmt: skip
        conn = sandbox_connections(sb.url)["granite_access_express_default"]
        conn["extra"] = {**conn["extra"], "requests_per_minute": 600, "max_retries": 0}
        os.environ["AIRFLOW_CONN_GRANITE_ACCESS_EXPRESS_DEFAULT"] = json.dumps(conn)

        def provider() -> tuple[int, int, float]:
            sb.control("/reset", {})
            started = time.monotonic()
            for _ in GraniteAccessExpressHook().iter_orders(page_size=1):
                if time.monotonic() - started >= size.rate_seconds:
                    break
            return _granite_counts(sb, time.monotonic() - started)

        def raw() -> tuple[int, int, float]:
            sb.control("/reset", {})
            token = requests.post(conn["extra"]["oauth_url"], auth=(conn["login"], conn["password"]),
                                  data={"grant_type": "client_credentials", "scope": "urn:grt:accessexpress"},
                                  timeout=30).json()["access_token"]  # fmt: skip
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {token}"
            started = time.monotonic()
            page = 1
            while time.monotonic() - started < size.rate_seconds:
                response = session.get(f"{sb.url}/granite/api/v1/ordersAccessExpress",
                                       params={"page": page, "page_size": 1}, timeout=30)  # fmt: skip
                if response.status_code == 429:
                    time.sleep(float(response.headers.get("Retry-After", "1")))
                    continue
                page += 1
            return _granite_counts(sb, time.monotonic() - started)

        for name, run in (("provider (requests_per_minute=600)", provider), ("raw, 429 + Retry-After", raw)):
            ok, limited, seconds = run()
            per_minute = ok / seconds * 60
            sample = Sample(name, [per_minute], unit="req/min", note=f"{limited} x 429")
            if name.startswith("provider"):
                met = per_minute >= 0.95 * 600 and limited == 0
                rows.append(
                    Row(title, sample, f"{per_minute / 600:.1%} of limit", ">= 95%, zero 429s", _verdict(met))
                )
            else:
                rows.append(Row(title, sample, f"{per_minute / 600:.1%} of limit"))
    return rows


def _granite_counts(sb: SandboxProcess, seconds: float) -> tuple[int, int, float]:
    log = [r for r in sb.control("/requests") if r["path"].endswith("/ordersAccessExpress")]
    return sum(r.get("status") == 200 for r in log), sum(r.get("status") == 429 for r in log), seconds


def triggerer(size: Size) -> list[Row]:
    rows: list[Row] = []
    title = "triggerer: OrderStateTriggers on one emnify account, 20 ms latency, one event loop"
    counts = sorted({max(1, size.triggers // 10), size.triggers})
    for count in counts:
        with SandboxProcess("--orders", str(count), "--live", str(count), "--live-delay", "3600",
                            "--latency-ms", "20", "--request-log", str(count * 12)) as sb:  # fmt: skip
            result = probe("trigger_probe", "--url", sb.url, "--count", str(count),
                           "--seconds", str(size.trigger_seconds), "--poll", str(size.trigger_seconds / 4))  # fmt: skip
        assert result["events"] == ["timeout"], result
        assert result["per_round"], f"no poll was answered within {size.trigger_seconds:g} s: {result}"
        rounds = result["round_seconds"]
        sample = Sample(f"provider, {count:,} triggers", rounds, unit="s",
                        note=f"threads {result['threads_before']} -> {result['threads_peak']}, "
                             f"peak RSS {result['peak_rss_mb']:.0f} MB, "
                             f"{statistics.median(result['per_round']):.0f} requests a round")  # fmt: skip
        if count == counts[-1]:
            grew = result["threads_peak"] - result["threads_before"]
            ok = max(rounds) < 5 and grew <= 2
            rows.append(Row(title, sample, "", "round < 5 s, threads flat", _verdict(ok)))
        else:
            rows.append(Row(title, sample))
    return rows


def waits(size: Size) -> list[Row]:
    """Waits on one triggerer, spread over Crayon tenants and Adobe customers, 20 ms sandbox latency."""
    rows: list[Row] = []
    count = 2 * size.wait_scopes * size.waits_per_scope
    title = (f"waits: {count:,} on one triggerer, {size.wait_scopes} Crayon tenants + {size.wait_scopes} Adobe "
             f"customers, 20 ms latency, poll every {size.wait_poll:g} s")  # fmt: skip
    with SandboxProcess("--orders", "200", "--live", str(size.waits_per_scope), "--live-delay", "3600",
                        "--latency-ms", "20", "--request-log", str(count * 6)) as sb:  # fmt: skip
        results = {
            mode: probe(
                "waits_probe",
                "--url",
                sb.url,
                "--mode",
                mode,
                "--scopes",
                str(size.wait_scopes),
                "--per-scope",
                str(size.waits_per_scope),
                "--seconds",
                str(size.wait_seconds),
                "--poll",
                str(size.wait_poll),
            )
            for mode in ("alone", "triggers")
        }
    for mode, label in (
        ("alone", "one poll per wait (before)"),
        ("triggers", "provider, one poll per scope"),
    ):
        r = results[mode]
        assert r["waits"] == count and r["events"] == ["timeout"], r
        note = (f"threads {r['threads_before']} -> {r['threads_peak']}, peak RSS {r['peak_rss_mb']:.0f} MB, "
                f"round wall time {statistics.median(r['round_seconds']):.2f} s")  # fmt: skip
        sample = Sample(
            f"{label}: requests per round", [float(v) for v in r["per_round"]], unit="requests", note=note
        )
        if mode == "triggers":
            scopes = 2 * size.wait_scopes
            ok = (max(r["per_round"]) <= 2 * scopes and max(r["round_seconds"]) < 5 and r["peak_rss_mb"] < 400
                  and r["threads_peak"] - r["threads_before"] <= 2)  # fmt: skip
            ratio = f"{statistics.median(results['alone']['per_round']) / statistics.median(r['per_round']):.0f}x fewer"
            rows.append(Row(title, sample, ratio, f"~{scopes} + pages, round < 5 s, < 400 MB, threads flat",
                            _verdict(ok)))  # fmt: skip
        else:
            rows.append(Row(title, sample))
    return rows


def watchers(size: Size) -> list[Row]:
    """Event watchers of one Crayon tenant: one shared poll (Airflow 3.3) against one loop per watcher."""
    import airflow

    rows: list[Row] = []
    title = (f"watchers: {size.watchers} OrderEventTriggers on one Crayon tenant (500 orders, 5 pages a poll), "
             f"poll every {size.watch_poll:g} s")  # fmt: skip
    try:
        import airflow.triggers.shared_stream
    except ImportError:
        return [Row(title, Sample(f"shared streams need Airflow 3.3 (this is {airflow.__version__})", [0.0]))]
    results = {}
    with SandboxProcess(
        "--orders", "500", "--live", "2", "--live-delay", "36000", "--request-log", "50000"
    ) as sb:
        for mode in ("alone", "shared"):
            results[mode] = probe("watchers_probe", "--url", sb.url, "--mode", mode, "--count", str(size.watchers),
                                  "--seconds", str(size.watch_seconds), "--poll", str(size.watch_poll))  # fmt: skip
    for mode, label in (("alone", "one poll loop per watcher (Airflow < 3.3)"),
                        ("shared", "provider, one shared stream (Airflow 3.3)")):  # fmt: skip
        r = results[mode]
        assert r["events_per_watcher"] == [1] and r["orders_per_event"] == [1], r  # each saw the change once
        sample = Sample(f"{label}: sandbox requests per poll", [r["requests_per_poll"]], unit="requests",
                        note=f"{r['requests']} requests in {size.watch_seconds:g} s, every watcher fired once")  # fmt: skip
        if mode == "shared":
            ratio = results["alone"]["requests_per_poll"] / r["requests_per_poll"]
            ok = r["requests_per_poll"] <= 1.5 * 5
            rows.append(
                Row(title, sample, f"{ratio:.0f}x fewer", "one listing a poll (5 pages)", _verdict(ok))
            )
        else:
            rows.append(Row(title, sample))
    return rows


def open_orders(size: Size) -> list[Row]:
    """One watch of a tenant whose open orders are all older than its window: following them, per poll."""
    n = size.open_orders
    title = (f"open orders: one OrderEventTrigger on a Crayon tenant with {n:,} open orders created 30 days "
             "ago (beyond its 7-day window), polls back to back")  # fmt: skip
    rows: list[Row] = []
    with SandboxProcess("--orders", str(n + 100), "--aged", str(n), "--live", "1", "--live-delay", "36000",
                        "--request-log", "50000") as sb:  # fmt: skip
        results = {mode: probe("open_orders_probe", "--url", sb.url, "--lookback", mode, "--polls", "6")
                   for mode in ("default", "none")}  # fmt: skip
    for mode, label in (("default", "provider, default lookback: open orders followed"),
                        ("none", "lookback=None: every order of the scope each poll")):  # fmt: skip
        r = results[mode]
        assert r["orders_per_event"] == [1], r  # the settled 30-day-old order fired once
        note = (f"{r['requests_per_poll']:.0f} requests, {1000 * r['cpu_per_poll']:.0f} ms CPU a poll; first poll "
                f"{r['first_poll']['requests']} requests, {r['first_poll']['seconds']:.2f} s; watermark "
                f"{r['watermark_bytes'] / 1e6:.2f} MB ({r['watermark_bytes'] / (n + 100):.0f} bytes an order)")  # fmt: skip
        sample = Sample(f"{label}: seconds a poll", [r["seconds_per_poll"]], unit="s", note=note)
        rows.append(Row(title, sample))
    return rows


def shared_budget(size: Size) -> list[Row]:
    """4 sync workers and 1 async poller list Granite at once, each process with the same credential."""
    import subprocess
    import sys

    from airflow_provider_orders.sandbox import sandbox_connections
    from benchmarks.redis_server import RedisServer

    rows: list[Row] = []
    window = min(60.0, size.budget_seconds)
    limit = round(600 * window / 60)
    title = f"shared budget: 4 workers + 1 async poller, Granite at 600 req/min, {size.budget_seconds:.0f} s"
    with RedisServer() as redis, SandboxProcess("--orders", "1000000", "--granite-rpm", str(limit),
                                                "--granite-window", str(window), "--request-log", "20000") as sb:  # fmt: skip
        for store in ("redis", "machine", "process"):
            sb.control("/reset", {})
            conn = sandbox_connections(sb.url)["granite_access_express_default"]
            conn["extra"] = {**conn["extra"], "requests_per_minute": 600, "max_retries": 20, "rate_budget": store,
                             "redis_conn_id": "bench_redis"}  # fmt: skip
            env = {**os.environ, "AIRFLOW_CONN_GRANITE_ACCESS_EXPRESS_DEFAULT": json.dumps(conn),
                   "AIRFLOW_CONN_BENCH_REDIS": redis.url,
                   "AIRFLOW_PROVIDER_ORDERS_CACHE_DIR": tempfile.mkdtemp(prefix="orders-bench-cache-")}  # fmt: skip
            start_at = time.time() + size.budget_lead
            workers = [
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "benchmarks.budget_probe",
                        "--mode",
                        mode,
                        "--start-at",
                        str(start_at),
                        "--seconds",
                        str(size.budget_seconds),
                    ],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for mode in ("sync", "sync", "sync", "sync", "async")
            ]
            failed = 0
            for worker in workers:
                out, err = worker.communicate(timeout=600)
                if worker.returncode != 0:
                    raise RuntimeError(f"budget worker crashed:\n{err[-3000:]}")
                failed += result_line(out)["failed"] is not None
            log = [r for r in sb.control("/requests") if r["path"].endswith("/ordersAccessExpress")]
            answered = sorted(r["time"] for r in log if r.get("status") == 200)
            limited = sum(r.get("status") == 429 for r in log)
            # The rate over the span the answers arrived in (the workers stop at about the same time).
            per_minute = (len(answered) - 1) / (answered[-1] - answered[0]) * 60
            label = {"redis": "provider, rate_budget=redis", "machine": "provider, rate_budget=machine (default)",
                     "process": "a budget per process (before)"}[store]  # fmt: skip
            sample = Sample(label, [per_minute], unit="req/min",
                            note=f"{limited} x 429, {failed} of 5 workers failed on 429s")  # fmt: skip
            if store == "process":
                rows.append(Row(title, sample, f"{per_minute / 600:.1%} of limit"))
            else:
                met = per_minute >= 0.95 * 600 and limited == 0 and failed == 0
                rows.append(Row(title, sample, f"{per_minute / 600:.1%} of limit", ">= 95%, zero 429s",
                                _verdict(met)))  # fmt: skip
    return rows


def parse_cost(size: Size) -> list[Row]:
    rows: list[Row] = []
    title = "parse cost: import operators + sensors on top of airflow.sdk"
    for name in ("provider", "http-provider"):
        runs = [
            probe("import_probe", "provider" if name == "provider" else "http")
            for _ in range(size.import_repeats)
        ]
        added = Sample(
            name,
            [r["added_ms"] for r in runs],
            unit="ms",
            note="new: " + (", ".join(runs[0]["heavy"]) or "none"),
        )
        if name == "provider":
            rows.append(
                Row(title, added, "", "< 100 ms added", _verdict(statistics.median(added.values) < 100))
            )
        else:
            rows.append(Row(title, added))
    return rows


def sql(size: Size) -> list[Row]:
    """Every Fleetio order of the replay server merged into a PostgreSQL table already holding half of
    them, four ways (benchmarks/sql_load.py), alternating; then the provider's peak memory at two sizes.
    The replay server's capacity and PostgreSQL's bare COPY + merge (the floor) are measured in the same
    run: the floor is the least the database needs, so a ratio to it is the provider's own overhead."""
    from airflow_provider_orders.sandbox.postgres import PostgresServer
    from benchmarks.sql_load import Loads

    rows: list[Row] = []
    n = size.sql_orders
    server = PostgresServer()
    server.start()
    try:
        with ReplayProcess("--orders", str(n)) as replay:
            loads = Loads(server, replay.url)
            loads.prepare()
            kept = replay.stats()
            runs = alternate(loads.competitors(), size.sql_repeats, before=loads.reset,
                             after=lambda name: loads.check(name, n))  # fmt: skip
            assert replay.stats()["misses"] == kept["misses"], "timed requests reached the sandbox"
            for name in runs:
                assert all(count == n for _, count in runs[name]), (name, runs[name])
            capacity = replay.capacity("/fleetio/", 100, seconds=size.capacity_seconds)
            loads.close()
        seconds = {name: Sample(name, [s for s, _ in results], unit="s") for name, results in runs.items()}
        title = (f"orders into PostgreSQL: {n:,} Fleetio orders merged into a table holding half of them; "
                 f"replay server capacity {capacity:,.0f} orders/s")  # fmt: skip
        provider = seconds["provider"].median
        for name in ("dlt", "executemany loop", "floor"):
            rows.append(
                Row(title, seconds[name], f"{seconds[name].median / provider:.1f}x the provider's time")
            )
        dlt, loop, floor = (seconds[k].median for k in ("dlt", "executemany loop", "floor"))
        met = dlt / provider >= 5 and loop / provider >= 4 and provider / floor <= 1.3
        rows.append(Row(title, seconds["provider"],
                        f"{dlt / provider:.1f}x faster than dlt, {loop / provider:.1f}x than the loop, "
                        f"{provider / floor:.2f}x the floor",
                        ">= 5x dlt, >= 4x the loop, <= 1.3x the floor", _verdict(met)))  # fmt: skip
        memory: dict[int, dict[str, Any]] = {}
        for orders in (size.sql_memory_small, size.sql_memory_large):
            with SandboxProcess("--orders", str(orders)) as sb:
                del sb
                memory[orders] = probe(
                    "sql_probe", "--sql-uri", server.airflow_uri(), "--tenant", str(TENANT)
                )
        title = "memory: OrdersToSqlOperator, Crayon orders (their lines) into PostgreSQL"
        small, large = (memory[k]["peak_rss_mb"] for k in (size.sql_memory_small, size.sql_memory_large))
        rows.append(Row(title, Sample(f"provider, {size.sql_memory_small:,} lines", [small], unit="MB",
                                      note=f"{memory[size.sql_memory_small]['orders']:,} orders"), "1.00x"))  # fmt: skip
        rows.append(Row(title, Sample(f"provider, {size.sql_memory_large:,} lines", [large], unit="MB",
                                      note=f"{memory[size.sql_memory_large]['orders']:,} orders, "
                                           f"{memory[size.sql_memory_large]['seconds']:.0f} s"),
                        f"{large / small:.2f}x", "<= 1.3x of the small run", _verdict(large / small <= 1.3)))  # fmt: skip
    finally:
        server.stop()
    return rows


SCENARIOS = {
    "throughput": throughput,
    "latency": latency_bound,
    "memory": memory,
    "rate-limit": rate_limit,
    "triggerer": triggerer,
    "waits": waits,
    "shared-budget": shared_budget,
    "watchers": watchers,
    "open-orders": open_orders,
    "parse": parse_cost,
    "sql": sql,
}
