"""What every vendor module provides, and the pure data types they exchange with the engine.

Nothing in ``vendors/`` opens a socket: a vendor module turns filters into :class:`HttpRequest` objects,
reads :class:`HttpResponse` objects into pages and orders, and says what the next request is. The engine
(``airflow_provider_orders.engine``) sends them, sync or async.
"""

from __future__ import annotations

import base64
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Literal
from urllib.parse import quote_plus, urlsplit

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from airflow_provider_orders.errors import ConnectionConfigError, InvalidFilterError, VendorApiError
from airflow_provider_orders.models import Order, OrderStatus

# --------------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request, before auth and transport headers are added.

    :param method: ``GET`` or ``POST``.
    :param url: a path on the connection's base URL (``/api/v1/...``) or an absolute URL. An absolute
        URL on another origin is only allowed for token endpoints (``authenticated=False``).
    :param params: query parameters, in order; a key may repeat.
    :param headers: extra headers for this request.
    :param json_body: a JSON body.
    :param form: a form body.
    :param authenticated: whether the engine adds the API token.
    :param kind: ``api`` or ``token``; token requests are retried by the same rules but refused
        credentials raise :class:`AuthenticationError` at once.
    """

    method: str
    url: str
    params: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    json_body: Any = None
    form: Mapping[str, str] | None = None
    authenticated: bool = True
    kind: Literal["api", "token"] = "api"

    def __repr__(self) -> str:
        # Headers and bodies may hold secrets: never show them.
        return f"HttpRequest({self.method} {self.url} params={list(self.params)!r})"


class HttpResponse:
    """One HTTP response. Header names are lower-cased; the decoded JSON body is cached."""

    __slots__ = ("_json", "body", "headers", "status", "url")
    _UNSET: ClassVar[object] = object()

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes, url: str = "") -> None:
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body
        self.url = url
        self._json: Any = self._UNSET

    def json(self) -> Any:
        """Decode the body once; raises ``ValueError`` when it is not JSON."""
        if self._json is self._UNSET:
            self._json = json.loads(self.body)
        return self._json

    def header(self, *names: str) -> str | None:
        """The first of ``names`` present (case-insensitive), or ``None``."""
        for name in names:
            value = self.headers.get(name.lower())
            if value is not None:
                return value
        return None

    def __repr__(self) -> str:
        return f"HttpResponse({self.status} {self.url} {len(self.body)} bytes)"


@dataclass(frozen=True, repr=False)
class Token:
    """An access token and its lifetime in seconds (``None``: the vendor did not say)."""

    access_token: str
    expires_in: float | None

    def __repr__(self) -> str:
        return f"Token(***, expires_in={self.expires_in})"


@dataclass
class Page:
    """One page read from a list response.

    :param records: the vendor records on the page, in the vendor's order.
    :param next_request: the request for the next page, or ``None`` at the end.
    :param total: the total number of records the vendor announced for the listing, if it did.
    :param cursor: the cursor or link that produced ``next_request`` (repeat detection).
    :param pushed_down: whether the API applied the request's filters and sort to this page. ``False``
        when it answered in a shape that ignores them (an older Fleetio API version): the engine then
        applies every filter on the client and never ends the listing early on a sort it cannot trust.
    """

    records: list[dict[str, Any]]
    next_request: HttpRequest | None
    total: int | None = None
    cursor: str | None = None
    pushed_down: bool = True


class Pager(ABC):
    """One pagination style: knows the first request and, from each response, the next one.

    Subclasses must never return a request past the end they can see: no probing for an empty page
    when the vendor already said how many there are.
    """

    vendor: str
    #: Where a page body keeps its records (a bare JSON array is accepted too).
    items_keys: tuple[str, ...] = ()

    @abstractmethod
    def first_request(self) -> HttpRequest: ...

    def records_of(self, response: HttpResponse) -> list[dict[str, Any]]:
        """The records of a page and nothing else: stateless, so safe to call ahead, from any thread."""
        try:
            body = response.json()
        except ValueError:
            raise VendorApiError(
                "page body is not JSON", vendor=self.vendor, status=response.status
            ) from None
        return record_list(body, self.items_keys, self.vendor)

    @abstractmethod
    def read(self, response: HttpResponse) -> Page: ...

    def plan_rest(self, first: Page) -> list[HttpRequest] | None:
        """Every request after the first page, where the first page tells how many there are.

        ``None`` where it cannot be known (cursors, short-page styles). Used for concurrent fetching;
        the pages are still read with :meth:`read`, in order.
        """
        return None


@dataclass
class ListingPlan:
    """How to list orders for one set of filters.

    :param pager: produces the requests and reads the pages.
    :param client_filter: the part of the filters the API cannot apply; ``None`` when all were pushed.
    :param sort: the order of ``created_at`` in the responses, which lets the engine stop paging early
        when a client-side date filter can no longer match.
    :param since: inclusive lower bound on ``created_at`` (for the early stop).
    :param until: exclusive upper bound on ``created_at`` (for the early stop).
    :param max_orders: stop after this many orders.
    :param full_filter: every filter as a client-side check, for pages the API answered without
        applying the pushed-down ones (``Page.pushed_down`` false); ``None`` when the API always applies
        them.
    """

    pager: Pager
    client_filter: Callable[[Order], bool] | None = None
    sort: Literal["asc", "desc"] | None = None
    since: datetime | None = None
    until: datetime | None = None
    max_orders: int | None = None
    full_filter: Callable[[Order], bool] | None = None

    @property
    def can_stop_early(self) -> bool:
        """Whether a page's orders can end the listing (a bound on a sorted listing, or ``max_orders``)."""
        return self.max_orders is not None or (
            self.sort is not None and (self.since is not None or self.until is not None)
        )


@dataclass
class OrderLookup:
    """How to fetch one order: one request, or a listing in which to find it.

    :param request: the single-order request, where the vendor has one.
    :param listing: a listing that should contain the order (for example a search for its id).
    :param fallback: a wider listing to scan when ``listing`` did not contain it.
    """

    request: HttpRequest | None = None
    listing: ListingPlan | None = None
    fallback: ListingPlan | None = None


# --------------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------------
# Connection settings
# --------------------------------------------------------------------------------------------------


class ConnectionSettings(BaseModel):
    """What a connection says, validated. Vendors subclass it with their extras.

    :param conn_id: the Airflow connection id (for messages).
    :param host: the API base URL.
    :param login: the connection's login field.
    :param password: the connection's password field.
    :param timeout: seconds for the connect and for each read.
    :param verify: TLS verification: ``True``, ``False`` or a CA bundle path.
    :param requests_per_minute: client-side limit per credential; 0 turns it off.
    :param max_retries: retries after the first attempt.
    :param max_pages: the page cap of one listing.
    :param concurrency: default pages in flight at once (see ``OrderFilters.concurrency``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    DEFAULT_REQUESTS_PER_MINUTE: ClassVar[float] = 0

    conn_id: str = "(none)"
    host: str
    login: str | None = None
    password: SecretStr | None = None
    timeout: float = Field(default=30.0, gt=0)
    verify: bool | str = True
    requests_per_minute: float | None = Field(default=None, ge=0)
    max_retries: int = Field(default=5, ge=0, le=20)
    max_pages: int = Field(default=100_000, ge=1)
    concurrency: int = Field(default=1, ge=1, le=32)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL such as https://api.example.com")
        return value.rstrip("/")

    @property
    def rate_limit(self) -> float:
        if self.requests_per_minute is None:
            return self.DEFAULT_REQUESTS_PER_MINUTE
        return self.requests_per_minute

    @property
    def origin(self) -> str:
        parts = urlsplit(self.host)
        return f"{parts.scheme}://{parts.netloc}".lower()

    def secret(self, value: SecretStr | None) -> str:
        return value.get_secret_value() if value is not None else ""


@dataclass(frozen=True)
class ConnectionField:
    """One extra field of a connection form: the single source for ``conn-fields`` and the widgets."""

    name: str
    label: str
    type: Literal["string", "integer", "number", "boolean"] = "string"
    description: str | None = None
    default: Any = None
    sensitive: bool = False


COMMON_FIELDS: tuple[ConnectionField, ...] = (
    ConnectionField("timeout", "Timeout (s)", "number", "Seconds for the connect and for each read.", 30),
    ConnectionField("verify", "Verify TLS", "string", "true, false, or a CA bundle path.", "true"),
    ConnectionField(
        "requests_per_minute", "Requests per minute", "number", "Client-side rate limit; 0 turns it off."
    ),
    ConnectionField("max_retries", "Max retries", "integer", "Retries after the first attempt.", 5),
    ConnectionField("max_pages", "Max pages", "integer", "Page cap of one listing.", 100_000),
    ConnectionField(
        "concurrency", "Concurrency", "integer", "Pages in flight at once where the total is known.", 1
    ),
)


# --------------------------------------------------------------------------------------------------
# The vendor interface
# --------------------------------------------------------------------------------------------------


class Vendor(ABC):
    """A vendor's rules, free of I/O.

    A vendor module defines one subclass. The engine calls it to build requests, read pages,
    normalise records and parse errors; the hook only picks the subclass.
    """

    conn_type: ClassVar[str]
    display_name: ClassVar[str]
    #: The production API base URL; empty where the vendor publishes none (the host is then required).
    default_host: ClassVar[str]
    filters_model: ClassVar[type[OrderFilters]]
    settings_model: ClassVar[type[ConnectionSettings]]
    STATUS_MAP: ClassVar[dict[str, OrderStatus]]
    #: Other spellings of native states accepted in filters (Crayon's filter enum says ``Successful``).
    STATUS_ALIASES: ClassVar[dict[str, str]] = {}
    connection_fields: ClassVar[tuple[ConnectionField, ...]] = ()
    login_label: ClassVar[str | None] = None
    password_label: ClassVar[str] = "Password"
    #: Keys in ``get_order`` scope, for example ``customer_id``.
    scope_fields: ClassVar[tuple[str, ...]] = ()
    #: Whether a listing record is one line of an order (Crayon). Several records then share
    #: ``Order.id``: de-duplication keys on :meth:`line_key` so no distinct line is dropped, and
    #: ``get_order`` gathers the lines of the order and :meth:`combine_lines` makes them one order.
    lists_order_lines: ClassVar[bool] = False

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.settings.conn_id!r}, host={self.settings.host!r})"

    # -- settings and filters ----------------------------------------------------------------

    @classmethod
    def parse_settings(cls, conn_id: str, values: dict[str, Any]) -> ConnectionSettings:
        """Validate connection values into settings, or raise :class:`ConnectionConfigError`."""
        try:
            return cls.settings_model(conn_id=conn_id, **values)
        except ValidationError as exc:
            raise ConnectionConfigError(
                f"connection {conn_id!r} is invalid: {_describe(exc, where='connection')}",
                vendor=cls.conn_type,
            ) from None

    @classmethod
    def parse_filters(cls, filters: Mapping[str, Any] | OrderFilters | None) -> OrderFilters:
        """Validate filters, or raise :class:`InvalidFilterError` naming the vendor, field and fix."""
        if isinstance(filters, cls.filters_model):
            return filters
        data = dict(filters or {})
        try:
            parsed = cls.filters_model(**data)
        except ValidationError as exc:
            raise InvalidFilterError(
                f"invalid filters: {_describe(exc, where='filter', model=cls.filters_model)}",
                vendor=cls.conn_type,
            ) from None
        if parsed.status:
            cls.native_statuses(parsed.status)
        return parsed

    @classmethod
    def parse_filters_partially(cls, filters: Mapping[str, Any]) -> None:
        """Validate what can be validated before templating: names always, values not holding Jinja.

        Raises :class:`InvalidFilterError` like :meth:`parse_filters`.
        """
        templated = {k for k, v in filters.items() if "{{" in repr(v)}
        concrete = {k: v for k, v in filters.items() if k not in templated}
        try:
            parsed = cls.filters_model(**concrete)
        except ValidationError as exc:
            errors = [e for e in exc.errors() if not (templated and (e["type"] == "missing" or not e["loc"]))]
            if errors:
                message = _describe_errors(errors, where="filter", model=cls.filters_model)
                raise InvalidFilterError(f"invalid filters: {message}", vendor=cls.conn_type) from None
            return
        if parsed.status:
            cls.native_statuses(parsed.status)

    @classmethod
    def native_statuses(cls, values: Iterable[str]) -> frozenset[str]:
        """Resolve normalised or vendor-native statuses to the set of vendor-native states."""
        natives: set[str] = set()
        by_lower = {k.lower(): k for k in cls.STATUS_MAP}
        by_lower.update({k.lower(): v for k, v in cls.STATUS_ALIASES.items()})
        normalised = {s.value: s for s in OrderStatus}
        for value in values:
            key = str(value).strip()
            if key.lower() in by_lower:
                natives.add(by_lower[key.lower()])
            elif key.lower() in normalised:
                wanted = normalised[key.lower()]
                natives.update(k for k, v in cls.STATUS_MAP.items() if v is wanted)
                if wanted is OrderStatus.UNKNOWN:
                    raise InvalidFilterError(
                        "status 'unknown' cannot be filtered on; it is what unmapped states become",
                        vendor=cls.conn_type,
                    )
            else:
                raise InvalidFilterError(
                    f"filter 'status': {value!r} is not a state of {cls.display_name}. Use one of "
                    f"{sorted(s.value for s in OrderStatus if s is not OrderStatus.UNKNOWN)} or the "
                    f"vendor's own {sorted(cls.STATUS_MAP)}",
                    vendor=cls.conn_type,
                )
        return frozenset(natives)

    @classmethod
    def map_status(cls, native: str) -> OrderStatus:
        return cls.STATUS_MAP.get(native, OrderStatus.UNKNOWN)

    # -- auth --------------------------------------------------------------------------------

    def token_request(self) -> HttpRequest | None:
        """The request that fetches an access token, or ``None`` for static credentials."""
        return None

    def read_token(self, response: HttpResponse) -> Token:
        """Read the token endpoint's answer."""
        raise NotImplementedError

    def token_refused_hint(self, code: str | None) -> str:
        """What to check when the token endpoint refused the credentials (``code``: its error code)."""
        return "Check the connection's login, password and secrets."

    def token_refused(self, response: HttpResponse) -> bool:
        """Whether a token endpoint answer means the credentials are wrong (never retried)."""
        if response.status == 401:
            return True
        if response.status == 400:
            try:
                body = response.json()
            except ValueError:
                return False
            error = str(body.get("error") or body.get("Error") or "") if isinstance(body, dict) else ""
            return error in ("invalid_grant", "invalid_client", "unauthorized_client")
        return False

    @abstractmethod
    def auth_headers(self, token: str | None) -> dict[str, str]:
        """Headers that authenticate an API request."""

    def request_headers(self) -> dict[str, str]:
        """Headers every API request carries (besides auth)."""
        return {"Accept": "application/json"}

    def per_attempt_headers(self) -> dict[str, str]:
        """Headers that must be new on every attempt (Adobe's X-Request-Id)."""
        return {}

    def per_call_headers(self) -> dict[str, str]:
        """Headers that stay the same across the retries of one call (Adobe's X-Correlation-Id)."""
        return {}

    def secrets(self) -> list[str]:
        """Every secret in the settings, for the secrets masker."""
        out = []
        for name in type(self.settings).model_fields:
            value = getattr(self.settings, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                out.append(value.get_secret_value())
        return out

    # -- listing -----------------------------------------------------------------------------

    @abstractmethod
    def plan_listing(self, filters: OrderFilters) -> ListingPlan:
        """The requests and client-side rules that list orders for ``filters``."""

    @abstractmethod
    def order_lookup(self, order_id: str, scope: Mapping[str, Any]) -> OrderLookup:
        """How to fetch one order."""

    def order_matches_id(self, order: Order, order_id: str) -> bool:
        return order.id == str(order_id)

    def shares_token_between_processes(self) -> bool:
        """Whether the access token is kept where every process of the user on this machine finds it
        (``engine.policy.TokenFile``): for vendors that limit how often a client may authenticate."""
        return False

    def line_key(self, order: Order) -> str:
        """What tells one line of an order from another (only where :attr:`lists_order_lines`)."""
        return order.id

    def combine_lines(self, lines: list[Order]) -> Order:
        """The order a lookup found, from its lines (one, unless :attr:`lists_order_lines`)."""
        return lines[0]

    def read_order(self, response: HttpResponse) -> Order:
        """Read a single-order response."""
        body = response.json()
        if not isinstance(body, dict):
            raise VendorApiError("single-order response is not an object", vendor=self.conn_type)
        return self.normalise(body)

    @abstractmethod
    def normalise(self, record: dict[str, Any]) -> Order:
        """Turn one vendor record into an :class:`Order`."""

    def probe_request(self) -> HttpRequest | None:
        """A cheap authenticated request for ``test_connection`` (``None``: the token fetch is enough)."""
        return None

    # -- errors ------------------------------------------------------------------------------

    def read_error(self, response: HttpResponse) -> tuple[str | None, str]:
        """The vendor's error code and message from an error response."""
        try:
            body = response.json()
        except ValueError:
            text = response.body[:200].decode("utf-8", "replace").strip()
            return None, text or f"HTTP {response.status}"
        if not isinstance(body, dict):
            return None, str(body)[:200]
        return _generic_error(body, response.status)

    def is_not_found(self, status: int, code: str | None) -> bool:
        """Whether an error answer to a single-order request means the order does not exist."""
        return status == 404

    def scope_value(self, scope: Mapping[str, Any], name: str) -> str:
        value = scope.get(name)
        if value is None or value == "":
            raise InvalidFilterError(
                f"scope {name!r} is required to look up a {self.display_name} order; pass "
                f"scope={{{name!r}: ...}}",
                vendor=self.conn_type,
            )
        return str(value)

    @classmethod
    def check_scope(cls, scope: Mapping[str, Any]) -> None:
        """Refuse scope keys the vendor does not take (before any request)."""
        unknown = set(scope) - set(cls.scope_fields)
        if unknown:
            raise InvalidFilterError(
                f"unknown scope key(s) {sorted(unknown)}; {cls.display_name} takes "
                f"{list(cls.scope_fields) or 'no scope'}",
                vendor=cls.conn_type,
            )


ClientAuth = Literal["client_secret_basic", "client_secret_post"]


class ClientCredentialsVendor(Vendor):
    """A vendor whose API takes a bearer token from an OAuth2 client-credentials grant (RFC 6749 4.4).

    The client id is the connection's login and the secret its password. They reach the token endpoint
    the way :meth:`client_auth` says: ``client_secret_post`` in the form body, or ``client_secret_basic``
    as HTTP Basic (RFC 6749 section 2.3.1: each part form-encoded, then base64). Subclasses say where the
    token endpoint is and which scope to ask for.
    """

    @abstractmethod
    def token_url(self) -> str: ...

    @abstractmethod
    def token_scope(self) -> str: ...

    def client_auth(self) -> ClientAuth:
        """How the client authenticates at the token endpoint."""
        return "client_secret_post"

    def _basic_credentials(self) -> str:
        s = self.settings
        pair = f"{quote_plus(s.login or '')}:{quote_plus(s.secret(s.password))}"
        return "Basic " + base64.b64encode(pair.encode()).decode()

    def token_request(self) -> HttpRequest:
        s = self.settings
        form = {"grant_type": "client_credentials", "scope": self.token_scope()}
        headers = {"Accept": "application/json"}
        if self.client_auth() == "client_secret_basic":
            headers["Authorization"] = self._basic_credentials()
        else:
            form.update(client_id=s.login or "", client_secret=s.secret(s.password))
        return HttpRequest("POST", self.token_url(), headers=headers, form=form, authenticated=False,
                           kind="token")  # fmt: skip

    def secrets(self) -> list[str]:
        out = super().secrets()
        if self.client_auth() == "client_secret_basic":
            # The Basic value is as good as the secret: mask it too.
            out.append(self._basic_credentials())
        return out

    def read_token(self, response: HttpResponse) -> Token:
        body = response.json()
        if not isinstance(body, dict) or not body.get("access_token"):
            raise VendorApiError("token response has no access_token", vendor=self.conn_type)
        expires = body.get("expires_in")
        return Token(str(body["access_token"]), float(expires) if expires else None)

    def auth_headers(self, token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


# --------------------------------------------------------------------------------------------------
# Helpers shared by vendor modules
# --------------------------------------------------------------------------------------------------


def _generic_error(body: dict[str, Any], status: int) -> tuple[str | None, str]:
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


def _describe(exc: ValidationError, *, where: str, model: type[BaseModel] | None = None) -> str:
    return _describe_errors(exc.errors(), where=where, model=model)


def _describe_errors(errors: Iterable[Any], *, where: str, model: type[BaseModel] | None = None) -> str:
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


def parse_time(value: Any, *, assume_utc: bool = False) -> datetime | None:
    """Parse a vendor timestamp to tz-aware UTC.

    ``assume_utc`` treats a time without a zone as UTC (Crayon); otherwise a naive time is an error.
    Fractions of any length (Crayon's ``.5`` or ``.193``) are accepted.
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
            parsed = _parse_time_slowly(value)
    zone = parsed.tzinfo
    if zone is UTC:
        return parsed
    if zone is None:
        if not assume_utc:
            raise ValueError(f"timestamp {value!r} has no time zone")
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


def to_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


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


def record_list(body: Any, keys: Iterable[str], vendor: str) -> list[dict[str, Any]]:
    """The list of records in a page body: a bare array or the first of ``keys`` that holds one."""
    if isinstance(body, list):
        items = body
    elif isinstance(body, dict):
        for key in keys:
            if isinstance(body.get(key), list):
                items = body[key]
                break
        else:
            raise VendorApiError(
                f"page body has none of the list fields {list(keys)}; got keys {sorted(body)[:10]}",
                vendor=vendor,
            )
    else:
        raise VendorApiError(f"page body is a {type(body).__name__}, not a list or object", vendor=vendor)
    if not all(isinstance(item, dict) for item in items):
        raise VendorApiError("page holds a record that is not an object", vendor=vendor)
    return items
