"""An Airflow connection -> one vendor's validated settings, for the sync and the async hook alike."""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_orders.errors import ConnectionConfigError
from airflow_provider_orders.vendors.base import Vendor
from airflow_provider_orders.vendors.settings import ConnectionSettings, connection_named


class ConnectionLike(Protocol):
    conn_id: str
    host: str | None
    schema: str | None
    login: str | None
    password: str | None
    port: int | None

    @property
    def extra_dejson(self) -> dict[str, Any]: ...


def settings_from_connection(
    vendor_class: type[Vendor], conn: ConnectionLike, *, name_it: bool = True
) -> ConnectionSettings:
    """Validate an Airflow connection for ``vendor_class``.

    ``host`` defaults to the vendor's production URL; a host without a scheme gets the connection's
    ``schema`` (http or https, default https) and ``port``. Extras may carry the legacy
    ``extra__<conn_type>__`` prefix; empty strings (what an untouched form field saves) count as unset.
    Unknown extras raise :class:`~airflow_provider_orders.errors.ConnectionConfigError`: they are never
    turned into headers.

    :param name_it: name the connection by its id in messages; ``False`` for Airflow's connection test,
        which reads a copy of the connection under a random id.
    """
    conn_id = (conn.conn_id or None) if name_it else None
    values: dict[str, Any] = {"host": _base_url(vendor_class, conn, conn_id)}
    if conn.login:
        values["login"] = conn.login
    if conn.password:
        values["password"] = conn.password
    prefix = f"extra__{vendor_class.conn_type}__"
    extras = conn.extra_dejson or {}
    if not isinstance(extras, dict):
        raise ConnectionConfigError(
            f"{connection_named(conn_id)} has an extra that is a JSON {type(extras).__name__}, not an object; "
            'write it as {"name": value, ...}',
            vendor=vendor_class.conn_type,
        )
    for key, value in extras.items():
        name = key.removeprefix(prefix)
        if value is None or (isinstance(value, str) and value.strip() == ""):
            continue
        values[name] = value
    return vendor_class.parse_settings(conn_id, values)


def _base_url(vendor_class: type[Vendor], conn: ConnectionLike, conn_id: str | None) -> str:
    host = (conn.host or "").strip()
    if not host:
        if not vendor_class.default_host:
            raise ConnectionConfigError(
                f"{connection_named(conn_id)} has no host, and {vendor_class.display_name} publishes no production "
                "URL to default to; set the host to your API base URL",
                vendor=vendor_class.conn_type,
            )
        return _with_port(vendor_class, vendor_class.default_host, conn.port, conn_id)
    if "://" in host:
        return _with_port(vendor_class, host, conn.port, conn_id)
    scheme = conn.schema if conn.schema in ("http", "https") else "https"
    port = f":{conn.port}" if conn.port else ""
    return f"{scheme}://{host}{port}"


def _with_port(vendor_class: type[Vendor], url: str, port: int | None, conn_id: str | None) -> str:
    """``url`` with the connection's Port, which may restate the URL's own (the scheme's default, or the
    port written in it: what the UI's Test button needs stored on Airflow 3.3.2) or add one; a Port that
    contradicts the URL is an error, not a guess."""
    if not port:
        return url
    parts = urlsplit(url)
    try:
        written = parts.port
    except ValueError:
        return url  # not a port: settings validation names the host
    if written is not None:
        if written != port:
            raise ConnectionConfigError(
                f"{connection_named(conn_id)} has Port {port}, but its API base URL names port {written} "
                f"({parts.scheme}://{parts.hostname}:{written}); clear Port, or make it {written}",
                vendor=vendor_class.conn_type,
            )
        return url
    if port == {"https": 443, "http": 80}.get(parts.scheme):
        return url
    return urlunsplit(parts._replace(netloc=f"{parts.netloc}:{port}"))
