"""How to reach Nomad: ``NomadConfig`` and the one place it is resolved.

Every command (``plan``, ``sync``, ``status``, ``daemon``, ``demo``) builds its
connection with ``connection_values``: command-line flag > environment >
config file (``[nomad]`` table) > default, with the Nomad CLI's own rules for
the environment (``DefaultConfig`` in Nomad's ``api/api.go`` and
``Meta.clientConfig`` in ``command/meta.go``, v1.0.18 and v2.0.x alike):

- a variable set to ``""`` counts as unset (``NOMAD_ADDR=""`` means the next
  source, finally ``http://127.0.0.1:4646``), and so does an empty flag;
- ``NOMAD_SKIP_VERIFY`` is read with Go's ``strconv.ParseBool``; a value it
  does not accept (``yes``, ``on``) is ignored, so TLS verification stays on.
  We say so in a warning; the Nomad CLI says nothing.

``NomadConfig`` itself is a frozen value that never reads ``os.environ``.
Secrets (the ACL token, the basic-auth password, credentials in the address)
are registered for redaction and kept out of ``repr`` and error messages.
The TLS options are a ``TLSSettings`` (``tls``), the type the Prometheus
connection uses too; their keys keep the Nomad CLI's names (``NOMAD_TLS_KEYS``).
Reading a token file at request time is the client's business
(``reconciler.token_file``), not configuration.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

from reconciler.config.http_client import HTTPClientSettings, TLSErrors, TLSSettings
from reconciler.config.values import parse_bool, parse_go_bool
from reconciler.errors import ConfigError
from reconciler.secrets import address_credentials, redact_url, register_secrets

log = logging.getLogger(__name__)

DEFAULT_ADDRESS = "http://127.0.0.1:4646"

NOMAD_ENV: Mapping[str, str] = {
    "NOMAD_ADDR": "address",
    "NOMAD_TOKEN": "token",
    "NOMAD_NAMESPACE": "namespace",
    "NOMAD_REGION": "region",
    "NOMAD_CACERT": "ca_cert",
    "NOMAD_CAPATH": "ca_path",
    "NOMAD_CLIENT_CERT": "client_cert",
    "NOMAD_CLIENT_KEY": "client_key",
    "NOMAD_TLS_SERVER_NAME": "tls_server_name",
    "NOMAD_SKIP_VERIFY": "skip_verify",
    "NOMAD_HTTP_AUTH": "http_auth",
}
"""The Nomad CLI's environment variables and the setting (``[nomad]`` key) each sets."""

NOMAD_TLS_KEYS: Mapping[str, str] = {
    "ca_cert": "ca_cert", "ca_path": "ca_path", "client_cert": "client_cert",
    "client_key": "client_key", "tls_server_name": "server_name", "skip_verify": "skip_verify",
}  # fmt: skip
"""The ``[nomad]`` keys (and flags) of TLS, and the ``TLSSettings`` field of each."""

NOMAD_TLS_ERRORS = TLSErrors(
    ca="NOMAD_CACERT/NOMAD_CAPATH {path}: cannot load CA ({error})",
    client="NOMAD_CLIENT_CERT {cert} / NOMAD_CLIENT_KEY {key}: cannot load client certificate ({error})",
)


@dataclass(frozen=True)
class NomadConfig:
    """Connection settings for one Nomad cluster (region)."""

    address: str = DEFAULT_ADDRESS
    token: str | None = field(default=None, repr=False)
    token_file: str | None = None  # re-read when it changes (rotation without restart)
    namespace: str | None = None
    region: str | None = None
    tls: TLSSettings = field(default_factory=TLSSettings)  # NOMAD_CACERT ... NOMAD_SKIP_VERIFY
    http_auth: tuple[str, str] | None = field(default=None, repr=False)
    # Seconds for connect/read of ordinary requests; blocking queries add their wait.
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.token is not None and self.token_file is not None:
            raise ConfigError("set either a Nomad token or a token file, not both")
        if (self.tls.client_cert is None) != (self.tls.client_key is None):
            raise ConfigError(
                "NOMAD_CLIENT_CERT and NOMAD_CLIENT_KEY must be set together (mutual TLS)"
            )
        if self.timeout <= 0:
            raise ConfigError(f"Nomad timeout must be positive, got {self.timeout}")
        # Every secret this config holds, whatever its source, is hidden from logs and errors.
        register_secrets(
            self.token,
            *(self.http_auth[1:] if self.http_auth else ()),
            *address_credentials(self.address),
        )
        # Validates the address early, with the variable's name in the message.
        self.endpoint  # noqa: B018

    @classmethod
    def from_env(cls, env: Mapping[str, str], **flags: Any) -> NomadConfig:
        """``flags`` over ``env`` over defaults (``connection_values`` without a config file)."""
        return cls.from_values(connection_values(flags=flags, env=env))

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> NomadConfig:
        """From ``connection_values``' keys (the ``[nomad]`` table's), the TLS ones into ``tls``."""
        tls = {NOMAD_TLS_KEYS[k]: v for k, v in values.items() if k in NOMAD_TLS_KEYS}
        rest = {k: v for k, v in values.items() if k not in NOMAD_TLS_KEYS}
        return cls(**rest, tls=TLSSettings(**tls))

    @property
    def endpoint(self) -> Endpoint:
        return parse_address(self.address)

    def http_settings(self) -> HTTPClientSettings:
        """The HTTP client's settings (``reconciler.nomad.transport`` builds it)."""
        endpoint = self.endpoint
        return HTTPClientSettings(
            base_url=endpoint.base_url, timeout=self.timeout, tls=self.tls if endpoint.tls else None,
            tls_errors=NOMAD_TLS_ERRORS, basic_auth=self.http_auth, unix_socket=endpoint.unix_socket,
        )  # fmt: skip

    @property
    def display_address(self) -> str:
        """The address for logs and messages: credentials in it replaced by a marker."""
        return redact_url(self.address)

    def redacted(self) -> dict[str, Any]:
        """A loggable view: secrets replaced by a marker, credentials cut from the address."""
        view = {f.name: getattr(self, f.name) for f in fields(self)}
        view["address"] = self.display_address
        view["tls"] = dataclasses.asdict(self.tls)
        for secret in ("token", "http_auth"):
            if view[secret]:
                view[secret] = "<redacted>"
        return view


def connection_values(
    *,
    flags: Mapping[str, Any],
    env: Mapping[str, str],
    file_values: Mapping[str, Any] | None = None,
    file_name: str = "config file",
) -> dict[str, Any]:
    """The connection settings given by the sources (no defaults), validated.

    ``flags`` holds ``NomadConfig`` field names (``None`` or ``""``: not given);
    ``file_values`` is the config file's ``[nomad]`` table.  Pure: the callers
    pass ``os.environ`` and the file's content in.
    """
    merged: dict[str, Any] = {}
    for values, source in (
        (_file_layer(file_values or {}, file_name), file_name),
        (_env_layer(env), "environment"),
        (_flag_layer(flags), "command line"),
    ):
        if "token" in values and "token_file" in values:
            raise ConfigError(f"{source}: set either a Nomad token or a token file, not both")
        # A token and a token file are one setting: the higher-precedence source wins.
        if "token" in values:
            merged.pop("token_file", None)
        if "token_file" in values:
            merged.pop("token", None)
        merged.update(values)
    return merged


_FIELDS = frozenset(f.name for f in fields(NomadConfig)) - {"timeout", "tls"} | set(NOMAD_TLS_KEYS)


def _env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for var, key in NOMAD_ENV.items():
        text = env.get(var, "")
        if text == "":  # Nomad: `if v := os.Getenv(...); v != ""`
            continue
        if key == "skip_verify":
            parsed = parse_go_bool(text)
            if parsed is None:
                log.warning(
                    "NOMAD_SKIP_VERIFY=%r is not a boolean Go's strconv.ParseBool accepts "
                    "(1, t, true, 0, f, false, ...); ignored as the Nomad CLI ignores it: "
                    "TLS certificates are verified", text,
                )
                continue
            values[key] = parsed
        elif key == "http_auth":
            values[key] = parse_http_auth(text)
        else:
            values[key] = text
    return values


def _flag_layer(flags: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in flags.items():
        if key not in _FIELDS:
            raise ConfigError(f"command line: unknown Nomad setting {key!r}")
        if value is None or value == "" or value is False:  # Nomad: `if m.flag != ""`
            continue
        values[key] = parse_http_auth(value) if key == "http_auth" else value
    return values


def _file_layer(table: Mapping[str, Any], file_name: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{file_name}: nomad.{key}"
        if key not in _FIELDS:
            raise ConfigError(f"{name}: unknown setting")
        if value is None:
            continue
        if key == "skip_verify":
            values[key] = parse_bool(value, name=name)
        elif not isinstance(value, str):
            raise ConfigError(f"{name}: expected a string, got {value!r}")
        elif value == "":
            continue  # as in the environment: empty means unset
        elif key == "http_auth":
            values[key] = parse_http_auth(value)
        else:
            values[key] = value
    return values


@dataclass(frozen=True)
class Endpoint:
    """Where requests go: a base URL, or a unix socket plus a placeholder base URL."""

    base_url: str
    unix_socket: str | None = None

    @property
    def tls(self) -> bool:
        return self.base_url.startswith("https://")


def parse_address(address: str) -> Endpoint:
    """``NOMAD_ADDR`` forms: ``http://h:p``, ``https://h:p``, ``unix:///path``, bare ``h:p``."""
    if address.startswith("unix://"):
        path = address[len("unix://") :]
        if not path:
            raise ConfigError(f"NOMAD_ADDR {redact_url(address)!r}: unix socket address has no path")
        return Endpoint(base_url="http://localhost", unix_socket=path)
    if "://" not in address:
        # The Nomad CLI accepts "127.0.0.1:4646" and assumes http.
        address = "http://" + address
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"NOMAD_ADDR {redact_url(address)!r}: expected http://host:port, https://host:port "
            "or unix:///path"
        )
    try:
        parts.port  # noqa: B018 - raises on a non-numeric port
    except ValueError as exc:
        raise ConfigError(f"NOMAD_ADDR {redact_url(address)!r}: invalid port") from exc
    return Endpoint(base_url=f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}")


def parse_http_auth(value: str) -> tuple[str, str]:
    """``NOMAD_HTTP_AUTH`` is ``user[:password]``; the value itself is never echoed."""
    user, _, password = value.partition(":")
    if not user:
        raise ConfigError("NOMAD_HTTP_AUTH: expected user:password (user is empty)")
    return user, password


