"""What a transport exception means: one classification for the sync and the async driver.

A request that raised instead of answering becomes a :class:`TransportFailure`, which the engine
retries like a 5xx. Both drivers ask :func:`transport_failure`, so the same fault (a dropped
connection, a stalled server, a body that fails to decode) gets the same kind, the same retries and the
same final error whichever driver met it.
"""

from __future__ import annotations

from airflow_provider_orders.engine.protocol import TransportFailure


def transport_failure(exc: BaseException) -> TransportFailure | None:
    """The failure ``exc`` stands for, or ``None`` when it is no transport failure (a bug: let it raise).

    ``requests`` and ``httpx`` are both dependencies; they are imported here on the first failure only.
    """
    import httpx
    import requests

    if isinstance(exc, (requests.Timeout, httpx.TimeoutException)):
        return TransportFailure("timeout", describe(exc))
    if isinstance(exc, (requests.ConnectionError, httpx.NetworkError, httpx.RemoteProtocolError)):
        # RemoteProtocolError: the server closed the connection instead of answering, which requests
        # reports as a ConnectionError ("Connection aborted").
        return TransportFailure("connect", describe(exc))
    if isinstance(exc, (requests.RequestException, httpx.RequestError)):
        # Broken chunks, bodies that fail to decode (gzip), other protocol errors.
        return TransportFailure("protocol", describe(exc))
    return None


def describe(exc: BaseException) -> str:
    """The exception's class and reason; a URL's query string (search terms) is cut off."""
    reason = str(exc.args[0]) if exc.args else type(exc).__name__
    if "?" in reason:
        reason = reason.split("?", 1)[0] + "?…"
    return f"{type(exc).__name__}: {reason[:200]}"
