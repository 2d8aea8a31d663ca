"""Deterministic order sets: order ``i`` of a vendor and tenant is computed, never stored.

An order set of a million orders costs a few bytes per order only when a status filter asks for its
index (an ``array`` of matching positions, built once). Orders are spaced ``STEP`` seconds apart and
the newest ``live`` orders move through their states in real time: processing until the server has run
for ``live_delay * (rank + 1)`` seconds, then completed (or, for every fourth, failed). The oldest
``aged`` orders were created ``AGED_BY`` before the rest and stay in progress until settled through the
control API: open orders older than any watch's default window.
"""

from __future__ import annotations

import bisect
import threading
import time
from array import array
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone

#: The creation time of the newest order where a run pins the date (``--as-of``): the demo and the tests,
#: which check exact record sets. A sandbox started without one dates its newest order now.
ANCHOR = datetime(2026, 1, 1, tzinfo=timezone.utc)
STEP = timedelta(minutes=7)
#: How much older than the rest the ``aged`` orders are: beyond the 7 days a watch looks back by default.
AGED_BY = timedelta(days=30)
MASK64 = (1 << 64) - 1


def mix(*values: int) -> int:
    """A fast deterministic 64-bit hash of integers (splitmix64 rounds)."""
    h = 0x9E3779B97F4A7C15
    for v in values:
        h = (h ^ (v & MASK64)) * 0xBF58476D1CE4E5B9 & MASK64
        h = (h ^ (h >> 31)) * 0x94D049BB133111EB & MASK64
        h ^= h >> 29
    return h


def tenant_salt(text: str) -> int:
    return mix(*text.encode())


class OrderSet:
    """The orders of one vendor and tenant, oldest first (index 0).

    :param salt: makes one tenant's orders differ from another's.
    :param size: how many orders.
    :param states: the vendor's states in the order an order moves through them.
    :param weights: how often each state occurs among settled orders (same length as ``states``).
    :param live: how many of the newest orders move through states in real time.
    :param live_states: (in progress, succeeded, failed) native states for live orders.
    :param started: when live orders started (monotonic seconds); a callable, so a reset restarts them.
    :param live_delay: seconds between one live order settling and the next.
    :param as_of: when the newest order was created; order ``i`` was created ``STEP * (size - 1 - i)``
        before (the ``aged`` ones ``AGED_BY`` earlier still).
    :param aged: how many of the oldest orders stay in progress until settled through the control API.
    """

    def __init__(
        self,
        salt: int,
        size: int,
        states: Sequence[str],
        weights: Sequence[int],
        *,
        live: int,
        live_states: tuple[str, str, str],
        started: Callable[[], float],
        live_delay: float,
        clock: Callable[[], float] = time.monotonic,
        tenant: str = "",
        as_of: datetime = ANCHOR,
        aged: int = 0,
    ) -> None:
        self.tenant = tenant
        self.aged = min(aged, max(0, size - live))
        self.as_of = as_of
        self.salt = salt
        self.size = size
        self.states = list(states)
        self._cumulative = list(_accumulate(weights))
        self.live_start = max(0, size - live)
        self.live_states = live_states
        self.started = started
        self.live_delay = live_delay
        self.clock = clock
        self._indexes: dict[frozenset[str], array[int]] = {}
        self._lock = threading.Lock()
        # Live orders settled early through the control API: index -> seconds after start. A reset (a new
        # start) forgets them.
        self._early: dict[int, float] = {}
        self._early_epoch = started()
        self._wall_start = self._wall_of_start()

    # -- one order -------------------------------------------------------------------------

    def created(self, i: int) -> datetime:
        created = self.as_of - STEP * (self.size - 1 - i)
        return created - AGED_BY if i < self.aged else created

    def is_live(self, i: int) -> bool:
        """Whether order ``i`` changes state while the server runs (the newest ``live``, the ``aged``)."""
        return i < self.aged or self.live_start <= i < self.size

    def rand(self, i: int, field: int) -> int:
        return mix(self.salt, i, field)

    def settled_state(self, i: int) -> str:
        pick = self.rand(i, 1) % self._cumulative[-1]
        return self.states[bisect.bisect_right(self._cumulative, pick)]

    def state(self, i: int) -> str:
        if not self.is_live(i):
            return self.settled_state(i)
        rank = i - self.live_start if i >= self.live_start else i
        in_progress, succeeded, failed = self.live_states
        if self.clock() - self.started() < self.settles_at(i):  # type: ignore[operator]
            return in_progress
        # Every fourth live order fails (ranks 2, 6, ...), so the newest of the default four succeeds.
        return failed if rank % 4 == 2 else succeeded

    def settles_at(self, i: int) -> float | None:
        """Seconds after start at which live order ``i`` leaves its in-progress state (an aged order: only
        once settled through the control API)."""
        if not self.is_live(i):
            return None
        with self._lock:
            if self._early_epoch != self.started():
                self._early.clear()
                self._early_epoch = self.started()
                self._wall_start = self._wall_of_start()
            early = self._early.get(i)
        planned = self.live_delay * (i - self.live_start + 1) if i >= self.live_start else float("inf")
        return planned if early is None else min(planned, early)

    def settle_now(self, i: int) -> bool:
        """Settle live (or aged) order ``i`` now (``False`` for an order that is neither)."""
        if not 0 <= i < self.size or not self.is_live(i):
            return False
        self.settles_at(i)  # forget what an earlier start settled
        with self._lock:
            self._early.setdefault(i, self.clock() - self.started())
        return True

    def changed_at(self, i: int) -> datetime | None:
        """When live order ``i`` settled, on the wall clock (``None`` while in progress or not live)."""
        settles = self.settles_at(i)
        if settles is None:
            return None
        if self.clock() - self.started() < settles:
            return None
        return self._wall_start + timedelta(seconds=settles)

    def _wall_of_start(self) -> datetime:
        return datetime.now(timezone.utc) - timedelta(seconds=self.clock() - self.started())

    # -- selections ------------------------------------------------------------------------

    def index_range(
        self, since: datetime | None, until: datetime | None, *, until_inclusive: bool = False
    ) -> range:
        """Indices created in ``[since, until)`` (or ``[since, until]``)."""
        if self.aged:  # two runs of evenly spaced orders: search the creation times
            everything = range(self.size)
            lo = 0 if since is None else bisect.bisect_left(everything, since, key=self.created)
            if until is None:
                hi = self.size
            else:
                search = bisect.bisect_right if until_inclusive else bisect.bisect_left
                hi = search(everything, until, key=self.created)
            return range(lo, max(lo, hi))
        lo, hi = 0, self.size
        step = STEP.total_seconds()
        if since is not None:
            offset = (since - self.created(0)).total_seconds() / step
            lo = max(lo, _ceil(offset))
        if until is not None:
            offset = (until - self.created(0)).total_seconds() / step
            hi = min(hi, int(offset) + 1 if until_inclusive or offset != int(offset) else int(offset))
            if offset < 0:
                hi = 0
        return range(lo, max(lo, hi))

    def select(self, states: frozenset[str] | None, window: range) -> Selection:
        """The indices in ``window`` whose current state is in ``states`` (all when ``None``)."""
        if states is None:
            return Selection(window, [])
        index = self._index(states)
        a = bisect.bisect_left(index, window.start)
        b = bisect.bisect_left(index, min(window.stop, self.live_start))
        live = [i for i in range(max(window.start, self.live_start), window.stop) if self.state(i) in states]
        return Selection(_Slice(index, a, b), live, self._aged_in(states, window))

    def _aged_in(self, states: frozenset[str], window: range) -> Sequence[int]:
        """The aged indices in ``window`` in one of ``states``: all in progress but the few settled early."""
        lo, hi = window.start, min(window.stop, self.aged)
        if hi <= lo:
            return ()
        self.settles_at(lo)  # forget what an earlier start settled
        with self._lock:
            settled = sorted(i for i in self._early if lo <= i < hi)
        moved = {i: self.state(i) for i in settled}
        if self.live_states[0] not in states:
            return [i for i in settled if moved[i] in states]
        if not settled:
            return range(lo, hi)
        return [i for i in range(lo, hi) if i not in moved or moved[i] in states]

    def _index(self, states: frozenset[str]) -> array[int]:
        with self._lock:
            found = self._indexes.get(states)
            if found is None:
                found = array(
                    "I", (i for i in range(self.aged, self.live_start) if self.settled_state(i) in states)
                )
                if len(self._indexes) > 32:
                    self._indexes.clear()
                self._indexes[states] = found
            return found


class _Slice:
    def __init__(self, data: array[int], start: int, stop: int) -> None:
        self.data, self.start, self.stop = data, start, stop

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __getitem__(self, k: int) -> int:
        return self.data[self.start + k]


class Selection:
    """Matching indices, oldest first, addressable by position without materialising them."""

    def __init__(self, head: Sequence[int] | _Slice, tail: list[int], front: Sequence[int] = ()) -> None:
        self.front = front
        self.head = head
        self.tail = tail

    def __len__(self) -> int:
        return len(self.front) + len(self.head) + len(self.tail)

    def at(self, k: int) -> int:
        f = len(self.front)
        if k < f:
            return self.front[k]
        k -= f
        n = len(self.head)
        return self.head[k] if k < n else self.tail[k - n]

    def page(self, offset: int, count: int, *, newest_first: bool) -> list[int]:
        total = len(self)
        positions = range(offset, min(total, offset + count))
        if newest_first:
            return [self.at(total - 1 - k) for k in positions]
        return [self.at(k) for k in positions]


def _accumulate(weights: Sequence[int]) -> list[int]:
    out, acc = [], 0
    for w in weights:
        acc += w
        out.append(acc)
    return out


def _ceil(x: float) -> int:
    n = int(x)
    return n + 1 if x > n else n
