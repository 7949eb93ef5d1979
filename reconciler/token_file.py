"""A token a request sends: fixed, or read from a token file that may rotate.

``TokenSource`` is the one place a token is read at request time (Nomad's ACL
token, Prometheus' bearer token), so a rotated token file is picked up without
a restart; ``parse_token_file`` says what a token file may hold.  Neither ever
shows a token: a bad file is an error that names the file, not its content.
Where the token comes from (flag, environment, config file) is decided by the
configuration (``reconciler.config.connection`` for Nomad).
"""

from __future__ import annotations

import logging
import os
import re

from reconciler.errors import ConfigError
from reconciler.secrets import register_secrets

log = logging.getLogger(__name__)

_TOKEN_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parse_token_file(text: str, *, path: str, what: str = "Nomad token file") -> str | None:
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
            f"{what} {path}: holds {len(lines)} lines, expected one line "
            "(the token); content not shown"
        )
    if _TOKEN_CONTROL.search(token) or any(c.isspace() for c in token):
        raise ConfigError(
            f"{what} {path}: the token contains whitespace or control "
            "characters; content not shown"
        )
    register_secrets(token)
    return token


class TokenSource:
    """The ACL token to send now: fixed, or read from a file re-read when it changes.

    The file is re-read when its mtime, size or inode changes, so a sidecar
    that rotates the token (rename or rewrite) is picked up on the next request.
    """

    def __init__(
        self, *, token: str | None = None, token_file: str | None = None,
        what: str = "Nomad token file",
    ) -> None:
        self._token = token
        self._file = token_file
        self._what = what  # names the file in errors: "Nomad token file", ...
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
                token = parse_token_file(text, path=self._file, what=self._what)
                self._token, self._stamp = token, stamp
        except (OSError, UnicodeDecodeError, ConfigError) as exc:
            reason = exc if isinstance(exc, ConfigError) else f"cannot read it ({exc})"
            if self._stamp is None:
                if isinstance(exc, ConfigError):
                    raise
                raise ConfigError(f"{self._what} {self._file}: {reason}") from exc
            # Mid-rotation (deleted before re-created, half written): keep the token we had.
            log.warning("%s; using the last token read", reason)
        return self._token

    @property
    def last(self) -> str | None:
        """The token most recently read, without touching the file (for redaction)."""
        return self._token

    def __repr__(self) -> str:
        return f"TokenSource(token_file={self._file!r})"
