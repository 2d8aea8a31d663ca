"""The one shape every vendor's order becomes."""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, NoReturn

from pydantic import BaseModel, ConfigDict, field_validator


class OrderStatus(str, enum.Enum):
    """A vendor-neutral order state.

    Every vendor's own states map onto these; the table is in ``docs/statuses.md`` and in each vendor
    module's ``STATUS_MAP``. In-progress states map to ``pending`` or ``processing`` and success maps to
    ``completed``. A state the provider does not know maps to ``unknown``, which is never treated as
    success.
    """

    DRAFT = "draft"
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


class Order(BaseModel):
    """An order from any vendor, normalised.

    :param vendor: the connection type of the vendor, for example ``crayon``.
    :param id: the identifier that ``get_order`` and ``OrderStateSensor`` accept (Crayon
        OrderReferenceId, Adobe orderId, Granite order_number, emnify id, Fleetio PO number).
    :param number: the number people quote for the order (may equal ``id``).
    :param status: the normalised state.
    :param vendor_status: the vendor's own word or code for the state, for example ``Succeeded``,
        ``1000``, ``DELIVERED`` or ``received_full``.
    :param created_at: when the order was created, tz-aware UTC; ``None`` only where the vendor has no
        date yet (an emnify order still being edited has no submit date).
    :param updated_at: when the order last changed, tz-aware UTC; ``None`` where the vendor publishes no
        change time (Crayon and Adobe records have none).
    :param total_amount: the order total, or ``None`` where the vendor does not publish one.
    :param currency: ISO currency code, or ``None``.
    :param raw: the vendor record, untouched.
    """

    model_config = ConfigDict(frozen=True)

    vendor: str
    id: str
    number: str | None = None
    status: OrderStatus
    vendor_status: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    total_amount: Decimal | None = None
    currency: str | None = None
    raw: dict[str, Any]

    @classmethod
    def trusted(
        cls,
        vendor: str,
        id: str,
        number: str | None,
        status: OrderStatus,
        vendor_status: str,
        created_at: datetime | None,
        updated_at: datetime | None,
        total_amount: Decimal | None,
        currency: str | None,
        raw: dict[str, Any],
    ) -> Order:
        """An order from values that are already of the fields' types, built without validation.

        For the vendor modules' listing path, where it is about a third of the cost of each order: every
        argument must be what validation would give (``str`` ids, an :class:`OrderStatus`, tz-aware UTC
        times from :func:`~airflow_provider_orders.vendors.parsing.parse_time`, a ``Decimal``). The result
        is equal to ``Order(...)`` of the same values (``tests/test_vendors.py`` holds every vendor to it).
        Anything else builds an ``Order`` the usual way.
        """
        order = _new(cls)
        _object_set(order, "__dict__", {
            "vendor": vendor, "id": id, "number": number, "status": status, "vendor_status": vendor_status,
            "created_at": created_at, "updated_at": updated_at, "total_amount": total_amount,
            "currency": currency, "raw": raw,
        })  # fmt: skip
        _set_fields_set(order, _EVERY_FIELD)
        _set_extra(order, None)
        _set_private(order, None)
        return order

    @field_validator("created_at", "updated_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("order times must be tz-aware")
        return value.astimezone(timezone.utc)


class _EveryField(set[str]):
    """The fields set of every order :meth:`Order.trusted` builds (all fields are set), shared by them all.

    A set of its own per order was a third object per order for the garbage collector: with a page and
    its orders alive at once, that pushed the young generation past its threshold on every page, and the
    survivors into full collections (about 2 µs an order, a fifth of a listing's time). Shared, it must
    never change: every mutator raises, and a copy (what ``model_copy`` makes before it adds the updated
    names, and what ``copy``/``deepcopy``/pickle make) is a plain set of its own.
    """

    __slots__ = ()

    def _read_only(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("the fields set of an order is shared; copy it before changing it")

    add = discard = remove = pop = clear = _read_only
    update = difference_update = intersection_update = symmetric_difference_update = _read_only
    __ior__ = __iand__ = __isub__ = __ixor__ = _read_only

    def __copy__(self) -> set[str]:
        return set(self)

    def __deepcopy__(self, memo: object) -> set[str]:
        return set(self)

    def __reduce__(self) -> tuple[type[set[str]], tuple[list[str]]]:
        return set, (list(self),)


# What pydantic's own model_construct sets, through the slots' descriptors (about 0.8 µs an order where
# validation takes 1.9 µs).
_new = object.__new__
_object_set = object.__setattr__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_EVERY_FIELD = _EveryField(Order.model_fields)
