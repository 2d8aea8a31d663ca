"""Retry backoff, token caching and id de-duplication: pure, thread-safe (the rate limit: :mod:`.budget`)."""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import heapq
import json
import logging
import os
import random
import threading
import time
from array import array
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import msgspec

from airflow_provider_orders.vendors.http import Token

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: each process refreshes on its own
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

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


def credential_digest(key: tuple[str, ...], length: int) -> str:
    """A one-way name for a credential key (vendor, host, a hash of the secrets): file names, store keys."""
    return hashlib.sha256("\0".join(key).encode()).hexdigest()[:length]


class TokenFile:
    """One credential's token in a file, so that every process of this user on this machine reuses it.

    For vendors that limit how often a client may authenticate (emnify: 100 authenticate calls per
    5 minutes per IP), where each Airflow task is a new process. The file is
    ``<directory>/<sha256 of the credential key>.json``, holding the token and its expiry as wall-clock
    time. The directory is created ``0700`` and the file written ``0600`` under a temporary name, then
    moved into place; a file or directory that another user could read or write is not used. Any error
    reading or writing it only costs a new token, never the task.

    :param directory: where the files live.
    :param key: the credential key (vendor, host and a hash of the secrets; never a secret itself).
    """

    def __init__(self, directory: str, key: tuple[str, ...]) -> None:
        self.directory = directory
        name = credential_digest(key, 40)
        self.path = os.path.join(directory, f"{name}.json")
        self._lock_fd: int | None = None

    def __repr__(self) -> str:
        return f"TokenFile({self.path!r})"

    def load(self) -> tuple[str, float] | None:
        """The stored token and the seconds it has left, or ``None``."""
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if not _private(info):
                log.warning("ignoring token file %s: it is not private to this user", self.path)
                return None
            with os.fdopen(fd, "rb", closefd=False) as handle:
                data = json.loads(handle.read(65536))
            return str(data["access_token"]), float(data["expires_at"]) - time.time()
        except (OSError, ValueError, KeyError, TypeError):
            return None
        finally:
            os.close(fd)

    def save(self, access_token: str, lifetime: float) -> None:
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            if not _private(os.stat(self.directory)):
                log.warning("not keeping the token in %s: the directory is not private to this user",
                            self.directory)  # fmt: skip
                return
            payload = json.dumps({"access_token": access_token, "expires_at": time.time() + lifetime})
            temp = f"{self.path}.{os.getpid()}.{threading.get_ident()}.tmp"
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(payload)
            os.replace(temp, self.path)
        except OSError as exc:
            log.warning("could not keep the token in %s (%s); each process will authenticate itself",
                        self.directory, type(exc).__name__)  # fmt: skip

    def discard(self, access_token: str | None = None) -> None:
        """Remove the file (only if it still holds ``access_token``, when given)."""
        if access_token is not None:
            stored = self.load()
            if stored is None or stored[0] != access_token:
                return
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    def try_lock(self) -> bool:
        """Take the refresh lock of this credential (``<file>.lock``, ``flock``) without waiting; ``False``
        while another process holds it. The kernel releases it if that process dies. Where the lock file
        cannot be used (no ``fcntl``, a read-only directory), ``True``: a refresh is never blocked."""
        if fcntl is None:
            return True
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def unlock(self) -> None:
        fd = self._lock_fd
        if fd is not None:
            self._lock_fd = None
            with contextlib.suppress(OSError):
                os.close(fd)  # closing the descriptor releases the flock


class RedisTokenStore:
    """One credential's token and refresh lock in Redis, so that several machines share one refresh
    (``rate_budget=redis``: the Redis the request budget already uses).

    The token is kept under ``airflow-provider-orders:token:<hash>`` until it expires (Redis' own expiry);
    the lock is ``...:token-lock:<hash>``, taken with ``SET NX`` for :attr:`TokenCache.FETCH_CLAIM_SECONDS`
    and released only by its holder. The hash is one-way over the credential: never a secret. When Redis
    does not answer (within the budget's timeout), this machine's :class:`TokenFile` stands in: a warning,
    and the machines refresh on their own until Redis is back.

    :param client: a ``redis.Redis``.
    :param key: the credential key.
    :param fallback: the token file of this machine.
    """

    def __init__(self, client: Any, key: tuple[str, ...], fallback: TokenFile) -> None:
        self.client = client
        name = credential_digest(key, 40)
        self.key = f"airflow-provider-orders:token:{name}"
        self.lock_key = f"airflow-provider-orders:token-lock:{name}"
        self.fallback = fallback
        self._holder: str | None = None
        self._local_lock = False
        self._warned = False

    def __repr__(self) -> str:
        return f"RedisTokenStore({self.key!r})"

    def _failed(self, exc: Exception) -> None:
        if not self._warned:
            self._warned = True
            log.warning("the shared token store in Redis failed (%s); using this machine's token file until "
                        "it answers", type(exc).__name__)  # fmt: skip

    def load(self) -> tuple[str, float] | None:
        try:
            pipe = self.client.pipeline()
            pipe.get(self.key)
            pipe.pttl(self.key)
            value, ttl = pipe.execute()
        except Exception as exc:
            self._failed(exc)
            return self.fallback.load()
        if value is None or ttl is None or ttl <= 0:
            return None
        return (value.decode() if isinstance(value, bytes) else str(value)), ttl / 1000

    def save(self, access_token: str, lifetime: float) -> None:
        try:
            self.client.set(self.key, access_token, px=max(1, int(lifetime * 1000)))
        except Exception as exc:
            self._failed(exc)
            self.fallback.save(access_token, lifetime)

    def discard(self, access_token: str | None = None) -> None:
        try:
            if access_token is None:
                self.client.delete(self.key)
            else:
                self.client.eval(_DELETE_IF_EQUAL, 1, self.key, access_token)
        except Exception as exc:
            self._failed(exc)
            self.fallback.discard(access_token)

    def try_lock(self) -> bool:
        holder = os.urandom(16).hex()
        try:
            taken = self.client.set(
                self.lock_key, holder, nx=True, px=int(TokenCache.FETCH_CLAIM_SECONDS * 1000)
            )
        except Exception as exc:
            self._failed(exc)
            self._local_lock = self.fallback.try_lock()
            return self._local_lock
        if taken:
            self._holder = holder
        return bool(taken)

    def unlock(self) -> None:
        if self._local_lock:
            self._local_lock = False
            self.fallback.unlock()
        holder, self._holder = self._holder, None
        if holder is not None:
            try:
                self.client.eval(_DELETE_IF_EQUAL, 1, self.lock_key, holder)
            except Exception as exc:
                self._failed(exc)


#: Delete KEYS[1] only if it still holds ARGV[1] (a token another machine replaced, a lock another took).
_DELETE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def redis_token_store(key: tuple[str, ...], options: dict[str, Any], fallback: TokenFile) -> RedisTokenStore:
    """A :class:`RedisTokenStore` on ``redis.Redis(**options)``, each call bounded as the budget's are."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    timeout = 0.5
    client = redis.Redis(
        **options, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )
    return RedisTokenStore(client, key, fallback)


def _private(info: os.stat_result) -> bool:
    owner = getattr(os, "getuid", lambda: info.st_uid)()
    return info.st_uid == owner and not info.st_mode & 0o077


def default_cache_directory() -> str:
    """``$AIRFLOW_PROVIDER_ORDERS_CACHE_DIR``, else ``$XDG_CACHE_HOME`` or ``~/.cache``, + our name: where
    the files every process of this user on this machine shares live (tokens, the request budget)."""
    explicit = os.environ.get("AIRFLOW_PROVIDER_ORDERS_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "airflow-provider-orders")


def default_token_directory() -> str:
    """Where shared token files live: ``tokens`` in :func:`default_cache_directory`."""
    return os.path.join(default_cache_directory(), "tokens")


class TokenCache:
    """One credential's access token, refreshed before it expires.

    A token is renewed when less than a tenth of its lifetime (at most 5 minutes, at least 5 seconds)
    is left, so a listing never starts a request with a token about to lapse.

    :param clock: monotonic seconds.
    :param file: where to share the token with other processes, if anywhere (a :class:`TokenFile`, or a
        :class:`RedisTokenStore` for several machines): its refresh lock is then held while fetching.
    """

    FETCH_CLAIM_SECONDS = 120.0

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, file: TokenFile | RedisTokenStore | None = None
    ) -> None:
        self.clock = clock
        self.file = file
        self._token: Token | None = None
        self._renew_at = 0.0
        self._lock = threading.Lock()
        self._fetching_since: float | None = None

    def claim_fetch(self) -> bool:
        """Whether the caller should fetch the token now; ``False`` while another caller is fetching.

        One fetch at a time per credential, whether the callers are threads or coroutines of this
        process, or other processes sharing the token (the file's lock; Redis' for several machines): the
        others wait for its result instead of all asking the token endpoint at once. A caller that gets
        the claim reads the shared token again before fetching (:meth:`get`): the holder before it may
        just have stored one.
        """
        with self._lock:
            now = self.clock()
            if self._fetching_since is not None and now - self._fetching_since < self.FETCH_CLAIM_SECONDS:
                return False
            if self.file is not None and not self.file.try_lock():
                return False
            self._fetching_since = now
            return True

    def release_fetch(self) -> None:
        with self._lock:
            if self._fetching_since is not None and self.file is not None:
                self.file.unlock()
            self._fetching_since = None

    def get(self) -> str | None:
        token = self._token
        if token is None or self.clock() >= self._renew_at:
            if self.file is not None:
                return self._load()
            return None
        return token.access_token

    def _load(self) -> str | None:
        assert self.file is not None
        stored = self.file.load()
        if stored is None:
            return None
        access_token, left = stored
        if left <= _renew_margin(left):
            return None
        self._keep(Token(access_token, left))
        return access_token

    def put(self, token: Token) -> None:
        self._keep(token)
        if self.file is not None:
            self.file.save(token.access_token, _lifetime(token))

    def _keep(self, token: Token) -> None:
        lifetime = _lifetime(token)
        self._token = token
        self._renew_at = self.clock() + max(0.0, lifetime - _renew_margin(lifetime))

    def invalidate(self, access_token: str | None = None) -> None:
        """Drop the token (only if it is still ``access_token``, when given)."""
        if access_token is None or (self._token and self._token.access_token == access_token):
            self._token = None
        if self.file is not None:
            self.file.discard(access_token)


def _lifetime(token: Token) -> float:
    return token.expires_in if token.expires_in is not None else 3600.0


def _renew_margin(lifetime: float) -> float:
    return min(300.0, max(5.0, lifetime / 10))


class SeenIds:
    """The order ids (or line keys) of one listing, for de-duplication: exact, never a hash.

    Two different ids are never taken for one: an order is dropped only when its very key was seen. Ids
    that are canonical decimal numbers (what the five vendors use: ``"4711"``, no sign, no leading zero,
    at most 18 digits) are kept as the number itself, which names exactly one such string, in about 8
    bytes each: recent ones in a set, merged every ``chunk`` into one sorted ``array('q')``. Any other key
    (``"PO-17"``, a UUID) is kept whole in a set, a line's tuple as its MessagePack bytes. Measured on 1M orders
    (``tests/test_policy.py``): about 8 MB for numeric ids, and about the size of the keys plus a set's
    slot each for others.
    """

    def __init__(self, chunk: int = 131_072) -> None:
        self.chunk = chunk
        self._recent: set[int] = set()
        self._sorted = array("q")
        self._others: set[Hashable] = set()

    def add(self, key: Hashable) -> bool:
        """Record ``key``; ``False`` when it was already seen."""
        number = _number(key)
        if number is None:
            key = _compact(key)
            if key in self._others:
                return False
            self._others.add(key)
            return True
        if number in self._recent:
            return False
        old = self._sorted
        if old:
            i = bisect.bisect_left(old, number)
            if i < len(old) and old[i] == number:
                return False
        self._recent.add(number)
        if len(self._recent) >= self.chunk:
            self._merge()
        return True

    def _merge(self) -> None:
        self._sorted = array("q", heapq.merge(self._sorted, sorted(self._recent)))
        self._recent.clear()

    def keep_new(self, orders: list[Any], keys: Sequence[Hashable] | None = None) -> list[Any]:
        """The orders not seen before, each recorded; order kept.

        :param orders: anything with ``.id``.
        :param keys: one key per order to de-duplicate on instead of ``.id`` (order lines).
        """
        if keys is None:
            keys = [order.id for order in orders]
        numbers = list(map(_number, keys))
        if (
            not self._sorted
            and None not in numbers
            and len(set(numbers)) == len(numbers)
            and self._recent.isdisjoint(numbers)
        ):
            # The usual page: numeric ids, all new. One set update instead of a lookup per order.
            self._recent.update(numbers)  # type: ignore[arg-type]
            if len(self._recent) >= self.chunk:
                self._merge()
            return orders
        return [order for order, key in zip(orders, keys, strict=True) if self.add(key)]

    def __len__(self) -> int:
        return len(self._recent) + len(self._sorted) + len(self._others)


_pack = msgspec.msgpack.Encoder().encode


def _compact(key: Hashable) -> Hashable:
    """A tuple key (an order line's fields) as one bytes object, its MessagePack form: as exact (two
    tuples of JSON values are equal exactly where their forms are), in about a third of the memory of
    the tuple and the strings it holds (600 bytes a Crayon line, kept for the whole listing)."""
    if type(key) is tuple:
        try:
            return _pack(key)
        except TypeError:  # not a JSON value: the tuple itself
            return key
    return key


def _number(key: Hashable) -> int | None:
    """The number a canonical decimal id names (``"4711"`` -> 4711), else ``None``: ``"04711"``, ``"+1"``,
    ``"1_000"`` and ``" 1"`` are not canonical, so no two different strings give one number."""
    if (
        type(key) is str
        and 0 < len(key) <= 18
        and key.isascii()
        and key.isdigit()
        and (key[0] != "0" or len(key) == 1)
    ):
        return int(key)
    return None


_registry_lock = threading.Lock()
_tokens: dict[tuple[str, ...], TokenCache] = {}


def token_cache_for(
    key: tuple[str, ...],
    *,
    shared_directory: str | None = None,
    redis_options: dict[str, Any] | None = None,
) -> TokenCache:
    """The process-wide token cache of one credential.

    :param shared_directory: also keep the token in a :class:`TokenFile` there, for other processes.
    :param redis_options: ``redis.Redis`` keywords: keep it in Redis instead, for other machines (the file
        stands in while Redis fails).
    """
    with _registry_lock:
        cache = _tokens.get(key)
        if cache is None:
            file: TokenFile | RedisTokenStore | None = None
            if shared_directory:
                file = TokenFile(shared_directory, key)
                if redis_options is not None:
                    file = redis_token_store(key, redis_options, file)
            cache = _tokens[key] = TokenCache(file=file)
        return cache


def clear_registries() -> None:
    """Forget every cached token (tests, and after credentials change; budgets: ``budget.clear_budgets``)."""
    with _registry_lock:
        _tokens.clear()
