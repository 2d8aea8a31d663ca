"""A credential's request budget, shared by every process that uses the credential.

The rule is pyrate-limiter's GCRA (a leaky bucket kept as one timestamp, ``burst=1``): requests are spaced
evenly at 98% of the vendor's limit, so no window of the vendor's, however aligned, sees more than the
limit. Where that timestamp lives decides who shares the budget (the connection's ``rate_budget``):

- ``process``: in this process's memory (pyrate-limiter's ``InMemoryStateStore``);
- ``machine`` (the default): in a SQLite file in the user's cache directory, so every worker process,
  task and triggerer of this user on this machine draw from one budget with no server to run;
- ``redis``: in Redis (pyrate-limiter's ``RedisStateStore``, one atomic Lua step per request), so
  several machines share it. The key is ``airflow-provider-orders:budget:<vendor>:<hash>``, where the
  hash is one-way over host, login and secrets: never a secret.

A store that fails (Redis down or slow, a cache directory that is not writable) costs the request
nothing: a warning once, then the next store down the line (redis -> machine -> process) until the
failed one answers again, tried every :data:`RETRY_SECONDS`.

Why pyrate-limiter and not ``limits``: ``limits`` has no store that several processes on one machine
share without a server, and its Redis strategies are window counters, which allow a burst at each
window's edge; pyrate-limiter has GCRA in-process and in Redis (sync and ``redis.asyncio``) and a
store interface small enough that the SQLite store below is storage only, not rate logic.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from pyrate_limiter import GCRA, Decision, InMemoryStateStore, Rate, StateStore
from pyrate_limiter.abstracts.algorithm import StateAlgorithm

from airflow_provider_orders.engine.deadlines import wait_within
from airflow_provider_orders.engine.policy import credential_digest, default_cache_directory

log = logging.getLogger(__name__)

#: The share of the vendor's limit the budget spends: scheduling jitter and clock skew live in the rest.
HEADROOM = 0.98
#: Seconds a failed store is left alone before it is tried again.
RETRY_SECONDS = 30.0
#: Seconds one Redis call may take before the budget falls back to this machine's.
REDIS_TIMEOUT = 0.5
KEY_PREFIX = "airflow-provider-orders:budget"


class RequestBudget(Protocol):
    """What the engine asks before each request: how long to wait (0: go, the slot is taken)."""

    @property
    def store(self) -> str: ...

    def reserve(self) -> float: ...

    async def areserve(self) -> float: ...


def rates_for(per_minute: float) -> list[Rate]:
    """One GCRA rate at :data:`HEADROOM` of ``per_minute``, no burst: one request per emission interval."""
    # pyrate-limiter's rates are integer counts per integer milliseconds: 0.98 x 60/min = 58.8 a minute
    # is 588 per 10 minutes, the same spacing.
    return [Rate(max(1, round(per_minute * HEADROOM * 10)), 600_000, burst=1)]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _wait(decision: Decision) -> float:
    if decision.allowed:
        return 0.0
    return max(0.001, (decision.retry_after_ms or 1) / 1000)


class StoreBudget:
    """A budget over one pyrate-limiter :class:`StateStore` (sync; async where the store has a twin)."""

    def __init__(
        self,
        store_name: str,
        store: StateStore,
        per_minute: float,
        *,
        async_store: Callable[[], StateStore] | None = None,
        describe: str = "",
    ) -> None:
        self._name = store_name
        self._store = store
        self._async_store = async_store
        self.per_minute = per_minute
        self.rates = rates_for(per_minute)
        self.algorithm: StateAlgorithm = GCRA()
        self.describe = describe or store_name

    @property
    def store(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"StoreBudget({self.describe}, {self.per_minute:g}/min)"

    def reserve(self) -> float:
        decision = self._store.check(self.algorithm, self.rates, _now_ms(), 1)
        assert isinstance(decision, Decision)
        return _wait(decision)

    async def areserve(self) -> float:
        if self._async_store is None:
            return self.reserve()
        pending = self._async_store().check(self.algorithm, self.rates, _now_ms(), 1)
        decision = await wait_within(pending, REDIS_TIMEOUT)  # type: ignore[arg-type]
        return _wait(decision)


class FallbackBudget:
    """The first budget that answers: a failed one warns once, then rests :data:`RETRY_SECONDS`."""

    def __init__(self, chain: list[StoreBudget], clock: Callable[[], float] = time.monotonic) -> None:
        self.chain = chain
        self.clock = clock
        self._down_until: dict[int, float] = {}
        self._warned: set[int] = set()

    @property
    def store(self) -> str:
        return self.chain[0].store

    def __repr__(self) -> str:
        return f"FallbackBudget({self.chain!r})"

    def _usable(self) -> list[int]:
        last = len(self.chain) - 1
        now = self.clock()
        return [i for i in range(last) if self._down_until.get(i, 0.0) <= now] + [last]

    def _failed(self, index: int, exc: Exception) -> None:
        if index == len(self.chain) - 1:
            raise exc  # nothing further down the line: the process's own memory does not fail this way
        self._down_until[index] = self.clock() + RETRY_SECONDS
        if index not in self._warned:
            self._warned.add(index)
            log.warning(
                "the shared request budget in %s failed (%s: %s); using %s instead and trying again "
                "every %.0fs. Vendor 429s are still honoured.",
                self.chain[index].describe, type(exc).__name__, str(exc)[:200] or "no detail",
                self.chain[index + 1].describe, RETRY_SECONDS,
            )  # fmt: skip

    def _answered(self, index: int, wait: float) -> float:
        if self._down_until.pop(index, None) is not None:
            log.info("the shared request budget in %s answers again", self.chain[index].describe)
        return wait

    def reserve(self) -> float:
        for index in self._usable():
            try:
                return self._answered(index, self.chain[index].reserve())
            except Exception as exc:
                self._failed(index, exc)
        raise AssertionError("unreachable: the last budget answers or raises")

    async def areserve(self) -> float:
        for index in self._usable():
            try:
                return self._answered(index, await self.chain[index].areserve())
            except Exception as exc:
                self._failed(index, exc)
        raise AssertionError("unreachable: the last budget answers or raises")


class SQLiteStateStore(StateStore):
    """One row per budget key in a SQLite file: the GCRA state every process on this machine shares.

    Each check is one ``BEGIN IMMEDIATE`` transaction (read, step, write), which SQLite serialises across
    processes; WAL with ``synchronous=NORMAL`` keeps a check well under a millisecond.
    """

    is_async = False

    def __init__(self, path: str, key: str) -> None:
        self.path = path
        self.key = key
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, timeout=2.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE IF NOT EXISTS budget (key TEXT PRIMARY KEY, state TEXT NOT NULL)")
            self._conn = conn
        return self._conn

    def check(self, algorithm: StateAlgorithm, rates: list[Rate], now: int, weight: int) -> Decision:
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                state = self._load(conn, algorithm, rates)
                new_state, decision = algorithm.step(rates, state, now, weight)
                if decision.allowed:
                    conn.execute(
                        "INSERT OR REPLACE INTO budget (key, state) VALUES (?, ?)",
                        (self.key, ",".join(str(v) for v in new_state)),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return decision

    def _load(self, conn: sqlite3.Connection, algorithm: StateAlgorithm, rates: list[Rate]) -> Any:
        row = conn.execute("SELECT state FROM budget WHERE key = ?", (self.key,)).fetchone()
        if row is None:
            return algorithm.initial(rates)
        values = row[0].split(",")
        return algorithm.decode(values) if len(values) == len(rates) else algorithm.initial(rates)

    def read(self, algorithm: StateAlgorithm, rates: list[Rate]) -> Any:
        with self._lock:
            return self._load(self._connection(), algorithm, rates)

    def reset(self) -> None:
        with self._lock:
            self._connection().execute("DELETE FROM budget WHERE key = ?", (self.key,))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def budget_key(credential: tuple[str, ...]) -> str:
    """The store key of one credential: the vendor in clear, the rest one-way hashed."""
    return f"{KEY_PREFIX}:{credential[0]}:{credential_digest(credential, 32)}"


def machine_budget(key: str, per_minute: float, directory: str | None = None) -> StoreBudget:
    directory = directory or default_cache_directory()
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, "budget.sqlite3")
    return StoreBudget("machine", SQLiteStateStore(path, key), per_minute, describe=f"the file {path}")


def process_budget(per_minute: float) -> StoreBudget:
    return StoreBudget("process", InMemoryStateStore(), per_minute, describe="this process's memory")


def redis_budget(key: str, per_minute: float, options: dict[str, Any]) -> StoreBudget:
    """A budget in Redis; ``options`` are ``redis.Redis`` keywords (host, port, db, username, password,
    ssl). Each call gives up after :data:`REDIS_TIMEOUT` and is not retried by the client."""
    import redis
    import redis.asyncio
    from pyrate_limiter import RedisStateStore
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    common = {
        **options,
        "socket_timeout": REDIS_TIMEOUT,
        "socket_connect_timeout": REDIS_TIMEOUT,
    }
    sync_client = redis.Redis(**common, retry=Retry(NoBackoff(), 0))
    clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, StateStore] = weakref.WeakKeyDictionary()

    def async_store() -> StateStore:
        # redis.asyncio connections belong to one event loop: one client per loop.
        loop = asyncio.get_running_loop()
        store = clients.get(loop)
        if store is None:
            client = redis.asyncio.Redis(**common, retry=redis.asyncio.retry.Retry(NoBackoff(), 0))
            store = clients[loop] = RedisStateStore(client, key)
        return store

    where = f"Redis at {options.get('host', '?')}:{options.get('port', 6379)}"
    return StoreBudget(
        "redis", RedisStateStore(sync_client, key), per_minute, async_store=async_store, describe=where
    )


_registry_lock = threading.Lock()
_budgets: dict[tuple[Any, ...], RequestBudget] = {}


def budget_for(
    credential: tuple[str, ...],
    per_minute: float,
    store: str = "machine",
    *,
    redis_options: dict[str, Any] | None = None,
) -> RequestBudget | None:
    """The process-wide budget of one credential (``None`` when ``per_minute`` is 0: no limit).

    :param store: ``process``, ``machine`` or ``redis`` (see the module's docstring).
    :param redis_options: ``redis.Redis`` keywords, for ``store="redis"``.
    """
    if per_minute <= 0:
        return None
    redis_id = tuple(sorted((k, str(v)) for k, v in (redis_options or {}).items()))
    registry_key = (credential, per_minute, store, redis_id)
    with _registry_lock:
        budget = _budgets.get(registry_key)
        if budget is None:
            budget = _budgets[registry_key] = _build(budget_key(credential), per_minute, store, redis_options)
        return budget


def _build(key: str, per_minute: float, store: str, redis_options: dict[str, Any] | None) -> RequestBudget:
    chain: list[StoreBudget] = []
    if store == "redis":
        chain.append(redis_budget(key, per_minute, redis_options or {}))
    if store in ("redis", "machine"):
        try:
            chain.append(machine_budget(key, per_minute))
        except OSError as exc:
            log.warning("no shared request budget on this machine (%s: %s); each process keeps its own",
                        type(exc).__name__, exc)  # fmt: skip
    chain.append(process_budget(per_minute))
    return chain[0] if len(chain) == 1 else FallbackBudget(chain)


def clear_budgets() -> None:
    """Forget every budget of this process (tests; after the connection changed)."""
    with _registry_lock:
        _budgets.clear()
