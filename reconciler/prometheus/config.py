"""How to reach Prometheus for canary analysis: URL, credentials, TLS.

``PrometheusConfig`` is a frozen value, built from flags, the daemon's config
file or the environment by the CLI (this module reads no environment).  The
options are the Nomad connection's: a bearer token (fixed, or a file
re-read when it changes, for rotation), HTTP basic auth (``user:password``, or
credentials in the URL), a CA file, a client certificate and key, a TLS server
name and skip-verify (one ``TLSSettings``, the type ``NomadConfig.tls`` is).  Every secret is registered with ``reconciler.secrets``
so no log line or error text shows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from reconciler.config.groups import AnalysisSettings
from reconciler.config.http_client import HTTPClientSettings, TLSErrors, TLSSettings
from reconciler.errors import ConfigError
from reconciler.secrets import address_credentials, redact_url, register_secrets

PROMETHEUS_TLS_ERRORS = TLSErrors(
    ca="Prometheus CA certificate {path}: cannot load ({error})",
    client="Prometheus client certificate {cert} / key {key}: cannot load ({error})",
)


@dataclass(frozen=True, repr=False)
class PrometheusConfig:
    url: str
    token: str | None = field(default=None, repr=False)
    token_file: str | None = None
    http_auth: tuple[str, str] | None = field(default=None, repr=False)
    tls: TLSSettings = field(default_factory=TLSSettings)  # the Nomad connection's type too
    timeout: float = 10.0

    def __post_init__(self) -> None:
        register_secrets(
            self.token,
            *(self.http_auth[1:] if self.http_auth else ()),
            *address_credentials(self.url),
        )
        if self.token is not None and self.token_file is not None:
            raise ConfigError("set either a Prometheus bearer token or a token file, not both")
        if (self.tls.client_cert is None) != (self.tls.client_key is None):
            raise ConfigError("the Prometheus client certificate and key must be set together")
        if self.timeout <= 0:
            raise ConfigError(f"Prometheus timeout must be positive, got {self.timeout}")
        self.base_url  # noqa: B018 - validates the URL early

    def __repr__(self) -> str:
        # The URL may carry basic-auth credentials: only its redacted form is shown.
        return (
            f"PrometheusConfig(url={self.display_url!r}, token_file={self.token_file!r}, "
            f"tls={self.tls!r})"
        )

    @property
    def base_url(self) -> str:
        """The URL without credentials and trailing slash (a path prefix is kept)."""
        parts = urlsplit(self.url if "://" in self.url else "http://" + self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"--prometheus-url {redact_url(self.url)!r}: expected http://host:port or https://host:port"
            )
        try:
            port = parts.port
        except ValueError as exc:
            raise ConfigError(f"--prometheus-url {redact_url(self.url)!r}: invalid port") from exc
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        netloc = host if port is None else f"{host}:{port}"
        return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"

    def http_settings(self) -> HTTPClientSettings:
        """The HTTP client's settings, built as the Nomad connection's are (``config.http_client``)."""
        base = self.base_url
        return HTTPClientSettings(
            base_url=base, timeout=self.timeout, tls=self.tls if base.startswith("https://") else None,
            tls_errors=PROMETHEUS_TLS_ERRORS, basic_auth=self.basic_auth,
        )  # fmt: skip

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        """``http_auth``, else credentials written in the URL."""
        if self.http_auth is not None:
            return self.http_auth
        parts = urlsplit(self.url if "://" in self.url else "http://" + self.url)
        if parts.username is None:
            return None
        return unquote(parts.username), unquote(parts.password or "")

    @property
    def display_url(self) -> str:
        return redact_url(self.url)


def parse_http_auth(value: str, *, name: str = "PROMETHEUS_HTTP_AUTH") -> tuple[str, str]:
    """``user[:password]``; the value itself is never echoed."""
    user, _, password = value.partition(":")
    register_secrets(password)
    if not user:
        raise ConfigError(f"{name}: expected user:password (user is empty)")
    return user, password


def prometheus_config(settings: AnalysisSettings, env: Mapping[str, str]) -> PrometheusConfig | None:
    """The configured Prometheus (settings over ``PROMETHEUS_*`` variables), or ``None`` without a URL.

    ``settings`` is the ``analysis`` group, resolved as every command resolves it
    (``reconciler.config.settings``); ``PROMETHEUS_URL``, ``PROMETHEUS_TOKEN``
    (unless a token file is given) and ``PROMETHEUS_HTTP_AUTH`` (``user:password``)
    come from ``env``.
    """
    url = settings.prometheus_url or env.get("PROMETHEUS_URL") or None
    if url is None:
        return None
    token_file = settings.prometheus_token_file
    auth = env.get("PROMETHEUS_HTTP_AUTH") or None
    try:
        return PrometheusConfig(
            url=url,
            token=None if token_file else (env.get("PROMETHEUS_TOKEN") or None),
            token_file=token_file,
            http_auth=parse_http_auth(auth) if auth else None,
            tls=settings.tls,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
