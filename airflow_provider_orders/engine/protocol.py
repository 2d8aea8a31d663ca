"""The actions an engine generator asks its driver to carry out.

The engine's logic (auth, retries, rate limit, paging guards) is written once, as generators that yield
these actions and receive their results. A sync driver (``engine.sync``) carries them out with
urllib3 and ``time.sleep``; an async driver does the same with ``httpx`` and ``asyncio.sleep``.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from airflow_provider_orders.models import Order
from airflow_provider_orders.vendors.http import HttpResponse

if TYPE_CHECKING:
    from airflow_provider_orders.engine.budget import RequestBudget


@dataclass(frozen=True, repr=False)
class PreparedRequest:
    """A request ready for the wire: absolute URL, every header."""

    method: str
    url: str
    params: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]
    json_body: Any = None
    form: Mapping[str, str] | None = None
    timeout: float = 30.0
    #: Seconds for the whole request, connect to last byte.
    deadline: float = 300.0
    #: The largest body accepted, counted after decompression.
    max_bytes: int = 64 * 1024 * 1024

    def __repr__(self) -> str:
        return f"PreparedRequest({self.method} {self.url})"


@dataclass(frozen=True)
class TransportFailure:
    """A request that got no readable HTTP response.

    :param kind: ``timeout`` (no answer in time, or not all of it by the deadline), ``connect`` (refused,
        reset or closed before an answer), ``protocol`` (an answer that could not be read: a broken chunk, a
        body that fails to decode), ``too_large`` (a body past ``max_bytes``), ``tls`` (no TLS on that port, an
        untrusted certificate) or ``proxy`` (the proxy refused the request with a 4xx, ``status``); the
        last three are never retried. A proxy that cannot be reached or fails with a 5xx is ``connect``.
    :param message: the exception's class and reason, without the URL's query.
    :param status: the proxy's HTTP status, for ``proxy``.
    """

    kind: Literal["timeout", "connect", "protocol", "too_large", "tls", "proxy"]
    message: str
    status: int | None = None


@dataclass(frozen=True)
class Send:
    """Send ``request``; the reply is its :class:`HttpResponse` or a :class:`TransportFailure`."""

    request: PreparedRequest


@dataclass(frozen=True)
class Sleep:
    """Wait ``seconds``; the reply is ``None``."""

    seconds: float


@dataclass(frozen=True)
class Reserve:
    """Take a slot of the credential's request budget; the reply is the seconds to wait first (0: go).

    A driver calls ``budget.reserve()`` (sync) or ``await budget.areserve()`` (event loop), so a budget in
    Redis is asked without blocking the triggerer's loop.
    """

    budget: RequestBudget


@dataclass(frozen=True)
class Emit:
    """A page's worth of orders for the caller (listings only); the reply is ``None``."""

    orders: list[Order] = field(default_factory=list)


@dataclass(frozen=True)
class Forked:
    """The handle of a forked call, which a later :class:`Join` names (the driver keeps the rest)."""

    id: int


@dataclass(frozen=True)
class Fork:
    """Start ``flow`` (a call) alongside this one; the reply is its :class:`Forked` handle."""

    flow: Flow[HttpResponse]


@dataclass(frozen=True)
class Join:
    """Wait for a forked call; the reply is its response, or its exception is raised into this flow."""

    handle: Forked


Action = Send | Sleep | Reserve | Emit | Fork | Join
Reply = HttpResponse | TransportFailure | Forked | float | None
T = TypeVar("T")
Flow = Generator[Action, Reply, T]
