"""The benchmark code cannot rot: every scenario runs once at tiny size. No timing is asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]


def test_every_scenario_runs_at_tiny_size(tmp_path: Path) -> None:
    report = tmp_path / "BENCHMARKS.md"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--tiny", "--write", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    text = report.read_text()
    for scenario in ("throughput: 2,000 Crayon orders", "throughput: 2,000 Fleetio orders", "latency-bound: crayon",
                     "latency-bound: adobe_vip_marketplace", "latency-bound: emnify", "memory: stream",
                     "rate limit: Granite", "triggerer: OrderStateTriggers", "parse cost: import",
                     "waits: 20 on one triggerer", "shared budget: 4 workers + 1 async poller",
                     "watchers: 5 OrderEventTriggers on one Crayon tenant"):  # fmt: skip
        assert scenario in text, scenario
    # Throughput rows: the replay server's capacity beside each result, CPU per order for each competitor.
    assert text.count("server capacity") >= 10 and "INVALID" not in text
    for competitor in ("raw", "urllib3+msgspec", "http-provider", "dlt", "provider"):
        assert f"| {competitor} (" in text and "µs CPU/order) |" in text, competitor
    for competitor in (
        "one poll per wait (before)",
        "provider, rate_budget=redis",
        "rate_budget=machine (default)",
        "a budget per process",
    ):
        assert competitor in text, competitor
    assert "CPU:" in text and "python -m benchmarks --tiny" in text
