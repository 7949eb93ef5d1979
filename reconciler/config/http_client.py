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
    """The client side of TLS: which CA to trust, which certificate to present.

    One type for every connection: ``NomadConfig.tls`` and ``PrometheusConfig.tls``
    (the daemon's ``settings.analysis.tls``).  Used only for an ``https`` address.
    """

    ca_cert: str | None = None
    """A PEM file of the CA(s) to trust instead of the system store."""
    ca_path: str | None = None
    """A directory of CA certificates (OpenSSL's hashed layout), as ``ca_cert``."""
    client_cert: str | None = None
    """The certificate presented for mutual TLS; needs ``client_key``."""
    client_key: str | None = None
    server_name: str | None = None
    """The name the server's certificate must carry, also sent as SNI (else the address' host)."""
    skip_verify: bool = False
    """Do not verify the server's certificate at all."""

    def ssl_context(self, errors: TLSErrors) -> ssl.SSLContext:
        """The context httpx verifies with; ``errors`` words a bad file as its setting names it."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if self.ca_cert or self.ca_path:
            # A configured CA replaces the system store, as in the Nomad CLI.
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            try:
                context.load_verify_locations(cafile=self.ca_cert, capath=self.ca_path)
            except (OSError, ssl.SSLError) as exc:
                where = self.ca_cert or self.ca_path
                raise ConfigError(errors.ca.format(path=where, error=exc)) from exc
        if self.client_cert and self.client_key:
            try:
                context.load_cert_chain(certfile=self.client_cert, keyfile=self.client_key)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(
                    errors.client.format(cert=self.client_cert, key=self.client_key, error=exc)
                ) from exc
        if self.skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


_GENERIC_TLS_ERRORS = TLSErrors(
    ca="CA certificate {path}: cannot load ({error})",
    client="client certificate {cert} / key {key}: cannot load ({error})",
)


@dataclass(frozen=True)
class HTTPClientSettings:
    """Everything an HTTP client of one server needs but the credentials it sends per request."""

    base_url: str
    timeout: float
    tls: TLSSettings | None  # None: plain http, the TLS options unused
    tls_errors: TLSErrors = _GENERIC_TLS_ERRORS  # how a bad certificate file is named
    basic_auth: tuple[str, str] | None = None
    unix_socket: str | None = None

    def verify(self) -> ssl.SSLContext | bool:
        """httpx's ``verify``: the TLS context for https, the default otherwise."""
        return self.tls.ssl_context(self.tls_errors) if self.tls is not None else True

    def extensions(self) -> dict[str, str]:
        """Per-request httpx extensions: the TLS server name to verify and send as SNI."""
        if self.tls is not None and self.tls.server_name:
            return {"sni_hostname": self.tls.server_name}
        return {}
