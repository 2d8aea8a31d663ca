"""The HTTP messages a vendor module exchanges with the engine: plain data, no sockets."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import msgspec

from airflow_provider_orders.errors import InvalidFilterError


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
        """Decode the body once; raises ``ValueError`` when it is not JSON, :class:`UnreadableBody` (a
        ``ValueError`` too) when it is JSON this process cannot decode.

        msgspec decodes it (about twice as fast as the standard library, to the same values); what msgspec
        refuses and the standard library reads (``NaN``, a lone surrogate, a UTF-16 body, a number past a
        float's range) is read by the standard library, so the result never depends on which one did.
        """
        if self._json is self._UNSET:
            try:
                try:
                    self._json = _decode(self.body)
                except msgspec.MsgspecError:
                    self._json = json.loads(self.body)
            except RecursionError:
                raise UnreadableBody("it nests arrays or objects deeper than a JSON decoder allows") from None
            except json.JSONDecodeError:
                raise
            except ValueError as exc:
                # Not UTF-8 (nor UTF-16/32), or an integer past Python's digit limit: the same every time.
                raise UnreadableBody(f"{type(exc).__name__}: {str(exc)[:120]}") from None
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


_decode = msgspec.json.Decoder().decode


class UnreadableBody(ValueError):
    """A body that no retry makes readable: nested deeper than a decoder allows (which would otherwise be
    a bare ``RecursionError``), not in a Unicode encoding, or holding an integer past Python's digit
    limit. A body that is merely not JSON (cut short, an HTML error page) stays a plain ``ValueError``."""


@dataclass(frozen=True, repr=False)
class Token:
    """An access token and its lifetime in seconds (``None``: the vendor did not say)."""

    access_token: str
    expires_in: float | None

    def __repr__(self) -> str:
        return f"Token(***, expires_in={self.expires_in})"


def checked_id(value: object, what: str, vendor: str, *, max_length: int | None = None) -> str:
    """``value`` as an id, stripped; refuses ``None``, empty, ``.`` and ``..``, which name no order and, in a
    path, another resource of the vendor's API.

    :param max_length: the longest value the vendor documents for it.
    :raises InvalidFilterError: naming ``what`` (``order_id``, ``customer_id``) and the vendor.
    """
    text = "" if value is None else str(value).strip()
    if value is None or text in ("", ".", ".."):
        raise InvalidFilterError(
            f"{what} {value!r} is not an id: pass the vendor's {what} as a non-empty string", vendor=vendor
        )
    if max_length is not None and len(text) > max_length:
        raise InvalidFilterError(
            f"{what} is {len(text)} characters long; the vendor's ids have at most {max_length}",
            vendor=vendor,
        )
    return text


def path_segment(value: object, what: str, vendor: str, *, max_length: int | None = None) -> str:
    """``value`` as exactly one URL path segment: an id is data, never a path or a query of its own.

    Checked by :func:`checked_id`, then every character that could end the segment or start a query
    (``/ ? # %`` and the rest) is percent-encoded (``quote(value, safe="")``).
    """
    return quote(checked_id(value, what, vendor, max_length=max_length), safe="")
