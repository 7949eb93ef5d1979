"""How to reach Nomad: address, credentials and TLS, named like the Nomad CLI.

``NomadConfig`` is a frozen value built from explicit values or from an
environment mapping (``from_env``); it never reads ``os.environ`` itself, so
the precedence "flag > environment > config file > default" stays the CLI's
job.  Secrets (the ACL token, the HTTP basic-auth password) are kept out of
``repr`` and out of every error message.  ``TokenSource`` is the one place a
token is read at request time, so a rotated token file is picked up without
a restart.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from reconciler.errors import ConfigError
from reconciler.secrets import address_credentials, redact_url, register_secrets

log = logging.getLogger(__name__)

DEFAULT_ADDRESS = "http://127.0.0.1:4646"

# The Nomad CLI reads these with strconv.ParseBool.
_TRUE = {"1", "t", "true", "T", "TRUE", "True"}
_FALSE = {"0", "f", "false", "F", "FALSE", "False"}


def _parse_bool(name: str, value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}: expected a boolean (true/false/1/0), got {value!r}")


@dataclass(frozen=True)
class NomadConfig:
    """Connection settings for one Nomad cluster (region)."""

    address: str = DEFAULT_ADDRESS
    token: str | None = field(default=None, repr=False)
    token_file: str | None = None
    namespace: str | None = None
    region: str | None = None
    ca_cert: str | None = None
    ca_path: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    tls_server_name: str | None = None
    skip_verify: bool = False
    http_auth: tuple[str, str] | None = field(default=None, repr=False)
    # Seconds for connect/read of ordinary requests; blocking queries add their wait.
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.token is not None and self.token_file is not None:
            raise ConfigError("set either a Nomad token or a token file, not both")
        if (self.client_cert is None) != (self.client_key is None):
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
    def from_env(cls, env: Mapping[str, str], **overrides: Any) -> NomadConfig:
        """Settings from ``NOMAD_*`` variables in ``env``; ``overrides`` win.

        Empty variables count as unset, as in the Nomad CLI.  A ``token_file``
        override replaces ``NOMAD_TOKEN`` (the flag beats the environment).
        """
        values: dict[str, Any] = {}

        def take(var: str, key: str) -> None:
            value = env.get(var, "")
            if value != "":
                values[key] = value

        take("NOMAD_ADDR", "address")
        take("NOMAD_TOKEN", "token")
        take("NOMAD_NAMESPACE", "namespace")
        take("NOMAD_REGION", "region")
        take("NOMAD_CACERT", "ca_cert")
        take("NOMAD_CAPATH", "ca_path")
        take("NOMAD_CLIENT_CERT", "client_cert")
        take("NOMAD_CLIENT_KEY", "client_key")
        take("NOMAD_TLS_SERVER_NAME", "tls_server_name")
        if env.get("NOMAD_SKIP_VERIFY", "") != "":
            values["skip_verify"] = _parse_bool("NOMAD_SKIP_VERIFY", env["NOMAD_SKIP_VERIFY"])
        if env.get("NOMAD_HTTP_AUTH", "") != "":
            values["http_auth"] = parse_http_auth(env["NOMAD_HTTP_AUTH"])
        if overrides.get("token_file") is not None:
            values.pop("token", None)
        if overrides.get("token") is not None:
            values.pop("token_file", None)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_overrides(self, **changes: Any) -> NomadConfig:
        return replace(self, **changes)

    @property
    def endpoint(self) -> Endpoint:
        return parse_address(self.address)

    @property
    def display_address(self) -> str:
        """The address for logs and messages: credentials in it replaced by a marker."""
        return redact_url(self.address)


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


_TOKEN_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parse_token_file(text: str, *, path: str) -> str | None:
    """A token file's token: one line, surrounding whitespace trimmed; ``None`` when empty.

    Anything else (two lines, control characters) is a ``ConfigError`` that
    names the file and the problem but never shows the content: it is a secret.
    """
    register_secrets(*text.split())  # whatever the file holds, it never reaches a log
    token = text.strip()
    if not token:
        return None
    lines = token.splitlines()
    if len(lines) > 1:
        raise ConfigError(
            f"Nomad token file {path}: holds {len(lines)} lines, expected one line "
            "(the token); content not shown"
        )
    if _TOKEN_CONTROL.search(token) or any(c.isspace() for c in token):
        raise ConfigError(
            f"Nomad token file {path}: the token contains whitespace or control "
            "characters; content not shown"
        )
    register_secrets(token)
    return token


class TokenSource:
    """The ACL token to send now: fixed, or read from a file re-read when it changes.

    The file is re-read when its mtime, size or inode changes, so a sidecar
    that rotates the token (rename or rewrite) is picked up on the next request.
    """

    def __init__(self, *, token: str | None = None, token_file: str | None = None) -> None:
        self._token = token
        self._file = token_file
        self._stamp: tuple[int, int, int] | None = None

    def current(self) -> str | None:
        if self._file is None:
            return self._token
        try:
            st = os.stat(self._file)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp != self._stamp:
                with open(self._file, encoding="utf-8") as handle:
                    text = handle.read()
                token = parse_token_file(text, path=self._file)
                self._token, self._stamp = token, stamp
        except (OSError, UnicodeDecodeError, ConfigError) as exc:
            reason = exc if isinstance(exc, ConfigError) else f"cannot read it ({exc})"
            if self._stamp is None:
                if isinstance(exc, ConfigError):
                    raise
                raise ConfigError(f"Nomad token file {self._file}: {reason}") from exc
            # Mid-rotation (deleted before re-created, half written): keep the token we had.
            log.warning("%s; using the last token read", reason)
        return self._token

    @property
    def last(self) -> str | None:
        """The token most recently read, without touching the file (for redaction)."""
        return self._token

    def __repr__(self) -> str:
        return f"TokenSource(token_file={self._file!r})"
