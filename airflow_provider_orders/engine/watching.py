"""Watching a vendor scope for new orders and state changes: the watermark and the diff (no I/O).

A watcher lists the orders of its window (orders created in the last ``lookback``, or every order of the
scope) and compares each order's vendor status with the one recorded at its last committed poll:

- an order it has not recorded is new. On the first poll every order is only recorded (the watch starts
  "from now"), except those created at or after ``since`` (a backfill);
- an order whose status differs has changed. Two changes between polls read as one, to the later state:
  a vendor's listing tells only the present;
- an order no longer listed has left the window (or the filters) and is forgotten; if it comes back in
  a watched state, that is a change again. Except an order still open (not completed, failed or
  canceled) that has left the window by its age: the watch follows it until it settles, however old
  (the trigger lists or looks up those orders; :func:`open_statuses`).

Where the vendor filters on the change time (Fleetio ``updated_since``) each poll after the first asks
only for the orders changed at or after the newest change recorded (:attr:`Watermark.cursor`). The bound
is inclusive, so an order changed at that very instant is listed again (a later page, or a record the
vendor indexed late) and is told apart by its recorded status; orders not listed keep theirs.

The watermark is plain JSON, kept in the asset's state store by the trigger; :func:`observe` returns the
changes and the next watermark without touching the current one, so a poll whose events are not yet
fired can be repeated from the same watermark.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_orders.engine.waiting import normalised_statuses
from airflow_provider_orders.models import Order, OrderStatus

if TYPE_CHECKING:
    from airflow_provider_orders.vendors.base import Vendor

VERSION = 1
#: the states an order does not leave: the watch stops following an order once it is in one.
FINAL = frozenset({OrderStatus.COMPLETED.value, OrderStatus.FAILED.value, OrderStatus.CANCELED.value})


@dataclass(frozen=True)
class Seen:
    """What the watcher recorded of one order: its state and when it was created (to leave the window)."""

    vendor_status: str
    status: str
    created: float | None

    def to_json(self) -> list[Any]:
        return [self.vendor_status, self.status, self.created]

    @property
    def open(self) -> bool:
        """Whether the order may still change state (not completed, failed or canceled)."""
        return self.status not in FINAL


@dataclass(frozen=True)
class Watermark:
    """Where a watcher is.

    :param orders: every order of the window at the last committed poll, by id.
    :param polled_at: when that poll ran; ``None`` before the first.
    :param cursor: the newest change time recorded (vendors that filter on it), else ``None``.
    :param since: before the first poll, the backfill start: orders created at or after it are events.
    """

    orders: dict[str, Seen] = field(default_factory=dict)
    polled_at: datetime | None = None
    cursor: datetime | None = None
    since: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "polled_at": _iso(self.polled_at),
            "cursor": _iso(self.cursor),
            "since": _iso(self.since),
            "orders": {k: v.to_json() for k, v in self.orders.items()},
        }

    @classmethod
    def from_json(cls, value: Any) -> Watermark:
        """A stored watermark; :class:`ValueError` for one this version cannot read."""
        if not isinstance(value, dict) or value.get("version") != VERSION:
            raise ValueError(f"not a version {VERSION} order watermark")
        try:
            orders = {str(k): Seen(str(v[0]), str(v[1]), None if v[2] is None else float(v[2]))
                      for k, v in value["orders"].items()}  # fmt: skip
            return cls(orders, _time(value["polled_at"]), _time(value["cursor"]), _time(value["since"]))
        except (KeyError, TypeError, IndexError) as exc:
            raise ValueError(f"a damaged order watermark ({type(exc).__name__}: {exc})") from None


@dataclass(frozen=True)
class Change:
    """An order that is new to the watcher, or whose state changed since its last committed poll."""

    order: Order
    previous: Seen | None

    @property
    def kind(self) -> str:
        return "new" if self.previous is None else "status"

    @property
    def dedup_key(self) -> str:
        """The same for the same transition however often it is seen (a refired event keeps its key)."""
        o = self.order
        before = self.previous.vendor_status if self.previous else ""
        text = f"{o.vendor}\x00{o.id}\x00{before}\x00{o.vendor_status}\x00{_iso(o.updated_at) or ''}"
        return f"{o.vendor}:{o.id}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"

    def to_event(self) -> dict[str, Any]:
        """What a downstream task needs of the change, as JSON."""
        o = self.order
        return {
            "vendor": o.vendor,
            "id": o.id,
            "order_id": o.id,
            "number": o.number,
            "status": o.status.value,
            "vendor_status": o.vendor_status,
            "previous_status": self.previous.status if self.previous else None,
            "previous_vendor_status": self.previous.vendor_status if self.previous else None,
            "change": self.kind,
            "created_at": _iso(o.created_at),
            "updated_at": _iso(o.updated_at),
            "total_amount": None if o.total_amount is None else str(o.total_amount),
            "currency": o.currency,
            "dedup_key": self.dedup_key,
        }


def orders_by_id(vendor: Vendor, orders: Iterable[Order]) -> dict[str, Order]:
    """One order per id from a listing; a vendor that lists order lines has its lines combined."""
    if not vendor.lists_order_lines:
        return {o.id: o for o in orders}
    lines: dict[str, list[Order]] = {}
    for order in orders:
        lines.setdefault(order.id, []).append(order)
    return {oid: vendor.combine_lines(found) for oid, found in lines.items()}


def observe(
    mark: Watermark,
    orders: dict[str, Order],
    *,
    now: datetime,
    window_start: datetime | None,
    incremental: bool,
    watched: Callable[[Order], bool],
) -> tuple[list[Change], Watermark]:
    """The changes a complete listing shows against ``mark``, and the watermark after them.

    :param orders: the listing by id (:func:`orders_by_id`): every order of the window, or with
        ``incremental`` every order changed at or after ``mark.cursor``.
    :param window_start: orders created before it have left the window (``None``: no window).
    :param watched: whether an order's present state is one the watcher reports.
    """
    first = mark.polled_at is None
    backfill = mark.since
    changes: list[Change] = []
    edge = None if window_start is None else window_start.timestamp()
    if incremental:
        recorded = dict(mark.orders)
    else:  # open orders older than the window stay recorded until they settle (followed, not listed)
        recorded = {k: v for k, v in mark.orders.items() if _older_and_open(v, edge)}
    for oid, order in orders.items():
        previous = mark.orders.get(oid)
        recorded[oid] = Seen(order.vendor_status, order.status.value, _epoch(order.created_at))
        if previous is not None and previous.vendor_status == order.vendor_status:
            continue
        if first and not (backfill and order.created_at and order.created_at >= backfill):
            continue
        if watched(order):
            changes.append(Change(order, None if first else previous))
    if edge is not None:
        recorded = {k: v for k, v in recorded.items() if v.created is None or v.created >= edge or v.open}
    times = [o.updated_at for o in orders.values() if o.updated_at is not None]
    cursor = max([*times, *([mark.cursor] if mark.cursor else [])], default=None)
    changes.sort(key=lambda c: (c.order.updated_at or c.order.created_at or now, c.order.id))
    return changes, replace(mark, orders=recorded, polled_at=now, cursor=cursor, since=None)


def open_and_older(mark: Watermark, window_start: datetime | None) -> list[str]:
    """The ids of the orders ``mark`` recorded open and created before ``window_start``: those the watch
    follows beyond its window."""
    edge = None if window_start is None else window_start.timestamp()
    return [k for k, v in mark.orders.items() if _older_and_open(v, edge)]


def open_statuses(vendor_class: type[Vendor]) -> list[str]:
    """The vendor's native states an order can still leave (all but completed, failed and canceled)."""
    return sorted(k for k, v in vendor_class.STATUS_MAP.items() if v.value not in FINAL)


def _older_and_open(seen: Seen, edge: float | None) -> bool:
    return edge is not None and seen.created is not None and seen.created < edge and seen.open


def status_filter(vendor_class: type[Vendor], statuses: Iterable[str]) -> Callable[[Order], bool]:
    """Whether an order is in one of ``statuses`` (normalised or native; all when empty), validated."""
    values = list(statuses)
    if not values:
        return lambda order: True
    natives = vendor_class.native_statuses(values)  # raises InvalidFilterError naming the vendor
    normalised = normalised_statuses(values)
    return lambda order: order.vendor_status in natives or order.status in normalised


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(timezone.utc).isoformat()


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()
