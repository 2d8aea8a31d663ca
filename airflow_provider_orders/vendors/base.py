"""What every vendor module provides: the :class:`Vendor` base class and its OAuth2 variant.

Nothing in ``vendors/`` opens a socket: a vendor module turns filters into :class:`HttpRequest` objects,
reads :class:`HttpResponse` objects into pages and orders, and says what the next request is. The engine
(``airflow_provider_orders.engine``) sends them, sync or async. The data types live beside this module:
``http`` (messages), ``listing`` (pages, pagers, plans), ``filters``, ``settings`` and ``parsing``.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Mapping
from typing import Any, ClassVar, Literal
from urllib.parse import quote_plus

from pydantic import SecretStr, ValidationError

from airflow_provider_orders.errors import (
    ConnectionConfigError,
    InvalidFilterError,
    OrdersError,
    VendorApiError,
)
from airflow_provider_orders.models import Order, OrderStatus
from airflow_provider_orders.vendors.filters import OrderFilters, describe, describe_errors
from airflow_provider_orders.vendors.http import HttpRequest, HttpResponse, Token
from airflow_provider_orders.vendors.listing import ListingPlan, OrderLookup
from airflow_provider_orders.vendors.parsing import generic_error
from airflow_provider_orders.vendors.settings import ConnectionField, ConnectionSettings, connection_named


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
    #: Placeholders of the form's standard fields besides the host (``login``, ``password``).
    form_placeholders: ClassVar[dict[str, str]] = {}
    login_label: ClassVar[str | None] = None
    password_label: ClassVar[str] = "Password"
    #: Keys in ``get_order`` scope, for example ``customer_id``.
    scope_fields: ClassVar[tuple[str, ...]] = ()
    #: Whether a listing record is one line of an order (Crayon). Several records then share
    #: ``Order.id``: de-duplication keys on :meth:`line_key` so no distinct line is dropped, and
    #: ``get_order`` gathers the lines of the order and :meth:`combine_lines` makes them one order.
    lists_order_lines: ClassVar[bool] = False
    #: Whether :meth:`order_lookup` is one request (a single-order endpoint) rather than a listing: a
    #: few waits on a scope are then answered by single lookups, many by one listing of the scope.
    has_order_endpoint: ClassVar[bool] = True
    #: Fields of a record holding the vendor's error text for a failed order (the first set wins).
    error_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.settings.conn_id!r}, host={self.settings.host!r})"

    # -- settings and filters ----------------------------------------------------------------

    @classmethod
    def parse_settings(cls, conn_id: str | None, values: dict[str, Any]) -> ConnectionSettings:
        """Validate connection values into settings, or raise :class:`ConnectionConfigError`."""
        try:
            return cls.settings_model(conn_id=conn_id, **values)
        except ValidationError as exc:
            raise ConnectionConfigError(
                f"{connection_named(conn_id)} is invalid: {describe(exc, where='setting')}",
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
                f"invalid filters: {describe(exc, where='filter', model=cls.filters_model)}",
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
                message = describe_errors(errors, where="filter", model=cls.filters_model)
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
        return self.check_credentials_hint()

    def api_refused_hint(self, status: int, code: str | None) -> str:
        """What to check when an API call was answered 401 or 403."""
        if status == 403:
            return (
                "The credentials were accepted but may not do this: check the permissions of the "
                f"{self.display_name} user or app they belong to."
            )
        return self.check_credentials_hint()

    @classmethod
    def credential_labels(cls) -> list[str]:
        """The form labels of every credential of this vendor's connection."""
        labels = [cls.login_label] if cls.login_label else []
        labels.append(cls.password_label)
        labels += [f.label for f in cls.connection_fields if f.is_credential]
        return labels

    @classmethod
    def check_credentials_hint(cls) -> str:
        labels = cls.credential_labels()
        listed = labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"
        return f"Check the connection's {listed}."

    def credential_check(self) -> HttpRequest | None:
        """A request that tells which credential the vendor refused, sent by ``test_connection`` after an
        API call was refused; ``None`` where no endpoint can tell (see :meth:`explain_refusal`)."""
        return None

    def explain_refusal(self, answer: HttpResponse | OrdersError) -> str:
        """Which credential was refused, from the answer to :meth:`credential_check` (or its error)."""
        return self.check_credentials_hint()

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
        """Every secret in the settings, for the secrets masker (the proxy's password alone too)."""
        out = []
        for name in type(self.settings).model_fields:
            value = getattr(self.settings, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                out.append(value.get_secret_value())
        proxy = self.settings.proxy_setting()
        if proxy is not None and proxy.password:
            out.append(proxy.password)
        return out

    def network_secrets(self) -> set[str]:
        """The secrets of :meth:`secrets` that belong to the network (the proxy, the key's password), not
        to the vendor's credential."""
        s = self.settings
        out = {s.secret(getattr(s, name)) for name in s.NETWORK_SECRETS}
        proxy = s.proxy_setting()
        if proxy is not None and proxy.password:
            out.add(proxy.password)
        return out - {""}

    # -- listing -----------------------------------------------------------------------------

    @abstractmethod
    def plan_listing(self, filters: OrderFilters) -> ListingPlan:
        """The requests and client-side rules that list orders for ``filters``."""

    @abstractmethod
    def order_lookup(self, order_id: str, scope: Mapping[str, Any]) -> OrderLookup:
        """How to fetch one order."""

    def scope_listing(self, scope: Mapping[str, Any]) -> ListingPlan:
        """A listing of every order in ``scope``, in which waits on that scope find their orders at once
        (one listing answers many waits). By default the listing whose filters are the scope."""
        return self.plan_listing(self.parse_filters(dict(scope)))

    def shares_token_between_processes(self) -> bool:
        """Whether the access token is kept where every process of the user on this machine finds it
        (``engine.policy.TokenFile``): for vendors that limit how often a client may authenticate."""
        return False

    def line_key(self, order: Order) -> Hashable:
        """What tells one line of an order from another (only where :attr:`lists_order_lines`)."""
        return order.id

    @classmethod
    def error_text(cls, raw: Mapping[str, Any]) -> str | None:
        """The error text the vendor put on an order record (see :attr:`error_fields`), or ``None``."""
        for name in cls.error_fields:
            value = raw.get(name)
            if value:
                return str(value)
        return None

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
        """A cheap authenticated API request for ``test_connection``: by default the first page of a listing
        of the fewest orders the vendor allows; ``None`` where every listing needs a scope (the token
        fetch, on the API's own host, is then the check)."""
        try:
            filters = self.filters_model(page_size=self.filters_model.MIN_PAGE_SIZE)
        except ValidationError:  # a required scope: customer tenant, customer id
            return None
        return self.plan_listing(filters).pager.first_request()

    def probe_accepts(self, status: int) -> bool:
        """Whether an error status of the probe still shows the API took the credentials."""
        return False

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
        return generic_error(body, response.status)

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
