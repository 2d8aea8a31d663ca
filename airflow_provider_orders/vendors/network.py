"""Where a request goes and how its TLS is set up: one answer for the sync and the async driver.

Both drivers ask :class:`Network` (built once per transport from the connection's settings) which proxy a
URL goes through and which ``ssl.SSLContext`` it uses, so the API and every token endpoint (Crayon's,
Adobe IMS, Granite's OAuth server, emnify's authenticate) follow the same rules on both.

Which proxy, in order:

1. the connection's ``proxy`` extra, for every request of the connection;
2. else, unless the extra ``trust_env`` is false, the environment as ``requests``, curl and Airflow's
   ``HttpHook`` read it: ``https_proxy``/``http_proxy`` by the URL's scheme, then ``all_proxy``
   (lower-case first, then upper-case: the standard library's ``getproxies_environment``), skipping the
   hosts ``no_proxy`` names, matched as the standard library matches it (``proxy_bypass_environment``:
   ``*``, a host, a domain suffix with or without its leading dot, ``host:port``) and, for an IP
   address, a network in CIDR form as requests and curl match it;
3. else no proxy.

A loopback host (``localhost``, ``127.0.0.0/8``, ``::1``) never goes through a proxy taken from the
environment: a proxy's loopback is the proxy's own machine, so the request could only fail there or, worse,
hand the credentials to whatever listens on it. The sandbox and the tests therefore work with a proxy in
the environment. An explicit ``proxy`` extra is used for loopback too.

Nothing here speaks a proxy protocol: the sync driver hands the proxy to urllib3's ``ProxyManager``,
the async one to httpx's ``Proxy``; HTTPS goes through ``CONNECT``, so TLS stays end to end.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import os
import ssl
import urllib.request
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import unquote, urlsplit

from pydantic import SecretStr

from airflow_provider_orders.errors import ConnectionConfigError

PROXY_SCHEMES = ("http", "https")


class ConnectionSettings(Protocol):
    """What :class:`Network` reads of a connection's settings
    (:class:`~airflow_provider_orders.vendors.settings.ConnectionSettings`)."""

    trust_env: bool
    verify: bool | str
    cert: str | None
    cert_key: str | None
    cert_password: SecretStr | None

    @property
    def named(self) -> str: ...

    def secret(self, value: SecretStr | None) -> str: ...

    def proxy_setting(self) -> Proxy | None: ...


@dataclass(frozen=True)
class Proxy:
    """A forward proxy: its URL without credentials, and the Basic credentials apart from it.

    :param url: ``scheme://host:port`` (port 80 or 443 filled in), never with ``user:password``.
    :param source: where it was set, for messages: ``the proxy extra`` or ``HTTPS_PROXY``.
    :param username: the Basic proxy authentication user, percent-decoded, or ``None``.
    :param password: its password (a secret: never in a message or repr).
    """

    url: str
    source: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def auth(self) -> tuple[str, str] | None:
        """``(username, password)`` for Basic proxy authentication, or ``None``."""
        if self.username is None:
            return None
        return self.username, self.password or ""

    @property
    def key(self) -> str:
        """One-way name of the proxy and its credentials, for sharing clients between transports."""
        material = f"{self.url}\0{self.username or ''}\0{self.password or ''}"
        return hashlib.sha256(material.encode()).hexdigest()[:24]

    @property
    def named(self) -> str:
        """How messages name it: ``the proxy http://proxy.corp:3128 (from HTTPS_PROXY)``."""
        return f"the proxy {self.url} (from {self.source})"


def parse_proxy(value: str, source: str) -> Proxy:
    """A proxy URL as a :class:`Proxy`.

    ``http://user:password@host:port``; a URL without a scheme is ``http://``, as requests and curl read
    it.

    :raises ValueError: not an http(s) URL with a host; the message never holds the password.
    """
    text = value.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
        host = parts.hostname
    except ValueError:
        raise ValueError(f"{source} is not a URL such as http://proxy.example.com:3128") from None
    if parts.scheme.lower() not in PROXY_SCHEMES:
        raise ValueError(
            f"{source} is a {parts.scheme}:// proxy; only http:// and https:// proxies are supported "
            "(HTTPS requests go through CONNECT either way)"
        )
    if not host:
        raise ValueError(f"{source} has no host; write it as http://proxy.example.com:3128")
    scheme = parts.scheme.lower()
    port = port or (443 if scheme == "https" else 80)
    netloc = f"[{host}]" if ":" in host else host
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return Proxy(f"{scheme}://{netloc}:{port}", source, username, password)


def environment_proxies() -> dict[str, str]:
    """The proxy variables as the standard library reads them, by scheme.

    Keys ``https``, ``http``, ``all`` and ``no`` (``NO_PROXY``); lower-case names win over upper-case ones.
    """
    return urllib.request.getproxies_environment()


def bypasses_proxy(host: str, port: int | None, no_proxy: str | None) -> bool:
    """Whether ``no_proxy`` sends ``host`` (and ``port``) direct: the standard library's rule
    (``proxy_bypass_environment``), plus CIDR networks for IP addresses as requests and curl match them."""
    if not no_proxy:
        return False
    target = host if port is None else f"{host}:{port}"
    if urllib.request.proxy_bypass_environment(target, {"no": no_proxy}):  # type: ignore[attr-defined]
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    for entry in no_proxy.split(","):
        entry = entry.strip()
        if "/" in entry:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
    return False


def is_loopback(host: str) -> bool:
    """``localhost``, ``*.localhost``, or an address in ``127.0.0.0/8`` or ``::1``."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


#: The variable names of each key of :func:`environment_proxies`, for messages.
_VARIABLES = {"https": "HTTPS_PROXY", "http": "HTTP_PROXY", "all": "ALL_PROXY"}


class Network:
    """The network settings of one connection, resolved once: which proxy each URL takes, and the TLS
    context. The environment is read when this is built (when a transport is).

    :param settings: the connection's settings (``proxy``, ``trust_env``, ``verify``, ``cert``...).
    :param vendor: the connection type, for errors.
    :raises ConnectionConfigError: a proxy variable that is not an http(s) URL, or a client certificate
        that cannot be loaded: before any request.
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        vendor: str | None = None,
    ) -> None:
        self.settings = settings
        self.explicit: Proxy | None = settings.proxy_setting()
        self.environment: dict[str, Proxy] = {}
        self.no_proxy: str | None = None
        if self.explicit is None and settings.trust_env:
            found = environment_proxies()
            self.no_proxy = found.get("no")
            for scheme, variable in _VARIABLES.items():
                value = found.get(scheme)
                if value:
                    try:
                        self.environment[scheme] = parse_proxy(value, variable)
                    except ValueError as exc:
                        raise ConnectionConfigError(
                            f"{exc}. Fix the variable, or set the extra trust_env=false on "
                            f"{settings.named} to ignore the environment's proxies",
                            vendor=vendor,
                        ) from None
        try:
            self.ssl_context = tls_context(settings)
        except ValueError as exc:
            raise ConnectionConfigError(f"{settings.named} is invalid: {exc}", vendor=vendor) from None

    def proxy_for(self, url: str) -> Proxy | None:
        """The proxy ``url`` goes through, or ``None`` for a direct connection."""
        if self.explicit is not None:
            return self.explicit
        if not self.environment:
            return None
        parts = urlsplit(url)
        host = parts.hostname or ""
        if is_loopback(host) or bypasses_proxy(host, parts.port, self.no_proxy):
            return None
        return self.environment.get(parts.scheme.lower()) or self.environment.get("all")

    @property
    def tls_key(self) -> str:
        """One-way name of the TLS settings, for sharing clients between transports."""
        return f"tls-{id(self.ssl_context):x}"


def tls_context(settings: ConnectionSettings) -> ssl.SSLContext:
    """The TLS context of a connection: its ``verify`` (certifi's bundle, a CA file or directory, or off)
    and its client certificate (``cert``, ``cert_key``, ``cert_password``), loaded now.

    One context per distinct setting and file version is kept, so a thousand triggers of one connection
    share one (loading certifi's bundle costs milliseconds).

    :raises ValueError: a CA bundle, certificate or key that cannot be read, a key that does not match the
        certificate, or a wrong key password; naming the extra, never the password.
    """
    s = settings
    files = tuple(_stamp(path) for path in (s.verify, s.cert, s.cert_key) if isinstance(path, str))
    return _context(s.verify, s.cert, s.cert_key, s.secret(s.cert_password), files)


def _stamp(path: str) -> tuple[str, float]:
    try:
        return path, os.stat(path).st_mtime
    except OSError:
        return path, 0.0


@functools.lru_cache(maxsize=32)
def _context(
    verify: bool | str, cert: str | None, key: str | None, password: str, files: tuple[object, ...]
) -> ssl.SSLContext:
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif isinstance(verify, str):
        directory = os.path.isdir(verify)
        try:
            context = ssl.create_default_context(
                cafile=None if directory else verify, capath=verify if directory else None
            )
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(
                f"setting 'verify': {verify!r} is not a readable CA bundle ({_reason(exc)}); point it at a "
                "PEM file of CA certificates"
            ) from None
    else:
        import certifi

        context = ssl.create_default_context(cafile=certifi.where())
    if cert:
        try:
            # A password given for a key that is not encrypted is ignored by OpenSSL; a missing one for a
            # key that is would make OpenSSL prompt on the terminal: a callable answers instead.
            context.load_cert_chain(cert, keyfile=key or None, password=lambda: password.encode())
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ValueError(
                f"setting 'cert': the client certificate cannot be loaded ({_reason(exc)}): cert must be a "
                "PEM certificate, cert_key its private key (or empty when cert holds both), and "
                "cert_password the key's password if it is encrypted"
            ) from None
    return context


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None)
    return str(reason or type(exc).__name__)
