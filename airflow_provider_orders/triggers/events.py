"""``OrderEventTrigger``: fires when orders of a vendor scope are new or change state (for ``AssetWatcher``).

Example::

    from airflow.sdk import DAG, Asset, AssetWatcher
    from airflow_provider_orders.triggers import OrderEventTrigger

    orders_done = Asset(
        "crayon-orders-done",
        watchers=[AssetWatcher(name="crayon-done", trigger=OrderEventTrigger(
            conn_id="crayon_default", scope={"customer_tenant_id": 1001}, statuses=["completed"],
        ))],
    )

    with DAG("provision", schedule=[orders_done]): ...

Each event's payload is ``{"vendor", "conn_id", "scope", "polled_at", "dedup_key", "orders": [...]}``: one
event per poll that found changes (one per :data:`MAX_ORDERS_PER_EVENT` orders), with the changed orders of
that poll in ``orders`` (each with
``id``, ``status``, ``vendor_status``, ``previous_status``, ``change``, timestamps and ``dedup_key``; see
:meth:`airflow_provider_orders.engine.watching.Change.to_event`). Airflow stores the payload in the asset
event's ``extra["payload"]``; a DAG run may be triggered by several events, so read them all.

Where it left off (:class:`~airflow_provider_orders.engine.watching.Watermark`) is kept in the watched
asset's state store (Airflow 3.3 and later), or before 3.3 in an Airflow Variable named after the
trigger's arguments (written through the Task SDK, as the triggerer lets a trigger), so a triggerer
restart, or another triggerer taking the watcher over, goes on from the last poll whose events had been
handed to Airflow.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.triggers import BaseEventTrigger
from airflow.triggers.base import TriggerEvent

from airflow_provider_orders.compat import plain_trigger_kwarg
from airflow_provider_orders.engine.waiting import as_status_list
from airflow_provider_orders.engine.watching import (
    FINAL,
    Watermark,
    observe,
    open_and_older,
    open_statuses,
    orders_by_id,
    status_filter,
)
from airflow_provider_orders.errors import InvalidFilterError, OrderNotFoundError, OrdersError

if TYPE_CHECKING:
    from airflow_provider_orders.engine.watching import Change
    from airflow_provider_orders.hooks.base import OrdersHook
    from airflow_provider_orders.models import Order
    from airflow_provider_orders.vendors.base import Vendor

log = logging.getLogger(__name__)

#: filters the watcher sets itself: from ``lookback`` and its watermark.
RESERVED_FILTERS = ("created_since", "created_until", "updated_since", "max_orders")
#: the trigger's own keyword arguments; every other one is a vendor filter.
OWN_KWARGS = frozenset({"conn_id", "scope", "statuses", "poll_interval", "lookback", "since"})
#: the key of the watermark in the asset's state store.
STATE_KEY = "airflow-provider-orders.watermark"
#: seconds a watermark waits, after the poll that fired events, before it is saved: by then the
#: triggerer has handed the events to the metadata database (it syncs about every second).
COMMIT_DELAY = 5.0
#: the most orders in one event: a poll that finds more (a backfill) fires several, so no asset event's
#: extra grows without bound.
MAX_ORDERS_PER_EVENT = 500
#: open orders older than the window are followed by one lookup each up to this many; more, by one
#: listing of the scope's open orders (filtered by state where the vendor can) per poll.
FOLLOW_BY_ID = 20
#: the longest pause between polls after errors.
MAX_BACKOFF = 600.0
DEFAULT_LOOKBACK = timedelta(days=7).total_seconds()


class OrderEventTrigger(BaseEventTrigger):
    """Watches a vendor scope and fires for each poll that finds orders new or changed into ``statuses``.

    :param conn_id: the Airflow connection of the vendor.
    :param scope: the vendor scope, as ``OrderStateSensor`` takes it (``{"customer_tenant_id": 1001}``,
        ``{"customer_id": "..."}``); empty where the vendor has none.
    :param statuses: report orders whose state becomes one of these: normalised
        (:class:`~airflow_provider_orders.models.OrderStatus` values such as ``completed``) or
        vendor-native (``Succeeded``). Empty or ``None``: every new order and every change of state.
    :param poll_interval: seconds between polls.
    :param lookback: seconds: how far back new orders are discovered (default 7 days); ``None`` lists
        every order of the scope on each poll. An order still open when it leaves the window (or open and
        older when the watch starts) is followed until it is completed, failed or canceled, however old:
        by one lookup each where few are, else by a listing of the scope's open orders.
    :param since: on the first start, report the orders created at or after this time (ISO 8601 or a
        tz-aware datetime, within ``lookback``) as new; by default the watch starts from now and orders
        already in a watched state are not events.
    :param filters: more filters of the vendor, as ``ListOrdersOperator`` takes them (``search``,
        ``labels``, ``status``, ...). Checked when the DAG is parsed, where the connection is known.
    """

    def __init__(
        self,
        *,
        conn_id: str,
        scope: dict[str, Any] | None = None,
        statuses: list[str] | str | None = None,
        poll_interval: float = 60.0,
        lookback: float | timedelta | None = DEFAULT_LOOKBACK,
        since: str | datetime | None = None,
        **filters: Any,
    ) -> None:
        super().__init__()
        scope, filters = plain_trigger_kwarg(scope), plain_trigger_kwarg(filters)
        self.conn_id = conn_id
        self.scope = dict(scope or {})
        self.statuses = as_status_list(statuses)
        self.poll_interval = float(poll_interval)
        self.lookback = lookback.total_seconds() if isinstance(lookback, timedelta) else lookback
        self.since = since.isoformat() if isinstance(since, datetime) else since
        self.filters = filters
        self._check()

    # -- checks before any request ---------------------------------------------------------------

    def _check(self) -> None:
        where = "OrderEventTrigger"
        if not self.conn_id:
            raise InvalidFilterError(
                f"{where}: conn_id is empty; name an Airflow connection of an orders vendor"
            )
        if self.poll_interval <= 0:
            raise InvalidFilterError(f"{where}: poll_interval must be more than 0 seconds")
        if self.lookback is not None and float(self.lookback) <= 0:
            raise InvalidFilterError(
                f"{where}: lookback must be more than 0 seconds, or None for every order"
            )
        reserved = sorted(set(RESERVED_FILTERS) & set(self.filters) | set(RESERVED_FILTERS) & set(self.scope))
        if reserved:
            raise InvalidFilterError(
                f"{where}: {', '.join(reserved)} is set by the watcher itself (from lookback and where it left "
                "off); remove it, and use lookback or since for the window"
            )
        since = self.since_time
        try:
            asyncio.get_running_loop()
            return  # in the triggerer: the connection is read asynchronously when the trigger runs
        except RuntimeError:
            pass
        # At DAG parse only: a trigger inflated in the triggerer months later must not fail on its since.
        window = None if self.lookback is None else timedelta(seconds=float(self.lookback))
        if since is not None and window is not None and since < datetime.now(timezone.utc) - window:
            raise InvalidFilterError(
                f"{where}: since {self.since} lies before the lookback window ({self.lookback:g} s); "
                "raise lookback (or set it to None) to backfill from that far back"
            )
        from airflow_provider_orders.hooks.resolve import conn_type_if_known, hook_class_for

        conn_type = conn_type_if_known(self.conn_id)
        if conn_type is not None:  # at DAG parse, where the connection is known: the vendor's own checks
            vendor_class = hook_class_for(conn_type, self.conn_id).vendor_class
            vendor_class.parse_filters_partially({**self.scope, **self.filters})
            status_filter(vendor_class, self.statuses)

    @property
    def since_time(self) -> datetime | None:
        if self.since is None:
            return None
        try:
            value = datetime.fromisoformat(str(self.since).replace("Z", "+00:00"))
        except ValueError:
            raise InvalidFilterError(
                f"OrderEventTrigger: since {self.since!r} is not an ISO 8601 time, such as 2026-01-01T00:00:00Z"
            ) from None
        if value.tzinfo is None:
            raise InvalidFilterError(
                f"OrderEventTrigger: since {self.since!r} has no time zone; add one, such as Z for UTC"
            )
        return value

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
                "scope": dict(self.scope),
                "statuses": list(self.statuses),
                "poll_interval": self.poll_interval,
                "lookback": self.lookback,
                "since": self.since,
                **self.filters,
            },
        )

    # -- one poll loop per watcher (Airflow before 3.3, or when sharing is off) -------------------

    async def run(self) -> AsyncIterator[TriggerEvent]:
        watch = Watch(self)
        # Alone, the watcher need list only what changed since its own watermark (Fleetio).
        async for event in watch.events(poll_scope(self.serialize()[1], cursor=lambda: watch.cursor)):
            yield event

    # -- one poll loop for every watcher of a scope (Airflow 3.3) ---------------------------------

    def shared_stream_key(self) -> Hashable | None:
        """Watchers of one connection, scope, filters, window and interval share one poll loop."""
        listing = {**self.scope, **self.filters}
        return ("airflow-provider-orders", self.conn_id, json.dumps(listing, sort_keys=True, default=str),
                self.lookback, self.poll_interval)  # fmt: skip

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        watch = Watch(self)
        try:
            async for event in watch.events(shared_stream):
                yield event
        finally:  # a save still waiting for Airflow's confirmation: the events fire again on a restart
            if watch.saving is not None:
                watch.saving.cancel()

    @classmethod
    def create_shared_stream_producer(cls, kwargs: dict[str, Any]) -> Any:
        """Ack mode (Airflow 3.3+): Airflow tells the poll loop when every event its watchers derived from
        a poll is stored in the metadata database, and each watcher saves its watermark then, not after a
        fixed delay (:class:`SnapshotProducer`)."""
        if SnapshotProducer is None:  # pragma: no cover - only Airflow 3.3+ calls this
            raise NotImplementedError("ack mode needs Airflow 3.3's shared streams")
        return SnapshotProducer(kwargs)


@dataclass(frozen=True)
class Snapshot:
    """One complete listing of a scope's window (or, ``incremental``, of what changed in it since a cursor)."""

    vendor_class: type[Vendor]
    orders: dict[str, Order] = field(repr=False)
    polled_at: datetime
    window_start: datetime | None
    incremental: bool = False
    #: set once Airflow has stored every event its watchers derived from it (ack mode, Airflow 3.3+);
    #: ``None`` where Airflow does not tell (each watcher's own poll loop).
    persisted: asyncio.Event | None = field(default=None, repr=False, compare=False)


try:
    from airflow.triggers.shared_stream import SharedStreamProducer
except ImportError:  # Airflow before 3.3: no shared streams
    SnapshotProducer: Any = None
else:

    class SnapshotProducer(SharedStreamProducer):  # type: ignore[no-redef]
        """The shared poll loop in Airflow's ack mode: each poll's snapshot is broadcast to the watchers,
        and :meth:`advance` is called once every event they derived from it is stored; it marks the
        snapshot ``persisted``, which is when a watcher saves the watermark of that poll. A triggerer
        that dies before then fires the poll's events again on restart (same ``dedup_key``), never
        loses them."""

        def __init__(self, kwargs: Mapping[str, Any]) -> None:
            self.kwargs = kwargs

        async def open_stream(self) -> AsyncIterator[tuple[Any, Any]]:
            log.info("orders watch of %s %s: one poll for every watcher of this scope (shared stream, "
                     "watermarks saved when Airflow has stored the events)",
                     self.kwargs["conn_id"], self.kwargs.get("scope") or {})  # fmt: skip
            async for snapshot in poll_scope(self.kwargs):
                tracked = replace(snapshot, persisted=asyncio.Event())
                yield tracked, tracked

        async def advance(self, batch: Any) -> None:
            for item in batch:
                item.broker_payload.persisted.set()


async def poll_scope(
    kwargs: Mapping[str, Any], cursor: Callable[[], datetime | None] = lambda: None
) -> AsyncIterator[Snapshot]:
    """List the scope's window every ``poll_interval`` forever; errors are logged and retried, with backoff.

    Only the fields of ``kwargs`` that make :meth:`OrderEventTrigger.shared_stream_key` are read.

    :param cursor: the change time from which a vendor that filters on it (``updated_since``) need list
        only what changed; ``None`` (always, for a shared stream) lists the whole window.
    """
    from airflow_provider_orders.hooks.resolve import aget_orders_hook

    conn_id = kwargs["conn_id"]
    interval = float(kwargs.get("poll_interval") or 60.0)
    lookback = kwargs.get("lookback")
    filters = {**dict(kwargs.get("scope") or {}), **{k: v for k, v in kwargs.items() if k not in OWN_KWARGS}}
    hook: OrdersHook | None = None
    older = OpenOlderOrders(dict(kwargs.get("scope") or {}), filters)
    failures = 0
    while True:
        started = time.monotonic()
        try:
            if hook is None:
                # The engine is built off the loop (it registers secrets with the masker: a synchronous
                # call that Airflow 3.0 refuses on the triggerer's event loop); then hook.vendor is ready.
                resolved = await aget_orders_hook(conn_id)
                await resolved.aget_engine()
                hook = resolved
            now = datetime.now(timezone.utc)
            window_start = None if lookback is None else now - timedelta(seconds=float(lookback))
            listing = dict(filters, created_since=window_start) if window_start else dict(filters)
            since = cursor()
            incremental = (
                since is not None and "updated_since" in hook.vendor_class.filters_model.model_fields
            )
            if incremental:
                listing["updated_since"] = since
            orders = orders_by_id(hook.vendor, [order async for order in hook.aiter_orders(listing)])
            if window_start is not None:
                orders = {**await older.follow(hook, orders, window_start), **orders}
            snapshot = Snapshot(hook.vendor_class, orders, now, window_start, incremental)
        except Exception as exc:  # the vendor down, a refused credential: say so, try again, never crash
            failures += 1
            pause = min(max(interval, 5.0) * 2 ** (failures - 1), MAX_BACKOFF)
            level = logging.WARNING if isinstance(exc, OrdersError) and exc.retryable else logging.ERROR
            log.log(level, "orders watch of %s %s: the poll failed (%s: %s); next try in %.0fs",
                    conn_id, filters, type(exc).__name__, exc, pause)  # fmt: skip
            await asyncio.sleep(pause)
            continue
        if failures:
            log.info("orders watch of %s %s: the vendor answers again after %d failed polls",
                     conn_id, filters, failures)  # fmt: skip
            failures = 0
        yield snapshot
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))


class OpenOlderOrders:
    """A poll loop's open orders created before its window: followed until they settle, however old.

    The first poll lists the scope's open orders older than the window (filtered by state where the
    vendor can; one full listing where it cannot). Later polls look each followed order up by id while
    there are at most :data:`FOLLOW_BY_ID`, else list the open ones again and look up only those that
    left that listing. An order that leaves the window while open joins them.
    """

    def __init__(self, scope: dict[str, Any], filters: dict[str, Any]) -> None:
        self.scope = scope
        self.filters = {k: v for k, v in filters.items() if k != "status"}
        self.followed: dict[str, Order] = {}
        self.in_window: dict[str, Order] = {}
        self.listed_once = False

    async def follow(
        self, hook: OrdersHook, listed: dict[str, Order], window_start: datetime
    ) -> dict[str, Order]:
        """The present state of every followed order (the settled ones for the last time), by id."""
        for oid, order in self.in_window.items():
            if oid not in listed and order.created_at is not None and order.created_at < window_start:
                self.followed.setdefault(oid, order)
        self.in_window = {k: o for k, o in listed.items() if o.status.value not in FINAL}
        found: dict[str, Order] = {}
        if not self.listed_once or len(self.followed) > FOLLOW_BY_ID:
            query = {
                **self.filters,
                "status": open_statuses(hook.vendor_class),
                "created_until": window_start,
            }
            found = orders_by_id(hook.vendor, [o async for o in hook.aiter_orders(query)])
            if not self.listed_once:
                log.info("orders watch of %s %s: following %d open orders created before the window",
                         hook.vendor_class.conn_type, self.scope, len(found))  # fmt: skip
            self.listed_once = True
        found.update(await lookup(hook, [oid for oid in self.followed if oid not in found], self.scope))
        self.followed = {k: o for k, o in found.items() if o.status.value not in FINAL}
        return found


async def lookup(hook: OrdersHook, ids: list[str], scope: dict[str, Any]) -> dict[str, Order]:
    """The present state of each order of ``ids``, by id; one the vendor no longer has is left out."""
    found: dict[str, Order] = {}
    for oid in ids:
        try:
            found[oid] = await hook.aget_order(oid, **scope)
        except OrderNotFoundError:
            log.warning("orders watch: %s order %s is gone from the vendor; no longer followed",
                        hook.vendor_class.display_name, oid)  # fmt: skip
    return found


class Watch:
    """One watcher's side: its watermark, the diff of each snapshot against it, and when it is saved.

    Events leave before their watermark is saved. In Airflow 3.3's shared streams (ack mode) it is saved
    as soon as Airflow confirms that it has stored them (:class:`SnapshotProducer`); in a watcher's own
    poll loop (before 3.3) :data:`COMMIT_DELAY` seconds later, at the next poll after that. A triggerer
    that dies in between fires them again on restart, with the same ``dedup_key``, rather than lose them.
    """

    def __init__(self, trigger: OrderEventTrigger) -> None:
        self.trigger = trigger
        self.store = WatermarkStore(getattr(trigger, "asset_state_store", None), variable_key(trigger))
        self.store.description = (
            f"Where OrderEventTrigger(conn_id={trigger.conn_id!r}, scope={trigger.scope!r}) left off "
            "(airflow-provider-orders). Delete it to start that watch again from now."
        )
        #: (when, watermark, whether its poll fired events): saves waiting for COMMIT_DELAY (before 3.3).
        self.unsaved: collections.deque[tuple[float, Watermark, bool]] = collections.deque()
        self.saving: asyncio.Task[None] | None = None
        self.mark: Watermark | None = None
        self.hook: OrdersHook | None = None

    @property
    def cursor(self) -> datetime | None:
        return None if self.mark is None else self.mark.cursor

    async def events(self, snapshots: AsyncIterator[Snapshot]) -> AsyncIterator[TriggerEvent]:
        t = self.trigger
        self.mark = await self.store.load()
        if self.mark is None:
            self.mark = Watermark(since=t.since_time)
            log.info("orders watch of %s %s: starting %s", t.conn_id, t.scope,
                     f"with orders created since {t.since}" if t.since else "from now")  # fmt: skip
        else:
            log.info("orders watch of %s %s: going on from the poll of %s (%d orders recorded)",
                     t.conn_id, t.scope, self.mark.polled_at, len(self.mark.orders))  # fmt: skip
        if self.store.variable is not None:
            log.info("orders watch of %s %s: its watermark is kept in Airflow Variable %s",
                     t.conn_id, t.scope, self.store.variable)  # fmt: skip
        watched = None
        async for snapshot in snapshots:
            await self._save_ready()
            if watched is None:
                watched = status_filter(snapshot.vendor_class, t.statuses)
            await self._adopt_newer()
            orders = await self._with_followed(snapshot)
            changes, self.mark = observe(self.mark, orders, now=snapshot.polled_at,
                                         window_start=snapshot.window_start, incremental=snapshot.incremental,
                                         watched=watched)  # fmt: skip
            if changes:
                log.info("orders watch of %s %s: %d orders changed: %s", t.conn_id, t.scope, len(changes),
                         ", ".join(f"{c.order.id} {c.order.vendor_status}" for c in changes[:20]))  # fmt: skip
                for start in range(0, len(changes), MAX_ORDERS_PER_EVENT):
                    yield TriggerEvent(
                        self.payload(changes[start : start + MAX_ORDERS_PER_EVENT], snapshot.polled_at)
                    )
            if snapshot.persisted is not None:  # ack mode: when Airflow has stored this poll's events
                self.saving = asyncio.ensure_future(
                    self._save_when_stored(self.saving, snapshot.persisted, self.mark, fired=bool(changes))
                )
            else:
                delay = COMMIT_DELAY if changes else 0.0
                self.unsaved.append((time.monotonic() + delay, self.mark, bool(changes)))

    async def _save_when_stored(
        self, previous: asyncio.Task[None] | None, persisted: asyncio.Event, mark: Watermark, *, fired: bool
    ) -> None:
        """Save ``mark`` once Airflow has stored the events of its poll, after the earlier polls' saves."""
        if previous is not None:
            await previous
        await persisted.wait()
        t = self.trigger
        try:
            saved = await self.store.save(mark)
        except Exception as exc:  # the next poll's save covers it; the events fire again only on a restart
            log.warning("orders watch of %s %s: saving the watermark failed (%s: %s)",
                        t.conn_id, t.scope, type(exc).__name__, exc)  # fmt: skip
            return
        if saved and fired:  # from here on a restart does not fire this poll's events again
            log.info("orders watch of %s %s: watermark of the poll of %s saved: Airflow has stored its events",
                     t.conn_id, t.scope, mark.polled_at)  # fmt: skip

    async def _adopt_newer(self) -> None:
        """Go on from the stored watermark where it is newer than this watcher's: another triggerer runs
        the same watcher too (a hand-over while this one was thought gone, two triggerers picking it up
        at once) and has already reported what it saved. Its changes are then not reported again."""
        assert self.mark is not None
        stored = await self.store.load()
        if stored is None or stored.polled_at is None or self.mark.polled_at is None:
            return
        if stored.polled_at > self.mark.polled_at:
            t = self.trigger
            log.info("orders watch of %s %s: another triggerer saved a newer watermark (the poll of %s); "
                     "going on from it", t.conn_id, t.scope, stored.polled_at)  # fmt: skip
            self.mark = stored

    async def _with_followed(self, snapshot: Snapshot) -> dict[str, Order]:
        """The snapshot's orders, plus the present state of each open order older than the window that
        this watcher recorded and the poll did not follow: those that settled while no triggerer ran (a
        restart, another triggerer's poll loop). A lookup that fails is tried again at the next poll."""
        assert self.mark is not None
        missing = [
            oid for oid in open_and_older(self.mark, snapshot.window_start) if oid not in snapshot.orders
        ]
        if not missing:
            return snapshot.orders
        t = self.trigger
        try:
            if self.hook is None:
                from airflow_provider_orders.hooks.resolve import aget_orders_hook

                hook = await aget_orders_hook(t.conn_id)
                await hook.aget_engine()
                self.hook = hook
            found = await lookup(self.hook, missing, t.scope)
        except Exception as exc:
            log.warning("orders watch of %s %s: could not look up %d open orders older than the window "
                        "(%s: %s); trying again at the next poll", t.conn_id, t.scope, len(missing),
                        type(exc).__name__, exc)  # fmt: skip
            return snapshot.orders
        gone = set(missing) - set(found)
        if gone:
            self.mark = replace(
                self.mark, orders={k: v for k, v in self.mark.orders.items() if k not in gone}
            )
        return {**found, **snapshot.orders}

    def payload(self, changes: list[Change], polled_at: datetime) -> dict[str, Any]:
        t = self.trigger
        orders = [c.to_event() for c in changes]
        return {
            "vendor": changes[0].order.vendor,
            "conn_id": t.conn_id,
            "scope": dict(t.scope),
            "polled_at": polled_at.isoformat(),
            "dedup_key": hashlib.sha256("|".join(o["dedup_key"] for o in orders).encode()).hexdigest()[:32],
            "orders": orders,
        }

    async def _save_ready(self) -> None:
        now = time.monotonic()
        ready, fired = None, False
        while self.unsaved and self.unsaved[0][0] <= now:
            _, ready, with_events = self.unsaved.popleft()
            fired = fired or with_events
        if ready is not None and await self.store.save(ready) and fired:
            t = self.trigger
            log.info("orders watch of %s %s: watermark of the poll of %s saved, %.0f s after its events",
                     t.conn_id, t.scope, ready.polled_at, COMMIT_DELAY)  # fmt: skip


def variable_key(trigger: OrderEventTrigger) -> str:
    """The Airflow Variable that keeps a watcher's watermark where there is no asset state store (Airflow
    before 3.3): named after the trigger's arguments, as Airflow identifies a trigger (equal watchers are
    one trigger), so a restarted or another triggerer finds it."""
    _, kwargs = trigger.serialize()
    digest = hashlib.sha256(json.dumps(kwargs, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"{STATE_KEY}.{digest}"


class WatermarkStore:
    """Where a watcher's watermark is kept: the watched asset's state store (Airflow 3.3+), else an Airflow
    Variable (:func:`variable_key`, through the Task SDK, as the triggerer allows a trigger), else (no
    triggerer to ask: a trigger run outside Airflow) this process's memory, with a warning."""

    def __init__(self, accessors: Any, variable: str | None = None) -> None:
        self.accessors = accessors
        self.variable = None if accessors is not None else variable
        self.saved: dict[str, Any] | None = None
        self.newest: datetime | None = None
        self.description = ""

    def _targets(self) -> list[Any]:
        if self.accessors is None:
            return []
        # One trigger may watch several assets (equal watchers are one trigger): each keeps the watermark.
        found = [
            *getattr(self.accessors, "_by_name", {}).values(),
            *getattr(self.accessors, "_by_uri", {}).values(),
        ]
        return found or [self.accessors]

    async def _stored_values(self) -> list[Any]:
        if self.accessors is not None:
            return [await target.aget(STATE_KEY) for target in self._targets()]
        if self.variable is None:
            return []
        from airflow.sdk import Variable
        from asgiref.sync import sync_to_async

        try:
            return [await sync_to_async(Variable.get)(self.variable, default=None, deserialize_json=True)]
        except Exception as exc:  # no triggerer's supervisor to ask: not inside Airflow
            log.warning("orders watch: the watermark cannot be kept in Airflow Variable %s (%s: %s); it is "
                        "kept in memory only, and a restart starts again from now",
                        self.variable, type(exc).__name__, exc)  # fmt: skip
            self.variable = None
            return []

    async def load(self) -> Watermark | None:
        """The stored watermark (the oldest, where several assets keep one); remembers how far it is, so
        that :meth:`save` never puts an older one over it."""
        marks = []
        for value in await self._stored_values():
            if value is None:
                continue
            try:
                marks.append(Watermark.from_json(value))
            except ValueError as exc:
                log.warning("orders watch: the stored watermark is not usable (%s); starting from now", exc)
        if not marks:
            return None
        # Assets that disagree (one was added later): go on from the oldest, so no change is lost.
        oldest = min(marks, key=lambda m: m.polled_at or datetime.min.replace(tzinfo=timezone.utc))
        if oldest.polled_at is not None and (self.newest is None or oldest.polled_at > self.newest):
            self.newest = oldest.polled_at
        return oldest

    async def save(self, mark: Watermark) -> bool:
        """Store ``mark``; ``False`` where nothing was written (unchanged, or a newer one is stored)."""
        if self.newest is not None and mark.polled_at is not None and mark.polled_at < self.newest:
            return False  # another triggerer's newer watermark is stored: keep it
        value = mark.to_json()
        comparable = {k: v for k, v in value.items() if k != "polled_at"}
        if comparable == self.saved:
            return False
        for target in self._targets():
            await target.aset(STATE_KEY, value)
        if self.variable is not None:
            from airflow.sdk import Variable
            from asgiref.sync import sync_to_async

            try:
                await sync_to_async(Variable.set)(self.variable, value, description=self.description,
                                                  serialize_json=True)  # fmt: skip
            except Exception as exc:  # no triggerer's supervisor to ask: not inside Airflow
                log.warning("orders watch: the watermark cannot be saved to Airflow Variable %s (%s: %s); it "
                            "is kept in memory only, and a restart starts again from now",
                            self.variable, type(exc).__name__, exc)  # fmt: skip
                self.variable = None
        self.saved = comparable
        return True
