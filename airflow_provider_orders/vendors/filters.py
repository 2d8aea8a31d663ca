"""The filters every vendor accepts, and how validation errors are worded."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from airflow_provider_orders.models import OrderStatus

StatusInput = str | OrderStatus | list[str | OrderStatus] | tuple[str | OrderStatus, ...]


class OrderFilters(BaseModel):
    """Filters common to every vendor. Vendor modules subclass this with their scope and extras.

    :param status: one state or a list, normalised (``completed``) or vendor-native (``Succeeded``,
        ``1000``, ``DELIVERED``, ``received_full``).
    :param created_since: inclusive lower bound on the creation time (tz-aware).
    :param created_until: exclusive upper bound on the creation time (tz-aware).
    :param search: free text, matched the way the vendor matches it.
    :param page_size: records per request, within the vendor's bounds.
    :param max_orders: stop after this many orders.
    :param concurrency: pages in flight at once where the first page tells how many there are
        (Crayon, Adobe, emnify); order and de-duplication are kept, and every request still passes the
        rate limiter. Default: the connection's ``concurrency`` extra, else 1.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    MAX_PAGE_SIZE: ClassVar[int] = 100
    MIN_PAGE_SIZE: ClassVar[int] = 1
    DEFAULT_PAGE_SIZE: ClassVar[int] = 100

    status: list[str] | None = None
    created_since: AwareDatetime | None = None
    created_until: AwareDatetime | None = None
    search: str | None = Field(default=None, min_length=1)
    page_size: int | None = None
    max_orders: int | None = Field(default=None, ge=1)
    concurrency: int | None = Field(default=None, ge=1, le=32)

    @field_validator("status", mode="before")
    @classmethod
    def _listify_status(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, (str, OrderStatus, int)):
            value = [value]
        if isinstance(value, (list, tuple, set, frozenset)):
            out = []
            for item in value:
                if isinstance(item, OrderStatus):
                    out.append(item.value)
                elif isinstance(item, (str, int)) and not isinstance(item, bool):
                    out.append(str(item))
                else:
                    raise ValueError(f"each status must be a string, got {type(item).__name__}")
            if not out:
                raise ValueError("an empty status list matches nothing; leave status unset for all")
            return out
        return value

    @field_validator("page_size")
    @classmethod
    def _page_size_bounds(cls, value: int | None) -> int | None:
        if value is not None and not cls.MIN_PAGE_SIZE <= value <= cls.MAX_PAGE_SIZE:
            raise ValueError(f"must be between {cls.MIN_PAGE_SIZE} and {cls.MAX_PAGE_SIZE}")
        return value

    @model_validator(mode="after")
    def _range(self) -> OrderFilters:
        if self.created_since and self.created_until and self.created_since >= self.created_until:
            raise ValueError("created_since must be earlier than created_until")
        return self

    @property
    def effective_page_size(self) -> int:
        return self.page_size or self.DEFAULT_PAGE_SIZE


def describe(exc: ValidationError, *, where: str, model: type[BaseModel] | None = None) -> str:
    return describe_errors(exc.errors(), where=where, model=model)


def describe_errors(errors: Iterable[Any], *, where: str, model: type[BaseModel] | None = None) -> str:
    parts = []
    for err in errors:
        loc = ".".join(str(p) for p in err["loc"]) or "(all)"
        if err["type"] == "extra_forbidden":
            allowed = sorted(model.model_fields) if model else []
            hint = f"; allowed {where}s are {allowed}" if allowed else ""
            parts.append(f"unknown {where} {loc!r}{hint}")
        elif err["type"] == "timezone_aware":
            parts.append(f"{where} {loc!r} must be timezone-aware, e.g. '2024-01-01T00:00:00Z'")
        elif err["type"] == "missing":
            parts.append(f"{where} {loc!r} is required")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            parts.append(f"{where} {loc!r}: {msg}")
    return "; ".join(parts)
