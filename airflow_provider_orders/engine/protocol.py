"""The actions an engine generator asks its driver to carry out.

The engine's logic (auth, retries, rate limit, paging guards) is written once, as generators that yield
these actions and receive their results. A sync driver (``engine.sync``) carries them out with
``requests`` and ``time.sleep``; an async driver does the same with ``httpx`` and ``asyncio.sleep``.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from airflow_provider_orders.models import Order
from airflow_provider_orders.vendors.base import HttpResponse


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

    def __repr__(self) -> str:
        return f"PreparedRequest({self.method} {self.url})"


@dataclass(frozen=True)
class TransportFailure:
    """A request that got no HTTP response: ``kind`` is ``connect``, ``timeout`` or ``other``."""

    kind: str
    message: str


@dataclass(frozen=True)
class Send:
    request: PreparedRequest


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Emit:
    """A page's worth of orders for the caller (listings only)."""

    orders: list[Order] = field(default_factory=list)


@dataclass(frozen=True)
class Fork:
    """Start ``flow`` (a call) alongside this one; the reply is a handle to :class:`Join` later."""

    flow: Any


@dataclass(frozen=True)
class Join:
    """Wait for a forked flow; the reply is its result, or its exception is raised into this flow."""

    handle: Any


Action = Send | Sleep | Emit | Fork | Join
Reply = HttpResponse | TransportFailure | None
T = TypeVar("T")
Flow = Generator[Action, Reply, T]
