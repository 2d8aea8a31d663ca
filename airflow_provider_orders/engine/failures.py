"""What a transport exception means: one classification for the sync and the async driver.

A request that raised instead of answering becomes a :class:`TransportFailure`, which the engine
retries like a 5xx. Both drivers ask :func:`transport_failure`, so the same fault (a dropped
connection, a stalled server, a body that fails to decode) gets the same kind, the same retries and the
same final error whichever driver met it.
"""

from __future__ import annotations

from collections.abc import Mapping

from airflow_provider_orders.engine.protocol import PreparedRequest, TransportFailure


def transport_failure(exc: BaseException) -> TransportFailure | None:
    """The failure ``exc`` stands for, or ``None`` when it is no transport failure (a bug: let it raise).

    ``requests`` and ``httpx`` are both dependencies; they are imported here on the first failure only.
    """
    import httpx
    import requests
    import urllib3.exceptions as urllib3_errors
    from urllib3.exceptions import ReadTimeoutError

    if isinstance(exc, (requests.Timeout, httpx.TimeoutException, urllib3_errors.TimeoutError)):
        # urllib3's own errors reach here from the sync driver's body reads, which bypass requests.
        return TransportFailure("timeout", describe(exc))
    if isinstance(exc, requests.ConnectionError) and exc.args and isinstance(exc.args[0], ReadTimeoutError):
        # requests reports a read timeout in the middle of a body as a ConnectionError.
        return TransportFailure("timeout", describe(exc))
    if isinstance(exc, (requests.ConnectionError, httpx.NetworkError, httpx.RemoteProtocolError,
                        urllib3_errors.ProtocolError)):  # fmt: skip
        # RemoteProtocolError: the server closed the connection instead of answering, which requests
        # reports as a ConnectionError ("Connection aborted").
        return TransportFailure("connect", describe(exc))
    if isinstance(exc, (requests.RequestException, httpx.RequestError, urllib3_errors.HTTPError)):
        # Broken chunks, bodies that fail to decode (gzip), other protocol errors.
        return TransportFailure("protocol", describe(exc))
    return None


def describe(exc: BaseException) -> str:
    """The exception's class and reason; a URL's query string (search terms) is cut off."""
    reason = str(exc.args[0]) if exc.args else type(exc).__name__
    if "?" in reason:
        reason = reason.split("?", 1)[0] + "?…"
    return f"{type(exc).__name__}: {reason[:200]}"


#: Bytes read (after decompression) per step of a body, for the size and deadline checks.
CHUNK_BYTES = 64 * 1024


def body_too_large(length: str | None, headers: Mapping[str, str], max_bytes: int) -> TransportFailure | None:
    """A failure when the announced ``Content-Length`` of an uncompressed body is already past the limit."""
    encoded = any(
        k.lower() == "content-encoding" and v.strip().lower() not in ("", "identity")
        for k, v in headers.items()
    )
    if length and length.strip().isdigit() and not encoded and int(length) > max_bytes:
        return TransportFailure(
            "too_large", f"the body is {int(length)} bytes, more than max_response_bytes={max_bytes}"
        )
    return None


def past_deadline(request: PreparedRequest) -> TransportFailure:
    """The failure of a request whose whole answer did not arrive within its deadline."""
    return TransportFailure("timeout", f"no complete answer within the deadline of {request.deadline:g} s")
