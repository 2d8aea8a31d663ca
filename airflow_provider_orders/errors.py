"""The typed error hierarchy.

Every error carries the vendor, the HTTP status (or ``None``) and the vendor's own error code (or
``None``), so a caller branches on attributes, never on message text. :attr:`OrdersError.retryable` says
whether trying the same thing later can succeed; ``airflow_provider_orders.boundary`` turns it into
Airflow's retry decision.
"""

from __future__ import annotations


class OrdersError(Exception):
    """Base of every error this provider raises.

    :param message: what went wrong and, where known, how to fix it. Never contains a secret.
    :param vendor: the vendor's connection type, for example ``adobe_vip_marketplace``.
    :param status: the HTTP status of the response, or ``None`` when there was none.
    :param code: the vendor's error code from the response body, or ``None``.
    """

    #: Whether the same request may succeed later (a rate limit, an outage), so a task should retry.
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        vendor: str | None = None,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        self.message = message
        self.vendor = vendor
        self.status = status
        self.code = code
        super().__init__(message)

    def __str__(self) -> str:
        # ``crayon HTTP 401 (code invalid_client): …``: no square brackets, which rich (Airflow's CLI)
        # would read as markup and drop.
        return self.describe(with_vendor=True)

    def describe(self, *, with_vendor: bool = True) -> str:
        """The message after ``<vendor> HTTP <status> (code <code>):``; ``with_vendor=False`` leaves the
        vendor out (where the reader already sees it, as in a connection test)."""
        parts = [f"HTTP {self.status}"] if self.status else []
        if self.code:
            parts.append(f"(code {self.code})")
        if with_vendor and self.vendor:
            parts.insert(0, self.vendor)
        return f"{' '.join(parts)}: {self.message}" if parts else self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, vendor={self.vendor!r}, "
            f"status={self.status!r}, code={self.code!r})"
        )

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Keep keyword-only attributes across pickling (Airflow ships exceptions between processes).
        return (_rebuild, (type(self), self.message, self.vendor, self.status, self.code))


def _rebuild(
    cls: type[OrdersError], message: str, vendor: str | None, status: int | None, code: str | None
) -> OrdersError:
    return cls(message, vendor=vendor, status=status, code=code)


class InvalidFilterError(OrdersError, ValueError):
    """A filter or connection setting is invalid. Raised before any request is sent."""


class AuthenticationError(OrdersError):
    """The vendor refused the credentials, or the connection lacks them."""


class OrderNotFoundError(OrdersError):
    """The vendor has no order with that id in that scope."""


class RateLimitError(OrdersError):
    """The vendor kept answering 429 after every retry."""

    retryable = True


class VendorApiError(OrdersError):
    """Any other failure of the vendor's API: a 4xx response, a malformed page, a repeated page or
    cursor, a page cap reached, a link to another host. Trying again gives the same answer."""


class VendorUnavailableError(VendorApiError):
    """The vendor could not be reached or kept failing: connection errors, timeouts, 5xx, or a body
    that is not JSON, after every retry. A later attempt may succeed."""

    retryable = True


class ConnectionConfigError(OrdersError, ValueError):
    """The Airflow connection is missing a field or has an invalid extra. Raised before any request."""


class TableError(OrdersError):
    """The orders table or its database cannot take the orders as configured (a missing or mistyped
    column, a schema that does not exist, a database with no merge strategy here). Raised before any
    vendor request; the message names the table, the columns and the fix."""
