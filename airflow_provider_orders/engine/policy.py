"""Retry backoff, client-side rate limiting, token caching and id de-duplication: pure, thread-safe."""

from __future__ import annotations

import bisect
import heapq
import random
import threading
import time
from array import array
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from airflow_provider_orders.vendors.base import Token

MAX_RETRY_AFTER = 900.0


class RetryPolicy:
    """Exponential backoff with jitter, and ``Retry-After`` honoured.

    :param max_retries: retries after the first attempt.
    :param base: the first backoff in seconds.
    :param cap: the longest backoff in seconds (``Retry-After`` may ask for more, up to 15 minutes).
    """

    def __init__(
        self,
        max_retries: int,
        *,
        base: float = 0.5,
        cap: float = 30.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.max_retries = max_retries
        self.base = base
        self.cap = cap
        self.rng = rng

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based): half fixed, half jitter."""
        ceiling = min(self.cap, self.base * 2 ** (attempt - 1))
        return ceiling / 2 + self.rng() * ceiling / 2

    def delay(self, attempt: int, retry_after: str | None, now: datetime | None = None) -> float:
        """The wait before retry ``attempt``: the server's ``Retry-After`` if it gave one, else backoff."""
        wait = parse_retry_after(retry_after, now)
        if wait is None:
            return self.backoff(attempt)
        return min(wait, MAX_RETRY_AFTER)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; ``None`` when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


class RateLimiter:
    """Spaces requests evenly so that no window of a minute sees more than ``per_minute``.

    ``reserve()`` books the next slot and returns how long to wait for it, so callers in threads or in
    an event loop share one limiter and sleep their own way. 2% headroom absorbs scheduling jitter.

    :param per_minute: requests per minute; 0 means no limit.
    """

    HEADROOM = 0.98

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.interval = 60.0 / (per_minute * self.HEADROOM) if per_minute > 0 else 0.0
        self.clock = clock
        self._next = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> float:
        if not self.interval:
            return 0.0
        with self._lock:
            now = self.clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
            return slot - now


class TokenCache:
    """One credential's access token, refreshed before it expires.

    A token is renewed when less than a tenth of its lifetime (at most 5 minutes, at least 5 seconds)
    is left, so a listing never starts a request with a token about to lapse.
    """

    FETCH_CLAIM_SECONDS = 120.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._token: Token | None = None
        self._renew_at = 0.0
        self._lock = threading.Lock()
        self._fetching_since: float | None = None

    def claim_fetch(self) -> bool:
        """Whether the caller should fetch the token now; ``False`` while another caller is fetching.

        One fetch at a time per credential, whether the callers are threads or coroutines: the others
        wait for its result instead of all asking the token endpoint at once.
        """
        with self._lock:
            now = self.clock()
            if self._fetching_since is not None and now - self._fetching_since < self.FETCH_CLAIM_SECONDS:
                return False
            self._fetching_since = now
            return True

    def release_fetch(self) -> None:
        with self._lock:
            self._fetching_since = None

    def get(self) -> str | None:
        token = self._token
        if token is None or self.clock() >= self._renew_at:
            return None
        return token.access_token

    def put(self, token: Token) -> None:
        lifetime = token.expires_in if token.expires_in is not None else 3600.0
        margin = min(300.0, max(5.0, lifetime / 10))
        self._token = token
        self._renew_at = self.clock() + max(0.0, lifetime - margin)

    def invalidate(self, access_token: str | None = None) -> None:
        """Drop the token (only if it is still ``access_token``, when given)."""
        if access_token is None or (self._token and self._token.access_token == access_token):
            self._token = None


class SeenIds:
    """The order ids of one listing, in about 8 bytes each, for de-duplication.

    Recent ids sit in a set; every ``chunk`` ids they are merged into one sorted array of 64-bit hashes.
    Python's string hash is stable within a process, which is all one listing needs; two different ids
    share a hash with odds of about 1 in 10^7 at a million orders.
    """

    def __init__(self, chunk: int = 131_072) -> None:
        self.chunk = chunk
        self._recent: set[int] = set()
        self._sorted = array("q")

    def add(self, key: str) -> bool:
        """Record ``key``; ``False`` when it was already seen."""
        h = hash(key)
        if h in self._recent:
            return False
        old = self._sorted
        if old:
            i = bisect.bisect_left(old, h)
            if i < len(old) and old[i] == h:
                return False
        self._recent.add(h)
        if len(self._recent) >= self.chunk:
            self._sorted = array("q", heapq.merge(old, sorted(self._recent)))
            self._recent.clear()
        return True

    def keep_new(self, orders: list[Any]) -> list[Any]:
        """The orders (anything with ``.id``) whose id was not seen, each recorded; order kept."""
        hashes = [hash(order.id) for order in orders]
        if not self._sorted and len(set(hashes)) == len(hashes) and self._recent.isdisjoint(hashes):
            # The usual page: all new. One set update instead of a lookup per order.
            self._recent.update(hashes)
            if len(self._recent) >= self.chunk:
                self._sorted = array("q", heapq.merge(self._sorted, sorted(self._recent)))
                self._recent.clear()
            return orders
        return [order for order in orders if self.add(order.id)]

    def __len__(self) -> int:
        return len(self._recent) + len(self._sorted)


_registry_lock = threading.Lock()
_limiters: dict[tuple[str, ...], RateLimiter] = {}
_tokens: dict[tuple[str, ...], TokenCache] = {}


def limiter_for(key: tuple[str, ...], per_minute: float) -> RateLimiter:
    """The process-wide limiter of one credential (shared by every hook and trigger using it)."""
    with _registry_lock:
        limiter = _limiters.get(key)
        if limiter is None or limiter.per_minute != per_minute:
            limiter = _limiters[key] = RateLimiter(per_minute)
        return limiter


def token_cache_for(key: tuple[str, ...]) -> TokenCache:
    """The process-wide token cache of one credential."""
    with _registry_lock:
        return _tokens.setdefault(key, TokenCache())


def clear_registries() -> None:
    """Forget every cached token and limiter (tests, and after credentials change)."""
    with _registry_lock:
        _limiters.clear()
        _tokens.clear()
