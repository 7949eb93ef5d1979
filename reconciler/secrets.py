"""Every secret this process holds, so that no log line or error text shows one.

A secret reaches the process from many places: ``NOMAD_TOKEN``, ``--token``,
a token file (re-read on rotation), ``NOMAD_HTTP_AUTH``, credentials in
``NOMAD_ADDR``/``--address`` (``http://user:pass@host``).  Whoever reads one
registers it here (``register_secrets``); the log filter, the error tree and
the CLI's error output pass their text through ``scrub``.  One process-wide
registry, because a secret read by the Nomad client must also be hidden
from a log line written by the daemon.

Pure apart from that registry: no I/O.  Values shorter than
``MIN_SECRET_CHARS`` are not scrubbed by value (they would mangle ordinary
words); URL credentials are scrubbed by shape whatever their length.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

REDACTED = "<redacted>"
MIN_SECRET_CHARS = 6

# scheme://userinfo@ : the userinfo part of any URL in a text.
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s'\"]+@")


class SecretRegistry:
    """A thread-safe set of secret values; ``scrub`` replaces each with ``REDACTED``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()

    def add(self, values: Iterable[str | None]) -> None:
        fresh = {v for v in values if v and len(v) >= MIN_SECRET_CHARS}
        with self._lock:
            merged = fresh | set(self._values)
            # Longest first, so a secret containing another is replaced whole.
            self._values = tuple(sorted(merged, key=len, reverse=True))

    def values(self) -> tuple[str, ...]:
        return self._values

    def scrub(self, text: str, extra: Iterable[str] = ()) -> str:
        for value in (*self._values, *extra):
            if value in text:
                text = text.replace(value, REDACTED)
        if "@" in text:
            text = _URL_USERINFO.sub(lambda m: m.group("scheme") + REDACTED + "@", text)
        return text


REGISTRY = SecretRegistry()


def register_secrets(*values: str | None) -> None:
    """Remember ``values`` as secrets for the rest of the process's life."""
    REGISTRY.add(values)


def scrub(text: str) -> str:
    """``text`` with every registered secret and every URL's credentials replaced."""
    return REGISTRY.scrub(text)


def address_credentials(address: str) -> tuple[str, ...]:
    """The secrets inside an address's userinfo (raw and percent-decoded forms)."""
    try:
        parts = urlsplit(address if "://" in address else "http://" + address)
    except ValueError:
        return ()
    if "@" not in parts.netloc:
        return ()
    userinfo = parts.netloc.rpartition("@")[0]
    _user, _, password = userinfo.partition(":")
    return tuple(v for v in {userinfo, password, unquote(password), unquote(userinfo)} if v)


def redact_url(address: str) -> str:
    """``address`` fit for a log line: ``http://user:pass@host`` → ``http://<redacted>@host``."""
    if "@" not in address:
        return address
    if "://" not in address:
        return REDACTED + "@" + address.rpartition("@")[2]
    return _URL_USERINFO.sub(lambda m: m.group("scheme") + REDACTED + "@", address)
