"""How a client reaches a server over HTTP(S): one builder for the Nomad and the Prometheus client.

``NomadConfig.http_settings()`` and ``PrometheusConfig.http_settings()`` resolve
their options into an ``HTTPClientSettings``; ``reconciler.nomad.transport`` and
``reconciler.prometheus.client`` hand it to httpx (this package imports no
httpx).  TLS follows the Nomad CLI for both: a configured CA replaces the system
trust store, a client certificate and key are presented together, the TLS
server name is verified and sent as SNI, skip-verify turns verification off.
An unreadable certificate file is a ``ConfigError`` naming the file, in the
words of the setting that named it (``TLSErrors``).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from reconciler.errors import ConfigError

USER_AGENT = "nomad-reconciler"


@dataclass(frozen=True)
class TLSErrors:
    """How a connection's errors name its TLS settings: ``str.format`` templates.

    ``ca`` gets ``path`` and ``error``; ``client`` gets ``cert``, ``key`` and ``error``.
    """

    ca: str
    client: str


@dataclass(frozen=True)
class TLSSettings:
    """The client side of TLS: which CA to trust, which certificate to present."""

    errors: TLSErrors
    ca_cert: str | None = None
    ca_path: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    server_name: str | None = None
    skip_verify: bool = False

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if self.ca_cert or self.ca_path:
            # A configured CA replaces the system store, as in the Nomad CLI.
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            try:
                context.load_verify_locations(cafile=self.ca_cert, capath=self.ca_path)
            except (OSError, ssl.SSLError) as exc:
                where = self.ca_cert or self.ca_path
                raise ConfigError(self.errors.ca.format(path=where, error=exc)) from exc
        if self.client_cert and self.client_key:
            try:
                context.load_cert_chain(certfile=self.client_cert, keyfile=self.client_key)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(
                    self.errors.client.format(cert=self.client_cert, key=self.client_key, error=exc)
                ) from exc
        if self.skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


@dataclass(frozen=True)
class HTTPClientSettings:
    """Everything an HTTP client of one server needs but the credentials it sends per request."""

    base_url: str
    timeout: float
    tls: TLSSettings | None  # None: plain http, the TLS options unused
    basic_auth: tuple[str, str] | None = None
    unix_socket: str | None = None

    def verify(self) -> ssl.SSLContext | bool:
        """httpx's ``verify``: the TLS context for https, the default otherwise."""
        return self.tls.ssl_context() if self.tls is not None else True

    def extensions(self) -> dict[str, str]:
        """Per-request httpx extensions: the TLS server name to verify and send as SNI."""
        if self.tls is not None and self.tls.server_name:
            return {"sni_hostname": self.tls.server_name}
        return {}
