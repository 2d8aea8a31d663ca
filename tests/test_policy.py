from __future__ import annotations

from datetime import datetime, timezone

from airflow_provider_orders.engine.policy import (
    RetryPolicy,
    SeenIds,
    TokenCache,
    parse_retry_after,
)
from airflow_provider_orders.vendors.http import Token


def test_retry_after_in_seconds() -> None:
    assert parse_retry_after("7") == 7.0


def test_retry_after_as_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0


def test_retry_after_garbage_falls_back_to_backoff() -> None:
    policy = RetryPolicy(3, base=1.0, rng=lambda: 0.0)
    assert parse_retry_after("soon") is None
    assert policy.delay(1, "soon") == 0.5


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    low = RetryPolicy(10, base=1.0, cap=8.0, rng=lambda: 0.0)
    high = RetryPolicy(10, base=1.0, cap=8.0, rng=lambda: 1.0)
    assert [low.backoff(a) for a in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert [high.backoff(a) for a in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 8.0, 8.0]


def test_token_cache_renews_before_expiry() -> None:
    now = [0.0]
    cache = TokenCache(clock=lambda: now[0])
    cache.put(Token("abc", 100.0))
    now[0] = 89.0
    assert cache.get() == "abc"
    now[0] = 90.0  # a tenth of the lifetime (10 s) before expiry
    assert cache.get() is None


def test_token_cache_invalidate_only_the_named_token() -> None:
    cache = TokenCache()
    cache.put(Token("new", 3600))
    cache.invalidate("old")
    assert cache.get() == "new"
    cache.invalidate("new")
    assert cache.get() is None


def test_seen_ids_across_merged_chunks() -> None:
    seen = SeenIds(chunk=8)
    assert all(seen.add(str(i)) for i in range(100))
    assert not any(seen.add(str(i)) for i in range(100))
    assert seen.add("100")
    assert len(seen) == 101


def test_one_token_fetch_at_a_time_per_credential() -> None:
    cache = TokenCache()
    assert cache.claim_fetch() is True
    assert cache.claim_fetch() is False  # a second caller waits for the first
    cache.release_fetch()
    assert cache.claim_fetch() is True


def test_keep_new_drops_only_ids_seen_before_and_within_the_page() -> None:
    class Item:
        def __init__(self, i: str) -> None:
            self.id = i

    seen = SeenIds(chunk=4)
    first = [Item(str(i)) for i in range(6)]
    assert seen.keep_new(first) == first
    page = [Item("5"), Item("6"), Item("6"), Item("7")]
    assert [o.id for o in seen.keep_new(page)] == ["6", "7"]
    assert seen.keep_new([Item("0"), Item("8")])[0].id == "8"


def test_seen_ids_never_take_two_different_keys_for_one() -> None:
    """Exact keys, not hashes: ids that name the same number in other spellings, or whose hashes collide,
    are different orders."""
    seen = SeenIds(chunk=4)
    keys: list[object] = ["1", "01", "001", "+1", " 1", "1 ", "1_0", "10", "\u0661", ("1",), ("1", "1")]
    # Python hashes -1 and -2 alike: a hash set would drop one of these.
    assert hash(-1) == hash(-2)
    keys += [(-1,), (-2,)]
    keys += [str(2**62 + i) for i in range(3)] + ["9" * 18, "9" * 19, "9" * 40]
    assert all(seen.add(key) for key in keys)
    assert not any(seen.add(key) for key in keys)
    assert len(seen) == len(keys)


def test_seen_ids_memory_on_a_million_orders_is_measured() -> None:
    """Numeric ids (what the five vendors use) cost about 8 bytes each once merged; the figure is printed
    for the record, with other ids' (kept whole, with their strings) beside it."""
    import sys

    class Item:
        __slots__ = ("id",)

        def __init__(self, i: str) -> None:
            self.id = i

    def size(seen: SeenIds) -> int:
        numbers = sys.getsizeof(seen._sorted) + sys.getsizeof(seen._recent)
        numbers += sum(map(sys.getsizeof, seen._recent))
        return numbers + sys.getsizeof(seen._others) + sum(map(sys.getsizeof, seen._others))

    figures = {}
    for kind in ("numeric", "text"):
        seen = SeenIds()
        for start in range(0, 1_000_000, 100):
            page = [
                Item(str(10**9 + i) if kind == "numeric" else f"PO-{i:09d}")
                for i in range(start, start + 100)
            ]
            assert seen.keep_new(page) == page
        assert len(seen) == 1_000_000
        figures[kind] = size(seen) / 1_000_000
    print(
        f"SeenIds on 1M orders: {figures['numeric']:.1f} bytes an id (numeric), {figures['text']:.1f} (text)"
    )
    assert figures["numeric"] < 24  # the merged array (8 bytes each) and the last unmerged chunk's set
