"""Airflow connection -> validated vendor settings. Used by the sync hook and the async trigger alike."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from airflow_provider_orders.vendors.base import ConnectionSettings, Vendor

COMMON_KEYS = {"timeout", "verify", "requests_per_minute", "max_retries", "max_pages"}


class ConnectionLike(Protocol):
    conn_id: str
    host: str | None
    schema: str | None
    login: str | None
    password: str | None
    port: int | None

    @property
    def extra_dejson(self) -> dict[str, Any]: ...


def settings_from_connection(vendor: type[Vendor], conn: ConnectionLike) -> ConnectionSettings:
    """Validate an Airflow connection for ``vendor``.

    ``host`` defaults to the vendor's production URL; a host without a scheme gets the connection's
    ``schema`` (http or https, default https) and ``port``. Extras may carry the legacy
    ``extra__<conn_type>__`` prefix; empty strings (what an untouched form field saves) count as unset.
    Unknown extras raise :class:`~airflow_provider_orders.errors.ConnectionConfigError`: they are never
    turned into headers.
    """
    values: dict[str, Any] = {"host": _base_url(vendor, conn)}
    if conn.login:
        values["login"] = conn.login
    if conn.password:
        values["password"] = conn.password
    prefix = f"extra__{vendor.conn_type}__"
    for key, value in (conn.extra_dejson or {}).items():
        name = key.removeprefix(prefix)
        if value is None or (isinstance(value, str) and value.strip() == ""):
            continue
        if name == "verify" and isinstance(value, str) and value.strip().lower() in ("true", "false"):
            value = value.strip().lower() == "true"
        values[name] = value
    return vendor.parse_settings(conn.conn_id or "(none)", values)


def _base_url(vendor: type[Vendor], conn: ConnectionLike) -> str:
    host = (conn.host or "").strip()
    if not host:
        if not vendor.default_host:
            from airflow_provider_orders.errors import ConnectionConfigError

            raise ConnectionConfigError(
                f"connection {conn.conn_id!r} has no host, and {vendor.display_name} publishes no production "
                "URL to default to; set the host to your API base URL",
                vendor=vendor.conn_type,
            )
        return vendor.default_host
    if "://" in host:
        return host
    scheme = conn.schema if conn.schema in ("http", "https") else "https"
    port = f":{conn.port}" if conn.port else ""
    return f"{scheme}://{host}{port}"


def ui_field_behaviour(vendor: type[Vendor], *, python_style: bool = False) -> dict[str, Any]:
    """Hidden fields, labels and placeholders of ``vendor``'s connection form."""
    relabeling = {"host": "API base URL", "password": vendor.password_label}
    hidden = ["schema", "port", "extra"]
    if vendor.login_label:
        relabeling["login"] = vendor.login_label
    else:
        hidden.append("login")
    placeholders = {"host": vendor.default_host or "https://api.example.com (required)"}
    if python_style:
        return {"hidden_fields": hidden, "relabeling": relabeling, "placeholders": placeholders}
    return {"hidden-fields": hidden, "relabeling": relabeling, "placeholders": placeholders}


def conn_fields(vendor: type[Vendor]) -> dict[str, Any]:
    """``conn-fields`` metadata (JSON schema per extra) for the Airflow 3 connection form."""
    out: dict[str, Any] = {}
    for f in vendor.connection_fields:
        schema: dict[str, Any] = {"type": [f.type, "null"]}
        if f.default is not None:
            schema["default"] = f.default
        if f.sensitive:
            schema["format"] = "password"
        entry: dict[str, Any] = {"label": f.label, "schema": schema}
        if f.description:
            entry["description"] = f.description
        out[f.name] = entry
    return out
