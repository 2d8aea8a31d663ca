"""One poll per vendor scope for every :class:`OrderStateTrigger` waiting on it in a triggerer.

Every trigger of one event loop that watches the same connection and scope (a Crayon customer tenant,
an Adobe customer, a whole Fleetio account) subscribes to one :class:`ScopePoller`. Each round the
poller answers its subscribers with the cheapest plan the vendor allows:

- a vendor without a single-order endpoint (Crayon, Granite), or many waits on one scope: **one
  listing** of the scope, read only until every waited-for order is found
  (:meth:`OrdersEngine.find_orders`). It answers every waiting subscriber, so waits with different
  intervals are served at the shortest of them. At a vendor with a single-order endpoint the listing is
  capped at half as many pages as there are waits, and an order it did not find is looked up alone:
  "not found" always comes from the vendor's own lookup, exactly as for a wait polling alone.
- a vendor with a single-order endpoint and fewer than :data:`LISTING_FROM` waits: one lookup per wait
  that is due.

A subscriber gets exactly what its own poll would have returned (the order, or the error of the
request), at its own interval or sooner; it leaves when its trigger ends or is cancelled, which never
disturbs the others, and the poller stops with its last subscriber. Every request still draws from the
credential's request budget (:mod:`airflow_provider_orders.engine.budget`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_orders.engine.deadlines import wait_within
from airflow_provider_orders.errors import OrderNotFoundError
from airflow_provider_orders.vendors.http import checked_id

if TYPE_CHECKING:
    from airflow_provider_orders.hooks.base import OrdersHook
    from airflow_provider_orders.models import Order
    from airflow_provider_orders.vendors.base import Vendor

log = logging.getLogger(__name__)

#: Waits on one scope from which one listing answers them, at a vendor with a single-order endpoint.
LISTING_FROM = 3
#: Seconds a round waits before it starts, so that waits deferred together share their first poll.
GATHER_SECONDS = 0.05


@dataclass(eq=False)
class Subscription:
    """One trigger's place at its scope's poller."""

    poller: ScopePoller
    order_id: str
    interval: float
    due: float
    future: asyncio.Future[Order] | None = field(default=None, repr=False)

    @property
    def vendor_class(self) -> type[Vendor]:
        return self.poller.hook.vendor_class

    async def next(self) -> Order:
        """The order at the next poll that serves this wait; raises what that poll raised."""
        self.future = asyncio.get_running_loop().create_future()
        self.poller.wake()
        try:
            return await self.future
        finally:
            self.future = None

    @property
    def waiting(self) -> bool:
        return self.future is not None and not self.future.done()

    def close(self) -> None:
        self.poller.leave(self)


class ScopePoller:
    """Polls one connection's scope for every subscribed wait (see the module's docstring)."""

    def __init__(self, key: tuple[str, str], conn_id: str, scope: dict[str, Any]) -> None:
        self.key = key
        self.conn_id = conn_id
        self.scope = scope
        self.subscriptions: set[Subscription] = set()
        self.rounds = 0
        self._hook: asyncio.Task[OrdersHook] | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def __repr__(self) -> str:
        return f"ScopePoller({self.conn_id!r}, {self.scope!r}, {len(self.subscriptions)} waits)"

    @property
    def hook(self) -> OrdersHook:
        assert self._hook is not None and self._hook.done()
        return self._hook.result()

    async def ready(self) -> None:
        """Resolve the connection's hook and engine, once for all subscribers."""
        if self._hook is None:
            self._hook = asyncio.ensure_future(self._resolve())
        await asyncio.shield(self._hook)

    async def _resolve(self) -> OrdersHook:
        from airflow_provider_orders.hooks.resolve import aget_orders_hook

        hook = await aget_orders_hook(self.conn_id)
        await hook.aget_engine()
        return hook

    def join(self, order_id: str, interval: float) -> Subscription:
        loop = asyncio.get_running_loop()
        subscription = Subscription(self, order_id, interval, due=loop.time())
        self.subscriptions.add(subscription)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name=f"orders poller {self.conn_id} {self.scope}")
        return subscription

    def leave(self, subscription: Subscription) -> None:
        self.subscriptions.discard(subscription)
        if not self.subscriptions:
            pollers = _pollers.get(asyncio.get_running_loop(), {})
            if pollers.get(self.key) is self:
                del pollers[self.key]
            if self._task is not None and self._task is not asyncio.current_task():
                self._task.cancel()
                self._task = None  # a wait joining this poller now (it was resolving) starts a new one

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self.subscriptions:
            waiting = [s for s in self.subscriptions if s.waiting]
            now = loop.time()
            if not any(s.due <= now for s in waiting):
                self._wake.clear()
                next_due = min((s.due for s in waiting), default=None)
                with contextlib.suppress(asyncio.TimeoutError):
                    await wait_within(self._wake.wait(), None if next_due is None else next_due - now)
                continue
            await asyncio.sleep(GATHER_SECONDS)
            try:
                await self._round()
            except Exception as exc:  # a defect here must not leave every wait hanging: they report it
                log.exception("%s %s: the poll round failed", self.conn_id, self.scope)
                for subscription in self.subscriptions:
                    if subscription.waiting:
                        assert subscription.future is not None
                        subscription.future.set_exception(exc)

    async def _round(self) -> None:
        loop = asyncio.get_running_loop()
        waiting = [s for s in self.subscriptions if s.waiting]
        now = loop.time()
        vendor_class = self.hook.vendor_class
        by_listing = not vendor_class.has_order_endpoint or len(waiting) >= LISTING_FROM
        batch = waiting if by_listing else [s for s in waiting if s.due <= now]
        if not batch:
            return
        order_ids = {s.order_id for s in batch}
        self.rounds += 1
        if by_listing:
            outcomes = await self._by_listing(order_ids, vendor_class.has_order_endpoint)
        else:
            outcomes = await self._by_lookup(order_ids)
        log.debug("%s %s: round %d answered %d waits (%s)", self.conn_id, self.scope, self.rounds, len(batch),
                  "one listing" if by_listing else "lookups")  # fmt: skip
        answered = loop.time()
        for subscription in batch:
            if not subscription.waiting:
                continue  # left, or timed out, while the round ran
            future = subscription.future
            assert future is not None
            subscription.due = answered + subscription.interval
            outcome = outcomes[subscription.order_id]
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def _by_lookup(self, order_ids: set[str]) -> dict[str, Any]:
        ids = sorted(order_ids)
        results = await asyncio.gather(
            *(self.hook.aget_order(order_id, **self.scope) for order_id in ids), return_exceptions=True
        )
        return dict(zip(ids, results, strict=True))

    async def _by_listing(self, order_ids: set[str], has_order_endpoint: bool) -> dict[str, Any]:
        max_pages = max(1, len(order_ids) // 2) if has_order_endpoint else None
        try:
            found, complete = await self.hook.afind_orders(order_ids, max_pages=max_pages, **self.scope)
        except Exception as exc:
            return dict.fromkeys(order_ids, exc)
        outcomes: dict[str, Any] = dict(found)
        missing = order_ids - found.keys()
        if missing and has_order_endpoint:
            outcomes.update(await self._by_lookup(missing))
        elif missing:
            vendor = self.hook.vendor_class.conn_type
            for order_id in missing:
                outcomes[order_id] = OrderNotFoundError(
                    f"no order {order_id!r} in scope {dict(self.scope)}"
                    + ("" if complete else " (the listing stopped early)"),
                    vendor=vendor,
                )
        return outcomes


_pollers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], ScopePoller]] = (
    weakref.WeakKeyDictionary()
)


def scope_key(conn_id: str, scope: dict[str, Any]) -> tuple[str, str]:
    return conn_id, json.dumps(scope, sort_keys=True, default=str)


async def subscribe(conn_id: str, scope: dict[str, Any], order_id: str, interval: float) -> Subscription:
    """Join the poller of ``conn_id`` and ``scope`` in this event loop (started on first use).

    Raises what resolving the connection raised (every waiting subscriber sees the same error), or
    :class:`InvalidFilterError` for an order id that no vendor could have.
    """
    loop = asyncio.get_running_loop()
    key = scope_key(conn_id, scope)
    pollers = _pollers.setdefault(loop, {})
    poller = pollers.get(key)
    if poller is None:
        poller = pollers[key] = ScopePoller(key, conn_id, dict(scope))
    try:
        await poller.ready()
    except BaseException:
        if pollers.get(key) is poller and not poller.subscriptions:
            del pollers[key]  # the next trigger tries again
        raise
    checked_id(order_id, "order_id", poller.hook.vendor_class.conn_type)
    return poller.join(order_id, interval)


def pollers() -> list[ScopePoller]:
    """The pollers running in this event loop (what a benchmark or a test looks at)."""
    return list(_pollers.get(asyncio.get_running_loop(), {}).values())
