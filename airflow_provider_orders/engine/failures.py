"""What a transport exception means: one classification for the sync and the async driver.

A request that raised instead of answering becomes a :class:`TransportFailure`, which the engine
retries like a 5xx. Both drivers ask :func:`transport_failure`, so the same fault (a dropped
connection, a stalled server, a body that fails to decode) gets the same kind, the same retries and the
same final error whichever driver met it.
"""

from __future__ import annotations

import re
import ssl
import time
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_orders.engine.protocol import PreparedRequest, TransportFailure

if TYPE_CHECKING:
    from airflow_provider_orders.vendors.network import Proxy


def transport_failure(exc: BaseException, *, proxy: Proxy | None = None) -> TransportFailure | None:
    """The failure ``exc`` stands for, or ``None`` when it is no transport failure (a bug: let it raise).

    The sync driver sends with urllib3, the async one with httpx; both are imported here on the first
    failure only.

    :param proxy: the proxy the request went through, if any: a failure of the proxy names it (never
        its credentials), and a proxy that refused the tunnel with a 4xx is not retried.
    """
    import httpx
    import urllib3.exceptions as urllib3_errors

    if proxy is not None and isinstance(exc, (urllib3_errors.ProxyError, httpx.ProxyError)):
        text = " ".join(str(err) for err in _chain(exc))
        status = re.search(r"\b([45]\d\d)\b", text)
        if status is not None and status.group(1).startswith("4"):
            return proxy_refused(proxy, int(status.group(1)), "")
        cause = exc.__cause__ or exc.__context__ or (exc.args[-1] if exc.args else None)
        detail = describe(cause) if isinstance(cause, BaseException) else describe(exc)
        return TransportFailure("connect", f"through {proxy.named}: {detail}")
    tls = _tls_misconfiguration(exc)
    if tls is not None:
        return TransportFailure("tls", tls)
    if isinstance(exc, urllib3_errors.NewConnectionError):
        # Refused, unreachable, a name that does not resolve (urllib3 files it under its TimeoutError).
        return TransportFailure("connect", describe(exc))
    if isinstance(exc, (httpx.TimeoutException, urllib3_errors.TimeoutError)):
        return TransportFailure("timeout", describe(exc))
    if isinstance(exc, (httpx.NetworkError, httpx.RemoteProtocolError, urllib3_errors.ProtocolError)):
        # The server closed the connection instead of answering, or in the middle of the body.
        return TransportFailure("connect", describe(exc))
    if isinstance(exc, (httpx.RequestError, urllib3_errors.HTTPError, zlib.error)):
        # Broken chunks, bodies that fail to decode (zlib.error: where the async driver inflates gzip
        # itself), other protocol errors.
        return TransportFailure("protocol", describe(exc))
    return None


def proxy_refused(proxy: Proxy, status: int, reason: str) -> TransportFailure:
    """The failure of a request the proxy refused with ``status``: 407, it wants credentials or other ones
    (some proxies, tinyproxy among them, answer a tunnel with wrong credentials 401)."""
    if status in (401, 407):
        fix = (
            "put the proxy's user:password in the URL (http://user:password@host:port), in the proxy extra "
            "or the variable, and check them"
        )
    else:
        fix = "ask the proxy's administrators to allow this host and port, or set NO_PROXY for it"
    said = f" {reason}" if reason else ""
    return TransportFailure("proxy", f"{proxy.named} refused the request ({status}{said}); {fix}", status)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it, once each."""
    seen: list[BaseException] = []
    todo: list[object] = [exc]
    while todo:
        err = todo.pop()
        if not isinstance(err, BaseException) or any(err is s for s in seen):
            continue
        seen.append(err)
        todo.extend([err.__cause__, err.__context__, getattr(err, "reason", None), *err.args])
    return seen


def _tls_misconfiguration(exc: BaseException) -> str | None:
    """What to fix where the TLS handshake failed for a reason that trying again cannot cure: a server that
    does not speak TLS on that port, or a certificate the connection does not trust. ``None`` otherwise
    (a handshake cut short is retried like any dropped connection)."""
    for err in _chain(exc):
        if isinstance(err, ssl.SSLCertVerificationError):
            return (f"the server's TLS certificate is not trusted ({err.verify_message}): set the extra verify to "
                    "the path of the CA bundle that signed it")  # fmt: skip
        if isinstance(err, ssl.SSLError) and err.reason in _NOT_TLS:
            return ("the server does not speak TLS on that port: if it speaks plain http, write http:// in the "
                    "host and set the extra allow_insecure_http=true")  # fmt: skip
    return None


#: ssl's reasons for a handshake with a server that answered in plain text.
_NOT_TLS = frozenset({"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNKNOWN_PROTOCOL", "RECORD_LAYER_FAILURE"})


def describe(exc: BaseException) -> str:
    """The exception's class and reason; a URL's query string (search terms) is cut off."""
    reason = str(exc.args[0]) if exc.args else type(exc).__name__
    if "?" in reason:
        reason = reason.split("?", 1)[0] + "?…"
    return f"{type(exc).__name__}: {reason[:200]}"


#: Bytes read (after decompression) per step of a body, for the size and deadline checks.
CHUNK_BYTES = 64 * 1024


class Body:
    """Collects a body as it arrives, refusing it past ``max_bytes`` (counted after decompression) and,
    where ``until`` is given, past that monotonic time: the same rules for the sync and the async driver.

    :param request: the request (its ``max_bytes`` and ``deadline``).
    :param headers: the response headers (a ``Content-Length`` past the limit fails before any read).
    :param until: the deadline as ``time.monotonic()``; ``None`` where the driver enforces it itself.
    """

    def __init__(
        self, request: PreparedRequest, headers: Mapping[str, str], until: float | None = None
    ) -> None:
        self.request = request
        self.until = until
        self.size = 0
        self.chunks: list[bytes] = []
        self.failure: TransportFailure | None = None
        length = headers.get("content-length") or ""
        encoding = (headers.get("content-encoding") or "identity").strip().lower()
        if length.strip().isdigit() and encoding in ("", "identity") and int(length) > request.max_bytes:
            self.failure = TransportFailure(
                "too_large",
                f"the body is {int(length)} bytes, more than max_response_bytes={request.max_bytes}",
            )

    def add(self, chunk: bytes) -> bool:
        """Keep ``chunk``; ``False`` once the body is refused (see :attr:`failure`)."""
        self.size += len(chunk)
        if self.size > self.request.max_bytes:
            self.failure = TransportFailure(
                "too_large", f"the body is larger than max_response_bytes={self.request.max_bytes}"
            )
        elif self.until is not None and time.monotonic() > self.until:
            self.failure = past_deadline(self.request)
        else:
            self.chunks.append(chunk)
        return self.failure is None

    def add_gzip(self, data: bytes, inflater: Any) -> bool:
        """Inflate ``data`` (a piece of a gzip body) at most CHUNK_BYTES at a time, each piece through
        :meth:`add`: a gzip bomb is stopped at the limit, never inflated whole."""
        while data:
            if not self.add(inflater.decompress(data, CHUNK_BYTES)):
                return False
            data = inflater.unconsumed_tail
        return True

    def bytes(self) -> bytes:
        return b"".join(self.chunks)


def gzip_inflater() -> Any:
    """A decompressor for a gzip (or zlib) body, fed piece by piece."""
    return zlib.decompressobj(47)


def past_deadline(request: PreparedRequest) -> TransportFailure:
    """The failure of a request whose whole answer did not arrive within its deadline."""
    return TransportFailure("timeout", f"no complete answer within the deadline of {request.deadline:g} s")
