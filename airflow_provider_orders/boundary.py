"""The one place an :class:`~airflow_provider_orders.errors.OrdersError` becomes what Airflow should do.

- configuration, filter, credential, not-found and other 4xx errors: :class:`OrdersTaskFailed`, an
  ``AirflowFailException``: the task fails without using its retries, since trying again cannot help;
- rate limits, transport errors and vendor 5xx (``OrdersError.retryable``): :class:`OrdersTaskError`,
  an ``AirflowException``: the task retries as its ``retries`` allow.

Both are raised ``from`` the original error, so the task log shows the vendor's facts once, in the
cause (vendor, HTTP status, vendor error code, message and fix), and the Airflow exception under it
says what was decided. Both also carry the original's attributes for callbacks: ``vendor``,
``http_status``, ``code``, ``error_type``, ``retryable`` and ``error`` (the original itself).

Operators and sensors raise through :func:`airflow_errors`; a deferred sensor rebuilds the trigger's
error with :func:`error_from_event` and raises it through the same function.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_orders import errors
from airflow_provider_orders.errors import OrdersError


class _Facts:
    """The original error's attributes, on the Airflow exception that carries it."""

    error: OrdersError
    vendor: str | None
    http_status: int | None
    code: str | None
    error_type: str
    retryable: bool

    def _take(self, exc: OrdersError) -> None:
        self.error = exc
        self.vendor, self.http_status, self.code = exc.vendor, exc.status, exc.code
        self.error_type = type(exc).__name__
        self.retryable = exc.retryable

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from the provider's error, which pickles with its attributes.
        return (type(self), (self.error,))


class OrdersTaskFailed(_Facts, AirflowFailException):
    """The task fails for good: the error is in the connection, the filters or the request."""

    def __init__(self, exc: OrdersError) -> None:
        self._take(exc)
        why = next((_WHY[cls] for cls in type(exc).__mro__ if cls in _WHY), "trying again cannot help")
        super().__init__(f"{exc.vendor or 'orders'}: {self.error_type}, not retried: {why}")


class OrdersTaskError(_Facts, AirflowException):
    """The task fails this attempt and retries as its ``retries`` allow: the vendor may recover."""

    def __init__(self, exc: OrdersError) -> None:
        self._take(exc)
        super().__init__(
            f"{exc.vendor or 'orders'}: {self.error_type}: the task retries while it has retries left"
        )


_WHY: dict[type, str] = {
    errors.ConnectionConfigError: "fix the Airflow connection",
    errors.InvalidFilterError: "fix the filters or the task's arguments",
    errors.AuthenticationError: "fix the connection's credentials",
    errors.OrderNotFoundError: "the vendor has no such order",
    errors.VendorApiError: "the vendor refused the request or answered something unreadable",
    errors.TableError: "fix the table or the SQL connection",
}


def to_airflow(exc: OrdersError) -> AirflowException:
    """The Airflow exception for ``exc``: retried where ``exc.retryable``; raise it ``from exc``."""
    return OrdersTaskError(exc) if exc.retryable else OrdersTaskFailed(exc)


@contextmanager
def airflow_errors() -> Iterator[None]:
    """Raise any :class:`OrdersError` in the block as the Airflow exception :func:`to_airflow` gives."""
    try:
        yield
    except OrdersError as exc:
        raise to_airflow(exc) from exc


def event_from_error(exc: OrdersError) -> dict[str, Any]:
    """The fields of a trigger's ``error`` event (plain JSON, no pickle)."""
    return {
        "status": "error",
        "message": exc.message,
        "error_type": type(exc).__name__,
        "vendor": exc.vendor,
        "http_status": exc.status,
        "code": exc.code,
    }


def error_from_event(event: Mapping[str, Any]) -> OrdersError:
    """The error a trigger reported, as the class and attributes it had in the triggerer.

    An error that is not one of the provider's comes back as a plain :class:`OrdersError`, with its class
    named: not retried. Only what the provider knows to be passing (transport errors, 5xx, 429: its
    retryable errors) is retried; a missing connection already arrives as ``ConnectionConfigError``.
    """
    found = getattr(errors, str(event.get("error_type")), None)
    cls = found if isinstance(found, type) and issubclass(found, OrdersError) else None
    message = str(event.get("message") or "the trigger failed")
    if cls is None:
        cls = OrdersError
        message = f"{event.get('error_type')} in the triggerer: {message}"
    return cls(message, vendor=event.get("vendor"), status=event.get("http_status"), code=event.get("code"))
