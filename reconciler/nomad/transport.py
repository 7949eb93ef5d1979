"""Build the httpx client for a ``NomadConfig``: TLS, mutual TLS, unix sockets.

TLS follows the Nomad CLI: ``NOMAD_CACERT``/``NOMAD_CAPATH`` replace the system
trust store, ``NOMAD_CLIENT_CERT``/``NOMAD_CLIENT_KEY`` present a client
certificate, ``NOMAD_TLS_SERVER_NAME`` is the name the server certificate must
carry (and the SNI sent), and ``NOMAD_SKIP_VERIFY`` turns verification off.
Unreadable certificate files are a ``ConfigError`` naming the file.
"""

from __future__ import annotations

import ssl

import httpx

from reconciler.config.connection import NomadConfig
from reconciler.errors import ConfigError


def build_ssl_context(config: NomadConfig) -> ssl.SSLContext:
    """The client-side TLS context for ``config`` (used only for https addresses)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if config.ca_cert or config.ca_path:
        # A configured CA replaces the system store, as in the Nomad CLI.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            context.load_verify_locations(cafile=config.ca_cert, capath=config.ca_path)
        except (OSError, ssl.SSLError) as exc:
            where = config.ca_cert or config.ca_path
            raise ConfigError(f"NOMAD_CACERT/NOMAD_CAPATH {where}: cannot load CA ({exc})") from exc
    if config.client_cert and config.client_key:
        try:
            context.load_cert_chain(certfile=config.client_cert, keyfile=config.client_key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"NOMAD_CLIENT_CERT {config.client_cert} / NOMAD_CLIENT_KEY {config.client_key}: "
                f"cannot load client certificate ({exc})"
            ) from exc
    if config.skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def sni_extensions(config: NomadConfig) -> dict[str, str]:
    """Per-request httpx extensions: the TLS server name to verify and send as SNI."""
    if config.tls_server_name and config.endpoint.tls:
        return {"sni_hostname": config.tls_server_name}
    return {}


def build_http_client(
    config: NomadConfig, *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    endpoint = config.endpoint
    verify: ssl.SSLContext | bool = build_ssl_context(config) if endpoint.tls else True
    if transport is None:
        transport = httpx.AsyncHTTPTransport(
            verify=verify,
            uds=endpoint.unix_socket,
            # Connection-refused is retried by our own policy, visibly.
            retries=0,
        )
    auth = httpx.BasicAuth(*config.http_auth) if config.http_auth else None
    return httpx.AsyncClient(
        base_url=endpoint.base_url,
        transport=transport,
        auth=auth,
        timeout=httpx.Timeout(config.timeout),
        # No proxies, .netrc or SSL_CERT_FILE from the environment: the config says it all,
        # and a stray HTTP_PROXY must not capture traffic that carries the ACL token.
        trust_env=False,
        headers={"User-Agent": "nomad-reconciler"},
    )
