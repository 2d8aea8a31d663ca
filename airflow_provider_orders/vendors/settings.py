"""Connection settings: the fields every connection has, validated; the form fields that describe them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from airflow_provider_orders.vendors.network import Proxy, parse_proxy


class ConnectionSettings(BaseModel):
    """What a connection says, validated. Vendors subclass it with their extras.

    :param conn_id: the Airflow connection id, for messages; ``None`` where the id would mislead (Airflow
        tests a connection under a temporary random id).
    :param host: the API base URL; ``https://`` unless ``allow_insecure_http``; never with credentials in it.
    :param login: the connection's login field.
    :param password: the connection's password field.
    :param timeout: seconds for the connect and for each read (finite, at most an hour).
    :param deadline: seconds for one whole request, connect to last byte: a vendor that trickles its
        answer cannot hold a task longer (finite, at most a day).
    :param max_response_bytes: the largest body accepted, counted while it streams and while it is
        decompressed; a larger one fails at once, never retried.
    :param verify: TLS verification: ``True``, ``False``, or the path of an existing CA bundle.
    :param allow_insecure_http: let ``http://`` URLs carry the credentials (a server on a private network,
        the sandbox); a warning is logged once per host.
    :param requests_per_minute: client-side limit per credential; 0 turns it off.
    :param rate_budget: who shares that limit: ``machine`` (every process of this user on this machine,
        through a file; the default), ``redis`` (every machine, through ``redis_conn_id``) or ``process``.
    :param redis_conn_id: the Airflow Redis connection of ``rate_budget=redis``.
    :param max_retries: retries after the first attempt.
    :param max_pages: the page cap of one listing.
    :param concurrency: default pages in flight at once (see ``OrderFilters.concurrency``).
    :param proxy: a forward proxy for every request of the connection, token endpoints included
        (``http://user:password@proxy.example.com:3128``; HTTPS goes through ``CONNECT``). A secret: its
        password is masked and never shown. Overrides the environment's proxies.
    :param trust_env: read ``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` from the
        environment where ``proxy`` is not set (see :mod:`~airflow_provider_orders.vendors.network`).
    :param cert: the path of the client certificate (PEM) for servers that require one (mutual TLS);
        it may hold the private key too. Also read as ``client_cert`` or ``cert_file``.
    :param cert_key: the path of the certificate's private key (PEM), where ``cert`` does not hold it.
        Also read as ``client_key``, ``key_file`` or ``client_cert_key``.
    :param cert_password: the private key's password, where it is encrypted (a secret). Also read as
        ``client_key_password``, ``key_password``, ``cert_key_password`` or ``client_cert_password``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    DEFAULT_REQUESTS_PER_MINUTE: ClassVar[float] = 0
    #: Settings besides ``host`` that are URLs the credentials go to (a token endpoint).
    URL_FIELDS: ClassVar[tuple[str, ...]] = ()

    conn_id: str | None = None
    host: str
    login: str | None = None
    password: SecretStr | None = None
    timeout: float = Field(default=30.0, gt=0, le=3600)
    deadline: float = Field(default=300.0, gt=0, le=86_400)
    max_response_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, le=4 * 1024**3)
    verify: bool | str = True
    allow_insecure_http: bool = False
    requests_per_minute: float | None = Field(default=None, ge=0, le=1_000_000)
    rate_budget: Literal["machine", "redis", "process"] = "machine"
    redis_conn_id: str = Field(default="redis_default", min_length=1)
    max_retries: int = Field(default=5, ge=0, le=20)
    max_pages: int = Field(default=100_000, ge=1)
    concurrency: int = Field(default=1, ge=1, le=32)
    proxy: SecretStr | None = None
    trust_env: bool = True
    cert: str | None = Field(default=None, validation_alias=AliasChoices("cert", "client_cert", "cert_file"))
    cert_key: str | None = Field(
        default=None, validation_alias=AliasChoices("cert_key", "client_key", "key_file", "client_cert_key")
    )
    cert_password: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "cert_password",
            "client_key_password",
            "key_password",
            "cert_key_password",
            "client_cert_password",
        ),
    )

    #: Secrets of the network, not of the vendor's credential: masked, but not part of the key that
    #: names the credential's token and request budget.
    NETWORK_SECRETS: ClassVar[tuple[str, ...]] = ("proxy", "cert_password")

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return checked_url(value)

    @field_validator("verify", mode="before")
    @classmethod
    def _verify(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            text = value.strip()
            if text.lower() in ("true", "false"):
                return text.lower() == "true"
            if text and os.path.exists(text):
                return text
        raise ValueError(
            f"must be true, false, or the path of an existing CA bundle file or directory, got {value!r}"
        )

    @field_validator("proxy")
    @classmethod
    def _proxy(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip():
            parse_proxy(value.get_secret_value(), "the proxy extra")
            return value
        return None

    @field_validator("cert", "cert_key")
    @classmethod
    def _pem_file(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        path = os.path.expanduser(value.strip())
        if not os.path.isfile(path) or not os.access(path, os.R_OK):
            raise ValueError(
                f"{path!r} is not a readable file (missing, or not readable by this user); give the path "
                "of the PEM file"
            )
        return path

    @model_validator(mode="after")
    def _client_certificate(self) -> ConnectionSettings:
        if self.cert is None and (self.cert_key is not None or self.cert_password is not None):
            raise ValueError(
                "cert_key and cert_password belong to a client certificate: set cert to the certificate's "
                "path too"
            )
        return self

    @model_validator(mode="after")
    def _https(self) -> ConnectionSettings:
        if not self.allow_insecure_http:
            for name in ("host", *self.URL_FIELDS):
                url = getattr(self, name)
                if isinstance(url, str) and url.lower().startswith("http://"):
                    raise ValueError(
                        f"{name} {url!r} is http://: the credentials would travel in clear. Use https://, or "
                        "set the extra allow_insecure_http=true for a server you trust on a private network"
                    )
        return self

    def insecure_urls(self) -> list[str]:
        """The ``http://`` URLs the credentials go to (allowed by ``allow_insecure_http``)."""
        urls = [getattr(self, name) for name in ("host", *self.URL_FIELDS)]
        return [u for u in urls if isinstance(u, str) and u.lower().startswith("http://")]

    @property
    def named(self) -> str:
        """This connection as messages name it: ``connection 'crayon_prod'``, or ``the connection``."""
        return connection_named(self.conn_id)

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

    def proxy_setting(self) -> Proxy | None:
        """The ``proxy`` extra, read (``None`` where it is not set)."""
        if self.proxy is None:
            return None
        return parse_proxy(self.secret(self.proxy), "the proxy extra")


def connection_named(conn_id: str | None) -> str:
    """``connection 'crayon_prod'``, or ``the connection`` without an id."""
    return f"connection {conn_id!r}" if conn_id else "the connection"


def checked_url(value: str) -> str:
    """An http(s) URL without credentials in it, without its trailing slash; ``ValueError`` otherwise."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL such as https://api.example.com")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "must not hold credentials (user:password@host); put them in the connection's login and "
            "password fields"
        )
    return value.strip().rstrip("/")


@dataclass(frozen=True)
class ConnectionField:
    """One extra field of a connection form: the single source for ``conn-fields`` and the widgets.

    :param name: the extra's key. Airflow masks the value of any key that contains a sensitive word
        (``token``, ``secret``, ``auth_header``, ...): a non-secret field must not be named so, or it
        reopens as ``***``.
    :param sensitive: a secret: a password input, masked in the UI, the API and the logs.
    :param required: the form refuses to save without it.
    :param credential: the vendor can refuse it (named when a connection test fails); ``None``: as
        ``sensitive`` (a secret of the network, the proxy's URL or the key's password, says ``False``).
    """

    name: str
    label: str
    type: Literal["string", "integer", "number", "boolean"] = "string"
    description: str | None = None
    default: Any = None
    sensitive: bool = False
    required: bool = False
    credential: bool | None = None

    @property
    def is_credential(self) -> bool:
        return self.sensitive if self.credential is None else self.credential


COMMON_FIELDS: tuple[ConnectionField, ...] = (
    ConnectionField("timeout", "Timeout (s)", "number", "Seconds for the connect and for each read.", 30),
    ConnectionField(
        "deadline", "Deadline (s)", "number", "Seconds for one whole request, first byte to last.", 300
    ),
    ConnectionField(
        "max_response_bytes",
        "Max response bytes",
        "integer",
        "Largest body accepted, after decompression.",
        64 * 1024 * 1024,
    ),
    ConnectionField("verify", "Verify TLS", "string", "true, false, or the path of a CA bundle.", "true"),
    ConnectionField(
        "allow_insecure_http",
        "Allow http://",
        "boolean",
        "Let http:// URLs carry the credentials (a trusted private network; the sandbox).",
        False,
    ),
    ConnectionField(
        "requests_per_minute", "Requests per minute", "number", "Client-side rate limit; 0 turns it off."
    ),
    ConnectionField(
        "rate_budget",
        "Rate budget shared by",
        "string",
        "machine (every process here, the default), redis (every machine, through the Redis connection "
        "below) or process.",
        "machine",
    ),
    ConnectionField(
        "redis_conn_id",
        "Redis connection id",
        "string",
        "The Airflow Redis connection that holds the budget when it is shared by redis.",
        "redis_default",
    ),
    ConnectionField(
        "proxy",
        "Proxy",
        "string",
        "http://user:password@proxy.example.com:3128 for every request of this connection (token endpoints "
        "too); overrides HTTPS_PROXY. Empty: the environment's proxies.",
        sensitive=True,
        credential=False,
    ),
    ConnectionField(
        "trust_env",
        "Use proxy variables",
        "boolean",
        "Read HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY from the environment when Proxy is empty.",
        True,
    ),
    ConnectionField(
        "cert", "Client certificate", "string", "Path of a PEM client certificate, for mutual TLS."
    ),
    ConnectionField(
        "cert_key",
        "Client certificate key",
        "string",
        "Path of its PEM private key, if the certificate file does not hold it.",
    ),
    ConnectionField(
        "cert_password",
        "Client key password",
        "string",
        "Password of the private key, if it is encrypted.",
        sensitive=True,
        credential=False,
    ),
    ConnectionField("max_retries", "Max retries", "integer", "Retries after the first attempt.", 5),
    ConnectionField("max_pages", "Max pages", "integer", "Page cap of one listing.", 100_000),
    ConnectionField(
        "concurrency", "Concurrency", "integer", "Pages in flight at once where the total is known.", 1
    ),
)
