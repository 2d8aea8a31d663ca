"""The benchmark code cannot rot: every scenario runs once at tiny size. No timing is asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_orders.hooks.resolve import get_orders_hook

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]


#: Every scenario, in four runs that the suite's workers take in parallel: (scenarios, the report's titles,
#: the competitors it must name).
TINY_RUNS = {
    "throughput": (
        ["throughput"],
        ["throughput: 2,000 Crayon orders", "throughput: 2,000 Fleetio orders"],
        ["| raw (", "| urllib3+msgspec (", "| http-provider (", "| dlt (", "| order floor (", "| provider ("],
    ),
    "latency-memory-rate-parse": (
        ["latency", "memory", "rate-limit", "parse"],
        ["latency-bound: crayon", "latency-bound: adobe_vip_marketplace", "latency-bound: emnify", "memory: stream",
         "rate limit: Granite", "parse cost: import"],
        [],
    ),
    "triggers-waits": (
        ["triggerer", "waits"],
        ["triggerer: OrderStateTriggers", "waits: 20 on one triggerer"],
        ["one poll per wait (before)"],
    ),
    "budget-watchers": (
        ["shared-budget", "watchers"],
        ["shared budget: 4 workers + 1 async poller", "watchers: 5 OrderEventTriggers on one Crayon tenant"],
        ["provider, rate_budget=redis", "rate_budget=machine (default)", "a budget per process"],
    ),
}  # fmt: skip


def test_the_tiny_runs_cover_every_scenario() -> None:
    from benchmarks.scenarios import SCENARIOS

    covered = [name for scenarios, _, _ in TINY_RUNS.values() for name in scenarios]
    assert sorted(covered) == sorted(SCENARIOS)


@pytest.mark.parametrize("run", sorted(TINY_RUNS))
def test_every_scenario_runs_at_tiny_size(run: str, tmp_path: Path) -> None:
    scenarios, titles, competitors = TINY_RUNS[run]
    report = tmp_path / "BENCHMARKS.md"
    only = [arg for name in scenarios for arg in ("--only", name)]
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--tiny", *only, "--write", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    text = report.read_text()
    for title in titles:
        assert title in text, title
    for competitor in competitors:
        assert competitor in text, competitor
    if run == "throughput":
        # The replay server's capacity beside each result, CPU per order for each competitor.
        assert text.count("server capacity") >= 10 and "INVALID" not in text
        assert "µs CPU/order) |" in text
    assert "CPU:" in text and "python -m benchmarks --tiny" in text


@pytest.mark.parametrize("vendor", ["crayon", "fleetio", "adobe", "granite", "emnify"])
def test_the_order_floor_builds_the_orders_the_provider_lists(sbx: Any, vendor: str) -> None:
    """The throughput scenario's bound ("order floor") is a bound only if it does the provider's work:
    every order equal to the hook's, field by field, and its undecoded record the hook's ``raw``."""
    import msgspec

    from benchmarks import competitors as c

    floor: list[Any] = []
    count = c.order_floor(sbx.url, c.RECIPES[vendor], vendor, keep=floor)
    conn_type = {"adobe": "adobe_vip_marketplace", "granite": "granite_access_express"}.get(vendor, vendor)
    scope = {"crayon": {"customer_tenant_id": c.TENANT}, "adobe": {"customer_id": "1005000001"}}.get(
        vendor, {}
    )
    listed = get_orders_hook(f"{conn_type}_default").list_orders(page_size=100, **scope)
    assert count == len(floor) == len(listed) > 0
    for bound, order in zip(floor, listed, strict=True):
        assert bound.model_dump(exclude={"raw"}) == order.model_dump(exclude={"raw"})
        assert msgspec.json.decode(bound.raw) == order.raw
