"""Timing, repeats, sandbox processes and the results table."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_orders.sandbox import SandboxProcess as BaseSandboxProcess
from airflow_provider_orders.sandbox import sandbox_env


@dataclass
class Sample:
    """Repeated measurements of one competitor in one scenario."""

    competitor: str
    values: list[float] = field(default_factory=list)
    unit: str = "orders/s"
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def fmt(self, value: float) -> str:
        if self.unit in ("orders/s", "req/min", "requests"):
            return f"{value:,.0f}"
        if self.unit == "MB":
            return f"{value:,.1f}"
        return f"{value:,.3f}" if value < 10 else f"{value:,.1f}"


@dataclass
class Row:
    scenario: str
    sample: Sample
    ratio: str = ""
    bar: str = ""
    verdict: str = ""


class SandboxProcess(BaseSandboxProcess):
    """The sandbox in its own process, so that the server's work sits on the other core; entering it points
    every ``<vendor>_default`` connection of this process at it."""

    def __enter__(self) -> SandboxProcess:
        os.environ.update(sandbox_env(self.url))
        return self


def alternate(competitors: dict[str, Callable[[], Any]], repeats: int, reset: Callable[[], None] | None = None,
              cpu: dict[str, list[float]] | None = None, before: Callable[[str], None] | None = None,
              after: Callable[[str], None] | None = None) -> dict[str, list[tuple[float, Any]]]:  # fmt: skip
    """Run each competitor ``repeats`` times, alternating (rotating who goes first); (seconds, result).

    :param cpu: filled with each run's CPU seconds of this process (every thread), by competitor.
    :param before: called with the competitor's name before each of its runs, untimed (a reset of its own).
    :param after: called with the competitor's name after each of its runs, untimed (a check of what it did).
    """
    names = list(competitors)
    out: dict[str, list[tuple[float, Any]]] = {name: [] for name in names}
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            if reset:
                reset()
            if before:
                before(name)
            cpu_started = time.process_time()
            started = time.perf_counter()
            result = competitors[name]()
            out[name].append((time.perf_counter() - started, result))
            if after:
                after(name)
            if cpu is not None:
                cpu.setdefault(name, []).append(time.process_time() - cpu_started)
    return out


class ReplayProcess(SandboxProcess):
    """``python -m benchmarks.replay_server`` in its own process: every answer rendered once by a sandbox,
    then served from memory (see that module). Entering it points every ``<vendor>_default`` connection of
    this process at it."""

    command = ("-m", "benchmarks.replay_server")

    def stats(self) -> dict[str, int]:
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/_replay/stats", timeout=30) as response:
            return dict(json.loads(response.read()))

    def capacity(self, prefix: str, orders_per_answer: float, seconds: float, clients: int = 2) -> float:
        """Orders per second the server gives ``clients`` near-free clients asking the kept pages under
        ``prefix`` (``benchmarks.capacity_probe``)."""
        result = probe("capacity_probe", "--url", self.url, "--prefix", prefix, "--seconds", str(seconds),
                       "--clients", str(clients))  # fmt: skip
        return float(result["per_second"]) * orders_per_answer


PACKAGES = (
    "apache-airflow",
    "airflow-provider-orders",
    "requests",
    "httpx",
    "apache-airflow-providers-http",
    "dlt",
)


def machine_facts() -> list[str]:
    import importlib.metadata as md

    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(line.split()[1] for line in f if line.startswith("MemTotal")))
            mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass

    def version(name: str) -> str:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return "not installed"

    return [
        f"CPU: {cpu}, {os.cpu_count()} cores; memory {mem}",
        f"OS: {platform.platform()}; Python {platform.python_version()}",
        "packages: "
        + ", ".join(
            f"{n} {version(n)}"
            for n in (
                "apache-airflow",
                "airflow-provider-orders",
                "requests",
                "httpx",
                "apache-airflow-providers-http",
                "dlt",
            )
        ),
    ]


def table(rows: list[Row]) -> str:
    lines = [
        "| scenario | competitor | median | min | max | unit | ratio | bar | met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        s = row.sample
        note = f" ({s.note})" if s.note else ""
        lines.append(
            f"| {row.scenario} | {s.competitor}{note} | {s.fmt(s.median)} | {s.fmt(min(s.values))} | "
            f"{s.fmt(max(s.values))} | {s.unit} | {row.ratio} | {row.bar} | {row.verdict} |"
        )
    return "\n".join(lines)


def probe(module: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python -m benchmarks.<module>`` in a fresh process; it prints one JSON line last."""
    result = subprocess.run([sys.executable, "-m", f"benchmarks.{module}", *args], capture_output=True, text=True,
                            env={**os.environ, **(env or {})}, timeout=1800, check=False)  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"probe {module} failed:\n{result.stderr[-3000:]}")
    return dict(result_line(result.stdout))


def result_line(stdout: str) -> Any:
    """The JSON object or list a process prints last. A library may log to stdout after it (a line at exit
    broke a tiny run once): the last line that is a JSON object or list is the result."""
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith(("{", "[")):
            return json.loads(line)
    raise ValueError(f"no JSON result line in the output: {stdout[-2000:]!r}")
