"""The request budget's rules, one layer at a time (the processes and Redis: ``test_shared_budget``)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path

import pytest
from pyrate_limiter import InMemoryStateStore

from airflow_provider_orders.engine.budget import (
    FallbackBudget,
    SQLiteStateStore,
    StoreBudget,
    budget_for,
    budget_key,
    machine_budget,
)

SPACING_60 = 60 / (60 * 0.98)


def waits_the_rest(wait: float, granted_before: float) -> bool:
    """Whether ``wait`` is what is left of one spacing after a grant made after ``granted_before``
    (``time.monotonic()``), however long a loaded machine took in between: never a fixed time."""
    elapsed = time.monotonic() - granted_before
    return SPACING_60 - elapsed - 0.005 <= wait <= SPACING_60 + 0.005


def test_requests_are_spaced_at_98_percent_of_the_limit() -> None:
    budget = StoreBudget("process", InMemoryStateStore(), 60)
    started = time.monotonic()
    assert budget.reserve() == 0.0
    assert waits_the_rest(budget.reserve(), started)
    assert waits_the_rest(budget.reserve(), started)  # a denied reserve books nothing


def test_no_limit_is_no_budget() -> None:
    assert budget_for(("granite", "https://h", "x"), 0) is None


def test_two_stores_on_one_file_share_one_budget(tmp_path: Path) -> None:
    key = budget_key(("granite", "https://h", "digest"))
    first = machine_budget(key, 60, str(tmp_path))
    second = machine_budget(key, 60, str(tmp_path))  # another process opens the same file
    started = time.monotonic()
    assert first.reserve() == 0.0
    assert waits_the_rest(second.reserve(), started)
    other = machine_budget(budget_key(("granite", "https://h", "other")), 60, str(tmp_path))
    assert other.reserve() == 0.0  # another credential has its own budget


def test_the_key_names_the_vendor_and_hides_the_credential() -> None:
    key = budget_key(("crayon", "https://api.crayon.com", "s3cr3t-digest"))
    assert key.startswith("airflow-provider-orders:budget:crayon:")
    assert "s3cr3t" not in key and "api.crayon.com" not in key


class Broken(InMemoryStateStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def check(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.calls += 1
        raise ConnectionError("Error 111 connecting to 127.0.0.1:1")


def test_a_failing_store_warns_once_and_the_next_one_serves(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    broken = Broken()
    chain = [StoreBudget("redis", broken, 60, describe="Redis at 127.0.0.1:1"),
             StoreBudget("process", InMemoryStateStore(), 60, describe="this process's memory")]  # fmt: skip
    budget = FallbackBudget(chain, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING):
        started = time.monotonic()
        assert budget.reserve() == 0.0
        assert waits_the_rest(budget.reserve(), started)
    assert broken.calls == 1  # resting: not asked again within RETRY_SECONDS
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "Redis at 127.0.0.1:1 failed (ConnectionError" in warnings[0]
    assert "using this process's memory instead" in warnings[0]
    now[0] = 31.0
    budget.reserve()
    assert broken.calls == 2  # tried again after the rest, and no second warning
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_the_async_path_falls_back_too() -> None:
    chain = [StoreBudget("redis", Broken(), 60), StoreBudget("process", InMemoryStateStore(), 60)]
    budget = FallbackBudget(chain)

    async def twice() -> list[float]:
        return [await budget.areserve(), await budget.areserve()]

    started = time.monotonic()
    waits = asyncio.run(twice())
    assert waits[0] == 0.0
    assert waits_the_rest(waits[1], started)


def test_an_unwritable_machine_file_falls_back_to_the_process(tmp_path: Path) -> None:
    store = SQLiteStateStore(str(tmp_path / "missing-dir" / "budget.sqlite3"), "k")
    chain = [StoreBudget("machine", store, 60), StoreBudget("process", InMemoryStateStore(), 60)]
    with pytest.raises(sqlite3.OperationalError):
        chain[0].reserve()
    assert FallbackBudget(chain).reserve() == 0.0
