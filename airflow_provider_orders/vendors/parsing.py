"""Helpers vendor modules share to read records: times, amounts, windows, error bodies."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from airflow_provider_orders.models import Order


def generic_error(body: dict[str, Any], status: int) -> tuple[str | None, str]:
    code = None
    for key in ("code", "error_code", "ErrorCode", "error"):
        if body.get(key) not in (None, ""):
            code = str(body[key])
            break
    message = None
    for key in ("message", "Message", "detail", "error_description", "title", "error_token", "error"):
        if isinstance(body.get(key), str) and body[key]:
            message = body[key]
            break
    if message is None and body.get("errors"):
        message = json.dumps(body["errors"])[:300]
    return code, message or f"HTTP {status}"


def parse_time(value: Any, *, assume_utc: bool = False, field: str | None = None) -> datetime | None:
    """Parse a vendor timestamp to tz-aware UTC.

    ``assume_utc`` treats a time without a zone as UTC (Crayon); otherwise a naive time is an error.
    Fractions of any length (Crayon's ``.5`` or ``.193``) are accepted.

    :param field: the record's field the value came from, named in the ``ValueError`` for a value that is
        not a time.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            # Python 3.11+ reads Z and fractions of any length itself: the fast path for most records.
            parsed = _fromisoformat(value)
        except (TypeError, ValueError):
            try:
                parsed = _parse_time_slowly(value)
            except (TypeError, ValueError):
                what = f"field {field!r}" if field else "the value"
                raise ValueError(
                    f"{what} is not an ISO-8601 time: {type(value).__name__} {str(value)[:60]!r}"
                ) from None
    zone = parsed.tzinfo
    if zone is UTC:
        return parsed
    if zone is None:
        if not assume_utc:
            what = f"field {field!r}: " if field else ""
            raise ValueError(f"{what}timestamp {value!r} has no time zone")
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


UTC = timezone.utc
_fromisoformat = datetime.fromisoformat


def _parse_time_slowly(value: Any) -> datetime:
    """ISO-8601 variants ``fromisoformat`` refuses on older Pythons (Z, odd fraction lengths, a space)."""
    text = str(value).strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if " " in text and "T" not in text:
        text = text.replace(" ", "T", 1)
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{(digits + '000000')[:6]}{zone}"
    return datetime.fromisoformat(text)


def zulu(value: datetime) -> str:
    """``2024-01-01T00:00:00Z``: UTC with a Z, whole seconds unless there is a fraction."""
    value = value.astimezone(timezone.utc)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def optional_text(value: Any, field: str) -> str | None:
    """``value`` (from the record's ``field``) where it is text or ``None``; any other type raises
    ``TypeError`` naming the field."""
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"field {field!r} is {type(value).__name__}, not text")


def to_decimal(value: Any, field: str) -> Decimal | None:
    """The amount in the record's ``field``: ``None`` where it is absent or empty; a value that is not a
    finite number raises ``ValueError`` naming the field (an unreadable amount is never dropped to
    ``None``)."""
    if value is None or value == "":
        return None
    try:
        amount: Decimal | None = Decimal(str(value))  # "True", "{...}" and "[...]" are not numbers either
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise ValueError(f"field {field!r} is not an amount: {type(value).__name__} {str(value)[:40]!r}")
    return amount


def record_id(record: dict[str, Any], field: str) -> str:
    """The record's ``field`` as an order id: a missing field raises ``KeyError``; an empty one (``None``,
    ``""``) or one that is not a number or text raises ``ValueError`` naming the field. (Read as
    ``str(None)``, every such record would share the id ``"None"`` and all but the first would be
    dropped as repeats.)"""
    value = record[field]
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"field {field!r} is {'empty' if value in (None, '') else type(value).__name__}, "
                     "not an order id")  # fmt: skip


def in_window(order: Order, since: datetime | None, until: datetime | None) -> bool:
    """``since`` inclusive, ``until`` exclusive: Airflow's data-interval convention."""
    if since is None and until is None:
        return True
    if order.created_at is None:
        return False
    if since is not None and order.created_at < since:
        return False
    return not (until is not None and order.created_at >= until)


def all_of(*checks: Callable[[Order], bool] | None) -> Callable[[Order], bool] | None:
    """Combine client-side checks; ``None`` when there is nothing to check."""
    real = [c for c in checks if c is not None]
    if not real:
        return None
    if len(real) == 1:
        return real[0]
    return lambda order: all(check(order) for check in real)
