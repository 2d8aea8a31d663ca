"""Connection settings: the fields every connection has, validated; the form fields that describe them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


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
