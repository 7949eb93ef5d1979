"""Who may read the status page and its JSON API: nobody is asked by default, or a bearer
token, or HTTP basic auth.

Responsible for reading the configured secret (from the settings or a file,
at start: a missing file is a ``ConfigError`` naming it), registering it with
``reconciler.secrets`` so that no log line shows it, and checking a request's
``Authorization`` header in constant time.  It never logs a credential.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass, field

from reconciler.config.groups import DaemonSettings
from reconciler.errors import ConfigError
from reconciler.secrets import register_secrets

REALM = "nomad-reconciler"


@dataclass(frozen=True)
class Access:
    """The credentials a request must present; both None: open (loopback default)."""

    token: str | None = field(default=None, repr=False)
    basic: tuple[str, str] | None = field(default=None, repr=False)

    @property
    def required(self) -> bool:
        return self.token is not None or self.basic is not None

    @property
    def challenge(self) -> str:
        """The ``WWW-Authenticate`` value of a 401 (basic first: browsers then ask)."""
        schemes = []
        if self.basic is not None:
            schemes.append(f'Basic realm="{REALM}", charset="UTF-8"')
        if self.token is not None:
            schemes.append(f'Bearer realm="{REALM}"')
        return ", ".join(schemes)

    def allows(self, authorization: str | None) -> bool:
        if not self.required:
            return True
        scheme, _, value = (authorization or "").strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and self.token is not None:
            return hmac.compare_digest(value.encode(), self.token.encode())
        if scheme.lower() == "basic" and self.basic is not None:
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            user, sep, password = decoded.partition(":")
            want_user, want_password = self.basic
            # Both compared, always: the time taken does not tell which one was wrong.
            ok_user = hmac.compare_digest(user.encode(), want_user.encode())
            ok_password = hmac.compare_digest(password.encode(), want_password.encode())
            return bool(sep) and ok_user and ok_password
        return False


def _read_secret_file(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            value = fh.read().strip()
    except OSError as exc:
        raise ConfigError(f"{what} file {path}: cannot read it ({exc.strerror})") from exc
    if not value:
        raise ConfigError(f"{what} file {path}: it is empty")
    return value


def read_access(settings: DaemonSettings) -> Access:
    """The access rule from the settings; reads the secret files; registers the secrets."""
    token = settings.ui.token
    if settings.ui.token_file:
        token = _read_secret_file(settings.ui.token_file, "ui_token")
    basic_text = settings.ui.basic_auth
    if settings.ui.basic_auth_file:
        basic_text = _read_secret_file(settings.ui.basic_auth_file, "ui_basic_auth")
    basic = None
    if basic_text is not None:
        user, sep, password = basic_text.partition(":")
        if not sep or not user or not password:
            where = settings.ui.basic_auth_file or "ui_basic_auth"
            raise ConfigError(f"{where}: expected USER:PASSWORD")
        basic = (user, password)
        register_secrets(password, basic_text)
    register_secrets(token)
    return Access(token=token, basic=basic)
