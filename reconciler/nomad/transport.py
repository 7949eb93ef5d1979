"""Build the httpx client for a ``NomadConfig``: TLS, mutual TLS, unix sockets.

TLS follows the Nomad CLI: ``NOMAD_CACERT``/``NOMAD_CAPATH`` replace the system
trust store, ``NOMAD_CLIENT_CERT``/``NOMAD_CLIENT_KEY`` present a client
certificate, ``NOMAD_TLS_SERVER_NAME`` is the name the server certificate must
carry (and the SNI sent), and ``NOMAD_SKIP_VERIFY`` turns verification off.
The settings are resolved by ``NomadConfig.http_settings()``
(``reconciler.config.http_client``, shared with the Prometheus client);
unreadable certificate files are a ``ConfigError`` naming the file.
"""

from __future__ import annotations

import httpx

from reconciler.config.connection import NomadConfig
from reconciler.config.http_client import USER_AGENT


def sni_extensions(config: NomadConfig) -> dict[str, str]:
    """Per-request httpx extensions: the TLS server name to verify and send as SNI."""
    return config.http_settings().extensions()


def build_http_client(
    config: NomadConfig, *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    settings = config.http_settings()
    verify = settings.verify()  # a bad certificate file fails here, whatever the transport
    if transport is None:
        transport = httpx.AsyncHTTPTransport(
            verify=verify,
            uds=settings.unix_socket,
            # Connection-refused is retried by our own policy, visibly.
            retries=0,
        )
    auth = httpx.BasicAuth(*settings.basic_auth) if settings.basic_auth else None
    return httpx.AsyncClient(
        base_url=settings.base_url,
        transport=transport,
        auth=auth,
        timeout=httpx.Timeout(settings.timeout),
        # No proxies, .netrc or SSL_CERT_FILE from the environment: the config says it all,
        # and a stray HTTP_PROXY must not capture traffic that carries the ACL token.
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
    )
